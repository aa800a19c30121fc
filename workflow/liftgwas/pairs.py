"""Interacting SNP pairs read out of the trained network, verified on held-out samples (issue 13).

Two stages, kept apart so the pair p-values stay honest although the network chose the pairs:

1. **Pair scores** (``pairs.method``), from the retrained models of the selected architecture
   and averaged over their seeds. Nothing here reads a label, and the sample-based score reads
   only the *training* split's genotypes (``SCORE_SPLIT``):

   * ``nid`` — Neural Interaction Detection (Tsang, Cheng & Liu, ICLR 2018), the
     weight-based detector: a first-layer unit h can only create an interaction between
     inputs that both feed it, so pair (i, j) scores Σ_h z_h · min(|W1_hi|, |W1_hj|), with
     z_h = (|w_out|ᵀ |W2|)_h the unit's aggregated downstream influence. Weights are taken
     per allele (W1 times the model's fixed input scaling). It needs no samples, so it can
     rank pairs among **all** SNPs (``pairs.candidates: all``): the candidate pairs are those
     of each unit's ``inputs_per_unit`` strongest inputs (ranked by z_h·|W1_hi|), their score
     the full sum over every unit.
   * ``deeplift_interaction`` — the change of SNP i's DeepLIFT (Rescale) attribution when SNP j
     is held at its reference: I_ij = mean_x |a_i(x) − a_i(x with x_j = r_j)|, symmetrised,
     over the training samples (zero for every pair when the network is additive). It costs
     T + 1 DeepLIFT passes, so it runs among the top-T SNPs only.
   * ``fm`` — the factorization-machine pair weight |<v_i, v_j>| (per allele) of a
     ``model.pairwise: fm`` network (an error for other models).

   ``pairs.candidates: top_snps`` restricts every method to the ``top_snps`` (T) SNPs with the
   highest seed-averaged DeepLIFT score on the training split. The top ``top_pairs`` (P)
   pairs by mean score go on to stage 2.

2. **Verification** on the validation split only (samples no model was fitted or
   early-stopped on; liftgwas/split.py): per pair, statsmodels' GLM (binomial / logit, Wald z
   test, or ``test: lrt``) for binary traits, OLS (t test) for quantitative ones, of
   y ~ 1 + covariates + g_i + g_j (+ heterozygote indicators with ``main_effects: genotypic``)
   + the product term on A1 dosages: by default (``product: residualised``) the product of the
   two dosages' residuals on [1, covariates], which keeps an ancestry-structured trait from
   creating false interactions (measured: README); ``product: dosage`` is g_i·g_j;
   Bonferroni and Benjamini–Hochberg (statsmodels ``multipletests``) over the P tested pairs
   (a pair whose fit fails counts as tested with p = 1, so the correction never shrinks).

Which method is the default was measured (bench/pairs.py → bench/results/pairs.json, README).
Memory: sample-based scores stream ``chunk_size`` samples at a time and keep only T × T sums,
never T² × N; the weight-based ones hold one h1 × (pairs chunk) block.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from captum.attr import DeepLift

from .data import TrainingData
from .errors import InputError
from .model import GenotypeModel
from .schema import settings_from_section

log = logging.getLogger(__name__)

METHODS = ("nid", "deeplift_interaction", "fm")
CANDIDATES = ("all", "top_snps")
SCORE_SPLIT = "train"  # pair scores never see the samples the interaction test uses
TEST_SPLIT = "validation"
PAIR_COLUMNS = ["snp_i", "snp_j", "network_score", "network_rank", "interaction_beta", "se", "p", "p_bonferroni",
                "p_bh", "n", "status"]


@dataclass(frozen=True)
class PairSettings:
    method: str = "nid"
    candidates: str = "all"
    top_snps: int = 100
    top_pairs: int = 20
    inputs_per_unit: int = 20
    chunk_size: int = 256
    alpha: float = 0.05
    main_effects: str = "dosage"
    test: str = "wald"
    # measured (bench/pairs_fwer_diagnostic.py): the raw product follows ancestry on structured
    # traits (FWER 0.13 on null SNP pairs), the residualised one does not (0.03)
    product: str = "residualised"

    @classmethod
    def from_config(cls, section: dict | None) -> "PairSettings":
        section = dict(section or {})
        section.pop("run_on", None)  # a workflow key (which datasets), not a setting of the computation
        return settings_from_section(cls, section, "pairs")

    def validate(self, n_snps: int | None = None) -> None:
        """Errors name the config key; with ``n_snps`` also the checks against the data."""
        if self.method not in METHODS:
            raise ValueError(f"config key pairs.method: {self.method!r} is not one of {list(METHODS)}")
        if self.candidates not in CANDIDATES:
            raise ValueError(f"config key pairs.candidates: {self.candidates!r} is not one of {list(CANDIDATES)}")
        if self.method == "deeplift_interaction" and self.candidates != "top_snps":
            # T + 1 DeepLIFT passes per SNP set: over all M SNPs that is M + 1 passes
            raise ValueError("config key pairs.candidates: method deeplift_interaction needs candidates: top_snps")
        for key in ("top_snps", "top_pairs", "inputs_per_unit", "chunk_size"):
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"config key pairs.{key}: must be a positive integer, got {value!r}")
        if self.top_snps < 2:
            raise ValueError(f"config key pairs.top_snps: needs at least 2 SNPs to form a pair, got {self.top_snps}")
        if self.main_effects not in MAIN_EFFECTS:
            raise ValueError(f"config key pairs.main_effects: {self.main_effects!r} is not one of {list(MAIN_EFFECTS)}")
        if self.product not in PRODUCTS:
            raise ValueError(f"config key pairs.product: {self.product!r} is not one of {list(PRODUCTS)}")
        if self.test not in TESTS:
            raise ValueError(f"config key pairs.test: {self.test!r} is not one of {list(TESTS)}")
        if not (isinstance(self.alpha, (int, float)) and 0 < self.alpha < 1):
            raise ValueError(f"config key pairs.alpha: must be in (0, 1), got {self.alpha!r}")
        if n_snps is None:
            return
        if self.candidates == "top_snps" and self.top_snps > n_snps:
            raise ValueError(f"config key pairs.top_snps: {self.top_snps} is more than the {n_snps} SNPs of the data")
        if self.top_pairs > n_snps:
            raise ValueError(f"config key pairs.top_pairs: {self.top_pairs} is more than the {n_snps} SNPs of the data")
        pool = self.top_snps if self.candidates == "top_snps" else n_snps
        if self.top_pairs > pool * (pool - 1) // 2:
            raise ValueError(f"config key pairs.top_pairs: {self.top_pairs} is more than the "
                             f"{pool * (pool - 1) // 2} pairs of the {pool} candidate SNPs")


def check_validation_size(n_validation: int, n_covariates: int, split_path=None, main_effects: str = "dosage") -> None:
    """The interaction model has 1 + covariates + 3 parameters (+ 2 with genotypic main
    effects); fewer validation samples than that (or equal: no residual degree of freedom)
    cannot be tested."""
    n_params = 4 + n_covariates + (2 if main_effects == "genotypic" else 0)
    if n_validation <= n_params:
        raise InputError(split_path or "split", f"{n_validation} validation samples for an interaction model of "
                         f"{n_params} parameters (intercept, {n_covariates} covariates, main effects, product); "
                         "raise config key split.validation or use fewer covariates (gwas.n_pcs)",
                         field="split.validation")


# ---------------------------------------------------------------------------- network scores


def _per_allele_first_layer(model: GenotypeModel) -> torch.Tensor:
    """|W1| per allele: the first layer acts on x · input_scale."""
    snps = model.snps
    return (snps.first.weight.detach().double() * snps.input_scale.detach().double()).abs()


def nid_unit_influence(model: GenotypeModel) -> torch.Tensor:
    """z_h = (|w_out|ᵀ |W2|)_h for each first-layer unit (Tsang et al. 2018, eq. 3)."""
    snps = model.snps
    return (snps.out.weight.detach().double().abs() @ snps.second.weight.detach().double().abs()).squeeze(0)


def nid_scores(model: GenotypeModel, i: np.ndarray, j: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """NID strength Σ_h z_h min(|W1_hi|, |W1_hj|) of the pairs (i[k], j[k])."""
    w = _per_allele_first_layer(model)
    z = nid_unit_influence(model).unsqueeze(1)
    out = np.empty(len(i), dtype=np.float64)
    for start in range(0, len(i), chunk):
        a, b = torch.from_numpy(i[start:start + chunk]), torch.from_numpy(j[start:start + chunk])
        out[start:start + chunk] = (z * torch.minimum(w[:, a], w[:, b])).sum(0).numpy()
    return out


def nid_candidate_pairs(model: GenotypeModel, inputs_per_unit: int) -> np.ndarray:
    """Pairs (i < j) among each first-layer unit's ``inputs_per_unit`` strongest inputs."""
    w = _per_allele_first_layer(model) * nid_unit_influence(model).unsqueeze(1)
    k = min(inputs_per_unit, w.shape[1])
    top = torch.topk(w, k, dim=1).indices.numpy()
    a, b = np.triu_indices(k, 1)
    pairs = np.sort(np.stack([top[:, a].ravel(), top[:, b].ravel()], axis=1), axis=1)
    return np.unique(pairs, axis=0)


