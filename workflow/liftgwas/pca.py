"""Genotype principal components (the GWAS's population-structure covariates), streamed.

The samples' top principal components are the top eigenvectors of ``Z'Z``, where ``Z``
(n_snps x n_samples) holds the standardised genotypes: each SNP centred by its mean
dosage and divided by its standard deviation (both over its non-missing calls), missing
calls set to 0 (= mean imputation), monomorphic SNPs left out (all zeros).

``Z`` never exists in memory. Randomised subspace iteration (Halko, Martinsson & Tropp
2011, Algorithm 4.4 applied to ``Z'Z``) only needs products ``Z'Z Q`` with a thin
(n_samples x l) matrix ``Q``, and ``Z'Z Q = sum over SNP blocks Z_b'(Z_b Q)`` accumulates
block by block from the .bed. Memory is O(n_samples x l + block), l = n_pcs + oversampling;
each pass over the .bed is one power iteration. The final Rayleigh-Ritz step uses the
same pass (``Q'Z'Z Q = Q'(Z'Z Q)``), so there are ``power_iterations + 1`` passes in all.
The random start matrix comes from ``numpy.random.default_rng(seed)``: same seed, same PCs.
Blocks are processed by ``threads`` threads (single-threaded BLAS each) and their products
added in block order, so the result does not depend on the thread count either.
"""

from __future__ import annotations

import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .atomic import write_tsv
from .errors import InputError
from .gwas import default_threads
from .plink import Bed

log = logging.getLogger(__name__)


def standardize(dosages: np.ndarray) -> np.ndarray:
    """Standardised float64 genotypes of a block: (g - mean) / sd per SNP, missing -> 0.

    mean and sd (population sd) over the SNP's non-missing calls; monomorphic or
    all-missing SNPs become all-zero rows.
    """
    missing = dosages < 0
    values = dosages.astype(np.float64)
    values[missing] = 0.0
    n_called = dosages.shape[1] - missing.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = values.sum(axis=1) / n_called
        mean_sq = np.einsum("ij,ij->i", values, values) / n_called
        sd = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
        scale = np.where(sd > 1e-12, 1.0 / sd, 0.0)
    mean = np.nan_to_num(mean)
    values -= mean[:, None]
    values *= scale[:, None]
    values[missing] = 0.0
    return values


def _default_block_size(n_samples: int) -> int:
    # ~4 M genotypes per block: 32 MB of float64 standardised values at a time
    return int(min(8192, max(32, (4 << 20) // max(n_samples, 1))))


class _Progress:
    """Logs 'blocks done / total' about every 5 % of all blocks of all passes."""

    def __init__(self, total: int):
        self.total, self.done = total, 0
        self.every = max(1, total // 20)

    def step(self) -> None:
        self.done += 1
        if self.done == self.total or self.done % self.every == 0:
            log.info("PCA blocks done: %d / %d", self.done, self.total)


def _gram_times(bed: Bed, basis: np.ndarray, block_size: int, progress: _Progress,
                pool: ThreadPoolExecutor, threads: int) -> tuple[np.ndarray, float]:
    """(Z'Z @ basis, trace(Z'Z)), accumulated over SNP blocks, ``threads`` blocks at a time.

    The block results are added in block order, so the sum (and the PCs) do not depend on
    the number of threads.
    """

    def block_terms(start: int) -> tuple[np.ndarray, float]:
        z = standardize(bed.read(start, min(start + block_size, bed.n_snps)))
        return z.T @ (z @ basis), float(np.einsum("ij,ij->", z, z))

    product = np.zeros_like(basis)
    trace = 0.0
    pending = deque()
    for start in range(0, bed.n_snps, block_size):
        pending.append(pool.submit(block_terms, start))
        while pending and (len(pending) >= 2 * threads or start + block_size >= bed.n_snps):
            block_product, block_trace = pending.popleft().result()
            product += block_product
            trace += block_trace
            progress.step()
    return product, trace


def compute_pcs(
    bed_prefix: str | Path,
    n_pcs: int,
    seed: int = 0,
    block_size: int | None = None,
    *,
    oversampling: int = 10,
    power_iterations: int = 4,
    threads: int | None = None,
) -> pd.DataFrame:
    """Top ``n_pcs`` genotype principal components of every .fam sample.

    Returns a DataFrame with columns FID, IID, PC1..PC{n_pcs} in .fam order. Each PC is
    the unit eigenvector of Z'Z scaled by sqrt(n_samples), i.e. mean 0 and variance 1
    across the samples, with its sign fixed so that its largest-magnitude entry is positive.
    The variance each PC explains is in ``df.attrs["variance_explained"]``.
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
    block_size = block_size or _default_block_size(n_samples)
    width = min(n_pcs + oversampling, n_samples)
    rng = np.random.default_rng(seed)
    basis = np.linalg.qr(rng.standard_normal((n_samples, width)))[0]
    n_passes = power_iterations + 1
    progress = _Progress(n_passes * -(-bed.n_snps // block_size))
    log.info("PCA of %d samples x %d SNPs: %d PCs, %d passes over the .bed", n_samples, bed.n_snps, n_pcs, n_passes)
    threads = max(1, threads or default_threads())
    # one single-threaded BLAS call per thread: see gwas.run_gwas
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
        for i in range(1, n_passes + 1):
            product, total_variance = _gram_times(bed, basis, block_size, progress, pool, threads)
            if i < n_passes:
                basis = np.linalg.qr(product)[0]
    # Rayleigh-Ritz: eigenvectors of Z'Z within span(basis)
    projected = basis.T @ product
    eigenvalues, vectors = np.linalg.eigh((projected + projected.T) / 2.0)
    order = np.argsort(eigenvalues)[::-1][:n_pcs]
    components = basis @ vectors[:, order]
    largest = np.argmax(np.abs(components), axis=0)
    components *= np.sign(components[largest, np.arange(n_pcs)])
    components *= np.sqrt(n_samples)
    if not total_variance > 0:
        raise InputError(bed.bed_path, "every SNP is monomorphic: no genotype variation to compute PCs from")
    explained = (eigenvalues[order] / total_variance).tolist()
    log.info("variance explained by PC1..PC%d: %s", n_pcs, ", ".join(f"{v:.4f}" for v in explained))
    for k in range(n_pcs):
        frame[f"PC{k + 1}"] = components[:, k]
    frame.attrs["variance_explained"] = explained
    return frame


def write_covariates(bed_prefix: str | Path, out_tsv: str | Path, n_pcs: int, seed: int = 0,
                     block_size: int | None = None, threads: int | None = None) -> pd.DataFrame:
    """Write covariates.tsv (FID IID PC1..PCk) atomically; returns the table."""
    frame = compute_pcs(bed_prefix, n_pcs, seed=seed, block_size=block_size, threads=threads)
    write_tsv(out_tsv, frame, float_format="%.8g")
    return frame
