"""A null distribution for the DeepLIFT scores: null traits from the covariate-only model.

Null traits are a parametric bootstrap of the covariate-only model fitted on the real trait
(statsmodels): binary traits are drawn y* ~ Bernoulli(p̂(c)) from the logistic fit,
quantitative ones y* = ĉβ + ε, ε ~ N(0, σ̂²) from the least-squares fit. Unlike permuting
the raw trait, this keeps the trait–covariate (population-structure) association, which the
network learns through the covariates *and* through SNPs that track ancestry; under the
null hypothesis "no SNP matters given the covariates" the real trait and its null copies are
draws of the same model, so the scores of a model retrained on each null copy are draws of
the score's null distribution (exactly so if the covariate model is correct, approximately
otherwise — the fitted coefficients are plugged in).

Each null trait k of a dataset and trait has its own seed (`null_seed`, from the path), so
adding null traits leaves the existing ones unchanged.

From K null score vectors (each built exactly as the observed one: the selected model, its
retrain seeds, averaged by attribution.seed_average_table):

* `empirical_p`: per SNP (1 + #{null scores >= observed}) / (K + 1) — valid for each SNP
  on its own without assuming SNPs share a null distribution (DeepLIFT's mean |attribution|
  scales with the SNP's genotype spread, so pooling over SNPs would mix distributions);
  its resolution is 1/(K + 1). ``pooled=True`` compares with all K·M null scores instead
  (finer, but only valid if the SNPs' null distributions are the same).
* `max_statistic_threshold`: the family-wise threshold from the K per-null maxima — the
  ⌈(1 − α)(K + 1)⌉-th smallest maximum; a SNP is a discovery when its score is strictly
  above it. With the observed maximum exchangeable with the K null maxima, P(observed max
  > that order statistic) <= α, i.e. FWER <= α (Westfall–Young single step, the
  conservative order statistic). If (1 − α)(K + 1) > K no threshold exists (inf).
* `fwer_p`: the same decision as a per-SNP adjusted p-value, (1 + #{maxima >= score}) / (K + 1).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: the issue's floor for the max-statistic threshold (α = 0.05 needs K >= 19 to have one)
MIN_NULLS_FOR_FWER = 20


def min_null_traits(alpha: float) -> int:
    """Fewest null traits for which the max-statistic threshold can be stated at ``alpha``:
    at least 1/α (so ⌈(1 − α)(K + 1)⌉ <= K) and at least `MIN_NULLS_FOR_FWER`."""
    return max(MIN_NULLS_FOR_FWER, math.ceil(1 / alpha - 1e-12))


def null_seed(dataset: str, trait: str, k: int) -> int:
    """A stable 32-bit seed for null trait ``k`` of a dataset and trait (from the path).

    sha256 of the three (not Python's hash(), which is salted per process), through
    numpy's SeedSequence, like the dataset seeds of liftgwas.simulate.
    """
    if k < 1:
        raise ValueError(f"null trait index must be >= 1, got {k}")
    digest = hashlib.sha256(f"liftgwas-null-trait\0{dataset}\0{trait}\0{int(k)}".encode()).digest()
    entropy = [int.from_bytes(digest[i : i + 4], "little") for i in range(0, 16, 4)]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class CovariateModel:
    """The covariate-only model of a trait: intercept + coefficients (and σ for quantitative)."""

    kind: str
    params: np.ndarray  # intercept first, then one coefficient per covariate
    scale: float = 0.0  # residual SD (quantitative traits)

    def linear_predictor(self, covariates: np.ndarray) -> np.ndarray:
        c = np.asarray(covariates, dtype=np.float64).reshape(len(covariates), -1)
        return self.params[0] + c @ self.params[1:]

    def mean(self, covariates: np.ndarray) -> np.ndarray:
        eta = self.linear_predictor(covariates)
        if self.kind == "binary":
            from scipy.special import expit

            return expit(eta)
        return eta


def _design(covariates: np.ndarray) -> np.ndarray:
    c = np.asarray(covariates, dtype=np.float64).reshape(len(covariates), -1)
    return np.column_stack([np.ones(len(c)), c])


def fit_covariate_model(y: np.ndarray, covariates: np.ndarray, kind: str) -> CovariateModel:
    """statsmodels' logistic (binary) or least-squares (quantitative) fit of y on the covariates."""
    import statsmodels.api as sm

    y = np.asarray(y, dtype=np.float64)
    design = _design(covariates)
    if kind == "binary":
        if not np.isin(y, (0.0, 1.0)).all():
            raise ValueError("binary trait must be 0/1 to fit the covariate-only model")
        fit = sm.GLM(y, design, family=sm.families.Binomial()).fit()
        return CovariateModel(kind, np.asarray(fit.params, dtype=np.float64))
    if kind == "quantitative":
        fit = sm.OLS(y, design).fit()
        # fit.scale: residual variance with the n - p degrees of freedom (unbiased)
        return CovariateModel(kind, np.asarray(fit.params, dtype=np.float64), float(np.sqrt(fit.scale)))
    raise ValueError(f"unknown trait kind {kind!r}")


def draw_null_trait(model: CovariateModel, covariates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One parametric-bootstrap draw of the trait given the covariates."""
    mean = model.mean(covariates)
    if model.kind == "binary":
        return (rng.random(len(mean)) < mean).astype(np.float64)
    return mean + rng.normal(0.0, model.scale, size=len(mean))


def null_trait_table(
    traits: pd.DataFrame, covariates: pd.DataFrame, trait: str, kind: str, seed: int, column: str | None = None
) -> tuple[pd.DataFrame, CovariateModel]:
    """A trait table (FID, IID, ``column``) holding one null copy of ``trait``.

    The covariate-only model is fitted on every sample with the trait and all covariates
    (the null model of the GWAS, not only the training split: the draw replaces the trait
    of all splits alike). Samples without a trait or covariate value get NA, so each null
    trait is observed on exactly the samples the real one is.
    """
    column = column or trait
    names = [c for c in covariates.columns if c not in ("FID", "IID")]
    table = traits[[c for c in ("FID", "IID") if c in traits.columns] + [trait]].merge(
        covariates[["IID", *names]], on="IID", how="left"
    )
    ok = table[[trait, *names]].notna().all(axis=1).to_numpy()
    c = table.loc[ok, names].to_numpy(dtype=np.float64)
    model = fit_covariate_model(table.loc[ok, trait].to_numpy(dtype=np.float64), c, kind)
    values = np.full(len(table), np.nan)
    values[ok] = draw_null_trait(model, c, np.random.default_rng(seed))
    out = table[[c for c in ("FID", "IID") if c in table.columns]].copy()
    out[column] = values
    return out, model


# --- the null distribution of the scores -------------------------------------------------


def _matrix(null_scores) -> np.ndarray:
    null = np.asarray(null_scores, dtype=np.float64)
    if null.ndim != 2:
        raise ValueError("null scores must be a (K nulls x M SNPs) matrix")
    return null


def empirical_p(observed, null_scores, pooled: bool = False) -> np.ndarray:
    """(1 + #{null >= observed}) / (K + 1) per SNP, or over all K·M null scores if ``pooled``.

    NaN observed scores (monomorphic SNPs) get NaN; NaN null scores never count as >=.
    """
    obs = np.asarray(observed, dtype=np.float64)
    null = _matrix(null_scores)
    if null.shape[1] != len(obs):
        raise ValueError(f"{null.shape[1]} SNPs in the null scores, {len(obs)} observed")
    if pooled:
        flat = np.sort(null[~np.isnan(null)])
        at_least = len(flat) - np.searchsorted(flat, obs, side="left")
        p = (1 + at_least) / (len(flat) + 1)
    else:
        with np.errstate(invalid="ignore"):
            at_least = (null >= obs[None, :]).sum(axis=0)
        p = (1 + at_least) / (null.shape[0] + 1)
    return np.where(np.isnan(obs), np.nan, p)


def null_maxima(null_scores) -> np.ndarray:
    """The maximum score of each null (over SNPs; NaN ignored)."""
    return np.nanmax(_matrix(null_scores), axis=1)


def max_statistic_threshold(maxima, alpha: float) -> float:
    """The ⌈(1 − α)(K + 1)⌉-th smallest of the K null maxima (inf if that exceeds K).

    Discoveries are SNPs with a score strictly above it: FWER <= α (module docstring).
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    m = np.sort(np.asarray(maxima, dtype=np.float64))
    # the small epsilon keeps (1 - 0.05) * 20 = 19 from becoming 19.000000000000004 -> 20
    j = math.ceil((1 - alpha) * (len(m) + 1) - 1e-9)
    if j > len(m) or j < 1:
        return math.inf
    return float(m[j - 1])


def fwer_p(observed, maxima) -> np.ndarray:
    """Single-step max-statistic adjusted p: (1 + #{null maxima >= score}) / (K + 1)."""
    obs = np.asarray(observed, dtype=np.float64)
    m = np.sort(np.asarray(maxima, dtype=np.float64))
    at_least = len(m) - np.searchsorted(m, obs, side="left")
    return np.where(np.isnan(obs), np.nan, (1 + at_least) / (len(m) + 1))


def null_summary(observed: pd.DataFrame, null_tables: list[pd.DataFrame], alpha: float | None = None) -> pd.DataFrame:
    """Per SNP: observed score, its empirical p (per SNP and pooled), FWER-adjusted p.

    ``observed``: the seed-averaged selected scores (variant_id, score); ``null_tables``:
    the same table of each null, in null order. Rows in the observed order.
    """
    ids = observed["variant_id"].astype(str)
    for i, t in enumerate(null_tables, 1):
        if not t["variant_id"].astype(str).reset_index(drop=True).equals(ids.reset_index(drop=True)):
            raise ValueError(f"null {i}: its score table lists other variants than the observed one")
    null = np.vstack([t["score"].to_numpy(np.float64) for t in null_tables])
    obs = observed["score"].to_numpy(np.float64)
    maxima = null_maxima(null)
    out = pd.DataFrame({"variant_id": ids.to_numpy(), "score": obs})
    out["p_empirical"] = empirical_p(obs, null)
    out["p_pooled"] = empirical_p(obs, null, pooled=True)
    out["p_fwer"] = fwer_p(obs, maxima)
    return out


def maxima_table(null_tables: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per null: its index (1..K), maximum score and the SNP holding it."""
    rows = []
    for k, t in enumerate(null_tables, 1):
        s = t["score"].to_numpy(np.float64)
        i = int(np.nanargmax(s))
        rows.append({"null": k, "max_score": float(s[i]), "variant_id": str(t["variant_id"].iloc[i])})
    return pd.DataFrame(rows, columns=["null", "max_score", "variant_id"])
