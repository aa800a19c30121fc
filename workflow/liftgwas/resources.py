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

from .cellpool import balanced_bins

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


def _hidden(arch: str) -> tuple[int, int]:
    first, second = arch.split("x")
    return int(first), int(second)


def _cell_state_bytes(m: int, arch: str, copies: int) -> float:
    h1, h2 = _hidden(arch)
    return copies * 4 * (m * h1 + h1 * h2 + h2)


def train_block_mem_mb(fam, mean_npy, archs: list[str], batch_size: int, attempt: int = 1,
                       resident: str = "auto") -> int:
    """A block job holds every cell at once: per cell its weights, gradient, 2 Adam moments,
    the best-epoch copy and a transient checkpoint copy (6 copies of the first layer); the
    decoded batches (the evaluation batch, the one in use and the prefetched next one)
    are shared by all cells. ``training.resident: always`` also holds the packed matrix,
    N x ceil(M/4) bytes: in RAM on a CPU job; a GPU job keeps it in device memory and is
    charged for it too (a resource function cannot tell which device the job gets; on a
    GPU node the surplus is host memory it does not use). ``auto`` is resident on a GPU
    only, and ``never`` streams, so neither adds host memory."""
    m = n_snps(mean_npy)
    cells = sum(_cell_state_bytes(m, arch, 6) for arch in archs)
    batches = 3 * 4 * (4 * batch_size) * m
    packed = n_samples(fam) * math.ceil(m / 4) if resident == "always" else 0
    return _scale(BASE_MB + (cells + batches + packed) / 1e6, attempt)


# flop/s of one core on a cell's step, conservative: measured ~6e10 (a 64x128 step at
# M = 10,000, ~4.9e8 flop, took 7.8 ms on one core; cellpool.py)
CORE_FLOPS = 1e10


def train_block_runtime_min(fam, mean_npy, archs: list[str], max_epochs: int, attempt: int = 1,
                            threads: int = 2) -> int:
    """On each shared batch the cells step side by side, ``threads`` at a time, one core
    each (cellpool: the same bins of cells), so the block's time is its heaviest bin's
    arithmetic plus one start-up. Forward + backward of the first layer dominate: ~6 flops
    per weight per sample, every epoch up to max_epochs (early stopping usually ends far
    sooner: the request is an upper bound); a GPU is far faster."""
    per_cell = [6 * n_samples(fam) * 0.5 * n_snps(mean_npy) * _hidden1(arch) * max_epochs for arch in archs]
    heaviest = max((sum(per_cell[i] for i in b) for b in balanced_bins(per_cell, threads)), default=0.0)
    return _scale(10 + heaviest / CORE_FLOPS / 60, attempt)


def selected_block_mem_mb(fam, mean_npy, archs: list[str], n_cells: int, batch_size: int, attempt: int = 1,
                          resident: str = "auto") -> int:
    """A block of ``n_cells`` of the selected architecture, sized for the largest of
    ``archs`` (a resource function must not read the selection checkpoint's output)."""
    return max(train_block_mem_mb(fam, mean_npy, [arch] * n_cells, batch_size, attempt, resident) for arch in archs)


def selected_block_runtime_min(fam, mean_npy, archs: list[str], n_cells: int, max_epochs: int, attempt: int = 1,
                               threads: int = 2, deeplift: bool = False) -> int:
    """As selected_block_mem_mb, its runtime; ``deeplift``: each cell also attributed."""
    return max(train_block_runtime_min(fam, mean_npy, [arch] * n_cells, max_epochs, attempt, threads)
               + (n_cells * deeplift_runtime_min(fam, mean_npy, arch, attempt) if deeplift else 0)
               for arch in archs)


def deeplift_block_mem_mb(fam, mean_npy, archs: list[str], chunk_size: int, attempt: int = 1) -> int:
    """Captum's ~13 chunk-sized arrays of the model being attributed (one at a time), plus
    every model of the block loaded (its weights once) and 4 float64 sums per SNP each."""
    m = n_snps(mean_npy)
    models = sum(_cell_state_bytes(m, arch, 1) + 4 * 8 * m for arch in archs)
    return _scale(BASE_MB + (13 * 4 * chunk_size * m + models) / 1e6, attempt)


