"""GPU check of issue 17's device path (liftgwas.device_decode), prepared to run in one go on a
GPU machine; it runs on the CPU too, in a reduced form, so that it is known to work.

    .venv/bin/python bench/gpu_check.py                      # on a GPU: 10,000 x 10,000, writes bench/results/gpu_check.json
    .venv/bin/python bench/gpu_check.py --tiny               # CPU smoke run (1,000 x 512), writes /tmp/gpu_check_cpu.json

A synthetic cohort (random 2-bit store with 1 % missing calls and a 20-SNP additive binary
trait; splits 50/25/25) is written under bench/work/gpu_check (git-ignored, removed after).
Measured on ``--device`` (default: cuda when available, else cpu):

  decode       device_decode.decode_packed on the device vs on the CPU: bit-equal (missing calls,
               M not divisible by 4), and the device's decode rate (genotypes/s)
  train        one 128x256 cell (config batch size 128), ``--epochs`` epochs each:
               * train_model end to end (epochs with the early-stop evaluation), streamed
                 (training.resident: never) vs resident (always): samples/s, peak GPU memory;
               * the training step alone (batches + forward/backward/Adam), resident and
                 streamed, under precision fp32 / tf32 / bf16 (device_decode.autocast)
  deeplift     deeplift_scores over the validation split with deeplift.chunk_size 512 vs the
               chunk device_decode.attribution_chunk_size picks: samples/s and the chunk
  grid_block   the paper grid's 16 cells of one seed (4 architectures x 4 L1) as one block job
               runs them (train.train_models, training.resident auto, ``--epochs`` epochs; then
               deeplift_scores_many): seconds per cell-epoch and per attributed model, and the
               paper grid (1,600 grid + 100 retraining cells, 12.7 epochs per cell as measured
               on the CPU in bench/results/grid_blocking.json) projected in GPU-minutes
  recall       top-20 recall of the synthetic trait's 20 causal SNPs, per precision (fp32, tf32,
               bf16) and seed (1-3), for one 64x128 cell with L1 = 1 at the paper's max_epochs 100
               and patience 10 (``--recall-epochs``), with its validation log-likelihood:
               whether TF32 or bf16 move recall beyond seed noise
  projection   UK Biobank chromosome 10 (413,173 x 336,814), the README's 370 training jobs
               of E = 20 epochs: resident fp32 step time per sample scaled by M (compute-bound,
               an extrapolation, labelled as one)

Timings call torch.cuda.synchronize(). Wall and CPU seconds and the load average are
recorded; a CPU run says so in its "device" field and is not a GPU figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import device_decode as dd  # noqa: E402
from liftgwas.attribution import deeplift_scores, deeplift_scores_many  # noqa: E402
from liftgwas.data import SplitData, TrainingData  # noqa: E402
from liftgwas.genostore import GenotypeStore  # noqa: E402
from liftgwas.model import GenotypeModel  # noqa: E402
from liftgwas.plink import encode_bed_block  # noqa: E402
from liftgwas.recall import topk_recall  # noqa: E402
from liftgwas.train import TrainSettings, data_loss, train_model, train_models, training_reference  # noqa: E402

# config/paper-simulation.yaml: 20 datasets x (80 grid cells + 5 retraining seeds)
PAPER_GRID = {"archs": ["64x128", "64x256", "128x128", "128x256"], "l1": [0.01, 0.1, 1, 10], "cells": 1_700,
              "epochs_per_cell": 12.7}  # the mean of bench/results/grid_blocking.json's 16 cells
UKB = {"n_samples": 413_173, "n_snps": 336_814, "train": 206_587, "early_stop": 103_293, "jobs": 370, "epochs": 20}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def synthetic_data(directory: Path, n: int, m: int, seed: int = 0) -> TrainingData:
    """A store (packed .npy + mean) and a binary trait, built without plink2 (bytes as the store holds them)."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    freq = rng.uniform(0.05, 0.5, m)
    packed = np.empty((n, (m + 3) // 4), dtype=np.uint8)
    causal = rng.choice(m, 20, replace=False)
    lin = np.zeros(n)
    total, called = np.zeros(m), np.zeros(m)
    for i in range(0, n, 1000):  # bounded memory at 10k x 10k and beyond
        g = rng.binomial(2, freq, (min(1000, n - i), m)).astype(np.int8)
        lin[i : i + len(g)] = (g[:, causal] - 2 * freq[causal]).sum(1) * 0.5
        g[rng.random(g.shape) < 0.01] = -1
        total += np.where(g >= 0, g, 0).sum(0)
        called += (g >= 0).sum(0)
        packed[i : i + len(g)] = np.frombuffer(encode_bed_block(g), dtype=np.uint8).reshape(len(g), -1)
    np.save(directory / "s.packed.npy", packed)
    mean = (total / np.maximum(called, 1)).astype(np.float32)
    store = GenotypeStore(directory / "s.packed.npy", mean)
    y = rng.binomial(1, 1 / (1 + np.exp(-lin))).astype(np.float32)
    order = rng.permutation(n)
    cut = [0, n // 2, 3 * n // 4, n]
    splits = {}
    for k, name in enumerate(("train", "early_stop", "validation")):
        rows = np.sort(order[cut[k] : cut[k + 1]]).astype(np.int64)
        splits[name] = SplitData(rows=rows, y=y[rows], covariates=np.zeros((len(rows), 0), dtype=np.float32))
    data = TrainingData(store=store, kind="binary", splits=splits, covariate_names=[])
    return data, np.sort(causal)


def paper_settings(arch: str, l1: float, seed: int, epochs: int, patience: int, precision: str = "fp32"):
    return TrainSettings(arch=arch, l1=l1, l1_scaling="sum_over_n_train", seed=seed, batch_size=128,
                         learning_rate=1e-3, max_epochs=epochs, patience=patience, precision=precision)


def grid_block(data: TrainingData, device: torch.device, epochs: int) -> dict:
    settings = [paper_settings(a, l1, 1, epochs, epochs) for a in PAPER_GRID["archs"] for l1 in PAPER_GRID["l1"]]
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t = time.perf_counter()
    trained = train_models(data, settings, device=device, resident="auto")
    sync(device)
    train_s = time.perf_counter() - t
    cell_epochs = sum(m["epochs_run"] for _, m in trained)
    reference = training_reference(data, device)
    t = time.perf_counter()
    deeplift_scores_many([m for m, _ in trained], data, [reference] * len(trained), device=device,
                         seeds=[1] * len(trained))
    sync(device)
    deeplift_s = time.perf_counter() - t
    per_cell_epoch, per_model = train_s / cell_epochs, deeplift_s / len(trained)
    minutes = PAPER_GRID["cells"] * (PAPER_GRID["epochs_per_cell"] * per_cell_epoch + per_model) / 60
    return {"cells": len(trained), "cell_epochs": cell_epochs, "train_s": train_s, "deeplift_s": deeplift_s,
            "seconds_per_cell_epoch": per_cell_epoch, "deeplift_seconds_per_model": per_model,
            "resident": data.resident is not None, **memory(device),
            "paper_grid_projection_minutes": minutes,
            "projection": "1,700 cells x (12.7 epochs x seconds per cell-epoch + one DeepLIFT), at the block's "
                          "rate; job start-up and the data stages (simulation, GWAS) not included"}


def recall_by_precision(data: TrainingData, causal: np.ndarray, device: torch.device, epochs: int) -> dict:
    ids = [f"v{j}" for j in range(data.n_snps)]
    causal_ids = [ids[j] for j in causal]
    out = {}
    for precision in dd.PRECISIONS:
        settings = [paper_settings("64x128", 1.0, seed, epochs, min(10, epochs), precision) for seed in (1, 2, 3)]
        trained = train_models(data, settings, device=device, resident="auto")
        reference = training_reference(data, device)
        results = deeplift_scores_many([m for m, _ in trained], data, [reference] * 3, device=device, seeds=[1, 2, 3])
        out[precision] = [
            {"seed": s.seed, "recall": topk_recall(pd.Series(r.score, index=ids), causal_ids, len(causal_ids)),
             "validation_loglik": m["validation_loglik"], "best_epoch": m["best_epoch"], "epochs_run": m["epochs_run"]}
            for s, (_, m), r in zip(settings, trained, results)]
    return out


def check_decode(device: torch.device, m: int) -> dict:
    rng = np.random.default_rng(1)
    m_odd = m + 3 if m % 4 == 0 else m  # not divisible by 4
    g = rng.integers(0, 3, (257, m_odd)).astype(np.int8)
    g[rng.random(g.shape) < 0.05] = -1
    packed = torch.from_numpy(np.frombuffer(encode_bed_block(g), dtype=np.uint8).reshape(257, -1).copy())
    mean = torch.from_numpy(rng.uniform(0, 2, m_odd).astype(np.float32))
    equal = {}
    for center, impute in ((True, True), (False, True), (False, False)):
        cpu = dd.decode_packed(packed, mean, center=center, impute=impute)
        dev = dd.decode_packed(packed.to(device), mean.to(device), center=center, impute=impute).cpu()
        equal[f"center={center},impute={impute}"] = bool(torch.equal(cpu.view(torch.int32), dev.view(torch.int32)))
    big = packed.to(device).repeat(8, 1)
    mean_d = mean.to(device)
    dd.decode_packed(big, mean_d)
    sync(device)
    t = time.perf_counter()
    for _ in range(5):
        dd.decode_packed(big, mean_d)
    sync(device)
    seconds = (time.perf_counter() - t) / 5
    return {"bit_equal_to_cpu": equal, "n_snps": m_odd, "genotypes_per_s": big.shape[0] * m_odd / seconds}


def memory(device: torch.device) -> dict:
    if device.type != "cuda":
        return {}
    free, total = torch.cuda.mem_get_info(device)
    return {"peak_allocated_gib": torch.cuda.max_memory_allocated(device) / 2**30,
            "free_gib": free / 2**30, "total_gib": total / 2**30}


def step_loop(data: TrainingData, device: torch.device, precision: str, epochs: int, batch_size: int) -> dict:
    torch.manual_seed(0)
    model = GenotypeModel(data.n_snps, 0, "128x256").to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    n = len(data.splits["train"].rows)
    seconds = []
    for epoch in range(epochs + 1):  # epoch 0 warms up (cuBLAS handles, allocator)
        order = torch.randperm(n, generator=torch.Generator().manual_seed(epoch)).numpy()
        sync(device)
        t = time.perf_counter()
        for x, c, y in data.batches("train", batch_size, order, device):
            with dd.autocast(device, precision):
                loss = data_loss(model, "binary", x, c, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        sync(device)
        if epoch:
            seconds.append(time.perf_counter() - t)
    per_epoch = float(np.median(seconds))
    return {"seconds_per_epoch": per_epoch, "samples_per_s": n / per_epoch, "final_loss": float(loss)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--snps", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--recall-epochs", type=int, default=100, help="max_epochs of the recall cells (patience 10)")
    parser.add_argument("--tiny", action="store_true", help="CPU smoke sizes: 1,000 x 512, 1 epoch (2 for recall)")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    device = dd.normalize_device(args.device)
    if args.tiny:
        args.samples, args.snps, args.epochs, args.recall_epochs = 1000, 512, 1, 2
    output = args.output or (ROOT / "bench/results/gpu_check.json" if device.type == "cuda" else Path("/tmp/gpu_check_cpu.json"))
    load_before, wall0, cpu0 = os.getloadavg(), time.perf_counter(), time.process_time()
    work = ROOT / "bench/work/gpu_check"
    shutil.rmtree(work, ignore_errors=True)
    result: dict = {
        "device": device.type, "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "note": None if device.type == "cuda" else "CPU smoke run of the GPU check: NOT GPU figures",
        "command": "python bench/gpu_check.py " + " ".join(sys.argv[1:]),
        "samples": args.samples, "snps": args.snps, "epochs": args.epochs, "batch_size": 128,
    }
    try:
        result["decode"] = check_decode(device, args.snps)
        data, causal = synthetic_data(work, args.samples, args.snps)
        result["packed_gib"] = data.packed_bytes / 2**30
        settings = TrainSettings(arch="128x256", l1=1.0, l1_scaling="sum_over_n_train", seed=1, batch_size=128,
                                 learning_rate=1e-3, max_epochs=args.epochs, patience=args.epochs)
        n_train = len(data.splits["train"].rows)
        train = {}
        for mode in ("never", "always"):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            data.make_resident(device, mode)
            sync(device)
            t = time.perf_counter()
            _, metrics = train_model(data, settings, device=device)
            sync(device)
            train[f"train_model_resident_{mode}"] = {
                "wall_s": time.perf_counter() - t, "seconds_per_epoch": metrics["seconds_per_epoch"],
                "train_samples_per_s": n_train / metrics["seconds_per_epoch"],
                "validation_auc": metrics.get("validation_auc"), **memory(device)}
            for precision in dd.PRECISIONS:
                train[f"steps_resident_{mode}_{precision}"] = step_loop(data, device, precision, args.epochs, 128)
        result["train"] = train
        data.make_resident(device, "never")
        model, _ = train_model(data, TrainSettings(**{**settings.__dict__, "max_epochs": 1, "patience": 1}), device=device)
        reference = torch.zeros(data.n_snps)
        n_val = len(data.splits["validation"].rows)
        picked = dd.attribution_chunk_size(512, data.n_snps, device, n_samples=n_val)
        deeplift = {"picked_chunk": picked}
        for label, chunk in (("chunk_512", 512), ("chunk_picked", picked)):
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            t = time.perf_counter()
            # on CUDA deeplift_scores picks the chunk itself: the 512 figure keeps the given one
            keep = label == "chunk_512" and device.type == "cuda"
            with mock.patch("liftgwas.attribution.attribution_chunk_size", lambda c, *a, **k: c) if keep else nullcontext():
                deeplift_scores(model, data, reference, chunk_size=chunk, device=device)
            sync(device)
            seconds = time.perf_counter() - t
            deeplift[label] = {"seconds": seconds, "samples_per_s": n_val / seconds, **memory(device)}
        result["deeplift"] = deeplift
        result["grid_block"] = grid_block(data, device, args.epochs)
        data.make_resident(device, "never")
        result["recall"] = recall_by_precision(data, causal, device, args.recall_epochs)
        step = train["steps_resident_always_fp32"]
        per_sample = 1 / step["samples_per_s"] * UKB["n_snps"] / args.snps
        samples = UKB["jobs"] * ((UKB["train"] + UKB["early_stop"]) * UKB["epochs"] + UKB["n_samples"] + UKB["train"])
        result["projection_ukb_chr10"] = {
            "what": "EXTRAPOLATION: resident fp32 step time per sample at this M, scaled linearly to M = 336,814 "
                    "(compute-bound), every job as 128x256, evaluation passes costed like training samples; "
                    "README's 370 jobs x E = 20",
            "seconds_per_sample": per_sample, "gpu_hours": samples * per_sample / 3600,
            "fits_resident_on_this_device": dd.resident_fits(
                UKB["n_samples"], UKB["n_snps"], device,
                reserve_bytes=dd.training_reserve_bytes(UKB["n_snps"], 128, 128)) if device.type == "cuda" else None,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.update({
        "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "machine": f"{platform.node()} {platform.machine()} {os.cpu_count()} cores",
        "torch": torch.__version__,
    })
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
