"""Run the real workflow in a temporary directory and read back what it planned."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).parent / "snakemake")

TINY_CONFIG = {
    "simulation": {
        "n_samples": 300,
        "n_snps": 120,
        "n_causal": 5,
        "sparsity": [0.5],
        "replicates": 1,
        "traits": ["binary", "quantitative"],
        "seed": 7,
    },
    "cohorts": {},
    "split": {"seed": 1, "train": 0.5, "early_stop": 0.25, "validation": 0.25},
    "model": {
        "architectures": ["8x8", "16x8"],
        "l1": [0.1, 1],
        "l1_scaling": "sum_over_n_train",
        "seeds": [1],
        "retrain_seeds": [11],
        "covariates_as_inputs": True,
    },
    "training": {"batch_size": 64, "learning_rate": 0.003, "max_epochs": 4, "patience": 2},
    "deeplift": {"chunk_size": 64},
    "gwas": {"n_pcs": 3},
    "recall": {"top_k": 5},
}


def write_config(workdir: Path, config: dict, name: str = "config.yaml") -> Path:
    path = workdir / name
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def snakemake(workdir: Path, configfile: Path, *args: str, timeout: int = 2400) -> subprocess.CompletedProcess:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    cmd = [
        SNAKEMAKE,
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(configfile),
        "--cores", "2",
        *args,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=workdir)
    if result.returncode != 0:
        raise AssertionError(f"snakemake failed ({' '.join(cmd)}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}")
    return result


_RULE = re.compile(r"^(?:local)?(?:rule|checkpoint) (\w+):\s*$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(workdir: Path, configfile: Path, *targets: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a dry run plans."""
    out = snakemake(workdir, configfile, "--dry-run", *targets)
    text = out.stdout + out.stderr
    jobs: list[tuple[str, dict]] = []
    for line in text.splitlines():
        m = _RULE.match(line)
        if m:
            jobs.append((m.group(1), {}))
            continue
        w = _WILDCARDS.match(line)
        if w and jobs:
            jobs[-1] = (jobs[-1][0], dict(item.split("=", 1) for item in w.group(1).split(", ")))
    return jobs


def count_rules(jobs) -> Counter:
    return Counter(rule for rule, _ in jobs)


def local_rules() -> set[str]:
    """Rules that never become cluster jobs: those the rule files list under ``localrules:``
    and ``all`` (input only, nothing to run). A dry run prints every job as ``rule``."""
    names = {"all"}
    for path in (REPO / "workflow" / "rules").glob("*.smk"):
        for block in re.findall(r"^localrules:\s*\n((?:[ \t]+\w+,?\s*\n)+)", path.read_text(), re.M):
            names |= set(re.findall(r"\w+", block))
    return names
