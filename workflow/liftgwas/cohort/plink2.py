"""plink2 as the QC engine: run it in a temporary directory next to the output, copy its log
into ours (the rule's log), and read/write the sample ID files it takes."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd

log = logging.getLogger(__name__)


class Plink2Error(RuntimeError):
    pass


def find_executable(env_var: str, default: str, tool: str, package: str, error: type[Exception]) -> str:
    """The PLINK binary on PATH (``env_var`` overrides its name); ``error`` says how to install it."""
    exe = os.environ.get(env_var, default)
    found = shutil.which(exe)
    if not found:
        raise error(
            f"{tool} not found (looked for '{exe}' on PATH; set {env_var} to override). "
            f"Install the Debian package {package} (`make system-deps`)."
        )
    return found


def plink2_executable() -> str:
    return find_executable("LIFTGWAS_PLINK2", "plink2", "plink2", "plink2", Plink2Error)


def run_plink_tool(executable: str, tool: str, error: type[Exception], args: list[str], out: Path, *,
                   what: str, threads: int = 1, memory_mb: int | None = None) -> str:
    """Run a PLINK executable (plink2, plink 1.9) with ``--out out``; copy its log into ours.

    Returns the tool's log text; raises ``error`` with the tool's own error lines on failure.
    """
    cmd = [executable, *map(str, args), "--out", str(out), "--threads", str(threads)]
    if memory_mb:
        cmd += ["--memory", str(int(memory_mb))]
    log.info("%s (%s): %s", tool, what, " ".join(cmd))
    proc = subprocess.run(cmd, capture_output=True, text=True)
    plink_log = Path(f"{out}.log")
    text = plink_log.read_text() if plink_log.exists() else proc.stdout
    log.info("%s log (%s):\n%s", tool, what, text.rstrip())
    if proc.returncode != 0:
        errors = [line for line in (proc.stderr + "\n" + text).splitlines() if line.lower().startswith("error")]
        detail = "; ".join(errors) or proc.stderr.strip()[-500:] or "(no message)"
        raise error(f"{tool} failed ({what}), exit code {proc.returncode}: {detail}")
    return text


def run_plink2(args: list[str], out: Path, *, what: str, threads: int = 1, memory_mb: int | None = None) -> Path:
    """Run plink2 with ``--out out``; copy its log into ours; raise Plink2Error on failure."""
    run_plink_tool(plink2_executable(), "plink2", Plink2Error, args, out,
                   what=what, threads=threads, memory_mb=memory_mb)
    return Path(f"{out}.log")


@contextlib.contextmanager
def workdir(next_to: Path) -> Iterator[Path]:
    """A temporary directory next to ``next_to``, removed afterwards.

    A killed job (SIGKILL, node failure) cannot remove its directory, which may hold a whole
    .bed; the next run of the same step removes such leftovers first. Only that step writes
    next to its own output, and Snakemake never runs one output's job twice at once.
    """
    parent, prefix = Path(next_to).parent, f".{Path(next_to).name}.plink2-"
    parent.mkdir(parents=True, exist_ok=True)
    for stale in parent.glob(f"{prefix}*"):
        if stale.is_dir():
            log.info("removing %s, left by a killed run of this step", stale)
            shutil.rmtree(stale, ignore_errors=True)
    with tempfile.TemporaryDirectory(prefix=prefix, dir=parent) as tmp:
        yield Path(tmp)


def write_id_file(samples: pd.DataFrame, path: Path) -> Path:
    # a header line makes plink2 read two columns as FID IID (one column alone means IID)
    with open(path, "w") as handle:
        handle.write("#FID\tIID\n")
        samples[["FID", "IID"]].to_csv(handle, sep="\t", header=False, index=False)
    return path


def read_id_file(path: Path) -> pd.DataFrame:
    ids = pd.read_csv(path, sep=r"\s+", dtype=str)
    ids.columns = [c.lstrip("#") for c in ids.columns]
    if "FID" not in ids:
        ids["FID"] = ids["IID"]
    return ids[["FID", "IID"]]


