"""Atomic output writing: a killed job never leaves a file that looks finished.

Everything is written to a temporary sibling (same directory, so the final rename is
atomic on POSIX filesystems) and renamed into place only after it was closed.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import tempfile
from pathlib import Path
from typing import Iterator

import pandas as pd


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    On any exception the temporary file (or directory) is removed and ``path`` is
    left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()  # the caller creates it (as file or directory)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        _remove(tmp)
        raise


def _remove(p: Path) -> None:
    if p.is_dir() and not p.is_symlink():
        for child in p.iterdir():
            _remove(child)
        p.rmdir()
    elif p.exists() or p.is_symlink():
        p.unlink()


def write_torch(path: str | Path, obj) -> None:
    """torch.save, atomically and reproducibly: saved through a file handle, the archive's
    inner folder is "archive"; given a path, torch names it after the (random) temporary
    file, so the same model would be different bytes on every write."""
    import torch  # here, not at the top: most callers of this module never load torch

    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        torch.save(obj, handle)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(o):
    # numpy scalars and paths appear in metrics; store them as plain JSON values
    if hasattr(o, "item"):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot serialise {type(o).__name__} to JSON")


def write_tsv(path: str | Path, df: pd.DataFrame, **kwargs) -> None:
    """Write a tab-separated table atomically; gzip-compressed if ``path`` ends in .gz."""
    path = Path(path)
    kwargs.setdefault("index", False)
    kwargs.setdefault("na_rep", "NA")
    with atomic_path(path) as tmp:
        if path.suffix == ".gz":
            # mtime=0 and no file name (it would be the random temporary one) keep the
            # bytes reproducible; level 6 is 3x faster than 9 for a few % more bytes
            with open(tmp, "wb") as raw, gzip.GzipFile(
                filename="", fileobj=raw, mode="wb", mtime=0, compresslevel=6
            ) as gz:
                gz.write(df.to_csv(sep="\t", **kwargs).encode())
        else:
            df.to_csv(tmp, sep="\t", **kwargs)
