"""Benchmark (issue 17): does ``training.precision: bf16`` change DeepLIFT's recall beyond seed noise?

    .venv/bin/python bench/precision_recall.py              # 2 paper datasets x 5 seeds x {fp32, bf16}, CPU
    .venv/bin/python bench/precision_recall.py --n-samples 2000 --n-snps 1000 --seeds 1,2 --output /tmp/p.json

Fixed before anything ran (not tuned): two paper simulations (Hao, a = 0.1 and a = 1, one
replicate, binary trait, 10 causal SNPs, 10,000 people x 10,000 SNPs), one grid cell, 64x128
with L1 = 1 (the middle of the paper's L1 range), seeds 1-5, the paper's training settings
(batch 128, lr 1e-3, max_epochs 100, patience 10), top-k recall with k = 10 = the causal
count. The data are simulated once through Snakemake. The cells are then trained and
attributed through Snakemake twice, on copies of the same data: once with
``training.precision: fp32`` and once with ``bf16`` (bf16 autocast of the training forward
pass; DeepLIFT itself runs in fp32 in both). Per precision: each seed's recall, and the mean
and SD over seeds; per seed, the paired difference bf16 - fp32. The question is whether the
mean paired difference is small against the seed-to-seed SD.

TF32 is not measured: on the CPU it is fp32 (no TF32 units), so only a GPU can test it
(bench/gpu_check.py). On a GPU, bf16 autocast runs other kernels, with the same bf16
rounding of the inputs and weights and fp32 accumulation, so a GPU run is the final word.
Output: bench/results/precision_recall.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "bench"))
from grid_throughput import children_cpu, export_revision, logged_usage, run_snakemake  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.recall import recall_runs  # noqa: E402

OUTPUT = ROOT / "bench/results/precision_recall.json"
TRAIT = "binary"
ARCH, L1 = "64x128", 1

CONFIG = {
    "simulation": {"n_samples": 10_000, "n_snps": 10_000, "n_causal": 10, "sparsity": [0.1, 1], "replicates": 1,
                   "traits": [TRAIT], "seed": 2020},
    "cohorts": {},
    "split": {"seed": 1, "train": 0.5, "early_stop": 0.25, "validation": 0.25},
    "model": {"architectures": [ARCH], "l1": [L1], "l1_scaling": "sum_over_n_train", "seeds": [1, 2, 3, 4, 5],
              "retrain_seeds": [101], "covariates_as_inputs": True},
    "training": {"batch_size": 128, "learning_rate": 0.001, "max_epochs": 100, "patience": 10},
    "deeplift": {"chunk_size": 512},
    "gwas": {"n_pcs": 10},
    "recall": {"top_k": 10},
}


def datasets(config) -> list[str]:
    return [f"sim-a{a:g}-r1" for a in config["simulation"]["sparsity"]]


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n-samples", type=int, default=CONFIG["simulation"]["n_samples"])
    p.add_argument("--n-snps", type=int, default=CONFIG["simulation"]["n_snps"])
    p.add_argument("--seeds", default="1,2,3,4,5")
    p.add_argument("--workdir", type=Path, default=Path("/tmp/precision_recall"))
    p.add_argument("--output", type=Path, default=OUTPUT)
    p.add_argument("--keep", action="store_true")
    args = p.parse_args(argv)
    config = copy.deepcopy(CONFIG)
    config["simulation"].update(n_samples=args.n_samples, n_snps=args.n_snps)
    config["model"]["seeds"] = [int(s) for s in args.seeds.split(",")]
    if args.workdir.exists():
        subprocess.run(["rm", "-rf", str(args.workdir)], check=True)
    code = args.workdir / "code"
    head = export_revision("HEAD", code)
    snakefile = code / "Snakefile"
    data = args.workdir / "data"
    data.mkdir(parents=True)
    (data / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    inputs = [f"results/{d}/{name}" for d in datasets(config) for name in (
        "genotypes/store.packed.npy", "genotypes/store.mean.npy", "split.tsv", "covariates.tsv", "traits.tsv",
        "genotypes/plink.bim", "truth.tsv")]
    t0 = time.monotonic()
    run_snakemake(snakefile, data, data / "config.yaml", *inputs)
    report = {
        "what": __doc__.split("\n\n")[2].replace("\n", " "),
        "machine": f"{platform.node()}: {os.cpu_count()} cores", "code": head, "config": config,
        "data_wall_s": time.monotonic() - t0, "modes": {},
    }
    cells = [(d, seed) for d in datasets(config) for seed in config["model"]["seeds"]]
    run_dirs = {c: f"results/{c[0]}/{TRAIT}/{ARCH}/l1_{L1:g}/seed_{c[1]}" for c in cells}
    for precision in ("fp32", "bf16"):
        workdir = args.workdir / precision
        subprocess.run(["cp", "-a", str(data), str(workdir)], check=True)
        mode_config = copy.deepcopy(config)
        mode_config["training"]["precision"] = precision
        (workdir / "config.yaml").write_text(yaml.safe_dump(mode_config, sort_keys=False))
        load0, cpu0, t0 = os.getloadavg(), children_cpu(), time.monotonic()
        run_snakemake(snakefile, workdir, workdir / "config.yaml", "--rerun-triggers=mtime",
                      *[f"{run_dirs[c]}/deeplift.tsv" for c in cells])
        runs = [{"dataset": d, "seed": seed, "trait": TRAIT, "scores": str(workdir / run_dirs[(d, seed)] / "deeplift.tsv"),
                 "truth": str(workdir / f"results/{d}/truth.tsv")} for d, seed in cells]
        recalls = recall_runs(runs, config["recall"]["top_k"])
        metrics = {c: json.loads((workdir / run_dirs[c] / "metrics.json").read_text()) for c in cells}
        train_cpu = sum(v for k, v in logged_usage(workdir)[0].items() if k.startswith("train/"))
        report["modes"][precision] = {
            "wall_s": time.monotonic() - t0, "cpu_s": children_cpu() - cpu0, "train_jobs_cpu_s": train_cpu,
            "load_before": load0, "load_after": os.getloadavg(),
            "cells": [{"dataset": d, "seed": seed, "recall": float(r),
                       "validation_loglik": metrics[(d, seed)]["validation_loglik"],
                       "epochs_run": metrics[(d, seed)]["epochs_run"], "best_epoch": metrics[(d, seed)]["best_epoch"]}
                      for (d, seed), r in zip(cells, recalls["recall"])],
        }
        print(precision, {k: v for k, v in report["modes"][precision].items() if k != "cells"}, flush=True)
    summary = {}
    for d in datasets(config):
        per = {prec: [c for c in report["modes"][prec]["cells"] if c["dataset"] == d] for prec in ("fp32", "bf16")}
        fp32, bf16 = ([c["recall"] for c in per[prec]] for prec in ("fp32", "bf16"))
        diffs = [b - a for a, b in zip(fp32, bf16)]
        summary[d] = {
            "fp32_mean": statistics.mean(fp32), "fp32_sd": statistics.stdev(fp32) if len(fp32) > 1 else None,
            "bf16_mean": statistics.mean(bf16), "bf16_sd": statistics.stdev(bf16) if len(bf16) > 1 else None,
            "paired_difference_mean": statistics.mean(diffs),
            "paired_difference_sd": statistics.stdev(diffs) if len(diffs) > 1 else None,
            "validation_loglik_fp32_mean": statistics.mean(c["validation_loglik"] for c in per["fp32"]),
            "validation_loglik_bf16_mean": statistics.mean(c["validation_loglik"] for c in per["bf16"]),
        }
    report["summary"] = summary
    write_json(args.output, report)
    print(json.dumps(summary, indent=1), flush=True)
    if not args.keep:
        subprocess.run(["rm", "-rf", str(args.workdir)], check=True)


if __name__ == "__main__":
    main()
