"""Model-X knockoff genotypes (issue 11): [X, X~] in one genotype store of 2M columns.

Two constructions, chosen per dataset by ``discoveries.knockoffs.method`` (``auto``: the
first for Hao simulations, the second for everything with LD):

* ``independent`` (Hao et al. 2016 simulations: SNPs independent given the population).
  Each knockoff SNP is drawn as X~_ij ~ Binomial(2, pi_ij), pi_ij the individual-specific
  allele frequency. pi is estimated by the truncated linear factor model of Hao, Song &
  Storey (2016): the dosage regressed on an intercept and the top ``factors`` genotype PCs
  (covariates.tsv, plink2 --pca), pi_hat = clip(fitted / 2, eps, 1 - eps). Given the
  factors X~_j is then independent of X and of every other SNP, with the same conditional
  law as X_j, which is exactly the model-X knockoff condition when the model holds.
* ``group_gaussian`` (coalescent simulations and cohorts: LD). SNPs are split into
  windows of at most ``window`` consecutive SNPs of one chromosome (memory and the
  S-matrix solve stay bounded; windows are taken as independent blocks, the usual
  block-diagonal LD approximation). Within a window the dosages are residualised on the
  same PCs (so structure enters through the mean, as in the independent model), their
  correlation estimated with Ledoit-Wolf shrinkage, and the SNPs grouped by average-linkage
  hierarchical clustering on 1 - |r| cut at 1 - ``group_correlation``. knockpy 1.3
  (Spector & Janson 2022) solves the group S-matrix (``smatrix``: maxent by default, its
  recommended MRC method) and samples second-order Gaussian group knockoffs. Each knockoff
  column is mapped back to {0, 1, 2} by rank: the lowest n0 values become 0, the next n1
  become 1, the rest 2, with (n0, n1, n2) the original SNP's genotype counts. That keeps
  every SNP's genotype frequencies exactly and, being monotone, keeps the Gaussian
  knockoffs' rank correlations, so the swap invariance of Cov([X, X~]) survives up to the
  discretisation (tested within a tolerance).

A call missing in X is missing in X~ too (same sample, same SNP): the missingness pattern
then is identical in both halves and cannot tell a knockoff from an original.

Every random draw comes from ``knockoff_seed(dataset, draw, seed)`` and the window's index
(np.random.SeedSequence), so a draw is reproducible on its own and does not depend on the
order windows are processed in.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import atomic_path, write_tsv
from ..errors import InputError
from ..genostore import store_paths
from ..plink import Bed, encode_bed_block

log = logging.getLogger(__name__)

METHODS = ("independent", "group_gaussian")
SMATRIX_METHODS = ("maxent", "mvr", "sdp", "equicorrelated")
KEY = "discoveries.knockoffs"

# Fewest samples a knockoff draw is built from. independent: the factor regression has
# factors + 1 coefficients per SNP; 10 samples per coefficient (the usual rule for a stable
# regression) and at least 100. group_gaussian: a window's correlation matrix from fewer
# than 2 x window samples is mostly noise even after shrinkage (its smallest eigenvalues,
# which the S-matrix depends on, are the worst estimated), and at least 100.
MIN_SAMPLES = 100


@dataclass(frozen=True)
class KnockoffSettings:
    run: bool = False
    draws: int = 1  # knockoff draws per dataset (the draw index is a path wildcard)
    method: str = "auto"  # auto | independent | group_gaussian
    factors: int = 10  # PCs of covariates.tsv (PC1..PCk) that carry population structure
    window: int = 100  # SNPs per LD window (group_gaussian)
    group_correlation: float = 0.5  # average-linkage cut: mean |r| inside a group >= this
    smatrix: str = "maxent"  # knockpy S-matrix method (group_gaussian)
    eps: float = 1e-3  # clip of the individual-specific allele frequency (independent)
    seed: int = 11  # master seed of the knockoff draws (with the dataset name and draw)

    @classmethod
    def from_config(cls, section: dict | None) -> "KnockoffSettings":
        """From ``discoveries.knockoffs`` (absent keys take the defaults); errors name the key."""
        section = dict(section or {})
        unknown = sorted(set(section) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"config key {KEY}.{unknown[0]}: unknown setting")
        settings = cls(**section)
        settings.validate()
        return settings

    def validate(self) -> None:
        def positive_int(key, value, low=1):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"config key {KEY}.{key}: must be an integer >= {low}, got {value!r}")

        if not isinstance(self.run, bool):
            raise ValueError(f"config key {KEY}.run: must be true or false, got {self.run!r}")
        positive_int("draws", self.draws)
        positive_int("factors", self.factors, 0)
        positive_int("window", self.window, 2)
        positive_int("seed", self.seed, 0)
        if self.method not in ("auto", *METHODS):
            raise ValueError(f"config key {KEY}.method: {self.method!r} is not one of auto, {', '.join(METHODS)}")
        if self.smatrix not in SMATRIX_METHODS:
            raise ValueError(f"config key {KEY}.smatrix: {self.smatrix!r} is not one of {', '.join(SMATRIX_METHODS)}")
        if not 0 < self.group_correlation <= 1:
            raise ValueError(f"config key {KEY}.group_correlation: must be in (0, 1], got {self.group_correlation!r}")
        if not 0 < self.eps < 0.5:
            raise ValueError(f"config key {KEY}.eps: must be in (0, 0.5), got {self.eps!r}")

    def describe(self) -> dict:
        return asdict(self)


def is_hao_dataset(dataset: str) -> bool:
    """Hao simulations are named sim-a{a}-r{r} (workflow_config.simulated_datasets)."""
    return re.fullmatch(r"sim-a[^-]+-r[0-9]+", dataset) is not None


def resolve_method(method: str, dataset: str) -> str:
    """``auto``: independent on Hao simulations (no LD), group_gaussian elsewhere."""
    if method == "auto":
        return "independent" if is_hao_dataset(dataset) else "group_gaussian"
    if method not in METHODS:
        raise ValueError(f"config key {KEY}.method: {method!r} is not one of auto, {', '.join(METHODS)}")
    return method


def min_samples(method: str, settings: KnockoffSettings) -> int:
    if method == "independent":
        return max(MIN_SAMPLES, 10 * (settings.factors + 1))
    return max(MIN_SAMPLES, 2 * settings.window)


def check_samples(n_samples: int, section, dataset: str) -> None:
    """Config error when ``dataset`` has fewer samples than its knockoff method needs.

    ``section`` is the ``discoveries.knockoffs`` dict (or KnockoffSettings). Called by
    discover.config.check_discoveries before any job runs (simulations), and by the
    knockoff job itself once a cohort's post-QC sample count is known.
    """
    settings = section if isinstance(section, KnockoffSettings) else KnockoffSettings.from_config(section)
    if settings.run:
        check_sample_count(n_samples, settings, resolve_method(settings.method, dataset), dataset)


def check_sample_count(n_samples: int, settings: KnockoffSettings, method: str, dataset: str) -> None:
    need = min_samples(method, settings)
    if n_samples < need:
        why = (
            f"the factor regression has {settings.factors} + 1 coefficients per SNP (10 samples per coefficient)"
            if method == "independent"
            else f"a {settings.window}-SNP window's LD correlation needs >= 2 x window samples"
        )
        raise ValueError(
            f"config key {KEY}.run: dataset {dataset} has {n_samples} samples, but {method} knockoffs need "
            f">= {need} ({why}); lower {KEY}.window / {KEY}.factors, or turn knockoffs off"
        )


def knockoff_seed(dataset: str, draw: int, seed: int = KnockoffSettings.seed) -> int:
    """A stable 32-bit seed for one knockoff draw of a dataset (its path: name + draw)."""
    name = int.from_bytes(hashlib.sha256(dataset.encode()).digest()[:8], "little")
    return int(np.random.SeedSequence([int(seed), int(draw), name]).generate_state(1)[0])


def _window_rng(seed: int, window: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(window)]))


# --------------------------------------------------------------------------------------
# per-window constructions (pure numpy; X is (n, p) float dosages, missing mean-imputed)


def factor_design(factors: np.ndarray | None, n: int) -> np.ndarray:
    """[1, PC1..PCk] (n, k + 1)."""
    ones = np.ones((n, 1))
    if factors is None or factors.shape[1] == 0:
        return ones
    return np.column_stack([ones, np.asarray(factors, dtype=np.float64)])


def individual_frequencies(x: np.ndarray, design: np.ndarray, eps: float) -> np.ndarray:
    """Hao et al.'s truncated linear estimate of pi_ij: clip(E[x_ij | factors] / 2, eps, 1 - eps)."""
    beta, *_ = np.linalg.lstsq(design, x, rcond=None)
    return np.clip(design @ beta / 2.0, eps, 1.0 - eps)


