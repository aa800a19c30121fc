"""Benchmark: every stage streams in bounded memory (issue 7), measured from 10k to 100k.

    .venv/bin/python bench/scale.py --quick          # smoke run: N in {2k, 5k} x M = 2k
    .venv/bin/python bench/scale.py                  # N in {10k, 50k, 100k} x M in {10k, 50k, 100k}
    .venv/bin/python bench/scale.py --sizes 10000x10000,100000x10000
    .venv/bin/python bench/scale.py --merge --torch-threads 1 --stages train_stream,train_memory,deeplift \
        --sizes 10000x10000,10000x50000,10000x100000,100000x100000
    .venv/bin/python bench/scale.py --report-only    # table, ratios, UK Biobank estimate, plot from the JSON
    git worktree add /tmp/old <previous commit>       # then, old and new package interleaved in one run:
    .venv/bin/python bench/scale.py --merge --compare-with /tmp/old/workflow --repeats 2 --torch-threads 1 \
        --sizes 10000x10000,100000x10000 --stages convert,gwas,train_stream --extra-archs ""

For each cohort (smallest N x M first) it simulates a study with the project's own streaming
simulator (``simulate.write_simulated_study``, binary trait, a = 0.1) under
bench/work/scale/ (git-ignored), writes a 50/25/25 split (``split.write_split``) and 10
Gaussian covariates PC1..PC10 (random, not real PCs: a GWAS's cost depends on the number of
covariates, not their values, and real PCs would cost 5 more passes over the .bed), then
runs each stage **in its own child process** so that the child's peak RSS (``ru_maxrss``
from ``os.wait4`` of that child alone) is the stage's and nothing else's:

  simulate      simulate.write_simulated_study + split + covariates (context, not a goal)
  convert       genostore.build_store, the whole cohort: genotypes/s = N*M / wall
  train_stream  the loop of train.train_model for the 128x256 model (Adam lr 1e-3,
                BCE-with-logits + L1 = 1 ``sum_over_n_train``, batch 128, the epoch-0
                shuffled order of train._epoch_order) over data.TrainingData.batches,
                bounded to --train-seconds: the timed part is batches 4..k (3 warm-up
                batches), from asking for the batch to ``float(loss)`` after the optimizer
                step, so decoding and prefetching are included. Afterwards, also timed: the
                early-stop evaluation pass (no_grad forward, batch 512, bounded to a quarter
                of the budget) and decoding alone (GenotypeStore.decode minus the mean, the
                same rows, one thread). The trained weights are saved for the DeepLIFT stage.
  train_memory  the same loop over the same batches (the first of those the streaming stage
                used, as many as fit 1 GB) from one in-memory float32 tensor (batch i is
                the slice X[128 i : 128 (i+1)], zero copy): the cost without streaming.
  deeplift      attribution.deeplift_scores with the streaming stage's trained model on the
                first --deeplift-samples validation samples (chunk 512), reference = 0 in
                the centred input space (= the all-sample mean genotype; train.save_model
                uses the training-sample mean, which costs the same).
  gwas          gwas.run_gwas (logistic, 10 covariates) stopped after --gwas-seconds (a
                progress callback raises); SNPs/s = SNPs done / wall, the full run's time is
                extrapolated (M / rate) and marked so. A run that ends in time is complete.

Wall-clock numbers are noisy on a shared machine, so each stage also reports the CPU
seconds of its timed part (all threads, ``time.process_time``) and the load average. Every
stage runs with 2 threads (torch.set_num_threads(2), OMP/OpenBLAS = 2). On a machine shared
with other jobs, 2 torch (OpenMP) threads mostly wait for each other at barriers (measured:
a 128x256 step at M = 10k took 17 ms with 1 thread and 204 ms with 2 at load 3.3), so
--torch-threads 1 re-times the training and DeepLIFT stages; those runs are stored as
``<stage>_1thread`` beside the others (--merge adds them to the existing JSON), and the
UK Biobank extrapolation uses their rates when there are any. --stages re-measures only
some stages (dependencies are added); --merge replaces those stages of existing cohorts and
notes it under ``remeasured``; each stage records the git commit and a hash of the package.
The page cache is warm: the store and the .bed were just written (--cold-train also
measures streaming training after posix_fadvise(DONTNEED) dropped the store's pages).

Printed: one row per cohort and stage (wall, throughput, peak RSS), the peak-RSS ratio
N = max / N = min at each M for train_stream, deeplift and gwas (goal <= 1.5), the
conversion rate (goal >= 1e8 genotypes/s) and streaming / in-memory time per sample
(goal <= 2). Writes bench/results/scale.json and bench/results/scale.png. Each cohort's
files are deleted after it was measured (--keep keeps them). Disk: before a cohort is
simulated, its .bed + store (+ 10 %) must fit the free space minus --disk-reserve-gb, or
it is skipped (and reported as such).

The UK Biobank chromosome 10 extrapolation (``ukb_chr10`` in the JSON: disk, peak RSS per
job, CPU-hours and GPU-hours of the paper's real-data grid) is derived from these rates by
``ukb_extrapolation``; its assumptions (epochs per job, PCIe and GPU speed) are constants
below and are stored with it.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# LIFTGWAS_BENCH_PACKAGE: the workflow/ folder of another checkout (--compare-with runs the
# previous commit's package in the same run, interleaved with this one)
sys.path.insert(0, os.environ.get("LIFTGWAS_BENCH_PACKAGE", str(ROOT / "workflow")))

log = logging.getLogger("bench.scale")

WORK = ROOT / "bench" / "work" / "scale"
RESULTS = ROOT / "bench" / "results"
THREADS = 2  # threads per stage (torch intra-op, OpenMP/BLAS); --torch-threads changes torch's
TORCH_STAGES = ("train_stream", "train_memory", "deeplift")
SPARSITY = 0.1
SEED = 2020
SPLIT_FRACTIONS = {"train": 0.5, "early_stop": 0.25, "validation": 0.25}
N_COVARIATES = 10
ARCH = "128x256"
BATCH_SIZE = 128
LEARNING_RATE = 1e-3
L1 = 1.0
L1_SCALING = "sum_over_n_train"
WARMUP_BATCHES = 3
EVAL_BATCH = 512
DEEPLIFT_CHUNK = 512
IN_MEMORY_BYTES = 1 << 30
FULL_GRID = [(n, m) for n in (10_000, 50_000, 100_000) for m in (10_000, 50_000, 100_000)]
QUICK_GRID = [(2_000, 2_000), (5_000, 2_000)]
RSS_STAGES = ("train_stream", "deeplift", "gwas")  # the stages whose RSS must be flat in N


# ------------------------------------------------------------------------------------------
# child side: one stage, measured in its own process
# ------------------------------------------------------------------------------------------


def _rss_mb(field: str = "VmRSS") -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _children_cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class _Clock:
    """Wall and CPU seconds since start(): all threads of this process plus the child
    processes it waited for (plink2 for the conversion)."""

    def start(self):
        self.wall0, self.cpu0 = time.perf_counter(), time.process_time() + _children_cpu()
        return self

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall0, time.process_time() + _children_cpu() - self.cpu0


def _cohort_files(cohort: Path) -> dict:
    return {
        "prefix": cohort / "geno",
        "fam": cohort / "geno.fam",
        "traits": cohort / "traits.tsv",
        "truth": cohort / "truth.tsv",
        "split": cohort / "split.tsv",
        "covariates": cohort / "covariates.tsv",
        "store": cohort / "store",
        "model": cohort / f"model_{ARCH}.pt",
        "train_rows": cohort / "train_rows.npy",
        "sumstats": cohort / "sumstats.tsv.gz",
    }


def stage_simulate(cohort: Path, p: dict) -> dict:
    import numpy as np
    import pandas as pd

    from liftgwas import simulate, split
    from liftgwas.atomic import write_tsv

    f = _cohort_files(cohort)
    clock = _Clock().start()
    simulate.write_simulated_study(
        f["prefix"], f["traits"], f["truth"], n_samples=p["n"], n_snps=p["m"], sparsity=SPARSITY,
        seed=SEED, traits=("binary",),
    )
    wall, cpu = clock.read()
    split.write_split(f["fam"], f["split"], seed=1, fractions=SPLIT_FRACTIONS)
    ids = pd.read_csv(f["traits"], sep="\t", usecols=["FID", "IID"], dtype=str)
    covariates = np.random.default_rng(SEED).standard_normal((len(ids), N_COVARIATES))
    table = ids.assign(**{f"PC{k + 1}": covariates[:, k] for k in range(N_COVARIATES)})
    write_tsv(f["covariates"], table, float_format="%.6g")
    genotypes = p["n"] * p["m"]
    return {"wall_s": wall, "cpu_s": cpu, "genotypes_per_s": genotypes / wall, "throughput": genotypes / wall,
            "unit": "genotypes/s", "complete": True}


def stage_convert(cohort: Path, p: dict) -> dict:
    from liftgwas import genostore

    f = _cohort_files(cohort)
    clock = _Clock().start()
    genostore.build_store(f["prefix"], f["store"])
    wall, cpu = clock.read()
    genotypes = p["n"] * p["m"]
    import resource

    # plink2 (a child of this process) holds its own memory beside ours
    plink2_peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
    return {"wall_s": wall, "cpu_s": cpu, "throughput": genotypes / wall, "unit": "genotypes/s",
            "genotypes_per_cpu_s": genotypes / cpu, "complete": True,
            **({"plink2_peak_rss_mb": plink2_peak} if plink2_peak else {})}


def _load_data(cohort: Path):
    from liftgwas.data import load_training_data

    f = _cohort_files(cohort)
    return load_training_data(f["store"], f["fam"], f["traits"], f["covariates"], f["split"], "binary", "binary")


def _new_model(data, arch: str):
    import torch

    from liftgwas.model import GenotypeModel

    torch.manual_seed(1)
    model = GenotypeModel(data.n_snps, len(data.covariate_names), arch)
    return model, torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)


def _train_step(model, optimizer, data, n_train, x, c, y) -> float:
    """One mini-batch exactly as train.train_model does it."""
    from liftgwas.train import data_loss

    loss = data_loss(model, data.kind, x, c, y)
    loss = loss + L1 * model.l1_penalty(L1_SCALING, n_train)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return float(loss.detach())


def _drop_page_cache(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def stage_train_stream(cohort: Path, p: dict) -> dict:
    import numpy as np
    import torch

    from liftgwas.genostore import store_paths
    from liftgwas.train import _epoch_order

    f = _cohort_files(cohort)
    arch, budget = p.get("arch", ARCH), p["train_seconds"]
    setup = _Clock().start()
    data = _load_data(cohort)
    n_train = len(data.splits["train"].rows)
    model, optimizer = _new_model(data, arch)
    order = _epoch_order(1, 0, n_train)
    setup_s = setup.read()[0]
    if p.get("cold"):
        _drop_page_cache(store_paths(f["store"])[0])
    model.train()
    samples = batches = 0
    clock = None
    for x, c, y in data.batches("train", BATCH_SIZE, order):
        _train_step(model, optimizer, data, n_train, x, c, y)
        batches += 1
        if batches == WARMUP_BATCHES:
            clock = _Clock().start()
        elif batches > WARMUP_BATCHES:
            samples += len(y)
            if clock.read()[0] >= budget:
                break
    if clock is None or samples == 0:
        raise RuntimeError(f"training split too small for {WARMUP_BATCHES} warm-up batches + 1")
    wall, cpu = clock.read()
    used_rows = order[: batches * BATCH_SIZE]
    result = {
        "arch": arch, "setup_s": setup_s, "wall_s": wall, "cpu_s": cpu, "samples": samples, "batches": batches,
        "throughput": samples / wall, "samples_per_cpu_s": samples / cpu, "unit": "samples/s",
        "n_train": n_train, "epoch_s_estimate": n_train / (samples / wall), "cold_cache": bool(p.get("cold")),
        "complete": batches * BATCH_SIZE >= n_train,
    }
    if p.get("cold"):
        return result
    np.save(f["train_rows"], used_rows)
    torch.save(model.state_dict(), f["model"])

    # the early-stop evaluation every epoch adds: a no_grad forward pass, batch 512
    model.eval()
    eval_samples, clock = 0, _Clock().start()
    with torch.no_grad():
        for x, c, _ in data.batches("early_stop", EVAL_BATCH):
            model(x, c)
            eval_samples += len(x)
            if clock.read()[0] >= budget / 4:
                break
    eval_wall, eval_cpu = clock.read()
    result["eval_samples_per_s"] = eval_samples / eval_wall
    result["eval_samples_per_cpu_s"] = eval_samples / eval_cpu
    result["n_early_stop"] = len(data.splits["early_stop"].rows)

    # decoding alone (what a GPU job's CPU side must keep up with), one thread
    rows = data.splits["train"].rows[used_rows]
    decoded, clock = 0, _Clock().start()
    for i in range(0, len(rows), BATCH_SIZE):
        data.store.decode(rows[i : i + BATCH_SIZE]) - data.store.mean
        decoded += len(rows[i : i + BATCH_SIZE])
        if clock.read()[0] >= budget / 4:
            break
    decode_wall, decode_cpu = clock.read()
    result["decode_samples_per_s"] = decoded / decode_wall
    result["decode_samples_per_cpu_s"] = decoded / decode_cpu
    return result


def stage_train_memory(cohort: Path, p: dict) -> dict:
    import numpy as np
    import torch

    f = _cohort_files(cohort)
    data = _load_data(cohort)
    part = data.splits["train"]
    n_train = len(part.rows)
    order = np.load(f["train_rows"])
    fit = max(BATCH_SIZE * (WARMUP_BATCHES + 1), IN_MEMORY_BYTES // (4 * data.n_snps) // BATCH_SIZE * BATCH_SIZE)
    order = order[:fit]
    # the batches, decoded and centred exactly as data.batches does, in batch order
    x_all = torch.empty((len(order), data.n_snps), dtype=torch.float32)
    for i in range(0, len(order), 1024):
        idx = order[i : i + 1024]
        x_all[i : i + len(idx)] = torch.from_numpy(data.store.decode(part.rows[idx]) - data.store.mean)
    c_all = torch.from_numpy(part.covariates[order])
    y_all = torch.from_numpy(part.y[order])
    model, optimizer = _new_model(data, p.get("arch", ARCH))
    model.train()
    starts = list(range(0, len(order), BATCH_SIZE))
    samples = batches = 0
    clock, budget = None, p["train_seconds"]
    while True:  # passes over the same in-memory batches until the budget is spent
        for s in starts:
            x, c, y = x_all[s : s + BATCH_SIZE], c_all[s : s + BATCH_SIZE], y_all[s : s + BATCH_SIZE]
            _train_step(model, optimizer, data, n_train, x, c, y)
            batches += 1
            if batches == WARMUP_BATCHES:
                clock = _Clock().start()
            elif batches > WARMUP_BATCHES:
                samples += len(y)
                if clock.read()[0] >= budget:
                    break
        if clock is not None and samples and clock.read()[0] >= budget:
            break
    wall, cpu = clock.read()
    return {"wall_s": wall, "cpu_s": cpu, "samples": samples, "batches": batches, "in_memory_samples": len(order),
            "in_memory_mb": x_all.numel() * 4 / 2**20, "throughput": samples / wall, "n_train": n_train,
            "samples_per_cpu_s": samples / cpu, "unit": "samples/s", "complete": False}


def stage_deeplift(cohort: Path, p: dict) -> dict:
    import dataclasses

    import torch

    from liftgwas.attribution import deeplift_scores

    f = _cohort_files(cohort)
    data = _load_data(cohort)
    validation = data.splits["validation"]
    n_validation = len(validation.rows)
    keep = min(p["deeplift_samples"], n_validation)
    bounded = dataclasses.replace(validation, rows=validation.rows[:keep], y=validation.y[:keep],
                                  covariates=validation.covariates[:keep])
    data.splits = {**data.splits, "validation": bounded}
    model, _ = _new_model(data, ARCH)
    model.load_state_dict(torch.load(f["model"]))
    reference = torch.zeros(data.n_snps)
    clock = _Clock().start()
    result = deeplift_scores(model, data, reference, "validation", chunk_size=DEEPLIFT_CHUNK)
    wall, cpu = clock.read()
    rate = result.n_samples / wall
    return {"wall_s": wall, "cpu_s": cpu, "samples": result.n_samples, "throughput": rate, "unit": "samples/s",
            "samples_per_cpu_s": result.n_samples / cpu, "n_validation": n_validation,
            "full_s_estimate": n_validation / rate, "max_convergence_delta": result.max_convergence_delta,
            "complete": keep == n_validation}


class _OutOfBudget(Exception):
    pass


def stage_gwas(cohort: Path, p: dict) -> dict:
    from liftgwas import gwas

    f = _cohort_files(cohort)
    done = {"blocks": 0, "total": 0}
    clock = _Clock().start()

    def progress(blocks_done: int, blocks_total: int) -> None:
        done.update(blocks=blocks_done, total=blocks_total)
        if blocks_done < blocks_total and clock.read()[0] >= p["gwas_seconds"]:
            raise _OutOfBudget

    try:
        gwas.run_gwas(f["prefix"], f["traits"], f["covariates"], "binary", "binary", f["sumstats"], progress=progress)
        complete = True
    except _OutOfBudget:
        complete = False
    wall, cpu = clock.read()
    block = gwas.default_block_size(p["n"])
    snps = p["m"] if complete else done["blocks"] * block
    rate = snps / wall
    return {"wall_s": wall, "cpu_s": cpu, "snps": snps, "throughput": rate, "unit": "SNPs/s",
            "snps_per_cpu_s": snps / cpu, "block_size": block, "full_s_estimate": p["m"] / rate,
            "complete": complete}


MEASURED_STAGES = ("convert", "train_stream", "train_memory", "deeplift", "gwas")

STAGES = {
    "simulate": stage_simulate,
    "convert": stage_convert,
    "train_stream": stage_train_stream,
    "train_memory": stage_train_memory,
    "deeplift": stage_deeplift,
    "gwas": stage_gwas,
}


# what each stage's process imports before its baseline RSS is taken (torch only where the
# workflow's job for that stage imports it: a GWAS or conversion job never loads torch)
STAGE_IMPORTS = {
    "simulate": ["liftgwas.simulate", "liftgwas.split", "liftgwas.atomic"],
    "convert": ["liftgwas.genostore"],
    "train_stream": ["torch", "liftgwas.data", "liftgwas.train", "liftgwas.model"],
    "train_memory": ["torch", "liftgwas.data", "liftgwas.train", "liftgwas.model"],
    "deeplift": ["torch", "liftgwas.data", "liftgwas.model", "liftgwas.attribution"],
    "gwas": ["liftgwas.gwas"],
}


def run_child(stage: str, cohort: Path, params: dict, out: Path) -> None:
    import importlib

    for module in STAGE_IMPORTS[stage]:
        importlib.import_module(module)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(int(os.environ.get("LIFTGWAS_BENCH_TORCH_THREADS", THREADS)))
    rss_start = _rss_mb()
    result = STAGES[stage](cohort, params)
    result["rss_after_imports_mb"] = rss_start
    result["peak_rss_self_mb"] = _rss_mb("VmHWM")
    result["load_average_1min"] = os.getloadavg()[0]  # other processes competing for the cores
    out.write_text(json.dumps(result))


# ------------------------------------------------------------------------------------------
# parent side
# ------------------------------------------------------------------------------------------


def package_fingerprint() -> dict:
    """git HEAD and a hash of workflow/liftgwas/*.py as the stage ran (the package may change between runs)."""
    import hashlib

    digest = hashlib.sha1()
    for path in sorted((ROOT / "workflow" / "liftgwas").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {"git_head": head.stdout.strip(), "package_sha1": digest.hexdigest()[:12]}


def run_stage(stage: str, cohort: Path, params: dict, package: Path | None = None) -> dict:
    """Run one stage in a child process; add its wall time and peak RSS (of that child alone).

    ``package``: run another checkout's workflow/ package instead of this one."""
    fingerprint = package_fingerprint() if package is None else {"package": str(package), "git_head": subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=package, capture_output=True, text=True).stdout.strip()}
    out = cohort / f"{stage}{params.get('tag', '')}.result.json"
    out.unlink(missing_ok=True)
    threads = params.get("torch_threads", THREADS) if stage in TORCH_STAGES else THREADS
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "MKL_NUM_THREADS": str(threads), "LIFTGWAS_BENCH_TORCH_THREADS": str(threads), "PYTHONHASHSEED": "0",
           **({"LIFTGWAS_BENCH_PACKAGE": str(package)} if package is not None else {})}
    command = [sys.executable, str(Path(__file__).resolve()), "--child", stage, "--cohort", str(cohort),
               "--params", json.dumps(params), "--child-output", str(out)]
    start = time.perf_counter()
    with open(cohort / f"{stage}{params.get('tag', '')}.log", "w") as log_file:
        child = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - start
    if child.returncode != 0:
        tail = (cohort / f"{stage}{params.get('tag', '')}.log").read_text()[-3000:]
        raise RuntimeError(f"stage {stage} failed with exit code {child.returncode}:\n{tail}")
    result = json.loads(out.read_text())
    result.update(peak_rss_mb=usage.ru_maxrss / 1024.0, process_wall_s=elapsed, threads=threads,
                  process_cpu_s=usage.ru_utime + usage.ru_stime, **fingerprint)
    return result


def cohort_bytes(n: int, m: int) -> dict:
    from liftgwas.plink import bed_size

    bed = bed_size(m, n)
    store = n * ((m + 3) // 4)
    return {"bed": bed, "store": store}


def predicted_memory(n: int, m: int) -> dict:
    """What liftgwas.resources asks SLURM for (attempt 1) for an N x M cohort.

    Computed from a .fam of N lines and a mean file of M values written to a temporary
    directory, so it does not depend on which of the cohort's files a run kept.
    """
    import tempfile

    import numpy as np

    from liftgwas import resources

    with tempfile.TemporaryDirectory() as tmp:
        fam, mean = Path(tmp) / "x.fam", Path(tmp) / "x.mean.npy"
        fam.write_text("f i 0 0 1 -9\n" * n)
        np.save(mean, np.zeros(m, dtype=np.float32))
        return {
            "simulate": resources.simulate_mem_mb(n),
            "convert": resources.store_mem_mb(fam),
            "train_stream": resources.train_mem_mb(fam, mean, ARCH, BATCH_SIZE),
            "deeplift": resources.deeplift_mem_mb(fam, mean, DEEPLIFT_CHUNK),
            "gwas": resources.gwas_mem_mb(fam),
        }


def measure_cohort(n: int, m: int, args) -> dict:
    cohort = args.work / f"n{n}_m{m}"
    sizes = cohort_bytes(n, m)
    record = {"n": n, "m": m, "genotypes": n * m, "bytes": sizes}
    needed = 1.1 * (sizes["bed"] + sizes["store"]) + 200e6
    args.work.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(args.work).free - args.disk_reserve_gb * 1e9
    if needed > free:
        record["skipped"] = f"needs {needed / 1e9:.1f} GB of disk, {free / 1e9:.1f} GB free beyond the reserve"
        log.warning("skipping N=%d M=%d: %s", n, m, record["skipped"])
        return record
    shutil.rmtree(cohort, ignore_errors=True)
    cohort.mkdir(parents=True)
    params = {"n": n, "m": m, "train_seconds": args.train_seconds, "gwas_seconds": args.gwas_seconds,
              "deeplift_samples": args.deeplift_samples, "torch_threads": args.torch_threads}
    stages = {}
    wanted = ["simulate", *[s for s in MEASURED_STAGES if s in args.stages]]
    # training-data stages need the store; DeepLIFT needs the streamed stage's model
    if {"train_stream", "train_memory", "deeplift"} & set(wanted) and "convert" not in wanted:
        wanted.insert(1, "convert")
    if {"train_memory", "deeplift"} & set(wanted) and "train_stream" not in wanted:
        wanted.insert(wanted.index("convert") + 1, "train_stream")
    try:
        for stage in wanted:
            log.info("N=%d M=%d: %s", n, m, stage)
            if args.compare_with and stage != "simulate":
                stages[stage] = compare_stage(stage, cohort, params, args)
            else:
                stages[stage] = run_stage(stage, cohort, params)
            s = stages[stage]
            log.info("  %.1f s, %.4g %s, peak RSS %.0f MB", s["wall_s"], s["throughput"], s["unit"], s["peak_rss_mb"])
        if args.cold_train and "train_stream" in args.stages:
            stages["train_stream_cold"] = run_stage("train_stream", cohort, {**params, "cold": True, "tag": "_cold"})
        for arch in args.extra_archs if n == args.n_for_archs and "train_stream" in args.stages else ():
            stages[f"train_stream_{arch}"] = run_stage("train_stream", cohort, {**params, "arch": arch,
                                                                               "tag": f"_{arch}"})
    finally:
        if args.torch_threads != THREADS:  # kept beside the default-thread measurements
            stages = {(f"{k}_{args.torch_threads}thread" if k.startswith(TORCH_STAGES) else k): v
                      for k, v in stages.items()}
        record["stages"] = stages
        if not args.keep:
            shutil.rmtree(cohort, ignore_errors=True)
    return record


def compare_stage(stage: str, cohort: Path, params: dict, args) -> dict:
    """Run a stage ``args.repeats`` times with this package and as often with the previous
    commit's (``args.compare_with``), interleaved (old new new old old new ...), so that a
    change of the machine's load hits both alike. Returns this package's run with the best
    CPU rate, with ``vs_previous``: every run, and the new / old ratios of the medians of
    the throughput (wall) and of the rate per CPU-second."""
    import statistics

    runs = {"old": [], "new": []}
    for rep in range(args.repeats):
        for which in (("old", "new") if rep % 2 == 0 else ("new", "old")):
            result = run_stage(stage, cohort, params, args.compare_with if which == "old" else None)
            runs[which].append(result)
            log.info("  %s #%d: %.1f s wall, %.1f CPU-s, %.4g %s, load %.1f", which, rep, result["wall_s"],
                     result["cpu_s"], result["throughput"], result["unit"], result["load_average_1min"])

    def per_cpu(r: dict) -> float:
        return r["throughput"] * r["wall_s"] / r["cpu_s"]

    def median(which: str, key) -> float:
        return statistics.median(key(r) for r in runs[which])

    best = max(runs["new"], key=per_cpu)
    best["vs_previous"] = {
        "previous": str(args.compare_with),
        "runs": {k: [{f: r[f] for f in ("wall_s", "cpu_s", "throughput", "peak_rss_mb", "load_average_1min",
                                           "git_head") if f in r} for r in v] for k, v in runs.items()},
        "throughput_ratio_new_over_old": median("new", lambda r: r["throughput"]) / median(
            "old", lambda r: r["throughput"]),
        "per_cpu_s_ratio_new_over_old": median("new", per_cpu) / median("old", per_cpu),
        "peak_rss_mb": {k: median(k, lambda r: r["peak_rss_mb"]) for k in runs},
        "load_average_1min": [r["load_average_1min"] for v in runs.values() for r in v],
    }
    return best


def rss_ratios(cohorts: list[dict]) -> list[dict]:
    """Peak RSS at the largest N over the smallest N, per M and stage."""
    done = [c for c in cohorts if "stages" in c and c["stages"]]
    out = []
    for m in sorted({c["m"] for c in done}):
        at_m = sorted((c for c in done if c["m"] == m), key=lambda c: c["n"])
        if len(at_m) < 2:
            continue
        low, high = at_m[0], at_m[-1]
        for stage in RSS_STAGES:
            if stage in low["stages"] and stage in high["stages"]:
                a, b = low["stages"][stage], high["stages"][stage]
                base_a = a["rss_after_imports_mb"]
                base_b = b["rss_after_imports_mb"]
                out.append({
                    "m": m, "stage": stage, "n_low": low["n"], "n_high": high["n"],
                    "rss_low_mb": a["peak_rss_mb"], "rss_high_mb": b["peak_rss_mb"],
                    "ratio": b["peak_rss_mb"] / a["peak_rss_mb"],
                    "ratio_above_imports": (b["peak_rss_mb"] - base_b) / max(a["peak_rss_mb"] - base_a, 1e-9),
                })
    return out


def streaming_cost(cohorts: list[dict]) -> list[dict]:
    out = []
    for c in cohorts:
        s = c.get("stages", {})
        for suffix in ("", "_1thread"):
            stream, memory = s.get("train_stream" + suffix), s.get("train_memory" + suffix)
            if stream and memory:
                out.append({"n": c["n"], "m": c["m"], "torch_threads": stream.get("threads", THREADS),
                            "stream_samples_per_s": stream["throughput"],
                            "memory_samples_per_s": memory["throughput"],
                            "ratio": memory["throughput"] / stream["throughput"],
                            "cpu_ratio": memory["samples_per_cpu_s"] / stream["samples_per_cpu_s"]})
    return out


def full_stage_seconds(stage: str, s: dict, c: dict) -> float:
    """Seconds the whole stage takes on this cohort (measured, or extrapolated from the rate)."""
    if stage in ("simulate", "convert"):
        return s["wall_s"]
    if stage.startswith("train_stream"):
        return s["epoch_s_estimate"]  # one epoch
    if stage.startswith("train_memory"):
        return s.get("n_train", c["n"] * SPLIT_FRACTIONS["train"]) / s["throughput"]
    return s["full_s_estimate"]


def print_table(cohorts: list[dict], ratios: list[dict], stream: list[dict]) -> str:
    lines = [f"{'N':>7} {'M':>7} {'stage':<22} {'wall s':>8} {'throughput':>22} {'full stage s':>12} "
             f"{'peak RSS MB':>11} {'imports MB':>10} {'resources.py MB':>15}"]
    for c in cohorts:
        if c.get("skipped"):
            lines.append(f"{c['n']:>7} {c['m']:>7} skipped: {c['skipped']}")
            continue
        for stage, s in c["stages"].items():
            pred = c.get("predicted_mem_mb", {}).get(stage, "")
            extra = " " if s.get("complete") else "*"
            lines.append(
                f"{c['n']:>7} {c['m']:>7} {stage:<22} {s['wall_s']:>8.1f} {s['throughput']:>11.4g} {s['unit']:<10} "
                f"{full_stage_seconds(stage, s, c):>11.1f}{extra} {s['peak_rss_mb']:>11.0f} "
                f"{s['rss_after_imports_mb']:>10.0f} {pred:>15}"
            )
    lines.append("full stage s: one epoch for training, the whole validation split for DeepLIFT, all SNPs for "
                 "the GWAS; * = extrapolated from the measured throughput")
    lines.append("")
    lines.append("peak RSS, N high / N low at fixed M (goal <= 1.5):")
    for r in ratios:
        lines.append(f"  M={r['m']:>7} {r['stage']:<13} N {r['n_low']}->{r['n_high']}: {r['rss_low_mb']:.0f} -> "
                     f"{r['rss_high_mb']:.0f} MB, ratio {r['ratio']:.2f} (above imports {r['ratio_above_imports']:.2f})")
    lines.append("conversion (goal >= 1e8 genotypes/s):")
    for c in cohorts:
        if "convert" in c.get("stages", {}):
            s = c["stages"]["convert"]
            lines.append(f"  N={c['n']:>7} M={c['m']:>7}: {s['throughput']:.3g} genotypes/s "
                         f"({s['genotypes_per_cpu_s']:.3g} per CPU-s)")
    lines.append("streaming vs in-memory training time per sample (goal <= 2):")
    for r in stream:
        lines.append(f"  N={r['n']:>7} M={r['m']:>7} torch threads {r['torch_threads']}: streaming "
                     f"{r['stream_samples_per_s']:.0f} samples/s, in-memory "
                     f"{r['memory_samples_per_s']:.0f} samples/s, ratio {r['ratio']:.2f} (CPU time {r['cpu_ratio']:.2f})")
    text = "\n".join(lines)
    print(text)
    return text


def full_stage_cpu_seconds(stage: str, s: dict, c: dict) -> float:
    """CPU seconds (all threads) of the whole stage, from the CPU-time throughput."""
    if stage in ("simulate", "convert"):
        return s["cpu_s"]
    if stage.startswith("train"):
        return s.get("n_train", c["n"] * SPLIT_FRACTIONS["train"]) / s["samples_per_cpu_s"]
    if stage == "deeplift":
        return s["n_validation"] / s["samples_per_cpu_s"]
    return c["m"] / s["snps_per_cpu_s"]


def plot(cohorts: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from liftgwas.atomic import atomic_path

    stages = ["simulate", "convert", "train_stream", "train_memory", "deeplift", "gwas"]
    labels = {"simulate": "simulate (whole cohort)", "convert": "convert .bed to store (whole cohort)",
              "train_stream": "train 128x256, streamed (1 epoch)",
              "train_memory": "train 128x256, in-memory tensor (1 epoch)",
              "deeplift": "DeepLIFT 128x256 (validation split)", "gwas": "GWAS, logistic (all SNPs)"}
    markers = {10_000: "o", 50_000: "s", 100_000: "^"}
    fig, axes = plt.subplots(1, 3, figsize=(17, 5.2))
    done = [c for c in cohorts if c.get("stages")]
    panels = [(lambda st, s, c: s["peak_rss_mb"], "peak RSS of the stage's process (MB)"),
              (full_stage_seconds, "wall time (s), shared 2-core machine"),
              (full_stage_cpu_seconds, "CPU time (s), all threads")]
    # the 1-torch-thread re-timings (see --torch-threads) as dashed lines in the stage's colour
    series = [(stage, stage, f"C{i}", "-") for i, stage in enumerate(stages)]
    series += [(stage + "_1thread", stage, f"C{i}", "--") for i, stage in enumerate(stages) if stage in TORCH_STAGES]
    for ax, (value, title) in zip(axes, panels):
        for key, stage, color, style in series:
            points = sorted(((c["genotypes"], c["stages"][key], c) for c in done if key in c["stages"]),
                            key=lambda point: (point[0], point[2]["n"]))
            if not points:
                continue
            x = [p[0] for p in points]
            y = [value(stage, p[1], p[2]) for p in points]
            label = labels[stage] + (", 1 torch thread" if key != stage else "")
            ax.plot(x, y, color=color, alpha=0.6, linestyle=style, label=label)
            for xi, yi, p in zip(x, y, points):
                ax.plot(xi, yi, marker=markers.get(p[2]["n"], "D"), color=color, linestyle="none")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N x M (genotypes)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=6, loc="upper left")
    for n_value, marker in markers.items():
        axes[1].plot([], [], marker=marker, color="gray", linestyle="none", label=f"N = {n_value:,}")
    axes[1].legend(fontsize=7, loc="upper left")
    fig.suptitle("liftgwas stages vs cohort size (each stage in its own process; times of bounded stages are "
                 "extrapolated from their throughput)", fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    return [tuple(int(v) for v in item.lower().split("x")) for item in text.split(",") if item]


# ------------------------------------------------------------------------------------------
# extrapolation to UK Biobank chromosome 10 (the paper's real-data run)
# ------------------------------------------------------------------------------------------

UKB = {"n": 413_173, "m": 336_814}
UKB_GRID = {"first_layers": (32, 64, 128), "second_layers": (64, 128, 256), "l1": (0.01, 0.1, 1, 10),
            "grid_seeds": 5, "retrain_seeds": 5, "traits": 2}
EPOCHS_ASSUMED = 20  # runs stop `patience` (10) epochs after the best one: at least 11, at most 100
# GPU side of a GPU job (no GPU here, so these are assumptions, stated in the README):
PCIE_BYTES_PER_S = 20e9  # pinned host->device copies, PCIe 4.0 x16 (~25 GB/s peak)
GPU_FLOPS = 15e12  # effective fp32 GEMM rate of an A100/H100-class GPU at these shapes (A100 peak 19.5)


def _lstsq(features: list[list[float]], targets: list[float]) -> list[float]:
    """Non-negative least squares (no cost term can be negative). Absolute errors, so the
    large cohorts (largest times) weigh most, as they should when extrapolating upwards."""
    import numpy as np
    from scipy.optimize import nnls

    coef, _ = nnls(np.asarray(features, dtype=float), np.asarray(targets, dtype=float))
    return coef.tolist()


def _h1(arch: str) -> int:
    return int(arch.split("x")[0])


def ukb_extrapolation(cohorts: list[dict], epochs: int = EPOCHS_ASSUMED) -> dict:
    """Disk, memory per job, CPU-hours and GPU-hours for UKB chr10 from the measured rates.

    Rates are per CPU-second (CPU time of the timed part, all threads): on a shared machine
    that is what a job would need, while wall time depends on who else runs.
    """
    import numpy as np

    from liftgwas.plink import bed_size

    done = [c for c in cohorts if c.get("stages")]
    n, m = UKB["n"], UKB["m"]
    n_train = int(np.floor(0.5 * n + 0.5))
    n_early = int(np.floor(0.75 * n + 0.5)) - n_train
    n_val = n - n_train - n_early

    # Rates from the 1-torch-thread runs where there are any: on a shared machine, 2 OpenMP
    # threads spend most of their time waiting for each other at barriers.
    # Training CPU-s per sample = c + M (a + b h1): a per-sample overhead, decoding and the
    # per-SNP work, plus the first layer (M x h1 weights).
    sfx = "_1thread" if any(k.endswith("_1thread") for c in done for k in c["stages"]) else ""

    def rate_stage(key: str) -> bool:
        return key.startswith("train_stream") and key.endswith("_1thread") == bool(sfx)

    train_points = [(c["m"], _h1(s["arch"]), 1.0 / s["samples_per_cpu_s"])
                    for c in done for k, s in c["stages"].items() if rate_stage(k) and not s.get("cold_cache")]
    c0, a, b = _lstsq([[1.0, mm, mm * h] for mm, h, _ in train_points], [t for *_, t in train_points])

    def train_cpu(h1: int, mm: int = m) -> float:
        return c0 + mm * (a + b * h1)

    # early-stop evaluation (forward only) relative to a training step, and decoding alone
    def ratio_points(key):
        return [(c["m"], 1.0 / s[key]) for c in done for k, s in c["stages"].items()
                if k == "train_stream" + sfx and key in s]

    eval_pts = ratio_points("eval_samples_per_cpu_s")
    eval_fraction = float(np.median([t / train_cpu(128, mm) for mm, t in eval_pts])) if eval_pts else 1 / 3
    decode_pts = ratio_points("decode_samples_per_cpu_s")
    decode_per_snp = float(np.median([t / mm for mm, t in decode_pts])) if decode_pts else float("nan")
    # DeepLIFT CPU-s per sample (128x256) = d0 + d M
    dl_points = [(c["m"], 1.0 / c["stages"]["deeplift" + sfx]["samples_per_cpu_s"]) for c in done
                 if "deeplift" + sfx in c["stages"]]
    d0, d = _lstsq([[1.0, mm] for mm, _ in dl_points], [t for _, t in dl_points])
    # GWAS: CPU-s per SNP = g N (one logistic regression per SNP over N samples)
    gwas_points = [(c["n"], 1.0 / c["stages"]["gwas"]["snps_per_cpu_s"]) for c in done if "gwas" in c["stages"]]
    (g,) = _lstsq([[nn] for nn, _ in gwas_points], [t for _, t in gwas_points])
    # conversion: genotypes per CPU-s, the median over the cohorts
    convert_rate = float(np.median([c["n"] * c["m"] / c["stages"]["convert"]["cpu_s"] for c in done
                                    if "convert" in c["stages"]]))

    # peak RSS (of the default-thread runs): base + a N + b M over all cohorts
    def rss_fit(stage: str) -> dict:
        pts = [(c["n"], c["m"], c["stages"][stage]["peak_rss_mb"]) for c in done if stage in c["stages"]]
        if not pts:
            return {}
        if stage == "convert":  # flat by design (blocks sized from N to ~256 MB): the largest measured
            return {"base_mb": max(r for *_, r in pts), "mb_per_sample": 0.0, "mb_per_snp": 0.0,
                    "ukb_mb": max(r for *_, r in pts), "max_rel_error": 0.0}
        coef = np.linalg.lstsq(np.array([[1.0, nn, mm] for nn, mm, _ in pts]), np.array([r for *_, r in pts]),
                               rcond=None)[0]
        return {"base_mb": coef[0], "mb_per_sample": coef[1], "mb_per_snp": coef[2],
                "ukb_mb": coef[0] + coef[1] * n + coef[2] * m,
                "max_rel_error": float(max(abs(coef[0] + coef[1] * nn + coef[2] * mm - r) / r for nn, mm, r in pts))}

    memory = {stage: rss_fit(stage) for stage in ("convert", "train_stream", "deeplift", "gwas")}

    grid_archs = [f"{h1}x{h2}" for h1 in UKB_GRID["first_layers"] for h2 in UKB_GRID["second_layers"]]
    per_arch_jobs = len(UKB_GRID["l1"]) * UKB_GRID["grid_seeds"] * UKB_GRID["traits"]
    retrain_jobs = UKB_GRID["retrain_seeds"] * UKB_GRID["traits"]  # selected model: assume 128x256
    jobs = {arch: per_arch_jobs for arch in grid_archs}
    jobs["128x256"] += retrain_jobs

    def job_train_cpu(h1: int) -> float:
        per_epoch = n_train * train_cpu(h1) + n_early * eval_fraction * train_cpu(h1)
        final = n * eval_fraction * train_cpu(h1) + n_train * decode_per_snp * m  # evaluate + save_model mean
        return epochs * per_epoch + final

    def job_deeplift_cpu(h1: int) -> float:
        return n_val * (d0 + d * m) * train_cpu(h1) / train_cpu(128)

    # a GPU job: bound by the slowest of CPU decoding (one prefetch thread), PCIe, GPU compute
    def gpu_sample_s(h1: int, passes: float) -> dict:
        decode = decode_per_snp * m
        copy = 4 * m / PCIE_BYTES_PER_S
        compute = passes * 2 * m * h1 / GPU_FLOPS
        return {"decode_s": decode, "copy_s": copy, "compute_s": compute, "bound_s": max(decode, copy, compute)}

    def job_train_gpu(h1: int) -> float:
        train_s = gpu_sample_s(h1, 3)["bound_s"]
        forward_s = gpu_sample_s(h1, 1)["bound_s"]
        return epochs * (n_train * train_s + n_early * forward_s) + n * forward_s + n_train * decode_per_snp * m

    def job_deeplift_gpu(h1: int) -> float:
        return n_val * gpu_sample_s(h1, 4)["bound_s"]  # forward + backward of inputs and baselines

    total_jobs = sum(jobs.values())
    train_cpu_h = sum(jobs[a_] * job_train_cpu(_h1(a_)) for a_ in jobs) / 3600
    deeplift_cpu_h = sum(jobs[a_] * job_deeplift_cpu(_h1(a_)) for a_ in jobs) / 3600
    train_gpu_h = sum(jobs[a_] * job_train_gpu(_h1(a_)) for a_ in jobs) / 3600
    deeplift_gpu_h = sum(jobs[a_] * job_deeplift_gpu(_h1(a_)) for a_ in jobs) / 3600
    gwas_cpu_h = UKB_GRID["traits"] * m * g * n / 3600
    convert_cpu_h = n * m / convert_rate / 3600
    return {
        "cohort": {**UKB, "genotypes": n * m, "n_train": n_train, "n_early_stop": n_early, "n_validation": n_val},
        "assumptions": {"epochs_per_job": epochs, "torch_threads_of_the_rates": 1 if sfx else THREADS, "pcie_bytes_per_s": PCIE_BYTES_PER_S, "gpu_flops": GPU_FLOPS,
                        "retrained_arch": "128x256", "gwas_model": "logistic for both traits (upper bound)"},
        "grid": {**UKB_GRID, "jobs_per_arch": jobs, "training_jobs": total_jobs, "deeplift_jobs": total_jobs},
        "fits": {"train_cpu_s_per_sample": c0, "train_cpu_s_per_sample_per_snp": a,
                 "train_cpu_s_per_sample_per_snp_per_h1": b, "deeplift_cpu_s_per_sample": d0,
                 "train_points": train_points, "eval_fraction_of_train_step": eval_fraction,
                 "decode_cpu_s_per_sample_per_snp": decode_per_snp,
                 "deeplift_cpu_s_per_sample_per_snp": d, "gwas_cpu_s_per_snp_per_sample": g,
                 "convert_genotypes_per_cpu_s": convert_rate},
        "disk_bytes": {"bed": bed_size(m, n), "store": n * ((m + 3) // 4), "float32_matrix": 4 * n * m},
        "memory_mb": memory,
        "per_job": {
            "train_cpu_h": {arch: job_train_cpu(_h1(arch)) / 3600 for arch in ("32x256", "64x256", "128x256")},
            "train_epoch_cpu_h_128": (n_train + n_early * eval_fraction) * train_cpu(128) / 3600,
            "deeplift_cpu_h_128": job_deeplift_cpu(128) / 3600,
            "train_gpu_h": {arch: job_train_gpu(_h1(arch)) / 3600 for arch in ("32x256", "64x256", "128x256")},
            "deeplift_gpu_h_128": job_deeplift_gpu(128) / 3600,
            "gpu_sample_s_train_128": gpu_sample_s(128, 3),
            "gwas_cpu_h_per_trait": m * g * n / 3600,
            "convert_cpu_h": convert_cpu_h,
        },
        "totals": {"convert_cpu_h": convert_cpu_h, "train_cpu_h": train_cpu_h, "deeplift_cpu_h": deeplift_cpu_h,
                   "gwas_cpu_h": gwas_cpu_h, "train_gpu_h": train_gpu_h, "deeplift_gpu_h": deeplift_gpu_h,
                   "cpu_only_total_cpu_h": convert_cpu_h + train_cpu_h + deeplift_cpu_h + gwas_cpu_h,
                   "gpu_speedup_train_128": job_train_cpu(128) / job_train_gpu(128)},
    }


def print_ukb(x: dict) -> str:
    t, p, f = x["totals"], x["per_job"], x["fits"]
    lines = [
        f"UK Biobank chr10 (N={x['cohort']['n']}, M={x['cohort']['m']}), {x['grid']['training_jobs']} training + "
        f"{x['grid']['deeplift_jobs']} DeepLIFT jobs, {x['assumptions']['epochs_per_job']} epochs per job:",
        f"  disk: .bed {x['disk_bytes']['bed'] / 1e9:.1f} GB, store {x['disk_bytes']['store'] / 1e9:.1f} GB "
        f"(float32 would be {x['disk_bytes']['float32_matrix'] / 1e9:.0f} GB)",
        "  memory per job (peak RSS fit base + a N + b M): " + ", ".join(
            f"{k} {v['ukb_mb'] / 1024:.1f} GB" for k, v in x["memory_mb"].items() if v),
        f"  training CPU-s/sample = {f['train_cpu_s_per_sample']:.3g} + M ({f['train_cpu_s_per_sample_per_snp']:.3g} + "
        f"{f['train_cpu_s_per_sample_per_snp_per_h1']:.3g} h1); per 128x256 job {p['train_cpu_h']['128x256']:.1f} CPU-h, "
        f"epoch {p['train_epoch_cpu_h_128']:.2f} CPU-h",
        f"  DeepLIFT 128x256 per job {p['deeplift_cpu_h_128']:.2f} CPU-h; GWAS per trait {p['gwas_cpu_h_per_trait']:.1f} CPU-h; "
        f"conversion {p['convert_cpu_h']:.2f} CPU-h",
        f"  totals: training {t['train_cpu_h']:.0f} CPU-h, DeepLIFT {t['deeplift_cpu_h']:.0f} CPU-h, GWAS "
        f"{t['gwas_cpu_h']:.1f} CPU-h, conversion {t['convert_cpu_h']:.2f} CPU-h; on GPUs: training "
        f"{t['train_gpu_h']:.0f} GPU-h, DeepLIFT {t['deeplift_gpu_h']:.0f} GPU-h "
        f"(speed-up {t['gpu_speedup_train_128']:.1f}x per 128x256 job, decode-bound)",
    ]
    text = "\n".join(lines)
    print(text)
    return text


def finish(cohorts: list[dict], args, output: Path, plot_path: Path, seconds: float, final: bool) -> dict:
    from importlib.metadata import version

    from liftgwas.atomic import write_json

    cohorts = sorted(cohorts, key=lambda c: (c["n"] * c["m"], c["n"]))
    for c in cohorts:
        c["predicted_mem_mb"] = predicted_memory(c["n"], c["m"])
    ratios, stream = rss_ratios(cohorts), streaming_cost(cohorts)
    payload = {
        "machine": {"host": platform.node(), "cpus": os.cpu_count(), "threads": THREADS,
                    "python": platform.python_version(), "torch": version("torch"),
                    "load_average_at_end": os.getloadavg()},
        "settings": {"arch": ARCH, "batch_size": BATCH_SIZE, "learning_rate": LEARNING_RATE, "l1": L1,
                     "l1_scaling": L1_SCALING, "warmup_batches": WARMUP_BATCHES,
                     "train_seconds": args.train_seconds, "gwas_seconds": args.gwas_seconds,
                     "deeplift_samples": args.deeplift_samples, "deeplift_chunk": DEEPLIFT_CHUNK,
                     "eval_batch": EVAL_BATCH, "in_memory_bytes": IN_MEMORY_BYTES, "sparsity": SPARSITY,
                     "seed": SEED, "n_covariates": N_COVARIATES, "split": SPLIT_FRACTIONS},
        "cohorts": cohorts,
        "rss_ratios": ratios,
        "streaming_vs_memory": stream,
        "seconds": seconds,
    }
    if final:
        payload["table"] = print_table(cohorts, ratios, stream)
        if any("gwas" in c.get("stages", {}) for c in cohorts) and any(
                "train_stream" in c.get("stages", {}) for c in cohorts):
            payload["ukb_chr10"] = ukb_extrapolation(cohorts)
            payload["ukb_chr10"]["text"] = print_ukb(payload["ukb_chr10"])
        plot(cohorts, plot_path)
    write_json(output, payload)
    return payload


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="N in {2k, 5k} x M = 2k, short budgets")
    parser.add_argument("--sizes", help="comma-separated NxM list (overrides the grid)")
    parser.add_argument("--stages", default=",".join(MEASURED_STAGES),
                        help="stages to measure (simulate always runs; dependencies are added)")
    parser.add_argument("--merge", action="store_true",
                        help="update the cohorts of the existing --output JSON: re-measured stages replace old ones")
    parser.add_argument("--report-only", action="store_true",
                        help="recompute ratios, table, UK Biobank extrapolation and plot from --output")
    parser.add_argument("--train-seconds", type=float, default=None, help="timed training per stage (default 15)")
    parser.add_argument("--gwas-seconds", type=float, default=None, help="GWAS time budget (default 30)")
    parser.add_argument("--deeplift-samples", type=int, default=2000)
    parser.add_argument("--extra-archs", default="32x256,64x256",
                        help="also time streaming training of these architectures at the smallest N")
    parser.add_argument("--cold-train", action="store_true", help="also time streaming training from a cold cache")
    parser.add_argument("--torch-threads", type=int, default=THREADS,
                        help="torch threads of the training and DeepLIFT stages (other values are stored as "
                        "<stage>_<k>thread)")
    parser.add_argument("--compare-with", type=Path, default=None,
                        help="workflow/ folder of the previous commit's checkout: every measured stage runs "
                        "--repeats times with each package, interleaved, and records the new/old ratios")
    parser.add_argument("--repeats", type=int, default=2, help="runs per package with --compare-with")
    parser.add_argument("--disk-reserve-gb", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--plot", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep each cohort's files")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--cohort", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("--child-output", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if args.child:
        run_child(args.child, args.cohort, json.loads(args.params), args.child_output)
        return 0

    grid = parse_sizes(args.sizes) if args.sizes else (QUICK_GRID if args.quick else FULL_GRID)
    grid = sorted(grid, key=lambda nm: (nm[0] * nm[1], nm[0]))
    args.train_seconds = args.train_seconds or (4.0 if args.quick else 15.0)
    args.gwas_seconds = args.gwas_seconds or (5.0 if args.quick else 30.0)
    args.extra_archs = [a for a in args.extra_archs.split(",") if a]
    args.stages = [s for s in args.stages.split(",") if s]
    unknown = set(args.stages) - set(MEASURED_STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; choose from {MEASURED_STAGES}")
    args.n_for_archs = min(n for n, _ in grid)
    suffix = "_quick" if args.quick else ""
    output = args.output or RESULTS / f"scale{suffix}.json"
    plot_path = args.plot or RESULTS / f"scale{suffix}.png"

    previous = json.loads(output.read_text()) if (args.merge or args.report_only) and output.exists() else {}
    cohorts = previous.get("cohorts", [])
    started = time.perf_counter()
    seconds_before = previous.get("seconds", 0.0)
    if args.report_only:
        settings = previous.get("settings", {})
        args.train_seconds = settings.get("train_seconds", args.train_seconds)
        args.gwas_seconds = settings.get("gwas_seconds", args.gwas_seconds)
        finish(cohorts, args, output, plot_path, seconds_before, final=True)
        return 0
    for n, m in grid:
        record = measure_cohort(n, m, args)
        old = next((c for c in cohorts if (c["n"], c["m"]) == (n, m)), None)
        if old is None:
            cohorts.append(record)
        elif record.get("stages"):
            replaced = sorted(set(old.get("stages", {})) & set(record["stages"]))
            old.setdefault("stages", {}).update(record["stages"])
            old.setdefault("remeasured", []).append({"stages": replaced, "at": time.strftime("%Y-%m-%d %H:%M")})
        finish(cohorts, args, output, plot_path, seconds_before + time.perf_counter() - started, final=False)
    finish(cohorts, args, output, plot_path, seconds_before + time.perf_counter() - started, final=True)
    log.info("wrote %s and %s (%.0f s)", output, plot_path, time.perf_counter() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
