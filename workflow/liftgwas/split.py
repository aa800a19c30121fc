"""Random train / early-stop / validation split of the samples, reproducible from a seed.

One split per dataset, shared by every model of the grid, so models are compared on the
same people. Sizes come from cumulative rounding (train = round(N f_train),
train + early_stop = round(N (f_train + f_early_stop)), validation = the rest), so they
always add up to N and each is within one sample of its exact share.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .atomic import write_tsv
from .plink import read_fam

SPLITS = ("train", "early_stop", "validation")


def _check_fractions(fractions: Mapping[str, float]) -> None:
    described = ", ".join(f"{name}={value}" for name, value in fractions.items())
    out_of_range = [name for name, value in fractions.items() if not 0 <= value <= 1]
    if out_of_range:
        raise ValueError(f"split fractions must lie in [0, 1]: {', '.join(out_of_range)} ({described})")
    total = sum(fractions.values())
    if abs(total - 1) > 1e-9:
        raise ValueError(f"split fractions must sum to 1, got {total:.12g} ({described})")


def split_sizes(n_samples: int, train: float, early_stop: float) -> tuple[int, int, int]:
    """(train, early_stop, validation) sizes by cumulative half-up rounding."""
    n_train = int(np.floor(n_samples * train + 0.5))
    n_train_or_early = int(np.floor(n_samples * (train + early_stop) + 0.5))
    n_train_or_early = min(max(n_train_or_early, n_train), n_samples)
    return n_train, n_train_or_early - n_train, n_samples - n_train_or_early


def make_split(
    sample_ids: Sequence[str],
    seed: int,
    train: float = 0.5,
    early_stop: float = 0.25,
    validation: float = 0.25,
) -> pd.DataFrame:
    """DataFrame[IID, split] in the order of ``sample_ids``, with split in SPLITS."""
    _check_fractions({"train": train, "early_stop": early_stop, "validation": validation})
    ids = pd.Series(list(sample_ids), dtype=object)
    if ids.empty:
        raise ValueError("cannot split an empty list of samples")
    duplicated = ids.duplicated()
    if duplicated.any():
        raise ValueError(f"sample IDs must be unique; '{ids[duplicated].iloc[0]}' appears twice")
    if seed < 0:
        raise ValueError(f"split seed must be >= 0, got {seed}")
    n_train, n_early, _ = split_sizes(len(ids), train, early_stop)
    order = np.random.default_rng(seed).permutation(len(ids))
    labels = np.empty(len(ids), dtype=object)
    labels[order[:n_train]] = "train"
    labels[order[n_train : n_train + n_early]] = "early_stop"
    labels[order[n_train + n_early :]] = "validation"
    return pd.DataFrame({"IID": ids.to_numpy(), "split": labels})


def write_split(
    fam_path: str | Path,
    out_path: str | Path,
    seed: int,
    fractions: Mapping[str, float],
) -> pd.DataFrame:
    """Split the samples of a .fam (in .fam order) and write TSV IID split atomically.

    ``fractions`` maps each of "train", "early_stop", "validation" to its share.
    """
    unknown = sorted(set(fractions) - set(SPLITS))
    missing = [name for name in SPLITS if name not in fractions]
    if unknown or missing:
        raise ValueError(
            f"split fractions need exactly the keys {', '.join(SPLITS)}; "
            f"missing: {', '.join(missing) or 'none'}, unknown: {', '.join(unknown) or 'none'}"
        )
    fam = read_fam(fam_path)
    table = make_split(fam["iid"], seed, **{name: float(fractions[name]) for name in SPLITS})
    write_tsv(out_path, table)
    return table
