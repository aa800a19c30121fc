"""Benchmark: the cost of one knockoff draw and one knockoff model, and what they give (issue 11).

    .venv/bin/python bench/knockoff_cost.py                    # hao + coalescent, 1 replicate
    .venv/bin/python bench/knockoff_cost.py --n-samples 600 --n-snps 600   # smoke run

The data are bench/nonadditive.py's (config/nonadditive.yaml, its binary trait mixed_bin,
2,000 x 2,000, dataset seeds as the workflow's sim-a1-r1 / sim-coal-r1; prepared by its
``prepare``). Per engine, with the default discoveries.knockoffs settings (method auto:
independent on Hao data, group_gaussian on coalescent data):

  knockoffs.build_knockoff_store (one draw) -> one knockoff model (64x128, L1 10: the L1
  bench/nonadditive.py's selection picked on these data; retrain seed 101) -> DeepLIFT ->
  knockoff_filter.combine -> knockoff_selection at q = 0.1

It records wall / CPU seconds of each step (the machine is shared: load averages before and
after), the groups, the exchangeability diagnostic on the real genotypes (largest change of
the within-window Cov([X, X~]) when one group is swapped, the mean over groups) and, for
information only, the one replicate's selections against the truth (exact SNP on Hao data,
a group counts as true if it holds a causal SNP). The FDR / FWER calibration over >= 20
null replicates is bench/calibration.py's (11-null), not this file's.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
sys.path.insert(0, str(ROOT / "bench"))

import nonadditive as na  # noqa: E402

from liftgwas import simulate  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.discover import knockoff_filter, knockoffs  # noqa: E402
from liftgwas.discover.knockoff_model import knockoff_deeplift  # noqa: E402
from liftgwas.genostore import GenotypeStore  # noqa: E402
from liftgwas.plink import Bed  # noqa: E402
from liftgwas.train import TrainSettings, load_model, save_model, train_model  # noqa: E402
from liftgwas.workflow_config import simulated_datasets, simulation_params  # noqa: E402

log = logging.getLogger("bench.knockoff_cost")
OUTPUT = ROOT / "bench/results/knockoff_cost.json"
WORK = ROOT / "bench/work/knockoff_cost"
Q = 0.1


def swap_diagnostic(directory: Path, out: Path, settings: knockoffs.KnockoffSettings, max_windows: int = 5) -> dict:
    """Cov([X, X~]) change when one group at a time is swapped, within the first windows."""
    store = GenotypeStore.open(out / "store")
    joint = store.decode_int8(np.arange(store.n_samples)).astype(np.float64)
    joint[joint < 0] = np.nan
    joint = np.where(np.isnan(joint), np.nanmean(joint, axis=0), joint)
    m = store.n_snps // 2
    groups = pd.read_csv(out / "groups.tsv", sep="\t")
    spans = knockoffs.windows(Bed(directory / "plink").bim, settings.window)[:max_windows]
    gaps = []
    for start, stop in spans:
        cols = np.r_[start:stop, m + start : m + stop]
        c = np.cov(joint[:, cols].T)
        g = groups["group"].to_numpy()[start:stop]
        p = stop - start
        for value in np.unique(g):
            idx = np.flatnonzero(g == value)
            perm = np.arange(2 * p)
            perm[idx], perm[idx + p] = idx + p, idx
            gaps.append(float(np.abs(c - c[np.ix_(perm, perm)]).max()))
    return {"windows_checked": len(spans), "max_cov_change": max(gaps), "mean_cov_change": float(np.mean(gaps))}


def run_engine(directory: Path, dataset: str, truth: pd.DataFrame, args) -> dict:
    settings = knockoffs.KnockoffSettings(run=True)
    method = knockoffs.resolve_method(settings.method, dataset)
    out = directory / "knockoffs" / "draw_1"
    c = na.Clock()
    summary = knockoffs.build_knockoff_store(directory / "plink", directory / "store", directory / "covariates.tsv",
                                             out / "store", out / "groups.tsv", settings, method,
                                             knockoffs.knockoff_seed(dataset, 1, settings.seed), dataset=dataset)
    timing = {"knockoff_store": c.read()}
    data = load_training_data(out / "store", directory / "plink.fam", directory / "traits.tsv",
                              directory / "covariates.tsv", directory / "split.tsv", trait=na.TRAIT, kind=na.KIND)
    train = TrainSettings(arch="64x128", l1=10.0, l1_scaling="sum_over_n_train", seed=101, batch_size=128,
                          learning_rate=1e-3, max_epochs=100, patience=10)
    c = na.Clock()
    model, metrics = train_model(data, train, device=torch.device("cpu"))
    timing["knockoff_train"] = c.read()
    save_model(out / "model.pt", model, data, train, metrics)
    model, payload = load_model(out / "model.pt")
    ids = Bed(directory / "plink").bim["snp"].astype(str).to_numpy()
    c = na.Clock()
    table = knockoff_deeplift(model, payload, data, ids, seed=101)
    timing["knockoff_deeplift"] = c.read()
    groups = pd.read_csv(out / "groups.tsv", sep="\t", dtype={"variant_id": str})
    stats = knockoff_filter.combine([[table]], [groups])
    selection = knockoff_filter.knockoff_selection(stats, Q)
    causal = set(truth["variant_id"].astype(str))
    true_group = stats["variant_ids"].map(lambda v: bool(causal & set(v.split(","))))
    picked = selection["selected"].to_numpy()
    n_sel = int(picked.sum())
    c = na.Clock()
    diagnostic = swap_diagnostic(directory, out, settings)
    timing["swap_diagnostic"] = c.read()
    sizes = stats["n_variants"].to_numpy()
    return {
        "dataset": dataset, "method": method, "store": summary, "timing": timing,
        "groups": {"n": int(len(stats)), "mean_size": float(sizes.mean()), "max_size": int(sizes.max())},
        "exchangeability": diagnostic,
        "model": {"validation_auc": metrics.get("validation_auc"), "best_epoch": metrics["best_epoch"],
                  "epochs_run": metrics["epochs_run"]},
        "one_replicate_at_q": {
            "q": Q, "threshold": float(selection["threshold"].iloc[0]), "selected_groups": n_sel,
            "true_groups_selected": int((picked & true_group.to_numpy()).sum()),
            "false_discovery_proportion": float((picked & ~true_group.to_numpy()).sum() / max(n_sel, 1)),
            "groups_with_a_causal_snp": int(true_group.sum()),
            "W_positive": int((stats["W"] > 0).sum()), "W_negative": int((stats["W"] < 0).sum()),
        },
    }


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["hao", "coalescent"])
    parser.add_argument("--n-samples", type=int)
    parser.add_argument("--n-snps", type=int)
    parser.add_argument("--torch-threads", type=int, default=1)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("msprime", "stdpopsim"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    sim = yaml.safe_load(na.CONFIG.read_text())["simulation"]
    sim = {**sim, "genotypes": args.engines, "replicates": 1, "traits": {na.TRAIT: sim["traits"][na.TRAIT]}}
    sim = na.resized(sim, args.n_snps, args.n_samples)
    load_before = os.getloadavg()
    start = na.Clock()
    results = []
    for dataset in simulated_datasets(sim):
        if dataset.engine == "hao" and dataset.sparsity != 1.0:
            continue  # nonadditive.yaml's Hao setting is a = 1
        directory = WORK / f"n{sim['n_samples']}_m{sim['n_snps']}" / dataset.name
        na.prepare(directory, simulation_params(sim, dataset))
        truth = simulate.read_truth_table(directory / "truth.tsv")
        truth = truth[truth["trait"] == na.TRAIT]
        result = run_engine(directory, dataset.name, truth, args)
        log.info("%s: %s", dataset.name, result)
        results.append(result)
    write_json(args.output, {
        "command": " ".join(["bench/knockoff_cost.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "shared": True,
                    "load_before": load_before, "load_after": os.getloadavg(), "torch_threads": args.torch_threads},
        "total": start.read(), "results": results,
    })


if __name__ == "__main__":
    main()
