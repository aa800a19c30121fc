"""Memory and runtime estimates per job from the cohort size (N samples x M variants).

Used by the rules' ``resources:`` callables, so a SLURM job asks for what it needs: a
UK Biobank-sized job gets more than the laptop study. Attempt scaling: each retry asks
for 1.5x more (a job killed for memory or time comes back bigger). The coefficients come
from bench/scale.py (peak RSS and throughput measured on 2 cores); sizes are read from
the job's inputs and fall back to a default when an input does not exist yet (Snakemake
may evaluate resources before upstream jobs ran).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

BASE_MB = 1500  # a Python process with torch (CUDA build) and numpy loaded
NUMPY_BASE_MB = 300  # one with numpy/pandas only (measured 145-235 MB of imports)
DEFAULT_SAMPLES = 10_000
DEFAULT_SNPS = 10_000


def n_samples(fam: str | Path) -> int:
    return n_lines(fam, DEFAULT_SAMPLES)


def n_lines(path: str | Path | None, default: int) -> int:
    try:
        with open(path, "rb") as handle:
            return sum(1 for _ in handle)
    except (OSError, TypeError):
        return default


def n_snps(mean_npy: str | Path) -> int:
    try:
        return int(np.load(mean_npy, mmap_mode="r").shape[0])
    except (OSError, ValueError):
        return DEFAULT_SNPS


def _scale(mb: float, attempt: int) -> int:
    return int(math.ceil(mb * 1.5 ** (attempt - 1)))


def _hidden1(arch: str) -> int:
    return int(arch.split("x")[0])


def simulate_mem_mb(samples: int, attempt: int = 1) -> int:
    # variant blocks are sized by the simulator; what grows is per-sample state (S, clusters)
    return _scale(NUMPY_BASE_MB + 200 + 1e-3 * samples, attempt)


def store_mem_mb(fam, attempt: int = 1) -> int:
    # plink2 --export ind-major-bed transposes within its --memory workspace (at least 640 MB)
    # whatever N and M are
    return _scale(NUMPY_BASE_MB + 700, attempt)


def train_mem_mb(fam, mean_npy, arch: str, batch_size: int, attempt: int = 1) -> int:
    m = n_snps(mean_npy)
    # first-layer weights + grad + 2 Adam moments + the best copy and the checkpoint copy
    weights = 6 * 4 * m * _hidden1(arch)
    # decoded float32 batches: the evaluation batches (4 x batch_size samples), the one
    # being used and the prefetched next one
    batches = 3 * 4 * (4 * batch_size) * m
    return _scale(BASE_MB + (weights + batches) / 1e6, attempt)


def train_runtime_min(fam, mean_npy, arch: str, max_epochs: int, attempt: int = 1) -> int:
    # forward + backward of the first layer dominate: ~6 flops per weight per sample;
    # 2e10 flop/s is a conservative 2-core CPU figure (a GPU is far faster)
    flops = 6 * n_samples(fam) * 0.5 * n_snps(mean_npy) * _hidden1(arch) * max_epochs
    return _scale(10 + flops / 2e10 / 60, attempt)


def deeplift_mem_mb(fam, mean_npy, chunk_size: int, attempt: int = 1) -> int:
    m = n_snps(mean_npy)
    # Captum holds ~12 float32 (chunk x M) arrays at once (inputs, baselines, their
    # gradients, multipliers, attributions; measured by bench/scale.py); 13 for margin
    return _scale(BASE_MB + 13 * 4 * chunk_size * m / 1e6, attempt)


def deeplift_runtime_min(fam, mean_npy, arch: str, attempt: int = 1) -> int:
    # one forward and one backward pass of the first layer per validation sample (a
    # quarter of the samples), at the same conservative CPU speed
    # measured 5.5e-8 CPU-s per sample per SNP for 128 hidden units: ~9e9 flop/s
    flops = 4 * n_samples(fam) * 0.25 * n_snps(mean_npy) * _hidden1(arch)
    return _scale(10 + flops / 9e9 / 60, attempt)


def gwas_mem_mb(fam, attempt: int = 1, bim=None) -> int:
    # SNP blocks are bounded; per-sample tables and the null model (~2.5 KB per sample)
    # and per-SNP results (~1.5 KB per SNP) grow
    return _scale(NUMPY_BASE_MB + 2.5e-3 * n_samples(fam) + 1.5e-3 * n_lines(bim, DEFAULT_SNPS), attempt)
