"""Benchmark: the paper's simulation settings at full size, DeepLIFT recall next to the GWAS's.

    .venv/bin/python bench/paper_settings.py                # full: 10,000 SNPs x 10,000 people
    .venv/bin/python bench/paper_settings.py --quick        # smoke run: 2,000 x 2,000, 1 seed
    .venv/bin/python bench/paper_settings.py --settings 0.01 1 --covariates-as-inputs off \\
        --output bench/results/paper_settings_no_covariates.json

For every setting a (10 causal SNPs, 1 dataset per a, dataset seed
``simulate.dataset_seed(2020, a, 1)`` as the workflow's ``sim-a{a}-r1``) it runs the same
package functions the workflow's scripts call, in the same order:

  simulate.write_simulated_study -> split.write_split (seed 1, 50/25/25)
  -> genostore.build_store -> pca.write_covariates (10 PCs, seed = dataset seed)
  -> gwas.run_gwas (logistic, PCs as covariates)          [baseline, ranked by p-value]
  -> per seed: data.load_training_data -> train.train_model -> attribution.deeplift_scores
     (reference = training-sample mean genotype in the centred input space, exactly as
     train.save_model stores it) -> recall.topk_recall (k = 10)

with the architecture the paper selected for that setting (its Table 1), L1 = 1
(``sum_over_n_train``, the workflow default) and TrainSettings(batch_size=128,
learning_rate=1e-3, max_epochs=100, patience=10). Reduced grid, so it fits 2 CPU cores:
no model selection, 1 dataset per a, 3 seeds.

Printed per a: DeepLIFT top-10 recall per seed, mean ± sd, the recall of the seed-averaged
score, the GWAS's top-10 recall, the paper's Table 1 recall, seconds per training job,
epochs, seconds per epoch, seconds per DeepLIFT job, seconds for the GWAS and the peak RSS
of the process. Everything goes to bench/results/paper_settings.json (``--output``).

Beyond the brief's figures the JSON holds what the analysis needs: per run the top-10 SNPs
(causal or not) and how much of each top SNP's genotype variance the 10 PCs explain
(``pc_r2``: an ancestry-informative SNP has a large one), the validation AUC and the
GWAS's lambda_GC. Datasets, PCs, the genotype store and the GWAS are cached under
bench/work/paper_settings/ (keyed by size and a); a cached stage reports the seconds it
took when it was computed. Per-run score vectors are saved there too (``scores/``) so the
ranking can be re-analysed without retraining.

Options for the investigation experiments change only what they name: ``--l1``,
``--learning-rate``, ``--arch``, ``--attribution-split all``, ``--replicate``,
``--n-samples/--n-snps``, and three model variants the package does not have, built here
by subclassing / patching (never by editing the package): ``--standardise-inputs`` (each
SNP divided by its training sd inside the network), ``--residualise-inputs`` (PCs
regressed out of every SNP before the network) and ``--covariate-net mlp`` (PCs through a
small ReLU net instead of linearly). ``--retime-gwas`` reruns a cached GWAS to time it.
Results of those runs: bench/results/paper_settings_{l1_10,l1_30,l1_30_standardised,
investigation}.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import genostore, gwas, pca, recall, simulate, split  # noqa: E402
from liftgwas import train as train_module  # noqa: E402
from liftgwas.model import GenotypeModel  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.attribution import deeplift_scores  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.plink import Bed, read_bim  # noqa: E402
from liftgwas.train import TrainSettings, train_model  # noqa: E402

log = logging.getLogger("bench.paper_settings")

MASTER_SEED = 2020
REPLICATE = 1
SPLIT_SEED = 1
SPLIT_FRACTIONS = {"train": 0.5, "early_stop": 0.25, "validation": 0.25}
N_PCS = 10
N_CAUSAL = 10
TOP_K = 10
TRAIT = "binary"
# The paper's Table 1 (Sharma et al. 2020): selected architecture and top-10 recall per a.
PAPER_TABLE1 = {
    0.01: {"arch": "64x256", "recall": 0.64},
    0.1: {"arch": "128x256", "recall": 0.66},
    0.5: {"arch": "128x256", "recall": 0.70},
    1.0: {"arch": "64x256", "recall": 0.66},
}
DEFAULT_OUTPUT = ROOT / "bench/results/paper_settings.json"
QUICK_OUTPUT = ROOT / "bench/work/paper_settings_quick.json"
WORK = ROOT / "bench/work/paper_settings"


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


# --------------------------------------------------------------------------------------
# One dataset: simulation, split, store, PCs, GWAS (each cached with its own timing)
# --------------------------------------------------------------------------------------


class Dataset:
    def __init__(self, n_samples: int, n_snps: int, sparsity: float, replicate: int = REPLICATE):
        self.sparsity, self.replicate = sparsity, replicate
        self.n_samples, self.n_snps = n_samples, n_snps
        self.seed = simulate.dataset_seed(MASTER_SEED, sparsity, replicate)
        name = f"a{sparsity:g}" if replicate == REPLICATE else f"a{sparsity:g}-r{replicate}"
        self.dir = WORK / f"n{n_samples}_m{n_snps}" / name
        self.prefix = self.dir / "genotypes/plink"
        self.store_prefix = self.dir / "genotypes/store"
        self.traits = self.dir / "traits.tsv"
        self.truth = self.dir / "truth.tsv"
        self.split = self.dir / "split.tsv"
        self.covariates = self.dir / "covariates.tsv"
        self.sumstats = self.dir / TRAIT / "gwas/sumstats.tsv.gz"
        self.timings_path = self.dir / "timings.json"
        self.timings = json.loads(self.timings_path.read_text()) if self.timings_path.exists() else {}

    def _stage(self, name: str, outputs: list[Path], run) -> dict:
        """Run a stage unless its outputs and timing exist; returns {seconds, cached}."""
        if name in self.timings and all(p.exists() for p in outputs):
            return {**self.timings[name], "cached": True}
        for p in outputs:
            p.parent.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        extra = run() or {}
        self.timings[name] = {"seconds": time.perf_counter() - start, **extra}
        write_json(self.timings_path, self.timings)
        return {**self.timings[name], "cached": False}

    def prepare(self) -> dict:
        bed_files = [Path(f"{self.prefix}.{ext}") for ext in ("bed", "bim", "fam")]
        stages = {}

        def run_simulation():
            study = simulate.write_simulated_study(
                self.prefix, self.traits, self.truth, n_samples=self.n_samples, n_snps=self.n_snps,
                n_causal=N_CAUSAL, sparsity=self.sparsity, seed=self.seed, traits=(TRAIT,),
            )
            return {"case_fraction": study.case_fraction,
                    "cluster_sizes": np.bincount(study.population.clusters, minlength=3).tolist()}

        stages["simulate"] = self._stage("simulate", [*bed_files, self.traits, self.truth], run_simulation)
        def run_split():
            split.write_split(f"{self.prefix}.fam", self.split, SPLIT_SEED, SPLIT_FRACTIONS)

        stages["split"] = self._stage("split", [self.split], run_split)
        stages["store"] = self._stage(
            "store", list(genostore.store_paths(self.store_prefix)),
            lambda: genostore.build_store(self.prefix, self.store_prefix),
        )

        def run_pca():
            frame = pca.write_covariates(self.prefix, self.covariates, N_PCS, seed=self.seed)
            return {"variance_explained": frame.attrs["variance_explained"]}

        stages["pca"] = self._stage("pca", [self.covariates], run_pca)
        return stages

    def run_gwas(self, fresh: bool = False) -> dict:
        """The GWAS stage; ``fresh`` reruns it (into the cache) to time it again."""
        if fresh:
            self.timings.pop("gwas", None)

        def run():
            table = gwas.run_gwas(self.prefix, self.traits, self.covariates, TRAIT, "binary", self.sumstats)
            with np.errstate(under="ignore"):
                lam = gwas.genomic_inflation(np.power(10.0, -table["neg_log10_p_value"].to_numpy()))
            return {"lambda_gc": lam, "status_counts": table["status"].value_counts().to_dict()}

        return self._stage("gwas", [self.sumstats], run)

    def causal_ids(self) -> list[str]:
        truth = pd.read_csv(self.truth, sep="\t", dtype={"variant_id": str})
        return truth.loc[truth["beta"] != 0, "variant_id"].tolist()

    def causal_beta(self) -> dict[str, float]:
        truth = pd.read_csv(self.truth, sep="\t", dtype={"variant_id": str})
        return dict(zip(truth["variant_id"], truth["beta"].astype(float)))

    def gwas_scores(self) -> pd.Series:
        from liftgwas.compare import read_sumstats  # GWAS-SSF: the .bim ID is bim_id, −log10 p neg_log_10_p_value

        table = read_sumstats(self.sumstats)
        return pd.Series(table["neg_log10_p_value"].to_numpy(dtype=float), index=table["variant_id"].to_numpy())

    def pc_r2(self) -> np.ndarray:
        """Per SNP: the fraction of its genotype variance the 10 PCs explain (cached).

        The PCs are orthogonal with mean 0 and variance 1, so R^2 = sum_k corr(g, PC_k)^2.
        """
        path = self.dir / "pc_r2.npy"
        if path.exists():
            return np.load(path)
        cov = pd.read_csv(self.covariates, sep="\t", dtype={"IID": str})
        bed = Bed(self.prefix)
        if not (cov["IID"].to_numpy() == bed.fam["iid"].astype(str).to_numpy()).all():
            raise ValueError(f"{self.covariates}: samples not in .fam order")
        pcs = cov[[f"PC{k + 1}" for k in range(N_PCS)]].to_numpy(dtype=np.float64)
        pcs = (pcs - pcs.mean(0)) / pcs.std(0)
        out = np.empty(bed.n_snps)
        for start, dosages in bed.iter_blocks(1000):
            z = pca.standardize(dosages)
            out[start : start + len(z)] = (((z @ pcs) / bed.n_samples) ** 2).sum(axis=1)
        np.save(path, out)
        return out


# --------------------------------------------------------------------------------------
# One model: train, DeepLIFT, recall
# --------------------------------------------------------------------------------------


class CovariateMLPModel(GenotypeModel):
    """Investigation variant: covariates enter through their own small ReLU net, not linearly.

    The trait's population term (lambda = K-means cluster index, plus cluster-specific
    noise) is a step function of ancestry, which 10 PCs entering linearly cannot express;
    the SNP network may then spend ancestry-informative SNPs on it. This branch is still
    added to the SNP network's output, so DeepLIFT on ``model.snps`` is unchanged. The SNP
    network is built first, so for a given seed it starts from the same weights as the
    package's model.
    """

    def __init__(self, n_snps: int, n_covariates: int, arch: str, hidden: int = 16):
        super().__init__(n_snps, n_covariates, arch)
        if n_covariates:
            self.covariates = torch.nn.Sequential(
                torch.nn.Linear(n_covariates, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1)
            )


class StandardisedModel(GenotypeModel):
    """Investigation variant: each SNP's centred dosage is divided by its training-sample sd
    inside the SNP network (a fixed buffer before the first layer), so initial weights and
    the L1 penalty act per standard deviation, as a GWAS's test statistic does. DeepLIFT
    still attributes the centred dosage (the scaling is linear, so the attributions to the
    raw input are exact)."""

    inv_sd: np.ndarray | None = None  # set by run_model before training

    def __init__(self, n_snps: int, n_covariates: int, arch: str):
        super().__init__(n_snps, n_covariates, arch)
        snps = self.snps
        snps.register_buffer("inv_sd", torch.from_numpy(self.inv_sd.astype(np.float32)))
        forward = snps.forward
        snps.forward = lambda x: forward(x * snps.inv_sd)


def training_inverse_sd(data) -> np.ndarray:
    """1 / sd of each SNP's dosage over the training samples (monomorphic SNPs: 0)."""
    rows = data.splits["train"].rows
    total = np.zeros(data.n_snps)
    squares = np.zeros(data.n_snps)
    for i in range(0, len(rows), 1024):
        x = data.store.decode(rows[i : i + 1024]).astype(np.float64)
        total += x.sum(0)
        squares += (x * x).sum(0)
    var = squares / len(rows) - (total / len(rows)) ** 2
    return np.where(var > 1e-12, 1.0 / np.sqrt(np.maximum(var, 1e-12)), 0.0)


