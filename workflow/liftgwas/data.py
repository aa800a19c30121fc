"""Per-trait training data: which store rows, targets and covariates each split uses.

Samples are matched by IID between the .fam (= store row order), the trait table, the
covariate table and the split table. A sample with a missing trait or covariate is left
out of that trait's data only. Nothing here holds genotypes: batches are decoded from
the memory-mapped store on the fly.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pandas as pd
import torch

from .errors import InputError
from .genostore import GenotypeStore
from .plink import read_fam

SPLITS = ("train", "early_stop", "validation")


@dataclass
class SplitData:
    rows: np.ndarray  # store rows (int64)
    y: np.ndarray  # float32 targets (standardised for quantitative traits)
    covariates: np.ndarray  # float32 (n, C), standardised with the training mean/sd


@dataclass
class TrainingData:
    store: GenotypeStore
    kind: str
    splits: dict[str, SplitData]
    covariate_names: list[str]
    y_mean: float = 0.0
    y_sd: float = 1.0
    iids: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_snps(self) -> int:
        return self.store.n_snps

    def batches(
        self,
        split: str,
        batch_size: int,
        order: np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield (x, c, y) tensors; x = dosages minus the store mean (centred inputs).

        Decoding runs one batch ahead in a background thread (numpy releases the GIL),
        with pinned memory when the device is a GPU; the batch order is fixed by
        ``order``, so the result does not depend on the prefetching.
        """
        part = self.splits[split]
        order = np.arange(len(part.rows)) if order is None else order
        device = torch.device(device)
        pin = device.type == "cuda"
        def make(idx):
            x = torch.from_numpy(self.store.decode(part.rows[idx], center=True))
            c = torch.from_numpy(part.covariates[idx])
            y = torch.from_numpy(part.y[idx])
            if pin:
                x, c, y = x.pin_memory(), c.pin_memory(), y.pin_memory()
            return x, c, y

        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for x, c, y in _prefetch(make, chunks):
            yield (
                x.to(device, non_blocking=pin),
                c.to(device, non_blocking=pin),
                y.to(device, non_blocking=pin),
            )

    def mean_genotype(self, split: str = "train", chunk: int = 1024) -> np.ndarray:
        """Mean (imputed) dosage per SNP over one split, streamed in sample chunks."""
        rows = self.splits[split].rows
        total = np.zeros(self.n_snps, dtype=np.float64)
        for i in range(0, len(rows), chunk):
            total += self.store.decode(rows[i : i + chunk]).sum(axis=0, dtype=np.float64)
        return (total / max(len(rows), 1)).astype(np.float32)

    def genotype_sd(self, split: str = "train", chunk: int = 1024) -> np.ndarray:
        """SD (population, ddof 0) of the (imputed) dosage per SNP over one split, streamed.

        Accumulated around the store mean (the centred values ``batches`` yields), which
        keeps the one-pass variance formula free of cancellation for dosages in [0, 2].
        """
        rows = self.splits[split].rows
        total = np.zeros(self.n_snps, dtype=np.float64)
        squares = np.zeros(self.n_snps, dtype=np.float64)
        for i in range(0, len(rows), chunk):
            x = self.store.decode(rows[i : i + chunk], center=True).astype(np.float64)
            total += x.sum(axis=0)
            squares += np.square(x).sum(axis=0)
        n = max(len(rows), 1)
        return np.sqrt(np.maximum(squares / n - (total / n) ** 2, 0.0)).astype(np.float32)

    def input_scale(self, scaling: str) -> np.ndarray:
        """The SNP network's fixed input multiplier for ``model.input_scaling``.

        ``standardised``: 1 / training SD, and 0 for SNPs without variation in the training
        samples (they carry no information, and a huge multiplier would only amplify noise).
        """
        if scaling == "centred":
            return np.ones(self.n_snps, dtype=np.float32)
        if scaling == "standardised":
            sd = self.genotype_sd("train").astype(np.float64)
            return np.where(sd > 1e-6, 1.0 / np.maximum(sd, 1e-6), 0.0).astype(np.float32)
        raise ValueError(f"config key model.input_scaling: unknown value {scaling!r}; use centred or standardised")

    def sample_rows(self, split: str, n: int, seed: int) -> np.ndarray:
        """``n`` sample indices of a split (positions in its rows), drawn without
        replacement from ``seed`` (all of them if the split is smaller), sorted."""
        total = len(self.splits[split].rows)
        g = np.random.default_rng(seed)
        return np.sort(g.choice(total, size=min(n, total), replace=False))

    def decode_split(self, split: str, positions: np.ndarray) -> torch.Tensor:
        """Centred dosages of the given positions of a split, as one float32 tensor."""
        return torch.from_numpy(self.store.decode(self.splits[split].rows[positions], center=True))


