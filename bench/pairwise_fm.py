"""Benchmark: the factorization-machine term (model.pairwise: fm) on the non-additive data (issue 10).

    .venv/bin/python bench/pairwise_fm.py --replicates 3      # Hao genotypes, 2,000 x 2,000

Per replicate: the data of bench/nonadditive.py (same config/nonadditive.yaml, dataset seeds,
split, store, 10 PCs: its ``prepare``), then with its grid (64x128, L1 {1, 10} x grid seeds
{1, 2}, selection by validation log-likelihood, retrain seeds {101, 102}):
  additive GWAS; plain MLP + DeepLIFT and + IntegratedGradients; MLP + FM term (rank
  ``--fm-rank``) + DeepLIFT and + IntegratedGradients (IG is exact on the FM's quadratic,
  DeepLift has no rule for the product: model.py); recall by class at k = 25 and 10 (exact
  and locus recall, recall.recall_by_class). The plink 1.9 pairwise scan is not rerun here
  (bench/results/nonadditive.json has it). Nothing of the simulation, seeds or thresholds
  differs from bench/nonadditive.py. CPU seconds and load averages are recorded: the
  machine is shared. Output: bench/results/nonadditive_fm.json.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import shlex
import sys
from pathlib import Path

import pandas as pd
import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nonadditive as na  # noqa: E402

from liftgwas import simulate  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.workflow_config import simulated_datasets, simulation_params  # noqa: E402

log = logging.getLogger("bench.pairwise_fm")
OUTPUT = na.ROOT / "bench/results/nonadditive_fm.json"


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--replicates", type=int, default=3)
    p.add_argument("--fm-rank", type=int, default=8)
    p.add_argument("--methods", nargs="+", default=["deeplift", "integrated_gradients"])
    p.add_argument("--output", type=Path, default=OUTPUT)
    p.add_argument("--grid", default="",
                   help="diagnostics only: bench/nonadditive.py's grid options, e.g. --grid='--l1 0 --patience 50'")
    own = p.parse_args(argv)
    args = na.parse_args(shlex.split(own.grid))  # the nonadditive bench's model grid, unchanged unless --grid
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("liftgwas", "msprime", "stdpopsim"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    sim = yaml.safe_load(na.CONFIG.read_text())["simulation"]
    sim = {**sim, "genotypes": ["hao"], "replicates": own.replicates, "traits": {na.TRAIT: sim["traits"][na.TRAIT]}}
    load_before, start = os.getloadavg(), na.Clock()
    rows, replicates = [], []
    for dataset in simulated_datasets(sim):
        spec = simulation_params(sim, dataset)
        directory = na.WORK / f"n{sim['n_samples']}_m{sim['n_snps']}" / dataset.name
        info = na.prepare(directory, spec)
        truth = simulate.read_truth_table(directory / "truth.tsv")
        truth = truth[truth["trait"] == na.TRAIT][["variant_id", "class", "pair"]]
        strengths, timings = {}, {}
        strengths["additive_gwas"], timings["additive_gwas"] = na.gwas_strength(directory)
        for pairwise in ("none", "fm"):
            run = argparse.Namespace(**{**vars(args), "pairwise": pairwise, "fm_rank": own.fm_rank})
            label = "mlp" if pairwise == "none" else f"mlp_fm{own.fm_rank}"
            scores, timing = na.attribution_strengths(directory, run, tuple(own.methods))
            for method, score in scores.items():
                strengths[f"{label}+{method}"] = score
            timings[label] = timing
            log.info("%s: %s %s", dataset.name, label, {k: timing[k] for k in ("wall_s", "cpu_s", "selected_l1")})
        table = na.recall_tables(strengths, None, directory, dataset.engine, truth, (len(truth), 10))
        for row in table:
            row["replicate"] = dataset.replicate
        rows += table
        replicates.append({"dataset": dataset.name, "seed": dataset.seed, **info, "methods": timings,
                           "load_after": os.getloadavg()})
        write_json(own.output.with_suffix(".partial.json"), {"rows": rows, "replicates": replicates})
    result = {
        "command": "bench/pairwise_fm.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": str(na.CONFIG.relative_to(na.ROOT)), "trait": na.TRAIT, "engine": "hao",
        "n_samples": sim["n_samples"], "n_snps": sim["n_snps"], "liability": sim["liabilities"]["mixed"],
        "model_grid": {"arch": args.arch, "l1": args.l1, "grid_seeds": args.grid_seeds,
                       "retrain_seeds": args.retrain_seeds, "learning_rate": args.learning_rate,
                       "max_epochs": args.max_epochs, "patience": args.patience, "fm_rank": own.fm_rank,
                       "torch_threads": args.torch_threads},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "shared": True,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg(), **start.read()},
        "summary": na.summarise(rows),
        "rows": rows,
        "replicates": replicates,
    }
    write_json(own.output, result)
    own.output.with_suffix(".partial.json").unlink(missing_ok=True)
    frame = pd.DataFrame(result["summary"])
    print(frame[frame["k"] == len(truth)].to_string())


if __name__ == "__main__":
    main()