def residualise_on_covariates(data) -> None:
    """Investigation variant: feed the network genotypes with the covariates (PCs) regressed
    out, per SNP, on the training samples -- what a GWAS's covariate adjustment does
    (Frisch-Waugh). Patches ``data.batches`` of this one TrainingData, so training, early
    stopping and DeepLIFT all see x - c B. The training mean of the residualised input equals
    that of the raw input (the standardised covariates have mean 0 on the training samples),
    so the DeepLIFT reference of train.save_model stays right."""
    train = data.splits["train"]
    c = train.covariates.astype(np.float64)
    gram = c.T @ c
    cross = np.zeros((c.shape[1], data.n_snps))
    mean = data.mean_genotype("train").astype(np.float64)
    for i in range(0, len(train.rows), 1024):
        x = data.store.decode(train.rows[i : i + 1024]).astype(np.float64) - mean
        cross += c[i : i + 1024].T @ x
    coef = torch.from_numpy(np.linalg.solve(gram, cross).astype(np.float32))  # (C, M)
    batches = data.batches

    def residual_batches(*args, **kwargs):
        for x, cov, y in batches(*args, **kwargs):
            yield x - cov @ coef.to(x.device), cov, y

    data.batches = residual_batches


def attribution_reference(data) -> torch.Tensor:
    """As train.save_model: the training samples' mean genotype in the centred input space."""
    return torch.from_numpy(data.mean_genotype("train") - data.store.mean)


