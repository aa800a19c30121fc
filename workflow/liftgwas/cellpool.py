"""Run the cells of a block side by side on the CPU, one intra-op thread each.

A grid cell's step on one mini-batch is a handful of small matrix multiplies (128 x M by
M x 64..128) and elementwise passes over the first-layer weights. Split over two threads
inside each op they gain little: measured on this project's 2-core machine, a 64x128 cell
on 10,000 SNPs takes 5.9 ms wall and 11.7 ms CPU per step with 2 intra-op threads, and
7.8 ms wall and 7.8 ms CPU with 1 (the rest is threads waiting at each op's end). So a
block job with T cores runs T cells at a time, each single-threaded. Measured gain in the
real 16-cell block at M = 10,000 on 2 cores: ~3 %, within the machine's noise (the cells'
elementwise passes share one memory bus; bench/results/grid_throughput_paper_epochs*.json);
with more cores per job the per-op splits scale worse, which is where it should pay (not
measured here).

On the CPU every cell is computed with one intra-op thread, whichever worker it lands on
and however many cells share the block, so its arithmetic (reductions included) does not
depend on the job's core count: a block of one cell, a block on 1 core and a block on 16
cores give the same bits (tests/unit/test_batched.py). Workers get fixed bins of cells
(balanced by parameter count); results come back in the cells' order. On a GPU the
kernels are asynchronous anyway: the caller's thread runs every cell.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Sequence, TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def balanced_bins(costs: Sequence[float], n_bins: int) -> list[list[int]]:
    """Indices of ``costs`` in ``n_bins`` bins of near-equal total (longest first onto the
    lightest bin; ties by index, so the bins are a function of the costs alone)."""
    bins: list[list[int]] = [[] for _ in range(max(1, min(n_bins, len(costs))))]
    totals = [0.0] * len(bins)
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        b = min(range(len(bins)), key=lambda b: (totals[b], b))
        bins[b].append(i)
        totals[b] += costs[i]
    return [sorted(b) for b in bins]


class CellWorkers:
    """``workers`` threads, each running its bin of cells in order; a context manager.
    ``single_thread``: torch's intra-op threads are 1 while it is open (the caller's
    setting is put back after), also with one worker, which then is the caller's thread."""

    def __init__(self, workers: int, single_thread: bool):
        self.workers = max(1, int(workers))
        self.single_thread = single_thread
        self._pool: ThreadPoolExecutor | None = None
        self._threads_before: int | None = None

    def __enter__(self) -> "CellWorkers":
        if self.single_thread:
            self._threads_before = torch.get_num_threads()
            torch.set_num_threads(1)  # a new thread's first op reads it: set before the pool starts
        if self.workers > 1:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="cell")
        return self

    def __exit__(self, *exc) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        if self._threads_before is not None:
            torch.set_num_threads(self._threads_before)
            self._threads_before = None

    def map(self, fn: Callable[[T], R], items: Sequence[T], costs: Sequence[float] | None = None,
            grad: bool = True) -> list[R]:
        """[fn(item) for item in items], the items split over the workers (by ``costs``).
        ``grad`` False runs fn under torch.no_grad in the workers too (grad mode is per
        thread: a caller's no_grad does not reach them)."""
        if self._pool is None or len(items) <= 1:
            return [fn(item) for item in items]
        bins = balanced_bins(costs if costs is not None else [1.0] * len(items), self.workers)

        def run(indices: list[int]) -> list:
            with contextlib.nullcontext() if grad else torch.no_grad():
                return [fn(items[i]) for i in indices]

        out: list = [None] * len(items)
        futures = [(b, self._pool.submit(run, b)) for b in bins]
        for indices, future in futures:
            for i, value in zip(indices, future.result()):  # re-raises a worker's error here
                out[i] = value
        return out


def cell_workers(device: torch.device, n_cells: int) -> CellWorkers:
    """The workers for a block of ``n_cells`` on ``device``: on the CPU one per intra-op
    thread the job has (torch.get_num_threads, set from Snakemake's ``threads``), at most
    one per cell, each cell single-threaded; on a GPU the caller's thread alone."""
    if torch.device(device).type != "cpu":
        return CellWorkers(1, single_thread=False)
    return CellWorkers(min(torch.get_num_threads(), n_cells), single_thread=True)
