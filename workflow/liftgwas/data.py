"""Per-trait training data: which store rows, targets and covariates each split uses.

Samples are matched by IID between the .fam (= store row order), the trait table, the
covariate table and the split table. A sample with a missing trait or covariate is left
out of that trait's data only. Genotypes stay packed (2 bits each) until a batch is
used: its rows are read from the store (positioned reads) or gathered from a resident
copy of the packed matrix (``make_resident``, ``training.resident``), and decoded by
liftgwas.device_decode on the device that uses them (a GPU receives the packed bytes,
16x less than float32, and expands them itself).
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

from .device_decode import decode_packed, normalize_device, packed_bytes, resolve_resident
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
class ResidentRows:
    """The packed rows of every split, with targets and covariates, on one device; split
    ``s`` is rows ``offsets[s]:offsets[s] + len`` of ``packed`` (the splits in SPLITS order)."""

    device: torch.device
    packed: torch.Tensor  # uint8 (n, ceil(M / 4))
    offsets: dict[str, int]
    covariates: dict[str, torch.Tensor]
    y: dict[str, torch.Tensor]

    @property
    def nbytes(self) -> int:
        return self.packed.numel()


# rows read per step when a resident matrix is filled (bounds the host buffer to ~64 MiB)
RESIDENT_FILL_BYTES = 64 << 20


@dataclass
class TrainingData:
    store: GenotypeStore
    kind: str
    splits: dict[str, SplitData]
    covariate_names: list[str]
    y_mean: float = 0.0
    y_sd: float = 1.0
    iids: dict[str, np.ndarray] = field(default_factory=dict)
    resident: ResidentRows | None = field(default=None, repr=False, compare=False)
    _means: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def n_snps(self) -> int:
        return self.store.n_snps

    def store_mean(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """The store mean (M,) float32 on ``device`` (copied there once)."""
        device = normalize_device(device)
        if device not in self._means:
            self._means[device] = torch.from_numpy(self.store.mean).to(device)
        return self._means[device]

    def make_resident(self, device: torch.device | str, mode: str = "auto", *, reserve_bytes: int = 0,
                      free_bytes: int | None = None) -> bool:
        """Hold the packed rows of all splits on ``device`` if ``training.resident`` (``mode``)
        says so (device_decode.resolve_resident: auto = on a GPU when it fits next to
        ``reserve_bytes``); batches and decode_split on that device then gather rows there.
        Returns whether the matrix is resident; a matrix held for another device is released.
        """
        device = normalize_device(device)
        n = sum(len(part.rows) for part in self.splits.values())
        if not resolve_resident(mode, n, self.n_snps, device, reserve_bytes=reserve_bytes, free_bytes=free_bytes):
            self.resident = None
            return False
        if self.resident is not None and self.resident.device == device:
            return True
        self.resident = None  # free the old copy before the new one is filled
        packed = torch.empty((n, self.store.row_bytes), dtype=torch.uint8, device=device)
        pin = device.type == "cuda"
        step = max(RESIDENT_FILL_BYTES // max(self.store.row_bytes, 1), 1)
        offsets, at = {}, 0
        for name in SPLITS:
            rows = self.splits[name].rows
            offsets[name] = at
            for i in range(0, len(rows), step):
                chunk = rows[i : i + step]
                buffer = torch.empty((len(chunk), self.store.row_bytes), dtype=torch.uint8, pin_memory=pin)
                self.store.read_rows(chunk, out=buffer.numpy())
                packed[at : at + len(chunk)].copy_(buffer)  # synchronous: the buffer is reused
                at += len(chunk)
        self.resident = ResidentRows(
            device=device,
            packed=packed,
            offsets=offsets,
            covariates={k: torch.from_numpy(v.covariates).to(device) for k, v in self.splits.items()},
            y={k: torch.from_numpy(v.y).to(device) for k, v in self.splits.items()},
        )
        return True

    def _resident_on(self, device: torch.device) -> ResidentRows | None:
        return self.resident if self.resident is not None and self.resident.device == device else None

    def batches(
        self,
        split: str,
        batch_size: int,
        order: np.ndarray | None = None,
        device: torch.device | str = "cpu",
    ) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """Yield (x, c, y) tensors on ``device``; x = dosages minus the store mean (centred).

        Where the packed bytes are decoded (device_decode.decode_packed, the same code):
        * resident on ``device`` (make_resident): rows gathered and decoded there, no host work;
        * streamed to a GPU: a background thread reads the packed rows into pinned memory,
          they are copied (asynchronously) and decoded on the GPU;
        * streamed on the CPU: the background thread reads and decodes (torch releases the
          GIL), one batch ahead of the training step, as before.
        The batch order is fixed by ``order``, so the result depends neither on the
        prefetching nor on residency (the same bytes reach the same decoder).
        """
        part = self.splits[split]
        order = np.arange(len(part.rows)) if order is None else np.asarray(order)
        device = normalize_device(device)
        mean = self.store_mean(device)
        resident = self._resident_on(device)
        if resident is not None:
            index = torch.from_numpy(np.ascontiguousarray(order, dtype=np.int64)).to(device)
            rows = index + resident.offsets[split]
            for i in range(0, len(order), batch_size):
                x = decode_packed(resident.packed.index_select(0, rows[i : i + batch_size]), mean)
                idx = index[i : i + batch_size]
                yield x, resident.covariates[split].index_select(0, idx), resident.y[split].index_select(0, idx)
            return
        cuda = device.type == "cuda"

        def make(idx):
            buffer = torch.empty((len(idx), self.store.row_bytes), dtype=torch.uint8, pin_memory=cuda)
            self.store.read_rows(part.rows[idx], out=buffer.numpy())
            c = torch.from_numpy(part.covariates[idx])
            y = torch.from_numpy(part.y[idx])
            if cuda:
                return buffer, c.pin_memory(), y.pin_memory()
            return decode_packed(buffer, mean), c, y

        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
        for x, c, y in _prefetch(make, chunks):
            if cuda:  # x is still packed: 2 bits per genotype cross the bus
                x = decode_packed(x.to(device, non_blocking=True), mean)
                c, y = c.to(device, non_blocking=True), y.to(device, non_blocking=True)
            yield x, c, y

    def _centred_sums(self, split: str, chunk: int, device, squares: bool) -> tuple[torch.Tensor, torch.Tensor | None, int]:
        """Σ x and Σ x² per SNP (float64, on ``device``) of the split's centred dosages,
        streamed through ``batches`` (decoded on ``device``, from the resident matrix if any)."""
        device = normalize_device(device)
        total = torch.zeros(self.n_snps, dtype=torch.float64, device=device)
        square = torch.zeros_like(total) if squares else None
        for x, _, _ in self.batches(split, chunk, device=device):
            if squares:  # exact float64 squares (as before), a float64 copy of the chunk
                x = x.double()
                square += x.square().sum(0)
            total += x.sum(0, dtype=torch.float64)
        return total, square, len(self.splits[split].rows)

    def mean_genotype(self, split: str = "train", chunk: int = 1024, device: torch.device | str = "cpu") -> np.ndarray:
        """Mean (imputed) dosage per SNP over one split, streamed in sample chunks on ``device``.

        Summed around the store mean (the centred values ``batches`` yields) in float64.
        """
        total, _, n = self._centred_sums(split, chunk, device, squares=False)
        return (total.cpu().numpy() / max(n, 1) + self.store.mean.astype(np.float64)).astype(np.float32)

    def genotype_sd(self, split: str = "train", chunk: int = 1024, device: torch.device | str = "cpu") -> np.ndarray:
        """SD (population, ddof 0) of the (imputed) dosage per SNP over one split, streamed.

        Accumulated around the store mean (the centred values ``batches`` yields), which
        keeps the one-pass variance formula free of cancellation for dosages in [0, 2].
        """
        total, squares, n = self._centred_sums(split, chunk, device, squares=True)
        total, squares, n = total.cpu().numpy(), squares.cpu().numpy(), max(n, 1)
        return np.sqrt(np.maximum(squares / n - (total / n) ** 2, 0.0)).astype(np.float32)

    def input_scale(self, scaling: str, device: torch.device | str = "cpu") -> np.ndarray:
        """The SNP network's fixed input multiplier for ``model.input_scaling``.

        ``standardised``: 1 / training SD, and 0 for SNPs without variation in the training
        samples (they carry no information, and a huge multiplier would only amplify noise).
        """
        if scaling == "centred":
            return np.ones(self.n_snps, dtype=np.float32)
        if scaling == "standardised":
            sd = self.genotype_sd("train", device=device).astype(np.float64)
            return np.where(sd > 1e-6, 1.0 / np.maximum(sd, 1e-6), 0.0).astype(np.float32)
        raise ValueError(f"config key model.input_scaling: unknown value {scaling!r}; use centred or standardised")

    def sample_rows(self, split: str, n: int, seed: int) -> np.ndarray:
        """``n`` sample indices of a split (positions in its rows), drawn without
        replacement from ``seed`` (all of them if the split is smaller), sorted."""
        total = len(self.splits[split].rows)
        g = np.random.default_rng(seed)
        return np.sort(g.choice(total, size=min(n, total), replace=False))

    def decode_split(self, split: str, positions: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
        """Centred dosages of the given positions of a split, as one float32 tensor on
        ``device`` (decoded there, from the resident matrix when there is one)."""
        device = normalize_device(device)
        positions = np.asarray(positions, dtype=np.int64)
        resident = self._resident_on(device)
        if resident is not None:
            rows = torch.from_numpy(positions + resident.offsets[split]).to(device)
            packed = resident.packed.index_select(0, rows)
        else:
            packed = torch.from_numpy(self.store.read_rows(self.splits[split].rows[positions])).to(device)
        return decode_packed(packed, self.store_mean(device))

    @property
    def packed_bytes(self) -> int:
        """Bytes of the packed rows of all splits (what make_resident puts on the device)."""
        return packed_bytes(sum(len(part.rows) for part in self.splits.values()), self.n_snps)


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