def deeplift(model, data, split_name: str) -> dict[str, tuple[np.ndarray, int, float]]:
    """DeepLIFT mean |attribution| per SNP: {split: (score, n samples, max delta)}.

    ``split_name`` "all" attributes every split and adds their sample-weighted mean as "all".
    """
    reference = attribution_reference(data)
    names = ("train", "early_stop", "validation") if split_name == "all" else (split_name,)
    out = {}
    for name in names:
        result = deeplift_scores(model, data, reference, split=name, chunk_size=512)
        out[name] = (result.score, result.n_samples, result.max_convergence_delta)
    if split_name == "all":
        n = sum(v[1] for v in out.values())
        score = sum(v[0] * v[1] for v in out.values()) / n
        out["all"] = (score, n, max(v[2] for v in out.values()))
    return out


def top_hits(scores: pd.Series, causal: set[str], beta: dict[str, float], pc_r2: pd.Series) -> list[dict]:
    return [
        {"variant_id": v, "causal": v in causal, "beta": beta.get(v, 0.0), "pc_r2": round(float(pc_r2[v]), 4)}
        for v in recall.top_k(scores.fillna(-np.inf), TOP_K)
    ]


def run_model(ds: Dataset, args, arch: str, seed: int, causal, beta, pc_r2, variant_ids) -> tuple[dict, np.ndarray]:
    data = load_training_data(
        ds.store_prefix, f"{ds.prefix}.fam", ds.traits, ds.covariates, ds.split,
        trait=TRAIT, kind="binary", use_covariates=args.covariates_as_inputs == "on",
    )
    settings = TrainSettings(
        arch=arch, l1=args.l1, l1_scaling=args.l1_scaling, seed=seed, batch_size=128,
        learning_rate=args.learning_rate, max_epochs=args.max_epochs, patience=args.patience,
    )
    # the package's train_model builds its model by this module-level name
    if args.residualise_inputs:
        if not data.covariate_names:
            raise SystemExit("--residualise-inputs needs --covariates-as-inputs on")
        residualise_on_covariates(data)
    if args.standardise_inputs:
        StandardisedModel.inv_sd = training_inverse_sd(data)
    variant = {("linear", False): GenotypeModel, ("mlp", False): CovariateMLPModel,
               ("linear", True): StandardisedModel}[(args.covariate_net, args.standardise_inputs)]
    train_module.GenotypeModel = variant
    try:
        model, metrics = train_model(data, settings, device=torch.device("cpu"))
    finally:
        train_module.GenotypeModel = GenotypeModel
    start = time.perf_counter()
    by_split = deeplift(model, data, args.attribution_split)
    deeplift_seconds = time.perf_counter() - start
    score, n_attributed, delta = by_split[args.attribution_split]
    scores = pd.Series(score, index=variant_ids)
    first = model.snps.first.weight.detach().abs()
    row = {
        "seed": seed,
        "recall": recall.topk_recall(scores, causal, TOP_K),
        "train_seconds": metrics["seconds"],
        "epochs_run": metrics["epochs_run"],
        "best_epoch": metrics["best_epoch"],
        "seconds_per_epoch": metrics["seconds_per_epoch"],
        "deeplift_seconds": deeplift_seconds,
        "deeplift_samples": n_attributed,
        "max_convergence_delta": delta,
        "validation_loglik": metrics["validation_loglik"],
        "validation_auc": metrics["validation_auc"],
        "train_auc": metrics["train_auc"],
        "early_stop_auc": metrics["early_stop_auc"],
        # how sparse L1 made the first layer: SNPs whose largest |weight| exceeds 1e-3
        "snps_with_weight_above_1e-3": int((first.max(dim=0).values > 1e-3).sum()),
        "top_hits": top_hits(scores, causal, beta, pc_r2),
        "peak_rss_mb": peak_rss_mb(),
    }
    if args.attribution_split == "all":
        row["recall_validation_only"] = recall.topk_recall(
            pd.Series(by_split["validation"][0], index=variant_ids), causal, TOP_K)
    return row, score


