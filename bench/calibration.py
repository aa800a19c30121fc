"""Benchmark (issue 11): are the DeepLIFT discoveries calibrated, how much power, at what cost?

    .venv/bin/python bench/calibration.py                       # the recorded run
    .venv/bin/python bench/calibration.py --null-replicates 2 --power-replicates 0 --nulls 20   # smoke

Without Snakemake, with the functions the workflow's jobs call (as bench/nonadditive.py):

  simulate.write_from_params (Hao) -> split.write_split (seed 1, 50/25/25) -> genostore.build_store
  -> pca.write_covariates (10 PCs) ->
     GWAS: gwas.run_gwas (logistic + PCs) -> discoveries.gwas_rows (BH at q; p < 5e-8)
     observed DeepLIFT: null_models.retrain_and_score (fixed arch x L1, the retrain seeds)
     null traits: null_traits.null_trait_table (seed null_seed(dataset, trait, k)) then the
       same retrain_and_score, k = 1..K -> null_summary / max statistic -> discoveries.null_rows
     knockoffs (11-knock's, when the package has them): knockoff_model.
       knockoff_statistics_for_dataset (Hao: independent Binomial(2, pi_hat) knockoffs from the
       PCs) -> discoveries.knockoff_rows with knockoff_filter.knockoff_selection
  -> discoveries.realised_error against the truth (exact ids: Hao SNPs are unlinked).

(a) Null simulations: the Hao model with every beta = 0 — y ~ Bernoulli(sigmoid(centred
    lambda + eps)), the cluster effect and cluster noise of the Hao model, so the trait
    depends on ancestry only (which the 10 PCs approximate; the covariate-only logistic
    model is therefore close to, not exactly, the truth). Any discovery is false, so per
    replicate FWER event = "at least one discovery" and the knockoffs' FDP is 0 or 1: the
    empirical FWER / FDR are binomial proportions over replicates, with Clopper-Pearson 95 %
    intervals (statsmodels proportion_confint, method "beta").
(b) Power at q = 0.1 and realised FDR on the paper's four settings (a in {0.01, 0.1, 0.5,
    1}, 10 additive causal SNPs, binary trait) and the non-additive study
    (config/nonadditive.yaml's `mixed` liability, Hao a = 1). deeplift_null is run at
    alpha = q = 0.1 there (FWER <= 0.1 implies FDR <= 0.1) and at alpha 0.05.
(c) Cost: CPU and wall seconds of each stage per dataset, and the workflow's extra jobs.

Sizing (the 2-core machine is shared by several agents): N, M, the model and the training
are small (defaults below); the model is not selected by a grid here (fixed arch x L1:
the calibration is of the discovery step, given a model), with ONE retrain seed for the
observed, the null and the knockoff models alike (the workflow averages
model.retrain_seeds; what matters for the max statistic is that observed and null scores
are built the same way). Nothing here was tuned after seeing a result.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
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

from nonadditive import Clock  # noqa: E402  (one timer for every bench)

from liftgwas import compare, genostore, gwas, pca, simulate, split  # noqa: E402
from liftgwas.atomic import write_json, write_tsv  # noqa: E402
from liftgwas.attribution import AttributionSettings  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.discover import discoveries as dc  # noqa: E402
from liftgwas.discover import null_traits as nt  # noqa: E402
from liftgwas.discover.null_models import retrain_and_score  # noqa: E402
from liftgwas.plink import read_bim  # noqa: E402
from liftgwas.simulate.hao import simulate_population  # noqa: E402
from liftgwas.train import TrainSettings  # noqa: E402
from liftgwas.workflow_config import format_number  # noqa: E402

log = logging.getLogger("bench.calibration")
OUTPUT = ROOT / "bench/results/calibration.json"
WORK = ROOT / "bench/work/calibration"
TRAIT, KIND = "binary", "binary"
N_PCS = 10
MASTER_SEED = 2020
NULL_SPARSITY = 0.1  # strong structure: where ignoring ancestry would fail the most
PAPER_SPARSITY = (0.01, 0.1, 0.5, 1.0)



def knockoff_api():
    """11-knock's in-memory/on-disk knockoff chain, if this checkout has it."""
    try:
        from liftgwas.discover import knockoff_filter, knockoff_model, knockoffs
    except ImportError:
        return None
    return knockoffs, knockoff_model, knockoff_filter