def independent_knockoffs(x: np.ndarray, design: np.ndarray, eps: float, rng: np.random.Generator) -> np.ndarray:
    """X~_ij ~ Binomial(2, pi_hat_ij), independent of X given the factors (int8)."""
    return rng.binomial(2, individual_frequencies(x, design, eps)).astype(np.int8)


def ld_groups(corr: np.ndarray, group_correlation: float) -> np.ndarray:
    """Groups 1..G of SNPs: average-linkage clustering on 1 - |r|, cut at 1 - group_correlation.

    Average linkage (as in knockpy's and KnockoffGWAS's examples) keeps a group's mean |r|
    at or above the cut without chaining weakly linked SNPs (single linkage would).
    """
    from scipy.cluster import hierarchy
    from scipy.spatial.distance import squareform

    p = corr.shape[0]
    if p == 1:
        return np.ones(1, dtype=np.int64)
    dist = 1.0 - np.abs(corr)
    np.fill_diagonal(dist, 0.0)
    dist = np.clip((dist + dist.T) / 2, 0.0, None)
    link = hierarchy.linkage(squareform(dist, checks=False), method="average")
    groups = hierarchy.fcluster(link, 1.0 - group_correlation, criterion="distance")
    # renumber by first appearance, so group numbers follow the SNP order
    _, first = np.unique(groups, return_index=True)
    order = {g: i + 1 for i, g in enumerate(groups[np.sort(first)])}
    return np.array([order[g] for g in groups], dtype=np.int64)