def run_setting(a: float, args) -> dict:
    ds = Dataset(args.n_samples, args.n_snps, a, args.replicate)
    log.info("a = %g: dataset %s (seed %d)", a, ds.dir, ds.seed)
    prep = ds.prepare()
    gwas_stage = ds.run_gwas(fresh=args.retime_gwas) if not args.no_gwas else None
    causal, beta = ds.causal_ids(), ds.causal_beta()
    variant_ids = read_bim(f"{ds.prefix}.bim")["snp"].astype(str).to_numpy()
    pc_r2 = pd.Series(ds.pc_r2(), index=variant_ids)
    arch = args.arch or PAPER_TABLE1[a]["arch"]

    runs, score_vectors = [], []
    scores_dir = ds.dir / "scores"
    scores_dir.mkdir(exist_ok=True)
    for seed in args.seeds:
        log.info("a = %g: training %s, L1 = %g, seed %d", a, arch, args.l1, seed)
        row, score = run_model(ds, args, arch, seed, causal, beta, pc_r2, variant_ids)
        runs.append(row)
        score_vectors.append(score)
        np.save(scores_dir / f"{args.tag}_seed{seed}.npy", score)
        log.info("a = %g seed %d: recall %.2f, %d epochs, %.1f s training, %.1f s DeepLIFT",
                 a, seed, row["recall"], row["epochs_run"], row["train_seconds"], row["deeplift_seconds"])
    averaged = pd.Series(np.mean(score_vectors, axis=0), index=variant_ids)
    recalls = np.array([r["recall"] for r in runs])
    result = {
        "sparsity": a,
        "replicate": ds.replicate,
        "dataset_seed": ds.seed,
        "n_samples": ds.n_samples,
        "n_snps": ds.n_snps,
        "arch": arch,
        "l1": args.l1,
        "l1_scaling": args.l1_scaling,
        "learning_rate": args.learning_rate,
        "covariates_as_inputs": args.covariates_as_inputs == "on",
        "attribution_split": args.attribution_split,
        "covariate_net": args.covariate_net,
        "standardise_inputs": args.standardise_inputs,
        "residualise_inputs": args.residualise_inputs,
        "causal": [{"variant_id": v, "beta": beta[v], "pc_r2": round(float(pc_r2[v]), 4)} for v in causal],
        "median_pc_r2_all_snps": float(pc_r2.median()),
        "runs": runs,
        "recall_mean": float(recalls.mean()),
        "recall_sd": float(recalls.std(ddof=1)) if len(recalls) > 1 else 0.0,
        "seed_averaged_recall": recall.topk_recall(averaged, causal, TOP_K),
        "seed_averaged_top_hits": top_hits(averaged, set(causal), beta, pc_r2),
        "paper_recall": PAPER_TABLE1[a]["recall"],
        "paper_arch": PAPER_TABLE1[a]["arch"],
        "train_seconds_mean": float(np.mean([r["train_seconds"] for r in runs])),
        "epochs_mean": float(np.mean([r["epochs_run"] for r in runs])),
        "seconds_per_epoch_mean": float(np.mean([r["seconds_per_epoch"] for r in runs])),
        "deeplift_seconds_mean": float(np.mean([r["deeplift_seconds"] for r in runs])),
        "stages": prep,
        "peak_rss_mb": peak_rss_mb(),
    }
    if gwas_stage is not None:
        gwas_scores = ds.gwas_scores()
        result["gwas"] = {
            "recall": recall.topk_recall(gwas_scores, causal, TOP_K),
            "seconds": gwas_stage["seconds"],
            "cached": gwas_stage["cached"],
            "lambda_gc": gwas_stage.get("lambda_gc"),
            "status_counts": gwas_stage.get("status_counts"),
            "top_hits": top_hits(gwas_scores, set(causal), beta, pc_r2),
            # causal SNPs' GWAS ranks, to see how far the missed ones are
            "causal_ranks": {v: int((gwas_scores > gwas_scores[v]).sum() + 1) for v in causal},
        }
    return result


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


def pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def table(results: list[dict]) -> str:
    header = (
        "| a | arch | L1 | DeepLIFT recall per seed | mean ± sd | seed-averaged | GWAS (10 PCs) | paper | "
        "s / train job | epochs | s / epoch | s / DeepLIFT | s GWAS |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for r in results:
        per_seed = " / ".join(pct(run["recall"]) for run in r["runs"])
        g = r.get("gwas")
        gwas_seconds = "–" if not g else f"{g['seconds']:.0f}" + (" (cached)" if g["cached"] else "")
        lines.append(
            f"| {r['sparsity']:g} | {r['arch']} | {r['l1']:g} | {per_seed} | "
            f"{pct(r['recall_mean'])} ± {pct(r['recall_sd'])} | {pct(r['seed_averaged_recall'])} | "
            f"{pct(g['recall']) if g else '–'} | {pct(r['paper_recall'])} | "
            f"{r['train_seconds_mean']:.0f} | {r['epochs_mean']:.1f} | {r['seconds_per_epoch_mean']:.2f} | "
            f"{r['deeplift_seconds_mean']:.1f} | "
            f"{gwas_seconds} |"
        )
    return "\n".join(lines)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2,000 x 2,000, 1 seed")
    parser.add_argument("--settings", type=float, nargs="+", help="values of a (default: 0.01 0.1 0.5 1)")
    parser.add_argument("--seeds", type=int, nargs="+", help="model seeds (default: 1 2 3; --quick: 1)")
    parser.add_argument("--covariates-as-inputs", choices=("on", "off"), default="on",
                        help="feed the 10 PCs to the network (workflow default: on)")
    parser.add_argument("--l1", type=float, default=1.0)
    parser.add_argument("--l1-scaling", default="sum_over_n_train", choices=("sum_over_n_train", "mean"))
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--max-epochs", type=int, default=100)
    parser.add_argument("--patience", type=int, default=10)
    parser.add_argument("--arch", help="override the paper's per-a architecture, e.g. 64x256")
    parser.add_argument("--attribution-split", choices=("validation", "all"), default="validation",
                        help="samples DeepLIFT averages over (workflow: validation)")
    parser.add_argument("--covariate-net", choices=("linear", "mlp"), default="linear",
                        help="investigation: covariates linear (package model) or through a 16-unit ReLU net")
    parser.add_argument("--standardise-inputs", action="store_true",
                        help="investigation: divide each SNP by its training sd inside the network")
    parser.add_argument("--residualise-inputs", action="store_true",
                        help="investigation: regress the PCs out of every SNP (training samples) before the network")
    parser.add_argument("--replicate", type=int, default=REPLICATE,
                        help="dataset replicate (workflow's sim-a{a}-r{replicate}; the benchmark: 1)")
    parser.add_argument("--n-samples", type=int)
    parser.add_argument("--n-snps", type=int)
    parser.add_argument("--no-gwas", action="store_true", help="skip the GWAS (investigation runs)")
    parser.add_argument("--retime-gwas", action="store_true", help="rerun the GWAS even if cached (to time it)")
    parser.add_argument("--output", type=Path, help=f"JSON path (default {DEFAULT_OUTPUT.relative_to(ROOT)})")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.standardise_inputs and args.covariate_net == "mlp":
        parser.error("--standardise-inputs and --covariate-net mlp are separate experiments")
    args.settings = args.settings or list(PAPER_TABLE1)
    unknown = [a for a in args.settings if a not in PAPER_TABLE1]
    if unknown:
        parser.error(f"--settings must be among {list(PAPER_TABLE1)}, got {unknown}")
    size = 2000 if args.quick else 10_000
    args.n_samples = args.n_samples or size
    args.n_snps = args.n_snps or size
    args.seeds = args.seeds or ([1] if args.quick else [1, 2, 3])
    args.output = args.output or (QUICK_OUTPUT if args.quick else DEFAULT_OUTPUT)
    # names the saved score vectors of this configuration
    args.tag = (f"{args.arch or 'paper'}_l1{args.l1:g}_{args.l1_scaling}_lr{args.learning_rate:g}"
                f"_cov{args.covariates_as_inputs}{'' if args.covariate_net == 'linear' else 'mlp'}"
                f"{'_std' if args.standardise_inputs else ''}{'_res' if args.residualise_inputs else ''}"
                f"_{args.attribution_split}")
    return args


def main(argv=None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    logging.captureWarnings(True)
    import warnings

    warnings.filterwarnings("ignore", message="Setting forward, backward hooks", category=UserWarning)
    for name in ("liftgwas.attribution", "liftgwas.train", "liftgwas.genostore", "liftgwas.pca", "liftgwas.simulate"):
        logging.getLogger(name).setLevel(logging.WARNING)
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    load_at_start = os.getloadavg()
    config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    results = []
    for a in args.settings:
        results.append(run_setting(a, args))
        # written after every setting, so a long run leaves its finished part behind
        write_json(args.output, {
            "config": config,
            "training": {"batch_size": 128, "learning_rate": args.learning_rate, "max_epochs": args.max_epochs,
                         "patience": args.patience},
            # other jobs on the machine slow every timing down: the load averages say how busy it was
            "machine": {"host": platform.node(), "torch": torch.__version__, "threads": torch.get_num_threads(),
                        "cpus": os.cpu_count(), "load_average_at_start": load_at_start,
                        "load_average_now": os.getloadavg()},
            "results": results,
            "wall_seconds": time.perf_counter() - started,
            "peak_rss_mb": peak_rss_mb(),
            "table_markdown": table(results),
        })
    print()
    print(table(results))
    print(f"\nwall time {time.perf_counter() - started:.0f} s, peak RSS {peak_rss_mb():.0f} MB; "
          f"written to {args.output}")


if __name__ == "__main__":
    main()