def prepare(directory: Path, spec: dict, null_trait_seed: int | None = None) -> dict:
    """Simulate, split, store and PCs. ``null_trait_seed``: replace the trait by the Hao model
    with every beta = 0 (ancestry only), drawn from that seed."""
    directory.mkdir(parents=True, exist_ok=True)
    prefix = directory / "plink"
    c = Clock()
    simulate.write_from_params(prefix, directory / "traits.tsv", directory / "truth.tsv", **spec)
    if null_trait_seed is not None:
        from scipy.special import expit

        pop = simulate_population(spec["n_samples"], spec["sparsity"], spec["seed"])
        eta = pop.lambda_ + pop.eps
        traits = pd.read_csv(directory / "traits.tsv", sep="\t", dtype={"FID": str, "IID": str})
        u = np.random.default_rng(null_trait_seed).random(len(traits))
        traits[TRAIT] = (u < expit(eta - eta.mean())).astype(np.int8)
        write_tsv(directory / "traits.tsv", traits)
    split.write_split(f"{prefix}.fam", directory / "split.tsv", 1, {"train": 0.5, "early_stop": 0.25, "validation": 0.25})
    genostore.build_store(prefix, directory / "store")
    pca.write_covariates(prefix, directory / "covariates.tsv", N_PCS, seed=spec["seed"], threads=1)
    return c.read()


def load(directory: Path, traits_path: Path, trait: str):
    return load_training_data(directory / "store", directory / "plink.fam", traits_path, directory / "covariates.tsv",
                              directory / "split.tsv", trait=trait, kind=KIND, use_covariates=True)


def train_settings(args) -> TrainSettings:
    return TrainSettings(arch=args.arch, l1=args.l1, l1_scaling="sum_over_n_train", seed=0, batch_size=128,
                         learning_rate=args.learning_rate, max_epochs=args.max_epochs, patience=args.patience)


def run_replicate(directory: Path, dataset: str, args, causal: list[str]) -> dict:
    """Every method on one prepared dataset: discoveries at each rate, realised error, timings."""
    timings: dict = {}
    bim = read_bim(directory / "plink.bim")
    attribution = AttributionSettings()
    base = train_settings(args)
    device = torch.device("cpu")

    c = Clock()
    table = gwas.run_gwas(directory / "plink", directory / "traits.tsv", directory / "covariates.tsv", TRAIT, KIND,
                          directory / "gwas.tsv.gz", threads=1)
    timings["gwas"] = c.read()

    c = Clock()
    observed, observed_metrics = retrain_and_score(load(directory, directory / "traits.tsv", TRAIT), base,
                                                   args.retrain_seeds, bim, attribution, 512, device)
    timings["observed_deeplift"] = c.read()

    c = Clock()
    traits = pd.read_csv(directory / "traits.tsv", sep="\t", dtype={"FID": str, "IID": str})
    covariates = pd.read_csv(directory / "covariates.tsv", sep="\t", dtype={"FID": str, "IID": str})
    null_tables = []
    for k in range(1, args.nulls + 1):
        column = f"null_{k}"
        null_table, _ = nt.null_trait_table(traits, covariates, TRAIT, KIND, nt.null_seed(dataset, TRAIT, k), column)
        path = directory / f"{column}.tsv"
        write_tsv(path, null_table)
        scores, _ = retrain_and_score(load(directory, path, column), base, args.retrain_seeds, bim, attribution, 512,
                                      device)
        null_tables.append(scores)
    summary = nt.null_summary(observed, null_tables)
    maxima = nt.null_maxima(np.vstack([t["score"].to_numpy(float) for t in null_tables]))
    timings["null_traits"] = c.read()

    statistics = None
    api = knockoff_api()
    if api is not None and not args.no_knockoffs:
        knockoffs, knockoff_model, _ = api
        c = Clock()
        settings = knockoffs.KnockoffSettings.from_config({"run": True, "draws": 1, "method": "auto"})
        statistics = knockoff_model.knockoff_statistics_for_dataset(directory, TRAIT, KIND, base, args.retrain_seeds,
                                                                   settings, dataset)
        timings["knockoffs"] = c.read()

    results = {}
    for q in args.q:
        for alpha in sorted({*args.alpha, q}):
            parts = [dc.gwas_rows(table, q), dc.null_rows(summary, maxima, alpha)]
            if statistics is not None:
                parts.append(dc.knockoff_rows(statistics, q, api[2].knockoff_selection))
            error = dc.realised_error(dc.discoveries_table(parts), causal)
            results[f"q={q:g},alpha={alpha:g}"] = error.to_dict("records")
    return {
        "timings": timings,
        "observed_training": observed_metrics,
        "null_maxima": [round(float(m), 6) for m in maxima],
        "observed_max": float(observed["score"].max()),
        "min_p_empirical": float(summary["p_empirical"].min()),
        "results": results,
    }