def deeplift_block_runtime_min(fam, mean_npy, archs: list[str], attempt: int = 1) -> int:
    """One forward and one backward pass of the first layer per validation sample (a
    quarter of the samples) and model, at the same conservative CPU speed (measured
    5.5e-8 CPU-s per sample per SNP for 128 hidden units: ~9e9 flop/s); one start-up."""
    flops = sum(4 * n_samples(fam) * 0.25 * n_snps(mean_npy) * _hidden1(arch) for arch in archs)
    return _scale(10 + flops / 9e9 / 60, attempt)


def train_mem_mb(fam, mean_npy, arch: str, batch_size: int, attempt: int = 1, resident: str = "auto") -> int:
    """One cell: a block of one."""
    return train_block_mem_mb(fam, mean_npy, [arch], batch_size, attempt, resident)


def train_runtime_min(fam, mean_npy, arch: str, max_epochs: int, attempt: int = 1, threads: int = 2) -> int:
    return train_block_runtime_min(fam, mean_npy, [arch], max_epochs, attempt, threads)


def deeplift_mem_mb(fam, mean_npy, chunk_size: int, attempt: int = 1) -> int:
    m = n_snps(mean_npy)
    # Captum holds ~12 float32 (chunk x M) arrays at once (inputs, baselines, their
    # gradients, multipliers, attributions; measured by bench/scale.py); 13 for margin
    return _scale(BASE_MB + 13 * 4 * chunk_size * m / 1e6, attempt)


def deeplift_runtime_min(fam, mean_npy, arch: str, attempt: int = 1) -> int:
    return deeplift_block_runtime_min(fam, mean_npy, [arch], attempt)


# One knockoff draw (rule knockoff_genotypes, knockoffs.build_knockoff_store), measured by
# bench/knockoff_memory.py (bench/results/knockoff_memory.json: N 4k-16k x M 2k-6k, both
# methods): peak RSS 282-731 MB, CPU 0.13 s (independent) or 0.28 s + 3.2 s per 1,000
# SNPs (group_gaussian: a covariance solve per window) per 10^6 genotypes.
KNOCKOFF_BASE_MB = 400  # numpy, pandas, scipy and knockpy imported
KNOCKOFF_WINDOW_COPIES = 5  # float64 N x block arrays alive at once: dosages, residuals, knockoffs
KNOCKOFF_PACK_COPIES = 4  # int8 chunk-sized copies while packing [X, X~] (PACK_BYTES each)
KNOCKOFF_CPU_S = {"independent": (0.13e-6, 0.0), "group_gaussian": (0.28e-6, 3.2e-3)}  # per genotype, per SNP


def knockoff_mem_mb(fam, bim, block: int, attempt: int = 1) -> int:
    """A knockoff draw holds one window of N x ``block`` SNPs (knockoffs.block_size) in
    float64 copies and, while packing, chunks of at most PACK_BYTES; both bounded whatever
    M is. Not charged: the pages of the N x M scratch file and of the output that the job
    touches through memory maps. They count in its RSS (the measured peaks include them)
    but are page cache, which the kernel writes back and reclaims under the job's limit."""
    from .discover.knockoffs import PACK_BYTES, pack_rows_per_chunk

    n, m = n_samples(fam), n_lines(bim, DEFAULT_SNPS)
    window = KNOCKOFF_WINDOW_COPIES * 8 * n * block
    packing = KNOCKOFF_PACK_COPIES * min(PACK_BYTES, pack_rows_per_chunk(m) * 2 * m)
    return _scale(KNOCKOFF_BASE_MB + (window + packing) / 1e6, attempt)


def knockoff_runtime_min(fam, bim, method: str, attempt: int = 1) -> int:
    """The fitted single-process CPU time, taken as the wall time (the job's 2 threads ran
    it at ~1.5 cores: a margin of ~1.5), plus 10 minutes."""
    per_genotype, per_snp = KNOCKOFF_CPU_S[method]
    n, m = n_samples(fam), n_lines(bim, DEFAULT_SNPS)
    return _scale(10 + (per_genotype * n * m + per_snp * m) / 60, attempt)


def gwas_mem_mb(fam, attempt: int = 1, bim=None) -> int:
    # SNP blocks are bounded; per-sample tables and the null model (~2.5 KB per sample)
    # and per-SNP results (~1.5 KB per SNP) grow
    return _scale(NUMPY_BASE_MB + 2.5e-3 * n_samples(fam) + 1.5e-3 * n_lines(bim, DEFAULT_SNPS), attempt)