def fm_scores(model: GenotypeModel, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """|<v_i, v_j>| per allele of a factorization-machine model."""
    v = model.snps.fm_v
    if v is None:
        raise ValueError("config key pairs.method: 'fm' needs a model trained with model.pairwise: fm")
    v = v.detach().double() * model.snps.input_scale.detach().double().unsqueeze(1)
    a, b = torch.from_numpy(i), torch.from_numpy(j)
    return (v[a] * v[b]).sum(1).abs().numpy()


def deeplift_interaction(model: GenotypeModel, data: TrainingData, reference: torch.Tensor, snps: np.ndarray,
                         split: str = SCORE_SPLIT, chunk_size: int = 256) -> np.ndarray:
    """T × T matrix of mean_x |a_i(x) − a_i(x_{j←r_j})| (symmetrised; diagonal 0) over ``split``.

    ``reference``: the centred training-mean genotype (model.pt's "reference"). Memory is
    O(chunk_size × M) plus T × T sums: each j-substituted copy of a chunk is attributed and
    reduced at once.
    """
    if split == TEST_SPLIT:
        raise ValueError("pair scores must not read the validation split (the interaction test's samples)")
    model = model.eval()
    scale = model.snps.input_scale.detach()
    net = model.snps.scaled_net().eval()
    explainer = DeepLift(net)
    ref = (reference.float() * scale).unsqueeze(0)
    idx = torch.as_tensor(np.asarray(snps), dtype=torch.long)
    t = len(idx)
    sums = torch.zeros(t, t, dtype=torch.float64)
    n = 0
    for x, _, _ in data.batches(split, chunk_size):
        z = x * scale
        rows = z.shape[0]
        base = explainer.attribute(z.requires_grad_(True), baselines=ref.expand(rows, -1)).detach()[:, idx]
        per_call = max(1, chunk_size // rows)  # j-substituted copies per Captum call
        for start in range(0, t, per_call):
            js = idx[start:start + per_call]
            copies = z.detach().repeat(len(js), 1)
            for k, j in enumerate(js):
                copies[k * rows:(k + 1) * rows, j] = ref[0, j]
            held = explainer.attribute(copies.requires_grad_(True), baselines=ref.expand(copies.shape[0], -1))
            held = held.detach()[:, idx].reshape(len(js), rows, t)
            sums[start:start + len(js)] += (held - base.unsqueeze(0)).abs().sum(1, dtype=torch.float64)
        n += rows
    if n == 0:
        raise ValueError(f"no samples in split {split!r}")
    matrix = (sums / n).numpy()  # row j, column i: change of a_i when j is held
    matrix = (matrix + matrix.T) / 2
    np.fill_diagonal(matrix, 0.0)
    return matrix


def top_snp_indices(score: np.ndarray, t: int) -> np.ndarray:
    """The ``t`` highest scores (ties broken by .bim order, so the choice is reproducible)."""
    order = np.lexsort((np.arange(len(score)), -np.nan_to_num(np.asarray(score, float), nan=-np.inf)))
    return np.sort(order[:t])


def upper_pairs(snps: np.ndarray) -> np.ndarray:
    a, b = np.triu_indices(len(snps), 1)
    return np.stack([snps[a], snps[b]], axis=1)


@dataclass
class NetworkPairs:
    pairs: pd.DataFrame  # snp_i, snp_j (.bim indices i < j), network_score, network_rank: best first
    n_candidate_pairs: int
    candidate_snps: np.ndarray | None
    seconds: float


def score_pairs(models: list[tuple[GenotypeModel, torch.Tensor]], data: TrainingData | None,
                settings: PairSettings, snp_scores: np.ndarray | None = None) -> NetworkPairs:
    """Seed-averaged pair scores of ``models`` ((model, reference) per retrain seed).

    ``snp_scores``: per-SNP seed-averaged DeepLIFT scores on the training split, required for
    ``candidates: top_snps`` (see `training_snp_scores`). Returns every candidate pair, ranked.
    """
    start = time.perf_counter()
    if not models:
        raise ValueError("no trained models to read pairs from")
    settings.validate(n_snps=models[0][0].snps.first.weight.shape[1])
    snps = None
    if settings.candidates == "top_snps":
        if snp_scores is None:
            raise ValueError("candidates top_snps needs the per-SNP training-split scores")
        snps = top_snp_indices(snp_scores, settings.top_snps)
        candidates = upper_pairs(snps)
    elif settings.method == "nid":
        candidates = np.unique(np.concatenate([nid_candidate_pairs(m, settings.inputs_per_unit)
                                               for m, _ in models]), axis=0)
    else:  # fm over all SNPs: every pair with both SNPs among the largest |v| rows
        m = models[0][0].snps.first.weight.shape[1]
        norms = np.mean([np.linalg.norm(mod.snps.fm_v.detach().numpy(), axis=1) if mod.snps.fm_v is not None
                         else np.zeros(m) for mod, _ in models], axis=0)
        candidates = upper_pairs(top_snp_indices(norms, min(m, settings.top_snps)))
    i, j = candidates[:, 0].astype(np.int64), candidates[:, 1].astype(np.int64)
    total = np.zeros(len(candidates))
    for model, reference in models:
        if settings.method == "nid":
            total += nid_scores(model, i, j)
        elif settings.method == "fm":
            total += fm_scores(model, i, j)
        else:
            matrix = deeplift_interaction(model, data, reference, snps, chunk_size=settings.chunk_size)
            a, b = np.triu_indices(len(snps), 1)
            total += matrix[a, b]
    table = pd.DataFrame({"snp_i": i, "snp_j": j, "network_score": total / len(models)})
    table = table.sort_values(["network_score", "snp_i", "snp_j"], ascending=[False, True, True], kind="stable")
    table["network_rank"] = np.arange(1, len(table) + 1)
    return NetworkPairs(table.reset_index(drop=True), len(candidates), snps, time.perf_counter() - start)


def training_snp_scores(models: list[tuple[GenotypeModel, torch.Tensor]], data: TrainingData,
                        chunk_size: int = 512) -> np.ndarray:
    """Seed-averaged DeepLIFT score per SNP on the training split (the top-T choice)."""
    from .attribution import deeplift_scores

    return np.mean([deeplift_scores(m, data, ref, split=SCORE_SPLIT, chunk_size=chunk_size).score
                    for m, ref in models], axis=0)


# ---------------------------------------------------------------------------- verification


MAIN_EFFECTS = ("dosage", "genotypic")
TESTS = ("wald", "lrt")  # binary traits; quantitative ones always get OLS's exact t test


PRODUCTS = ("dosage", "residualised")


def _residualise(g: np.ndarray, base: np.ndarray) -> np.ndarray:
    coefficients, *_ = np.linalg.lstsq(base, g, rcond=None)
    return g - base @ coefficients


def interaction_design(gi: np.ndarray, gj: np.ndarray, covariates: np.ndarray, main_effects: str = "dosage",
                       product: str = "dosage") -> np.ndarray:
    """[1, covariates, g_i, g_j, (genotypic: [g_i = 1], [g_j = 1],) g_i·g_j]: the product term is
    the last column. ``genotypic`` main effects span every function of each SNP's three
    genotypes, so a dominant or recessive main effect cannot leak into the product term."""
    gi, gj = np.asarray(gi, float), np.asarray(gj, float)
    columns = [np.ones(len(gi)), np.asarray(covariates, float).reshape(len(gi), -1), gi, gj]
    if main_effects == "genotypic":
        columns += [(np.rint(gi) == 1).astype(float), (np.rint(gj) == 1).astype(float)]
    elif main_effects != "dosage":
        raise ValueError(f"config key pairs.main_effects: {main_effects!r} is not one of {list(MAIN_EFFECTS)}")
    if product == "residualised":
        # each dosage minus its least-squares fit on [1, covariates]: the product of the residuals
        # has (under conditional independence given ancestry) no ancestry trend left for a
        # structured trait to follow, which the raw product has beyond linear PCs
        base = np.column_stack(columns[:2])
        return np.column_stack([*columns, _residualise(gi, base) * _residualise(gj, base)])
    if product != "dosage":
        raise ValueError(f"config key pairs.product: {product!r} is not one of {list(PRODUCTS)}")
    return np.column_stack([*columns, gi * gj])


def interaction_test(y: np.ndarray, gi: np.ndarray, gj: np.ndarray, covariates: np.ndarray, kind: str,
                     main_effects: str = "dosage", test: str = "wald", product: str = "dosage") -> dict:
    """Test of the product term of y ~ 1 + covariates + g_i + g_j + g_i·g_j: statsmodels GLM
    binomial/logit (Wald z) for binary traits, OLS (t) for quantitative ones. ``status`` says
    why a pair has no estimate."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    design = interaction_design(gi, gj, covariates, main_effects, product)
    empty = {"interaction_beta": math.nan, "se": math.nan, "p": math.nan, "n": int(len(y))}
    product = design[:, -1]
    if np.ptp(product) == 0:
        return {**empty, "status": "monomorphic_product"}
    if np.linalg.matrix_rank(design) < design.shape[1]:
        return {**empty, "status": "collinear"}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.filterwarnings("ignore", category=RuntimeWarning)
        try:
            if kind == "binary":
                fit = sm.GLM(np.asarray(y, float), design, family=sm.families.Binomial()).fit()
            else:  # least squares: the exact t test (a Gaussian GLM would give the z approximation)
                fit = sm.OLS(np.asarray(y, float), design).fit()
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError, ValueError):
            return {**empty, "status": "separation_or_failed"}
    if kind == "binary" and not fit.converged:
        return {**empty, "status": "not_converged"}
    beta, se, p = float(fit.params[-1]), float(fit.bse[-1]), float(fit.pvalues[-1])
    if not np.isfinite(se):
        return {**empty, "status": "separation_or_failed"}
    if test == "lrt" and kind == "binary":  # likelihood ratio against the model without the product
        from scipy.stats import chi2

        reduced = sm.GLM(np.asarray(y, float), design[:, :-1], family=sm.families.Binomial()).fit()
        p = float(chi2.sf(max(2.0 * (fit.llf - reduced.llf), 0.0), 1))
    return {"interaction_beta": beta, "se": se, "p": p, "n": int(len(y)), "status": "ok"}


def adjust(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bonferroni and BH over all P tested pairs; a failed test (NaN) counts as p = 1 and keeps
    NaN in the output."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(p, float)
    if len(p) == 0:
        return p.copy(), p.copy()
    filled = np.where(np.isfinite(p), p, 1.0)
    bonf = multipletests(filled, method="bonferroni")[1]
    bh = multipletests(filled, method="fdr_bh")[1]
    missing = ~np.isfinite(p)
    bonf[missing] = np.nan
    bh[missing] = np.nan
    return bonf, bh


def validation_dosages(data: TrainingData, snps: np.ndarray) -> np.ndarray:
    """A1 dosages (n_validation × len(snps)) of the validation samples, for a few SNPs only."""
    rows = data.splits[TEST_SPLIT].rows
    return data.store.decode(rows)[:, snps] if len(snps) else np.zeros((len(rows), 0), np.float32)


def verify_pairs(candidates: pd.DataFrame, data: TrainingData, top_pairs: int,
                 main_effects: str = "dosage", test: str = "wald", product: str = "dosage") -> pd.DataFrame:
    """Test the first ``top_pairs`` candidates on the validation split; adds the test columns.

    Quantitative traits are held standardised (training mean/SD) in ``data``: the beta is
    rescaled to trait units (× the training SD), which leaves se/beta and the p-value as they are.
    """
    part = data.splits[TEST_SPLIT]
    check_validation_size(len(part.rows), part.covariates.shape[1], main_effects=main_effects)
    chosen = candidates.head(top_pairs).copy()
    snps = np.unique(chosen[["snp_i", "snp_j"]].to_numpy().ravel())
    dosage = validation_dosages(data, snps)
    column = {s: k for k, s in enumerate(snps)}
    scale = data.y_sd if data.kind == "quantitative" else 1.0
    results = []
    for i, j in zip(chosen["snp_i"], chosen["snp_j"]):
        r = interaction_test(part.y, dosage[:, column[i]], dosage[:, column[j]], part.covariates, data.kind,
                             main_effects, test, product)
        r["interaction_beta"] *= scale
        r["se"] *= scale
        results.append(r)
    tests = pd.DataFrame(results, index=chosen.index, columns=["interaction_beta", "se", "p", "n", "status"])
    chosen = pd.concat([chosen, tests], axis=1)
    chosen["p_bonferroni"], chosen["p_bh"] = adjust(chosen["p"].to_numpy())
    return chosen


def named(table: pd.DataFrame, variant_ids) -> pd.DataFrame:
    """SNP indices -> .bim IDs, in the output column order."""
    ids = np.asarray(variant_ids).astype(str)
    out = table.copy()
    out["snp_i"] = ids[out["snp_i"].to_numpy(int)]
    out["snp_j"] = ids[out["snp_j"].to_numpy(int)]
    return out[[c for c in PAIR_COLUMNS if c in out.columns]].reset_index(drop=True)


# ---------------------------------------------------------------------------- recall


def pair_recall(pair_list: pd.DataFrame, truth: pd.DataFrame, k: int, first: str = "snp_i",
                second: str = "snp_j") -> float:
    """Fraction of the planted pairs (truth rows with a ``pair`` id, one trait) that appear,
    either way round, among the first ``k`` pairs of ``pair_list``; NaN without planted pairs.
    (recall.recall_by_class's pair_list_recall with exact matching, for the network's and the
    scan's lists alike.)"""
    if "pair" not in truth.columns:  # the paper's additive truth tables have no pairs
        return math.nan
    planted = truth.dropna(subset=["pair"]).groupby("pair")["variant_id"].apply(lambda s: frozenset(s.astype(str)))
    planted = [p for p in planted if len(p) == 2]
    if not planted:
        return math.nan
    top = {frozenset((str(a), str(b))) for a, b in zip(pair_list[first].head(k), pair_list[second].head(k))}
    return float(np.mean([p in top for p in planted]))


def summary(settings: PairSettings, network: NetworkPairs, tested: pd.DataFrame, n_snps: int,
            seconds_test: float) -> dict:
    return {
        "settings": asdict(settings),
        "score_split": SCORE_SPLIT, "test_split": TEST_SPLIT,
        "n_snps": int(n_snps),
        "n_candidate_pairs_scored": int(network.n_candidate_pairs),
        "n_tests": int(len(tested)),
        "n_tests_exhaustive": int(n_snps * (n_snps - 1) // 2),
        "n_significant_bonferroni": int((tested["p_bonferroni"] < settings.alpha).sum()),
        "n_significant_bh": int((tested["p_bh"] < settings.alpha).sum()),
        "seconds_scoring": round(network.seconds, 3),
        "seconds_testing": round(seconds_test, 3),
    }


# ---------------------------------------------------------------------------- workflow entry points


def run(model_paths, data: TrainingData, bim: pd.DataFrame, settings: PairSettings, pairs_out, summary_out,
        chunk_size: int = 512) -> pd.DataFrame:
    """Rule ``pairs``: read the retrained models, score, test the top P pairs, write
    ``pairs.tsv`` (the P tested pairs, best network score first) and ``pairs.json``."""
    from .atomic import write_json, write_tsv
    from .train import load_model

    settings.validate(n_snps=len(bim))
    if data.n_snps != len(bim):
        raise InputError("plink.bim", f"{len(bim)} variants but the genotype store has {data.n_snps}")
    models = []
    for path in model_paths:
        model, payload = load_model(path)
        if payload["n_snps"] != data.n_snps:
            raise InputError(path, f"model of {payload['n_snps']} SNPs, data of {data.n_snps}", field="n_snps")
        models.append((model, payload["reference"].float()))
    check_validation_size(len(data.splits[TEST_SPLIT].rows), data.splits[TEST_SPLIT].covariates.shape[1],
                          main_effects=settings.main_effects)
    snp_scores = training_snp_scores(models, data, chunk_size) if settings.candidates == "top_snps" else None
    network = score_pairs(models, data, settings, snp_scores=snp_scores)
    log.info("%s pair scores (%s candidates): %d pairs scored from %d models in %.1f s", settings.method,
             settings.candidates, network.n_candidate_pairs, len(models), network.seconds)
    start = time.perf_counter()
    tested = verify_pairs(network.pairs, data, settings.top_pairs, settings.main_effects, settings.test,
                          settings.product)
    seconds = time.perf_counter() - start
    table = named(tested, bim["snp"].astype(str).to_numpy())
    info = summary(settings, network, tested, len(bim), seconds)
    info["n_models"] = len(models)
    info["n_validation_samples"] = int(len(data.splits[TEST_SPLIT].rows))
    log.info("%d pairs tested on %d validation samples: %d Bonferroni-, %d BH-significant at %g (of %d "
             "exhaustive pairs)", info["n_tests"], info["n_validation_samples"], info["n_significant_bonferroni"],
             info["n_significant_bh"], settings.alpha, info["n_tests_exhaustive"])
    write_tsv(pairs_out, table, float_format="%.6g")
    write_json(summary_out, info)
    return table


def read_pairs_table(path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, sep="\t", dtype={"snp_i": str, "snp_j": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    missing = [c for c in PAIR_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
    return table


RECALL_COLUMNS = ["dataset", "trait", "k", "n_planted_pairs", "network_pair_recall", "network_significant_pair_recall",
                  "network_tests", "scan_pair_recall", "scan_significant_pair_recall", "scan_tests", "alpha"]


def recall_row(dataset: str, trait: str, pairs_table: pd.DataFrame, info: dict, truth: pd.DataFrame,
               scan_pairs: pd.DataFrame | None) -> dict:
    """Pair recall of the network's P tested pairs and of the scan's top P pairs (the same
    number of reported pairs), and of the pairs each calls significant (Bonferroni at alpha
    over its own number of tests)."""
    k = len(pairs_table)
    alpha = info["settings"]["alpha"]
    n_planted = int(truth.dropna(subset=["pair"])["pair"].nunique()) if "pair" in truth.columns else 0
    significant = pairs_table[pairs_table["p_bonferroni"] < alpha]
    row = {"dataset": dataset, "trait": trait, "k": k, "n_planted_pairs": n_planted,
           "network_pair_recall": pair_recall(pairs_table, truth, k),
           "network_significant_pair_recall": pair_recall(significant, truth, k),
           "network_tests": info["n_tests"], "scan_pair_recall": math.nan, "scan_significant_pair_recall": math.nan,
           "scan_tests": info["n_tests_exhaustive"], "alpha": alpha}
    if scan_pairs is not None:
        row["scan_pair_recall"] = pair_recall(scan_pairs, truth, k, "snp1", "snp2")
        hits = scan_pairs[scan_pairs["p_value"] < alpha / max(info["n_tests_exhaustive"], 1)]
        row["scan_significant_pair_recall"] = pair_recall(hits, truth, len(hits), "snp1", "snp2")
    else:
        row["scan_tests"] = math.nan
    return row