def _finite(obj):
    """NaN / inf -> None, so the JSON is strict (power is undefined without causal SNPs)."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj


def clopper_pearson(count: int, n: int) -> list[float]:
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(count, n, alpha=0.05, method="beta")
    return [round(float(lo), 4), round(float(hi), 4)]


def summarise_null(replicates: list[dict]) -> dict:
    """Per setting key and method: replicates with >= 1 discovery (= FWER event = FDP 1)."""
    out = {}
    for key in replicates[0]["results"]:
        for method in {r["method"] for rep in replicates for r in rep["results"][key]}:
            rows = [r for rep in replicates for r in rep["results"][key] if r["method"] == method]
            events = sum(r["discoveries"] > 0 for r in rows)
            out.setdefault(key, {})[method] = {
                "error_rate": rows[0]["error_rate"], "replicates": len(rows), "replicates_with_discoveries": events,
                "empirical_rate": round(events / len(rows), 4), "ci95_clopper_pearson": clopper_pearson(events, len(rows)),
                "mean_discoveries": round(float(np.mean([r["discoveries"] for r in rows])), 3),
            }
    return out


def summarise_power(replicates: list[dict]) -> dict:
    out = {}
    for setting in sorted({rep["setting"] for rep in replicates}):
        reps = [rep for rep in replicates if rep["setting"] == setting]
        for key in reps[0]["results"]:
            for method in sorted({r["method"] for rep in reps for r in rep["results"][key]}):
                rows = [r for rep in reps for r in rep["results"][key] if r["method"] == method]
                fdr = np.array([r["fdr"] for r in rows], float)
                power = np.array([r["power"] for r in rows], float)
                out.setdefault(setting, {}).setdefault(key, {})[method] = {
                    "error_rate": rows[0]["error_rate"], "replicates": len(rows),
                    "power_mean": round(float(power.mean()), 4),
                    "power_sd": round(float(power.std(ddof=1)), 4) if len(rows) > 1 else 0.0,
                    "realised_fdr_mean": round(float(fdr.mean()), 4),
                    "realised_fdr_sd": round(float(fdr.std(ddof=1)), 4) if len(rows) > 1 else 0.0,
                    "mean_discoveries": round(float(np.mean([r["discoveries"] for r in rows])), 2),
                }
    return out


def cost(replicates: list[dict], nulls: int, seeds: int) -> dict:
    stages = {}
    for rep in replicates:
        for stage, t in rep["timings"].items():
            stages.setdefault(stage, []).append(t)
    per_stage = {s: {k: round(float(np.mean([t[k] for t in ts])), 2) for k in ("wall_s", "cpu_s", "children_cpu_s")}
                 for s, ts in stages.items()}
    return {
        "per_dataset_trait_mean": per_stage,
        "note": (f"per dataset x trait at this size; null traits = {nulls} x {seeds} trainings + DeepLIFT, against "
                 f"{seeds} for the observed model. Workflow jobs per dataset x trait: null_train x K (one job per "
                 "null index, each training every retrain seed) + null_summary + discoveries (local); knockoffs: "
                 "see workflow/rules/knockoffs.smk (knockoff genotypes per dataset x draw, one model per retrain "
                 "seed x draw, their DeepLIFT, the statistics)"),
    }


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--null-replicates", type=int, default=20)
    p.add_argument("--power-replicates", type=int, default=1)
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--n-snps", type=int, default=500)
    p.add_argument("--nulls", type=int, default=20, help="K null traits")
    p.add_argument("--arch", default="32x64")
    p.add_argument("--l1", type=float, default=1.0)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--patience", type=int, default=5)
    p.add_argument("--retrain-seeds", type=int, nargs="+", default=[101])
    p.add_argument("--q", type=float, nargs="+", default=[0.1])
    p.add_argument("--alpha", type=float, nargs="+", default=[0.05])
    p.add_argument("--no-knockoffs", action="store_true")
    p.add_argument("--skip-nonadditive", action="store_true")
    p.add_argument("--output", type=Path, default=OUTPUT)
    return p.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for name in ("liftgwas",):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(1)
    load_before, start = os.getloadavg(), Clock()
    result = {
        "command": "bench/calibration.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "knockoff_code": os.environ.get("LIFTGWAS_KNOCKOFF_CODE", "this checkout"),
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "knockoffs_available": knockoff_api() is not None and not args.no_knockoffs,
        "null_simulation": {"model": "Hao, every beta = 0: y ~ Bernoulli(sigmoid(lambda + eps - mean))",
                            "sparsity": NULL_SPARSITY, "replicates": []},
        "power": {"replicates": []},
    }
    work = WORK / f"n{args.n_samples}_m{args.n_snps}"

    def save():
        result["machine"] = {"cpus": os.cpu_count(), "shared": True, "platform": platform.platform(),
                             "loadavg_before": [round(x, 2) for x in load_before],
                             "loadavg_now": [round(x, 2) for x in os.getloadavg()], **start.read()}
        write_json(args.output, _finite(result))

    def power_settings(r):
        return [("paper", a, r) for a in PAPER_SPARSITY] + ([] if args.skip_nonadditive else [("nonadditive", 1.0, r)])

    # one replicate of every power setting first, then the null simulations, then the rest:
    # a run cut short still has some of each part
    settings = power_settings(1) if args.power_replicates >= 1 else []
    settings += [("null", NULL_SPARSITY, r) for r in range(1, args.null_replicates + 1)]
    for r in range(2, args.power_replicates + 1):
        settings += power_settings(r)

    mixed = yaml.safe_load((ROOT / "config/nonadditive.yaml").read_text())["simulation"]["liabilities"]["mixed"]
    for kind, a, r in settings:
        dataset = f"sim-a{format_number(a)}-r{r}"
        seed = simulate.dataset_seed(MASTER_SEED + {"null": 1000, "paper": 0, "nonadditive": 2000}[kind], a, r)
        spec = {"engine": "hao", "seed": seed, "n_snps": args.n_snps, "n_samples": args.n_samples, "sparsity": a}
        if kind == "nonadditive":
            spec.update(traits={TRAIT: {"kind": KIND, "liability": "mixed"}}, liabilities={"mixed": mixed})
        else:
            spec.update(traits=[TRAIT], n_causal=10)
        directory = work / kind / dataset
        log.info("%s %s: prepare", kind, dataset)
        prep = prepare(directory, spec, null_trait_seed=seed + 1 if kind == "null" else None)
        if kind == "null":
            causal = []
        else:
            causal = compare.read_truth(directory / "truth.tsv", TRAIT)
        rep = run_replicate(directory, dataset, args, causal)
        rep["timings"]["prepare"] = prep
        rep.update(dataset=dataset, seed=seed, replicate=r, setting=f"{kind} a={format_number(a)}",
                   n_causal=len(causal), loadavg=[round(x, 2) for x in os.getloadavg()])
        (result["null_simulation"]["replicates"] if kind == "null" else result["power"]["replicates"]).append(rep)
        log.info("%s %s done: %s", kind, dataset, {k: v["cpu_s"] for k, v in rep["timings"].items()})
        if result["null_simulation"]["replicates"]:
            result["null_simulation"]["summary"] = summarise_null(result["null_simulation"]["replicates"])
        if result["power"]["replicates"]:
            result["power"]["summary"] = summarise_power(result["power"]["replicates"])
        result["cost"] = cost(result["null_simulation"]["replicates"] + result["power"]["replicates"], args.nulls,
                              len(args.retrain_seeds))
        save()
    save()
    print(json.dumps({"null": result["null_simulation"].get("summary"), "power": result["power"].get("summary")},
                     indent=1))


if __name__ == "__main__":
    main()
