"""Benchmark: recall by effect class and method on non-additive architectures (issue 10).

    .venv/bin/python bench/nonadditive.py                      # 5 replicates x {hao, coalescent}
    .venv/bin/python bench/nonadditive.py --replicates 1 --n-samples 600 --n-snps 600   # smoke run

The liability, trait kind, coalescent model and shares are config/nonadditive.yaml's
(``mixed``: 5 additive, 5 dominant, 5 recessive SNPs at 0.1 each and 5 pure epistatic pairs
at 0.2; fixed before any method was run). Per replicate (dataset seed as the workflow's
``sim-a1-r{r}`` / ``sim-coal-r{r}`` with master seed 2020), the binary trait, the same
package functions the workflow's scripts call:

  simulate.write_from_params -> split.write_split (seed 1, 50/25/25) -> genostore.build_store
  -> pca.write_covariates (10 PCs) ->
     additive GWAS: gwas.run_gwas (logistic + PCs), ranked by -log10 p
     2-df genotypic GWAS: gwas.run_gwas_genotypic, when the package has it (10-base)
     pairwise scan: epistasis.run_scan (plink 1.9 --fast-epistasis boost), ranked by each
       SNP's best pair statistic, its pair list kept for pair recall
     DeepLIFT: grid = one architecture x L1 {1, 10} x grid seeds {1, 2}; selection by mean
       validation log-likelihood (as selection.py); the choice retrained with seeds
       {101, 102}; seed-averaged DeepLIFT score (as selected_scores)
  -> recall.recall_by_class (10-base) at k = the number of causal SNPs (25) and k = 10:
     exact recall (the headline on Hao data) and locus recall (clumped, r^2 >= 0.5 within
     100 kb, real r^2 from the genotypes; the headline on coalescent data), per class, plus
     pair recall.

Everything goes to bench/results/nonadditive.json: per replicate and method the recall
table and wall/CPU seconds, and the summary (mean +- sd over replicates per engine, class,
method), the load average before/after and the CPU seconds, since the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import genostore, gwas, pca, recall, simulate, split  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.attribution import AttributionSettings, deeplift_scores  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.plink import Bed  # noqa: E402
from liftgwas.train import TrainSettings, train_model  # noqa: E402
from liftgwas.workflow_config import simulated_datasets  # noqa: E402

log = logging.getLogger("bench.nonadditive")
CONFIG = ROOT / "config/nonadditive.yaml"
OUTPUT = ROOT / "bench/results/nonadditive.json"
WORK = ROOT / "bench/work/nonadditive"
TRAIT = "mixed_bin"
KIND = "binary"
N_PCS = 10


class Clock:
    """Wall and CPU seconds; cpu_s is this process (all threads), children_cpu_s the finished
    child processes (plink 1.9 of the pairwise scan)."""

    def __init__(self):
        self.wall, self.cpu, self.children = time.perf_counter(), time.process_time(), self._children()

    @staticmethod
    def _children() -> float:
        t = os.times()
        return t.children_user + t.children_system

    def read(self) -> dict:
        return {"wall_s": round(time.perf_counter() - self.wall, 3), "cpu_s": round(time.process_time() - self.cpu, 3),
                "children_cpu_s": round(self._children() - self.children, 3)}


def prepare(directory: Path, spec: dict) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / "plink"
    timings = {}
    c = Clock()
    written = simulate.write_from_params(prefix, directory / "traits.tsv", directory / "truth.tsv", **spec)
    timings["simulate"] = c.read()
    split.write_split(f"{prefix}.fam", directory / "split.tsv", 1, {"train": 0.5, "early_stop": 0.25, "validation": 0.25})
    c = Clock()
    genostore.build_store(prefix, directory / "store")
    pca.write_covariates(prefix, directory / "covariates.tsv", N_PCS, seed=spec["seed"], threads=1)
    timings["store_and_pcs"] = c.read()
    return {"timings": timings, "realised_shares": written.liabilities["mixed"].realised_shares}


def gwas_strength(directory: Path) -> tuple[pd.Series, dict]:
    c = Clock()
    table = gwas.run_gwas(directory / "plink", directory / "traits.tsv", directory / "covariates.tsv", TRAIT, KIND,
                          directory / "gwas.tsv.gz", threads=1)
    return pd.Series(table["neg_log10_p_value"].to_numpy(float), index=table["variant_id"].astype(str)), c.read()


def genotypic_strength(directory: Path):
    try:
        from liftgwas.gwas_genotypic import run_genotypic_gwas
    except ImportError:
        return None, None
    c = Clock()
    table = run_genotypic_gwas(directory / "plink", directory / "traits.tsv", directory / "covariates.tsv", TRAIT,
                               KIND, directory / "gwas_genotypic.tsv.gz", threads=1)
    return pd.Series(table["neg_log10_p_value"].to_numpy(float), index=table["variant_id"].astype(str)), c.read()


def scan_strength(directory: Path):
    try:
        from liftgwas import epistasis
    except ImportError:
        return None, None, None
    c = Clock()
    ranking, pairs = epistasis.run_scan(directory / "plink", directory / "traits.tsv", directory / "covariates.tsv",
                                        TRAIT, KIND, directory / "scan_snps.tsv", directory / "scan_pairs.tsv",
                                        threads=1)
    strength = pd.Series(ranking["best_statistic"].to_numpy(float), index=ranking["variant_id"].astype(str))
    return strength, pairs, c.read()


def deeplift_strength(directory: Path, args, trait: str = TRAIT, kind: str = KIND,
                      store: str = "store", prefix: str = "plink") -> tuple[pd.Series, dict]:
    strengths, timing = attribution_strengths(directory, args, ("deeplift",), trait, kind, store, prefix)
    return strengths["deeplift"], timing


def attribution_strengths(directory: Path, args, methods=("deeplift",), trait: str = TRAIT, kind: str = KIND,
                          store: str = "store", prefix: str = "plink") -> tuple[dict, dict]:
    """The grid + selection + retrain of the docstring; per attribution method (Captum's, as
    attribution.method) the seed-averaged score of the retrained models. ``args.pairwise``
    / ``args.fm_rank`` (absent: none) are model.pairwise / model.fm_rank."""
    c = Clock()
    data = load_training_data(directory / store, directory / f"{prefix}.fam", directory / "traits.tsv",
                              directory / "covariates.tsv", directory / "split.tsv", trait=trait, kind=kind,
                              use_covariates=True)
    variant_ids = Bed(directory / prefix).bim["snp"].astype(str).to_numpy()

    def fit(l1, seed):
        settings = TrainSettings(arch=args.arch, l1=l1, l1_scaling="sum_over_n_train", seed=seed, batch_size=128,
                                 learning_rate=args.learning_rate, max_epochs=args.max_epochs, patience=args.patience,
                                 pairwise=getattr(args, "pairwise", "none"), fm_rank=getattr(args, "fm_rank", 8))
        return train_model(data, settings, device=torch.device("cpu"))

    grid = []
    for l1 in args.l1:
        for seed in args.grid_seeds if len(args.l1) > 1 else []:
            _, metrics = fit(l1, seed)
            grid.append({"l1": l1, "seed": seed, "validation_loglik": metrics["validation_loglik"],
                         "validation_auc": metrics["validation_auc"], "epochs_run": metrics["epochs_run"],
                         "best_epoch": metrics["best_epoch"]})
    if grid:
        means = pd.DataFrame(grid).groupby("l1")["validation_loglik"].mean()
        # ties go to the stronger L1, as selection.py
        best = max(means.index, key=lambda l1: (means[l1], l1))
    else:  # one L1 value: nothing to select
        best = args.l1[0]
    scores, retrain = {m: [] for m in methods}, []
    for seed in args.retrain_seeds:
        model, metrics = fit(best, seed)
        reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
        deltas = {}
        for method in methods:
            result = deeplift_scores(model, data, reference, split="validation", chunk_size=512,
                                     settings=AttributionSettings(method=method), seed=seed)
            scores[method].append(result.score)
            deltas[method] = result.max_convergence_delta
        retrain.append({"seed": seed, "validation_auc": metrics.get("validation_auc"),
                        "validation_r2": metrics.get("validation_r2"), "epochs_run": metrics["epochs_run"],
                        "best_epoch": metrics["best_epoch"], "validation_loglik": metrics["validation_loglik"],
                        "max_convergence_delta": deltas})
    timing = c.read()
    timing.update(selected_l1=best, grid=grid, retrain=retrain)
    return {m: pd.Series(np.mean(v, axis=0), index=variant_ids) for m, v in scores.items()}, timing


def recall_tables(strengths: dict, pair_list, directory: Path, engine: str, truth: pd.DataFrame, ks) -> list[dict]:
    bim = Bed(directory / "plink").bim
    positions = pd.DataFrame({"variant_id": bim["snp"].astype(str), "chromosome": bim["chrom"].astype(str),
                              "base_pair_location": bim["pos"].astype(int)})
    ld = recall.GenotypeLD(directory / "plink")
    rows = []
    for method, strength in strengths.items():
        for k in ks:
            table = recall.recall_by_class(strength, positions, truth, k, ld=ld,
                                           pair_list=pair_list if method == "pairwise_scan" else None)
            for record in table.to_dict("records"):
                rows.append({"engine": engine, "method": method, "k": k, **record})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    frame = pd.DataFrame(rows)
    value_columns = [c for c in ("exact_recall", "locus_recall", "pair_list_recall") if c in frame.columns]
    out = []
    for key, group in frame.groupby(["engine", "k", "class", "method"]):
        entry = dict(zip(["engine", "k", "class", "method"], key))
        entry["n_replicates"] = int(group["replicate"].nunique())
        for column in value_columns:
            values = group[column].dropna().astype(float)
            if len(values):
                entry[f"{column}_mean"] = round(float(values.mean()), 4)
                entry[f"{column}_sd"] = round(float(values.std(ddof=1)) if len(values) > 1 else 0.0, 4)
        out.append(entry)
    return out


INVESTIGATION = [
    # (name, overrides of the DeepLIFT settings); one Hao replicate, retrain seeds only
    ("selected: 64x128, L1 10", {"l1": [10.0]}),
    ("L1 1", {"l1": [1.0]}),
    ("L1 0.1", {"l1": [0.1]}),
    ("L1 0", {"l1": [0.0]}),
    ("capacity: 256x256, L1 1", {"l1": [1.0], "arch": "256x256"}),
    ("early stopping: patience 50, L1 1", {"l1": [1.0], "patience": 50, "max_epochs": 300}),
    ("learning rate 3e-3, L1 1", {"l1": [1.0], "learning_rate": 3e-3}),
    ("quantitative trait, L1 1", {"l1": [1.0], "trait": "mixed_qt"}),
    ("oracle inputs: the 25 causal SNPs only, L1 0", {"l1": [0.0], "oracle": True}),
    ("oracle inputs, quantitative trait, L1 0", {"l1": [0.0], "oracle": True, "trait": "mixed_qt"}),
]


def oracle_subset(directory: Path, truth: pd.DataFrame) -> None:
    """PLINK + store of the causal SNPs only (same people, same split, same PCs)."""
    from liftgwas.plink import write_plink

    bed = Bed(directory / "plink")
    keep = np.flatnonzero(bed.bim["snp"].astype(str).isin(set(truth["variant_id"])).to_numpy())
    write_plink(directory / "oracle", bed.read()[keep], bed.bim.iloc[keep].reset_index(drop=True), bed.fam)
    genostore.build_store(directory / "oracle", directory / "oracle_store")


def investigate(args, sim) -> None:
    from liftgwas.workflow_config import simulation_params

    sim = {**sim, "genotypes": ["hao"], "replicates": 1,
           "traits": {"mixed_bin": {"kind": "binary", "liability": "mixed"},
                      "mixed_qt": {"kind": "quantitative", "liability": "mixed"}}}
    dataset = simulated_datasets(sim)[0]
    directory = WORK / f"investigate_n{sim['n_samples']}_m{sim['n_snps']}" / dataset.name
    load_before, start = os.getloadavg(), Clock()
    prepare(directory, simulation_params(sim, dataset))
    truth_all = simulate.read_truth_table(directory / "truth.tsv")
    oracle_subset(directory, truth_all[truth_all["trait"] == "mixed_bin"])
    results = []
    chosen = [INVESTIGATION[i] for i in args.variants] if args.variants else INVESTIGATION
    for name, overrides in chosen:
        run_args = argparse.Namespace(**{**vars(args), **{k: v for k, v in overrides.items() if k not in ("trait", "oracle")}})
        trait = overrides.get("trait", "mixed_bin")
        kind = "quantitative" if trait == "mixed_qt" else "binary"
        oracle = overrides.get("oracle", False)
        strength, timing = deeplift_strength(directory, run_args, trait, kind,
                                             store="oracle_store" if oracle else "store",
                                             prefix="oracle" if oracle else "plink")
        truth = truth_all[truth_all["trait"] == trait][["variant_id", "class", "pair"]]
        if oracle:  # rank the non-causal SNPs last: recall then measures the order among the causal ones
            strength = strength.reindex(Bed(directory / "plink").bim["snp"].astype(str)).fillna(-np.inf)
        bim = Bed(directory / "plink").bim
        positions = pd.DataFrame({"variant_id": bim["snp"].astype(str), "chromosome": bim["chrom"].astype(str),
                                  "base_pair_location": bim["pos"].astype(int)})
        k = 10 if oracle else len(truth)
        table = recall.recall_by_class(strength, positions, truth, k)
        entry = {"variant": name, "k": k, "recall": {r["class"]: r["exact_recall"] for r in table.to_dict("records")},
                 **{key: timing[key] for key in ("wall_s", "cpu_s")}, "retrain": timing["retrain"]}
        if oracle:
            # with 25 inputs, recall at 10 of 25 says little; the score ratio says whether the
            # network uses the epistatic SNPs at all
            by_class = truth.assign(score=strength.reindex(truth["variant_id"]).to_numpy()).groupby("class")["score"].mean()
            entry["mean_score_by_class"] = by_class.round(5).to_dict()
        log.info("investigation %s: %s", name, entry["recall"])
        results.append(entry)
    write_json(args.output, {
        "command": "bench/nonadditive.py " + " ".join(sys.argv[1:]),
        "dataset": dataset.name, "n_samples": sim["n_samples"], "n_snps": sim["n_snps"],
        "liability": sim["liabilities"]["mixed"], "retrain_seeds": args.retrain_seeds,
        "machine": {"cpus": os.cpu_count(), "shared": True, "loadavg_before": load_before,
                    "loadavg_after": os.getloadavg(), **start.read()},
        "results": results,
    })
    print(pd.DataFrame([{"variant": r["variant"], **r["recall"]} for r in results]).to_string())


def per_method_seconds(replicates: list[dict]) -> dict:
    out = {}
    for rep in replicates:
        for method, t in rep["methods"].items():
            out.setdefault(f"{rep['engine']}/{method}", []).append(t)
    return {
        key: {stat: {"mean": round(float(np.mean([t[stat] for t in ts])), 2),
                     "sd": round(float(np.std([t[stat] for t in ts], ddof=1)) if len(ts) > 1 else 0.0, 2)}
              for stat in ("wall_s", "cpu_s", "children_cpu_s") if all(stat in t for t in ts)}
        for key, ts in out.items()
    }


def combine(paths: list[Path], output: Path) -> None:
    """One result file from engines run as separate processes (same settings otherwise)."""
    parts = [json.loads(p.read_text()) for p in paths]
    result = {k: v for k, v in parts[0].items() if k not in ("rows", "replicates", "summary", "machine", "command",
                                                             "wall_seconds_per_method")}
    result["commands"] = [p["command"] for p in parts]
    result["machine"] = {"note": "engines ran as parallel processes on a shared 2-core machine",
                         "per_process": [p["machine"] for p in parts]}
    result["rows"] = [r for p in parts for r in p["rows"]]
    result["replicates"] = [r for p in parts for r in p["replicates"]]
    result["summary"] = summarise(result["rows"])
    result["seconds_per_method_per_replicate"] = per_method_seconds(result["replicates"])
    write_json(output, result)


def resized(sim: dict, n_snps: int | None, n_samples: int | None) -> dict:
    """The simulation section at another size: the coalescent samples split evenly over its populations."""
    sim = dict(sim)
    if n_snps:
        sim["n_snps"] = n_snps
    if n_samples:
        sim["n_samples"] = n_samples
        pops = list(sim["coalescent"]["samples"])
        sim["coalescent"] = {**sim["coalescent"], "samples": {
            p: n_samples // len(pops) + (i < n_samples % len(pops)) for i, p in enumerate(pops)}}
    return sim


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", nargs="+", default=["hao", "coalescent"])
    p.add_argument("--replicates", type=int, default=5)
    p.add_argument("--n-samples", type=int, default=None, help="override (coalescent: split evenly)")
    p.add_argument("--n-snps", type=int, default=None)
    p.add_argument("--arch", default="64x128")
    p.add_argument("--l1", type=float, nargs="+", default=[1.0, 10.0])
    p.add_argument("--grid-seeds", type=int, nargs="+", default=[1, 2])
    p.add_argument("--retrain-seeds", type=int, nargs="+", default=[101, 102])
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--max-epochs", type=int, default=100)
    p.add_argument("--patience", type=int, default=10)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--output", type=Path, default=None)
    p.add_argument("--combine", type=Path, nargs="+", default=None,
                   help="merge per-engine result files (run in parallel) into --output")
    p.add_argument("--variants", type=int, nargs="+", default=None, help="--investigate: indices of INVESTIGATION")
    p.add_argument("--investigate", action="store_true",
                   help="DeepLIFT variants on one Hao replicate (bench/results/nonadditive_investigation.json)")
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("liftgwas", "msprime", "stdpopsim"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(args.torch_threads)
    sim = yaml.safe_load(CONFIG.read_text())["simulation"]
    sim = {**sim, "genotypes": args.engines, "replicates": args.replicates,
           "traits": {TRAIT: sim["traits"][TRAIT]}}
    sim = resized(sim, args.n_snps, args.n_samples)
    from liftgwas.workflow_config import simulation_params

    if args.combine:
        return combine(args.combine, args.output or OUTPUT)
    if args.investigate:
        args.output = args.output or ROOT / "bench/results/nonadditive_investigation.json"
        return investigate(args, sim)
    args.output = args.output or OUTPUT
    load_before = os.getloadavg()
    start = Clock()
    rows, replicates = [], []
    for dataset in simulated_datasets(sim):
        spec = simulation_params(sim, dataset)
        directory = WORK / f"n{sim['n_samples']}_m{sim['n_snps']}" / dataset.name
        log.info("%s: simulate + store + PCs", dataset.name)
        info = prepare(directory, spec)
        truth = simulate.read_truth_table(directory / "truth.tsv")
        truth = truth[truth["trait"] == TRAIT][["variant_id", "class", "pair"]]
        strengths, timings = {}, {}
        strengths["additive_gwas"], timings["additive_gwas"] = gwas_strength(directory)
        log.info("%s: additive GWAS %s", dataset.name, timings["additive_gwas"])
        g, t = genotypic_strength(directory)
        if g is not None:
            strengths["genotypic_gwas"], timings["genotypic_gwas"] = g, t
        s, pairs, t = scan_strength(directory)
        if s is not None:
            strengths["pairwise_scan"], timings["pairwise_scan"] = s, t
            log.info("%s: pairwise scan %s", dataset.name, t)
        strengths["deeplift"], timings["deeplift"] = deeplift_strength(directory, args)
        log.info("%s: DeepLIFT (grid + retrain) %s", dataset.name,
                 {k: v for k, v in timings["deeplift"].items() if k in ("wall_s", "cpu_s", "selected_l1")})
        n_causal = len(truth)
        table = recall_tables(strengths, pairs, directory, dataset.engine, truth, (n_causal, 10))
        for row in table:
            row["replicate"] = dataset.replicate
        rows += table
        replicates.append({"dataset": dataset.name, "engine": dataset.engine, "seed": dataset.seed,
                           **info, "methods": timings, "load_after": os.getloadavg()})
        partial = {"rows": rows, "replicates": replicates}
        write_json(args.output.with_suffix(".partial.json"), partial)
    wall = {}
    for rep in replicates:
        for method, t in rep["methods"].items():
            wall.setdefault((rep["engine"], method), []).append(t["wall_s"])
    result = {
        "command": "bench/nonadditive.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "config": str(CONFIG.relative_to(ROOT)),
        "trait": TRAIT,
        "n_samples": sim["n_samples"],
        "coalescent_samples": sim["coalescent"]["samples"],
        "n_snps": sim["n_snps"],
        "liability": sim["liabilities"]["mixed"],
        "model_grid": {"arch": args.arch, "l1": args.l1, "grid_seeds": args.grid_seeds,
                       "retrain_seeds": args.retrain_seeds, "learning_rate": args.learning_rate,
                       "max_epochs": args.max_epochs, "patience": args.patience, "torch_threads": args.torch_threads},
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "shared": True,
                    "loadavg_before": load_before, "loadavg_after": os.getloadavg(), **start.read()},
        "wall_seconds_per_method": {f"{e}/{m}": {"mean": round(float(np.mean(v)), 2), "sd": round(float(np.std(v)), 2)}
                                    for (e, m), v in wall.items()},
        "summary": summarise(rows),
        "rows": rows,
        "replicates": replicates,
    }
    write_json(args.output, result)
    args.output.with_suffix(".partial.json").unlink(missing_ok=True)
    frame = pd.DataFrame(result["summary"])
    print(frame.to_string())


if __name__ == "__main__":
    main()
