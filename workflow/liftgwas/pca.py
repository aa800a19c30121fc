"""Genotype principal components (the GWAS's population-structure covariates): plink2 --pca.

One PCA for simulations and cohorts: plink2 ``--pca`` (the cohort QC's ancestry PCs use
the same tool). Genotypes are variance-standardised as plink2 does: (g - 2p) / sqrt(2p(1-p))
per SNP with p the A1 frequency over called genotypes, missing calls at 0 (= mean
imputation), monomorphic SNPs left out. Above ``APPROX_ABOVE`` samples it runs the
randomized ``--pca approx`` (Galinsky et al. 2016; plink2 recommends it above 5,000
samples), which streams the .bed in bounded memory; below it the exact ``--pca``.
Why plink2 and not a hand-written or scikit-learn randomized SVD: measured in
bench/pca.py (see bench/results/pca.json and the README).
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_tsv
from .cohort.plink2 import run_plink2  # the plink2 runner QC uses
from .errors import InputError
from .plink import Bed, plink2_inputs

log = logging.getLogger(__name__)

APPROX_ABOVE = 5000  # samples: plink2's own threshold between exact and approximate PCA


def _standardised_sum_of_squares(geno_counts: Path) -> tuple[float, int]:
    """Sum of squared standardised genotypes over all polymorphic SNPs (the trace of
    Z'Z) and their number, from plink2 --geno-counts (A1 = ALT)."""
    counts = pd.read_csv(geno_counts, sep="\t", usecols=["HOM_REF_CT", "HET_REF_ALT_CTS", "TWO_ALT_GENO_CTS"])
    n0, n1, n2 = (counts[c].to_numpy(np.float64) for c in ("HOM_REF_CT", "HET_REF_ALT_CTS", "TWO_ALT_GENO_CTS"))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = (n1 + 2 * n2) / (2 * (n0 + n1 + n2))
        var = 2 * p * (1 - p)
        ss = (n0 * (2 * p) ** 2 + n1 * (1 - 2 * p) ** 2 + n2 * (2 - 2 * p) ** 2) / var
    polymorphic = var > 0
    return float(ss[polymorphic].sum()), int(polymorphic.sum())


def compute_pcs(
    bed_prefix: str | Path,
    n_pcs: int,
    seed: int = 0,
    *,
    approx: bool | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
) -> pd.DataFrame:
    """Top ``n_pcs`` genotype principal components of every .fam sample (plink2 --pca).

    Returns a DataFrame with columns FID, IID, PC1..PC{n_pcs} in .fam order. Each PC is
    plink2's eigenvector scaled to mean 0 and variance 1 across the samples, with its sign
    fixed so that its largest-magnitude entry is positive.
    The fraction of the total variance trace(Z'Z) each PC explains is in
    ``df.attrs["variance_explained"]``. ``approx`` defaults to n_samples > APPROX_ABOVE.
    """
    bed = Bed(bed_prefix)
    n_samples = bed.n_samples
    frame = pd.DataFrame({"FID": bed.fam["fid"].to_numpy(), "IID": bed.fam["iid"].to_numpy()})
    if n_pcs < 0:
        raise ValueError(f"n_pcs must be >= 0, got {n_pcs}")
    if n_pcs == 0:
        frame.attrs["variance_explained"] = []
        return frame
    # Z is centred per SNP, so its rank is at most min(n_snps, n_samples - 1)
    max_pcs = min(bed.n_snps, n_samples - 1)
    if n_pcs > max_pcs:
        raise InputError(
            bed.bed_path,
            f"cannot compute {n_pcs} PCs from {n_samples} samples x {bed.n_snps} SNPs (at most {max_pcs})",
        )
    approx = n_samples > APPROX_ABOVE if approx is None else approx
    with tempfile.TemporaryDirectory(prefix="liftgwas-pca-") as tmp:
        tmp = Path(tmp)
        run_plink2([*plink2_inputs(bed, tmp), "--geno-counts", "--pca", n_pcs, *(["approx"] if approx else []),
                    "--seed", seed], tmp / "pca", what=f"PCA ({'approx' if approx else 'exact'})",
                   threads=threads, memory_mb=memory_mb)  # fmt: skip
        total, n_used = _standardised_sum_of_squares(tmp / "pca.gcount")
        if not total > 0:
            raise InputError(bed.bed_path, "every SNP is monomorphic: no genotype variation to compute PCs from")
        vectors = pd.read_csv(tmp / "pca.eigenvec", sep="\t", usecols=[f"PC{k + 1}" for k in range(n_pcs)])
        eigenvalues = np.atleast_1d(np.loadtxt(tmp / "pca.eigenval"))[:n_pcs]
    # exactly mean 0 and variance 1 (exact --pca's vectors are orthogonal to 1 only up to
    # its per-pair missing-call normalisation)
    components = vectors.to_numpy(np.float64)
    components -= components.mean(axis=0)
    components /= components.std(axis=0)
    largest = np.argmax(np.abs(components), axis=0)
    components *= np.sign(components[largest, np.arange(n_pcs)])
    # plink2's eigenvalues are those of Z Z' / (SNPs used)
    explained = (eigenvalues * n_used / total).tolist()
    log.info("variance explained by PC1..PC%d: %s", n_pcs, ", ".join(f"{v:.4f}" for v in explained))
    for k in range(n_pcs):
        frame[f"PC{k + 1}"] = components[:, k]
    frame.attrs["variance_explained"] = explained
    return frame


def write_covariates(bed_prefix: str | Path, out_tsv: str | Path, n_pcs: int, seed: int = 0,
                     threads: int = 1, memory_mb: int | None = None) -> pd.DataFrame:
    """Write covariates.tsv (FID IID PC1..PCk) atomically; returns the table."""
    frame = compute_pcs(bed_prefix, n_pcs, seed=seed, threads=threads, memory_mb=memory_mb)
    write_tsv(out_tsv, frame, float_format="%.8g")
    return frame