def _seeded_legacy(seed: int):
    """knockpy samples from numpy's global generator: seed it for one call, then restore."""
    from contextlib import contextmanager

    @contextmanager
    def ctx():
        state = np.random.get_state()
        np.random.seed(seed % 2**32)
        try:
            yield
        finally:
            np.random.set_state(state)

    return ctx()


def gaussian_group_knockoffs(
    x: np.ndarray, design: np.ndarray, settings: KnockoffSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Continuous second-order Gaussian group knockoffs of one window (dosage units).

    Returns (knockoffs (n, p) float, groups 1..G, info). Monomorphic SNPs (no residual
    variance) get their own group and a knockoff equal to the original: it carries no
    information, so its W is 0 and it is never selected.
    """
    from knockpy.knockoffs import produce_MX_gaussian_knockoffs
    from knockpy.smatrix import compute_smatrix
    from sklearn.covariance import LedoitWolf

    n, p = x.shape
    beta, *_ = np.linalg.lstsq(design, x, rcond=None)
    fitted = design @ beta
    resid = x - fitted
    sd = resid.std(axis=0)
    live = sd > 1e-8
    groups = np.zeros(p, dtype=np.int64)
    out = x.astype(np.float64, copy=True)
    info = {"n_live": int(live.sum())}
    if live.any():
        z = resid[:, live] / sd[live]
        corr = LedoitWolf(assume_centered=True).fit(z).covariance_
        d = np.sqrt(np.diag(corr))
        corr = corr / np.outer(d, d)
        live_groups = ld_groups(corr, settings.group_correlation)
        if live.sum() == 1:
            S = np.eye(1)  # one standardised SNP: the knockoff is independent of it
        else:
            S = compute_smatrix(corr, groups=live_groups, method=settings.smatrix)
        seed = int(rng.integers(2**32))
        with _seeded_legacy(seed):
            zk = produce_MX_gaussian_knockoffs(
                z, np.zeros(z.shape[1]), np.linalg.inv(corr), S, sample_tol=1e-5, copies=1
            )[:, :, 0]
        out[:, live] = fitted[:, live] + zk * sd[live]
        groups[live] = live_groups
        info["n_groups_live"] = int(live_groups.max())
    # each monomorphic SNP its own group, after the live ones
    next_group = int(groups.max())
    for j in np.flatnonzero(~live):
        next_group += 1
        groups[j] = next_group
    return out, groups, info


def to_dosages(values: np.ndarray, original: np.ndarray) -> np.ndarray:
    """Continuous knockoffs -> {0, 1, 2} by rank, matching each original SNP's genotype counts.

    ``original`` is int8 with -1 for missing; those positions stay missing (-1) in the
    result, and the counts are those of the called genotypes.
    """
    missing = original < 0
    v = np.where(missing, np.inf, values)  # missing calls rank last, then are set to -1
    ranks = np.argsort(np.argsort(v, axis=0, kind="stable"), axis=0, kind="stable")
    n0 = (original == 0).sum(axis=0)
    n1 = (original == 1).sum(axis=0)
    out = (ranks >= n0).astype(np.int8) + (ranks >= n0 + n1).astype(np.int8)
    out[missing] = -1
    return out


def window_knockoffs(
    dosages: np.ndarray, design: np.ndarray, method: str, settings: KnockoffSettings, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Knockoffs of one window: (int8 (n, p) with -1 where the original is missing, groups 1..G)."""
    missing = dosages < 0
    x = dosages.astype(np.float64)
    if missing.any():  # mean-impute for the model fit (the store does the same for training)
        called = np.where(missing, 0.0, x)
        mean = called.sum(0) / np.maximum((~missing).sum(0), 1)
        x = np.where(missing, mean, x)
    if method == "independent":
        knock = independent_knockoffs(x, design, settings.eps, rng)
        knock[missing] = -1
        return knock, np.arange(1, x.shape[1] + 1, dtype=np.int64)
    values, groups, _ = gaussian_group_knockoffs(x, design, settings, rng)
    return to_dosages(values, dosages), groups


def windows(bim: pd.DataFrame, size: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of at most ``size`` consecutive SNPs, never across chromosomes."""
    chrom = bim["chrom"].astype(str).to_numpy()
    bounds = np.flatnonzero(chrom[1:] != chrom[:-1]) + 1
    out = []
    for start, stop in zip(np.r_[0, bounds], np.r_[bounds, len(chrom)]):
        for s in range(int(start), int(stop), size):
            out.append((s, min(s + size, int(stop))))
    return out


def read_factors(covariates_path: str | Path, fam: pd.DataFrame, k: int) -> np.ndarray:
    """PC1..PCk of covariates.tsv in .fam order (n, k); k = 0 gives no factors."""
    if k == 0:
        return np.zeros((len(fam), 0))
    cov = pd.read_csv(covariates_path, sep="\t", dtype={"FID": str, "IID": str})
    pcs = [c for c in cov.columns if re.fullmatch(r"PC[0-9]+", str(c))]
    pcs = sorted(pcs, key=lambda c: int(c[2:]))[:k]
    if not pcs:
        raise InputError(covariates_path, f"no PC columns for {KEY}.factors = {k} (set it to 0 for none)", field="PC1")
    table = fam[["iid"]].merge(cov[["IID", *pcs]], left_on="iid", right_on="IID", how="left")
    values = table[pcs].to_numpy(np.float64)
    if np.isnan(values).any():
        bad = table["iid"][np.isnan(values).any(axis=1)].iloc[0]
        raise InputError(covariates_path, f"sample {bad} has no value for the PCs the knockoffs use", field=pcs[0])
    return values


# --------------------------------------------------------------------------------------
# the store of [X, X~]


def pack_rows(dosages: np.ndarray) -> np.ndarray:
    """int8 dosages (rows, M) with -1 missing -> the store's 2-bit bytes (rows, ceil(M / 4))."""
    rows, m = dosages.shape
    return np.frombuffer(encode_bed_block(dosages), dtype=np.uint8).reshape(rows, (m + 3) // 4)


@dataclass
class KnockoffDraw:
    """A knockoff draw in memory (the bench and tests use it without Snakemake)."""

    original: np.ndarray  # int8 (n, M), -1 missing
    knockoff: np.ndarray  # int8 (n, M), -1 where original is missing
    groups: np.ndarray  # int64 (M,), 1..G over the whole dataset
    method: str

    def combined(self) -> np.ndarray:
        return np.concatenate([self.original, self.knockoff], axis=1)


INDEPENDENT_BLOCK = 1000  # SNPs per block of the independent construction (a constant: see below)


def block_size(method: str, settings: KnockoffSettings) -> int:
    """SNPs per window. independent: the columns do not interact, so a block is only I/O
    batching, but each block has its own random stream; a fixed constant keeps the draws
    from changing with any setting."""
    return settings.window if method == "group_gaussian" else INDEPENDENT_BLOCK


def knockoffs_in_memory(
    dosages: np.ndarray,
    factors: np.ndarray | None,
    settings: KnockoffSettings,
    method: str,
    seed: int,
    chromosomes: np.ndarray | None = None,
) -> KnockoffDraw:
    """Knockoffs of an in-memory int8 (n, M) genotype matrix (-1 missing), window by window.

    The same windows, seeds and constructions as ``build_knockoff_store`` (the workflow's
    knockoff_genotypes job): for the same genotypes, factors and seed both give the same X~.
    """
    dosages = np.asarray(dosages, dtype=np.int8)
    n, m = dosages.shape
    bim = pd.DataFrame({"chrom": np.ones(m, int) if chromosomes is None else chromosomes})
    design = factor_design(factors, n)
    knock = np.empty_like(dosages)
    groups = np.empty(m, dtype=np.int64)
    offset = 0
    for w, (start, stop) in enumerate(windows(bim, block_size(method, settings))):
        k, g = window_knockoffs(dosages[:, start:stop], design, method, settings, _window_rng(seed, w))
        knock[:, start:stop] = k
        groups[start:stop] = g + offset
        offset += int(g.max())
    return KnockoffDraw(dosages, knock, groups, method)


# Bytes of [X, X~] int8 rows packed at once. A fixed 4,096 rows was 2.8 GB per copy at UK
# Biobank chromosome 10 (2M = 673,628 columns), and the packing holds ~4 such copies
# (bench/results/knockoff_memory.json); in bytes, the phase is bounded whatever M is.
PACK_BYTES = 64 * 2**20


def pack_rows_per_chunk(n_snps: int) -> int:
    """Rows of the 2M-column [X, X~] matrix packed at once: PACK_BYTES of int8, 1 to 4,096."""
    return max(1, min(4096, PACK_BYTES // max(1, 2 * n_snps)))


def build_knockoff_store(
    bed_prefix: str | Path,
    store_prefix: str | Path,
    covariates_path: str | Path,
    out_prefix: str | Path,
    groups_path: str | Path,
    settings: KnockoffSettings,
    method: str,
    seed: int,
    dataset: str = "",
    row_chunk: int | None = None,
) -> dict:
    """Write [X, X~] as one sample-major store of 2M columns (genostore format) and groups.tsv.

    Windows of SNPs are read from the SNP-major .bed; the originals are copied into the
    combined rows from the dataset's sample-major store (``store_prefix``), so neither
    pass reads a file across its grain. Memory: one window of N x ``block_size`` float64
    at a time, and ``row_chunk`` x 2M bytes while packing (default: as many rows as fit in
    PACK_BYTES, at most 4,096; the bytes written do not depend on it); the knockoff calls
    wait in an int8 scratch file of N x M bytes next to the output (removed at the end or on
    error).
    """
    from ..genostore import GenotypeStore

    bed = Bed(bed_prefix)
    store = GenotypeStore.open(store_prefix)
    n, m = bed.n_samples, bed.n_snps
    if (store.n_samples, store.n_snps) != (n, m):
        raise InputError(store.path, f"store is {store.n_samples} x {store.n_snps}, {bed.prefix} is {n} x {m}")
    check_sample_count(n, settings, method, dataset)  # cohorts: known only after QC
    factors = read_factors(covariates_path, bed.fam, settings.factors)
    design = factor_design(factors, n)
    if row_chunk is None:
        row_chunk = pack_rows_per_chunk(m)
    packed_path, mean_path = store_paths(out_prefix)
    spans = windows(bed.bim, block_size(method, settings))
    groups = np.empty(m, dtype=np.int64)
    sums = np.zeros(2 * m)
    counts = np.zeros(2 * m)
    offset = 0
    with atomic_path(packed_path) as tmp_packed:
        scratch_path = Path(str(tmp_packed) + ".knockoffs.npy")
        try:
            scratch = np.lib.format.open_memmap(scratch_path, mode="w+", dtype=np.int8, shape=(n, m))
            for w, (start, stop) in enumerate(spans):
                original = bed.read(start, stop).T  # (n, p)
                k, g = window_knockoffs(original, design, method, settings, _window_rng(seed, w))
                scratch[:, start:stop] = k
                groups[start:stop] = g + offset
                offset += int(g.max())
                for j0, block in ((start, original), (m + start, k)):
                    called = block >= 0
                    sums[j0 : j0 + block.shape[1]] = np.where(called, block, 0).sum(0)
                    counts[j0 : j0 + block.shape[1]] = called.sum(0)
                if w % 20 == 0 or w == len(spans) - 1:
                    log.info("knockoffs: window %d / %d (SNPs %d-%d)", w + 1, len(spans), start + 1, stop)
            scratch.flush()
            out = np.lib.format.open_memmap(tmp_packed, mode="w+", dtype=np.uint8, shape=(n, (2 * m + 3) // 4))
            for r0 in range(0, n, row_chunk):
                rows = np.arange(r0, min(r0 + row_chunk, n))
                out[rows] = pack_rows(np.concatenate([store.decode_int8(rows), np.asarray(scratch[rows])], axis=1))
            out.flush()
            del out, scratch
        finally:
            scratch_path.unlink(missing_ok=True)
    mean = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    with atomic_path(mean_path) as tmp_mean:
        with open(tmp_mean, "wb") as handle:
            np.save(handle, mean.astype(np.float32))
    table = pd.DataFrame({"variant_id": bed.bim["snp"].to_numpy(), "chromosome": bed.bim["chrom"].to_numpy(),
                          "group": groups})
    write_tsv(groups_path, table)
    summary = {"n_samples": n, "n_snps": m, "n_groups": int(groups.max()), "n_windows": len(spans),
               "method": method, "seed": seed, "settings": settings.describe()}
    log.info("knockoff store: %d samples x %d columns, %d groups", n, 2 * m, summary["n_groups"])
    return summary