def oversampled_order(y: np.ndarray, ratio: float, generator: torch.Generator) -> np.ndarray:
    """A shuffled epoch order in which cases are drawn (with replacement) up to
    ``ratio`` cases per control; every sample appears at least once.

    Only extra case draws are added (the minority is never undersampled); if the cases
    already reach the ratio, the order is a plain permutation.
    """
    if not ratio > 0:
        raise ValueError(f"config key training.oversample_ratio: must be > 0, got {ratio!r}")
    cases = np.flatnonzero(y == 1)
    n_controls = int((y != 1).sum())
    extra = max(int(round(ratio * n_controls)) - len(cases), 0) if len(cases) else 0
    index = np.arange(len(y))
    if extra:
        draws = torch.randint(len(cases), (extra,), generator=generator).numpy()
        index = np.concatenate([index, cases[draws]])
    return index[torch.randperm(len(index), generator=generator).numpy()]


def _prefetch(make, items, depth: int = 2):
    """Run make(item) one step ahead in a worker thread; re-raise its errors here."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def worker():
        try:
            for item in items:
                if stop.is_set():
                    return
                q.put(("ok", make(item)))
            q.put(("done", None))
        except BaseException as e:  # noqa: BLE001 - handed to the consumer
            q.put(("error", e))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    try:
        while True:
            status, value = q.get()
            if status == "done":
                return
            if status == "error":
                raise value
            yield value
    finally:
        stop.set()
        while thread.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(timeout=0.05)


def _read_table(path: Path, what: str) -> pd.DataFrame:
    if not Path(path).exists():
        raise InputError(path, f"{what} table not found")
    df = pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str}, na_values=["NA", ""])
    if "IID" not in df.columns:
        raise InputError(path, f"{what} table has no IID column", field="IID")
    return df


def load_training_data(
    store_prefix: str | Path,
    fam_path: str | Path,
    traits_path: str | Path,
    covariates_path: str | Path,
    split_path: str | Path,
    trait: str,
    kind: str,
    use_covariates: bool = True,
) -> TrainingData:
    store = GenotypeStore.open(store_prefix)
    fam = read_fam(fam_path)
    if len(fam) != store.n_samples:
        raise InputError(fam_path, f"{len(fam)} samples but the genotype store has {store.n_samples}")
    traits = _read_table(traits_path, "trait")
    if trait not in traits.columns:
        raise InputError(traits_path, f"no column for trait {trait!r}", field=trait)
    split = _read_table(split_path, "split")
    table = fam[["iid"]].rename(columns={"iid": "IID"}).reset_index(names="row")
    table = table.merge(traits[["IID", trait]], on="IID", how="inner").merge(
        split[["IID", "split"]], on="IID", how="inner"
    )
    covariate_names: list[str] = []
    if use_covariates:
        cov = _read_table(covariates_path, "covariate")
        covariate_names = [c for c in cov.columns if c not in ("FID", "IID")]
        table = table.merge(cov[["IID", *covariate_names]], on="IID", how="inner")
    table = table.dropna(subset=[trait, *covariate_names]).sort_values("row")
    y_all = table[trait].to_numpy(dtype=np.float64)
    if kind == "binary":
        bad = ~np.isin(y_all, (0.0, 1.0))
        if bad.any():
            raise InputError(traits_path, f"binary trait has value {y_all[bad][0]!r}; expected 0/1", field=trait)
    train_mask = table["split"].to_numpy() == "train"
    if not train_mask.any():
        raise InputError(split_path, f"no training samples with a value for trait {trait!r}")
    y_mean, y_sd = 0.0, 1.0
    if kind == "quantitative":
        y_mean = float(y_all[train_mask].mean())
        y_sd = float(y_all[train_mask].std()) or 1.0
    cov_all = table[covariate_names].to_numpy(dtype=np.float64) if covariate_names else np.zeros((len(table), 0))
    c_mean = cov_all[train_mask].mean(axis=0) if covariate_names else np.zeros(0)
    c_sd = cov_all[train_mask].std(axis=0) if covariate_names else np.ones(0)
    c_sd[c_sd == 0] = 1.0
    splits, iids = {}, {}
    for name in SPLITS:
        mask = table["split"].to_numpy() == name
        splits[name] = SplitData(
            rows=table["row"].to_numpy()[mask].astype(np.int64),
            y=((y_all[mask] - y_mean) / y_sd).astype(np.float32),
            covariates=((cov_all[mask] - c_mean) / c_sd).astype(np.float32),
        )
        iids[name] = table["IID"].to_numpy()[mask]
    return TrainingData(
        store=store,
        kind=kind,
        splits=splits,
        covariate_names=covariate_names,
        y_mean=y_mean,
        y_sd=y_sd,
        iids=iids,
    )


def load_job_data(inputs, trait: str, kind: str, use_covariates: bool) -> TrainingData:
    """The training data of a workflow job, from its inputs (packed, fam, traits,
    covariates, split: what the rules' ``model_data_input`` lists)."""
    return load_training_data(
        str(inputs.packed).removesuffix(".packed.npy"),
        inputs.fam,
        inputs.traits,
        inputs.covariates,
        inputs.split,
        trait=trait,
        kind=kind,
        use_covariates=use_covariates,
    )
