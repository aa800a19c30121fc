"""Baseline single-SNP GWAS: the classical analysis the deep-learning scores are compared with.

For every SNP one regression of the trait on ``[1, covariates, g]`` is fitted, where ``g``
is the additive dosage of allele A1 (.bim column 5, the allele `plink.Bed.read` counts,
reported as ``effect_allele``):

* quantitative traits: ordinary least squares, t statistic on ``n - k - 1`` degrees of
  freedom (as plink2 ``--glm`` does for linear models);
* binary traits (0/1): logistic regression by Newton-Raphson (= IRLS), Wald z statistic
  with a normal p-value (as plink2 ``--glm no-firth``).

Missing genotypes are dropped per SNP: each SNP's regression uses exactly the samples
with a non-missing call at that SNP (never imputed), so ``n`` varies between SNPs.

Everything is vectorised over the SNPs of a block:

* linear, SNPs without missing calls: exact closed form after projecting the covariates
  out once (one QR of the covariate design); one matrix product per batch gives every
  SNP's beta, residual sum of squares and standard error;
* linear, SNPs with missing calls: the exact normal equations of ``[1, C, g]`` restricted
  to that SNP's called samples, for all such SNPs at once: the covariate sums are the
  all-sample sums minus the few missing samples' terms, and the small systems are solved
  as one batch;
* logistic: batched Newton-Raphson over many SNPs at once (per-SNP sample masks give the
  per-SNP missingness), started at the covariate-only fit (there the first iteration
  needs only products of g with fixed vectors), with a fixed maximum number of
  iterations; SNPs leave the active set as soon as they converge.

SNP blocks are streamed from the .bed (positioned reads, `Bed.read`), so memory is
bounded by the block size (plus one small result row per SNP), not by the number of SNPs.
Dask is deliberately not used: a plain loop over blocks already streams, and the per-block
work is dense linear algebra, which a task graph would only add scheduling overhead to.
Parallelism is a thread pool over blocks with single-threaded BLAS in each thread (numpy
releases the GIL), see `run_gwas`.

SNPs that cannot be tested get NA statistics and a ``status`` instead of an exception:
``monomorphic`` (no variation among the used samples), ``collinear`` (the dosage is a
linear function of the covariates on the used samples, or too few samples),
``separation`` (logistic: the SNP, alone or with the covariates, perfectly or
quasi-perfectly separates cases from controls, so the maximum-likelihood estimate does
not exist) and ``not_converged`` (logistic: Newton did not converge within
``max_iter`` for another reason).
"""

from __future__ import annotations

import logging
import math
import os
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from .errors import InputError
from .plink import Bed
from . import sumstats as ssf

log = logging.getLogger(__name__)

KINDS = ("binary", "quantitative")
STATUS_OK = "ok"
STATUS_MONOMORPHIC = "monomorphic"
STATUS_COLLINEAR = "collinear"
STATUS_SEPARATION = "separation"
STATUS_NOT_CONVERGED = "not_converged"

SUMSTATS_COLUMNS = [
    "chromosome",
    "base_pair_location",
    "effect_allele",
    "other_allele",
    "beta",
    "standard_error",
    "effect_allele_frequency",
    "p_value",
    "neg_log10_p_value",
    "n",
    "variant_id",
    "status",
]

# A per-allele log odds ratio beyond this never comes from a real association; Newton only
# gets there when the likelihood has no maximum (separation), so we stop and flag it.
SEPARATION_BETA_LIMIT = 15.0
# Fitted probabilities this close to 0/1 mean the fit is being pushed onto the labels.
_SATURATED = 1e-9
# Residual variance of the dosage (after the covariates) below this fraction of its total
# variance: the SNP carries no information beyond the covariates.
_COLLINEAR_TOL = 1e-8
# Elements (SNPs x samples) processed at once inside a block: bounds the float64 temporaries
# and keeps them in cache (measured fastest for N = 10,000: 2^19, i.e. 52 SNPs).
_BATCH_ELEMENTS = 1 << 19
_MIN_BATCH_SNPS = 1  # never more: per-thread work arrays stay at _BATCH_ELEMENTS whatever N is
_LN10 = math.log(10.0)


# --------------------------------------------------------------------------------------
# Reading genotypes
# --------------------------------------------------------------------------------------

# Each .bed byte holds 4 genotypes; this table maps it to their 4 int8 dosages packed in one
# uint32, so decoding is a single gather (about 10x faster than gathering (4,) rows).
# --------------------------------------------------------------------------------------
# p-values on the log scale
# --------------------------------------------------------------------------------------


def normal_two_sided_neg_log10_p(z: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided normal p-value, accurate far beyond float underflow."""
    z = np.abs(np.asarray(z, dtype=np.float64))
    return -(math.log(2.0) + special.log_ndtr(-z)) / _LN10


def t_two_sided_neg_log10_p(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided Student-t p-value, accurate far beyond float underflow.

    log of scipy's t distribution function is -inf once the p-value underflows (p < ~1e-308), so for
    those we evaluate ``p = I_x(df/2, 1/2)``, ``x = df / (df + t^2)`` (the regularised
    incomplete beta function) on the log scale with its continued fraction.
    """
    t = np.abs(np.asarray(t, dtype=np.float64))
    df = np.broadcast_to(np.asarray(df, dtype=np.float64), t.shape)
    out = np.full(t.shape, np.nan)
    valid = np.isfinite(t) & (df > 0)
    log_p = np.full(t.shape, np.nan)
    with np.errstate(divide="ignore"):
        log_p[valid] = np.log(2.0 * special.stdtr(df[valid], -t[valid]))
    tiny = valid & ~(log_p > -700.0)  # underflowed or close to it: use the log-space formula
    if tiny.any():
        log_p[tiny] = _log_betainc_tail(df[tiny] / 2.0, 0.5, t[tiny], df[tiny])
    out[valid] = -log_p[valid] / _LN10
    return out


def _log_betainc_tail(a: np.ndarray, b: float, t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """log I_x(a, b) with x = df/(df+t^2), for x below the mean (the far tail).

    I_x(a,b) = x^a (1-x)^b / (a B(a,b)) * CF(x), CF the continued fraction of Numerical
    Recipes' ``betacf`` (modified Lentz), which converges fast for x < (a+1)/(a+b+2).
    """
    t2 = t * t
    log_x = -np.log1p(t2 / df)
    log_1mx = np.log(t2) - np.log(df + t2)
    x = np.exp(log_x)
    fpmin = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < fpmin, fpmin, d)
    d = 1.0 / d
    h = d.copy()
    for m in range(1, 100_000):
        m2 = 2.0 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < fpmin, fpmin, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < fpmin, fpmin, c)
        d = 1.0 / d
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = np.where(np.abs(d) < fpmin, fpmin, d)
        c = 1.0 + aa / c
        c = np.where(np.abs(c) < fpmin, fpmin, c)
        d = 1.0 / d
        delta = d * c
        h *= delta
        if np.all(np.abs(delta - 1.0) < 1e-15):
            break
    return a * log_x + b * log_1mx - special.betaln(a, b) - np.log(a) + np.log(h)


def format_p_values(neg_log10_p: np.ndarray) -> np.ndarray:
    """p-values as text with 6 significant digits, from -log10 p.

    p-values below the smallest double are still written exactly (e.g. ``3.1e-412``)
    instead of as 0, because they are formatted from -log10 p.
    """
    nlp = np.asarray(neg_log10_p, dtype=np.float64)
    out = np.full(nlp.shape, "NA", dtype=object)
    finite = np.isfinite(nlp)
    with np.errstate(under="ignore"):
        p = np.power(10.0, -nlp[finite])
    texts = [f"{v:.6g}" for v in p]
    small = np.flatnonzero(p < 1e-300)
    if small.size:
        values = nlp[finite][small]
        exponent = np.ceil(values)
        mantissa = np.power(10.0, exponent - values)  # in [1, 10)
        for i, m, e in zip(small, mantissa, exponent):
            text = f"{m:.6g}"
            if text == "10":  # mantissa rounded up to the next power of ten
                text, e = "1", e - 1
            texts[i] = f"{text}e-{int(e)}"
    out[finite] = texts
    return out


def genomic_inflation(p_values) -> float:
    """lambda_GC: median association chi-square (1 df) over its expected median 0.4549."""
    p = np.asarray(p_values, dtype=np.float64)
    p = p[np.isfinite(p)]
    if p.size == 0:
        return float("nan")
    # the chi-square(1) quantile of p is z^2, z the normal quantile of p/2 (ndtri is fast)
    chi2 = special.ndtri(p / 2.0) ** 2
    return float(np.median(chi2) / special.ndtri(0.25) ** 2)


# --------------------------------------------------------------------------------------
# Per-block association on arrays
# --------------------------------------------------------------------------------------


def design_matrix(covariates: np.ndarray) -> np.ndarray:
    """``[1, standardised covariates]``.

    Standardising the covariates (on the samples used) changes neither the SNP's beta nor
    its standard error (the column space is the same) but keeps the normal equations
    well conditioned.
    """
    covariates = np.asarray(covariates, dtype=np.float64)
    n = covariates.shape[0]
    mean = covariates.mean(axis=0)
    sd = covariates.std(axis=0)
    constant = ~(sd > 0)
    if constant.any():
        raise ValueError(
            f"covariate column(s) {np.flatnonzero(constant).tolist()} are constant on the samples used; "
            "a constant covariate duplicates the intercept"
        )
    design = np.empty((n, covariates.shape[1] + 1))
    design[:, 0] = 1.0
    design[:, 1:] = (covariates - mean) / sd
    # the columns are standardised, so the Gram matrix's eigenvalues measure dependence directly
    eigenvalues = np.linalg.eigvalsh(design.T @ design / n)
    if eigenvalues[0] < 1e-10 * eigenvalues[-1]:
        raise ValueError("the covariates are linearly dependent (with each other or the intercept)")
    return design


class NullModel:
    """What every SNP's regression shares: y, the design ``[1, C]`` and the covariate-only fit.

    Computed once per trait and reused for every block: the orthonormal basis of the
    design (linear) or the covariate-only logistic estimates (the Newton warm start).
    """

    def __init__(self, y: np.ndarray, covariates: np.ndarray, kind: str, *, max_iter: int = 30):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
        self.kind = kind
        self.y = np.asarray(y, dtype=np.float64)
        if self.y.ndim != 1:
            raise ValueError(f"y must be 1-D, got shape {self.y.shape}")
        if not np.isfinite(self.y).all():
            raise ValueError("y has missing or non-finite values; drop those samples first")
        covariates = np.asarray(covariates, dtype=np.float64).reshape(len(self.y), -1)
        if not np.isfinite(covariates).all():
            raise ValueError("covariates have missing or non-finite values; drop those samples first")
        if kind == "binary" and not np.isin(self.y, (0.0, 1.0)).all():
            raise ValueError("binary traits must be coded 0/1")
        self.design = design_matrix(covariates)
        upper = np.triu_indices(self.design.shape[1])
        # per-sample terms of X'X (upper triangle), N x K(K+1)/2 floats: the missing-call
        # corrections gather rows of it
        # column by column: gathering design[:, upper[0]] and design[:, upper[1]] first would
        # hold two more N x K(K+1)/2 arrays at once (about 0.4 GB at UK Biobank size)
        self.design_pairs = np.empty((self.design.shape[0], len(upper[0])), dtype=self.design.dtype)
        for column, (i, j) in enumerate(zip(*upper)):
            np.multiply(self.design[:, i], self.design[:, j], out=self.design_pairs[:, column])
        self.projector = np.linalg.qr(self.design)[0] if kind == "quantitative" else None
        if kind == "quantitative":
            # y with the covariates projected out, and the basis: one product gives g'y_r, Q'g
            y_resid = self.y - self.projector @ (self.projector.T @ self.y)
            self.linear_columns = np.column_stack([y_resid, self.projector])
            # all-sample sums of the masked normal equations (see _linear_masked); centring
            # y only improves the conditioning, the intercept absorbs it
            self.y_centred = self.y - self.y.mean()
            self.masked_columns = np.column_stack([self.design, self.y_centred])  # g'X, g'y in one product
            self.masked_totals = np.concatenate([
                self.design_pairs.sum(axis=0),
                self.design.T @ self.y_centred,
                [self.y_centred @ self.y_centred],
            ])
        self.start_params = _logistic_covariates_only(self.y, self.design, max_iter) if kind == "binary" else None
        if kind == "binary":
            # every SNP's Newton iteration starts at the covariate-only fit (b = 0), where the
            # fitted values are these, the same for all SNPs
            null_prob = _sigmoid(self.design @ self.start_params, np.empty(len(self.y)))
            self.null_weight = null_prob * (1.0 - null_prob)
            self.null_residual = self.y - null_prob
            self.null_columns = np.column_stack([self.design * self.null_weight[:, None], self.null_residual])
            self.null_totals = np.concatenate([self.null_weight @ self.design_pairs,
                                               self.null_residual @ self.design])


def associate_block(
    dosages: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray,
    kind: str,
    *,
    max_iter: int = 30,
    tol: float = 1e-6,
    model: "NullModel | None" = None,
) -> dict[str, np.ndarray]:
    """Test every SNP of a block for association with ``y``.

    ``dosages``: int8 (n_snps, n_samples), A1 dosage 0/1/2, -1 = missing.
    ``y``: (n_samples,) trait, 0/1 for ``kind="binary"``, real for ``"quantitative"``.
    ``covariates``: (n_samples, n_covariates) real matrix, may have 0 columns; an
    intercept is always added.

    Returns arrays of length n_snps: ``beta``, ``standard_error``, ``statistic`` (t or z),
    ``neg_log10_p_value``, ``p_value``, ``effect_allele_frequency`` (of A1 among the
    SNP's used samples), ``n`` (samples used) and ``status`` (str).

    ``model``: the `NullModel` of (y, covariates, kind), to reuse across blocks.
    """
    dosages = np.asarray(dosages)
    if dosages.ndim != 2:
        raise ValueError(f"dosages must be 2-D (n_snps, n_samples), got shape {dosages.shape}")
    n_snps, n_samples = dosages.shape
    if model is None:
        model = NullModel(y, covariates, kind, max_iter=max_iter)
    if model.y.shape != (n_samples,):
        raise ValueError(f"y has {model.y.shape[0]} samples, dosages have {n_samples}")

    result = {
        "beta": np.full(n_snps, np.nan),
        "standard_error": np.full(n_snps, np.nan),
        "statistic": np.full(n_snps, np.nan),
        "neg_log10_p_value": np.full(n_snps, np.nan),
        "effect_allele_frequency": np.full(n_snps, np.nan),
        "n": np.zeros(n_snps, dtype=np.int64),
        "status": np.full(n_snps, STATUS_OK, dtype=object),
    }
    if n_snps == 0:
        result["p_value"] = np.zeros(0)
        return result
    batch = max(_MIN_BATCH_SNPS, _BATCH_ELEMENTS // max(n_samples, 1))
    for lo in range(0, n_snps, batch):
        hi = min(lo + batch, n_snps)
        _associate_batch(dosages[lo:hi], model, max_iter, tol, {k: v[lo:hi] for k, v in result.items()})
    with np.errstate(under="ignore"):
        result["p_value"] = np.power(10.0, -result["neg_log10_p_value"])
    return result


def _rows(array: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """array[rows] without a copy when rows is every row in order."""
    return array if len(rows) == len(array) else array[rows]


def _associate_batch(dosages, model: "NullModel", max_iter, tol, out) -> None:
    """Fill ``out`` (views into the result arrays) for one batch of SNPs."""
    y, design, kind = model.y, model.design, model.kind
    n_samples = dosages.shape[1]
    has_missing = dosages.min(axis=1) < 0
    missing_rows = np.flatnonzero(has_missing)
    # missing calls (-1) become 0 in the float copy; the masks below drop those samples
    genotypes = (np.maximum(dosages, 0) if missing_rows.size else dosages).astype(np.float64)
    n_used = np.full(len(dosages), n_samples, dtype=np.int64)
    called = dosages[missing_rows] >= 0  # (rows with missing calls, N)
    n_used[missing_rows] = np.count_nonzero(called, axis=1)
    sum_g = genotypes.sum(axis=1)
    sum_g2 = np.vecdot(genotypes, genotypes)
    out["n"][:] = n_used
    with np.errstate(invalid="ignore", divide="ignore"):
        out["effect_allele_frequency"][:] = sum_g / (2.0 * n_used)
    # integer-valued sums, so this variance numerator is exact: 0 <=> no variation
    centred_ss_times_n = n_used * sum_g2 - sum_g * sum_g
    monomorphic = (n_used == 0) | (centred_ss_times_n <= 0)
    out["status"][monomorphic] = STATUS_MONOMORPHIC

    testable = ~monomorphic
    if kind == "quantitative":
        complete = np.flatnonzero(testable & ~has_missing)
        partial = np.flatnonzero(testable & has_missing)
        if complete.size:
            fit = _linear_complete(_rows(genotypes, complete), sum_g2[complete], model)
            _store_linear(out, complete, fit, design.shape[1], centred_ss_times_n[complete] / n_used[complete])
        if partial.size:
            partial_called = called[np.searchsorted(missing_rows, partial)]
            fit = _linear_masked(genotypes[partial], partial_called, model)
            _store_linear(out, partial, fit, design.shape[1], centred_ss_times_n[partial] / n_used[partial])
    else:
        rows = np.flatnonzero(testable)
        if rows.size:
            mask = None
            if has_missing[rows].any():
                mask = np.ones((len(rows), n_samples))
                with_missing = np.flatnonzero(has_missing[rows])
                mask[with_missing] = called[np.searchsorted(missing_rows, rows[with_missing])]
            beta, variance, status = _logistic_newton(_rows(genotypes, rows), mask, model, max_iter, tol)
            ok = status == STATUS_OK
            se = np.sqrt(variance)
            z = beta / se
            out["status"][rows] = status
            idx = rows[ok]
            out["beta"][idx] = beta[ok]
            out["standard_error"][idx] = se[ok]
            out["statistic"][idx] = z[ok]
            out["neg_log10_p_value"][idx] = normal_two_sided_neg_log10_p(z[ok])


def _store_linear(out, rows, fit, n_design, centred_ss) -> None:
    beta, residual_ss_g, rss, n_used = fit
    df = n_used - n_design - 1
    collinear = ~(residual_ss_g > _COLLINEAR_TOL * centred_ss) | (df <= 0)
    ok = ~collinear
    out["status"][rows[collinear]] = STATUS_COLLINEAR
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma2 = np.maximum(rss, 0.0) / df
        se = np.sqrt(sigma2 / residual_ss_g)
        t = beta / se
    idx = rows[ok]
    out["beta"][idx] = beta[ok]
    out["standard_error"][idx] = se[ok]
    out["statistic"][idx] = t[ok]
    out["neg_log10_p_value"][idx] = t_two_sided_neg_log10_p(t[ok], df[ok])


def _linear_complete(genotypes, sum_g2, model: "NullModel"):
    """OLS of y on [design, g] for SNPs called in every sample, via the projection.

    With Q an orthonormal basis of the design, g_r = g - Q Q'g and y_r = y - Q Q'y:
    beta = g'y_r / g_r'g_r, RSS = y_r'y_r - beta^2 g_r'g_r (Frisch-Waugh-Lovell).
    """
    products = genotypes @ model.linear_columns  # (B, 1 + K): g'y_r, Q'g
    g_y = products[:, 0]
    y_resid = model.linear_columns[:, 0]
    residual_ss_g = sum_g2 - np.einsum("ij,ij->i", products[:, 1:], products[:, 1:])
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = g_y / residual_ss_g
    rss = y_resid @ y_resid - beta * g_y
    n_used = np.full(len(genotypes), genotypes.shape[1], dtype=np.float64)
    return beta, residual_ss_g, rss, n_used


def _linear_masked(genotypes, called, model: "NullModel"):
    """Exact OLS of y on [design, g] restricted to each SNP's non-missing samples.

    Normal equations per SNP from masked sums (m = called mask, missing g already 0):
      A = X' diag(m) X, u = X'g, s = g'g, c = X' diag(m) y, g'y, y' diag(m) y.
    Eliminating the covariates (Schur complement):
      S = s - u'A^-1 u, beta = (g'y - u'A^-1 c) / S,
      RSS = y'my - c'A^-1 c - beta^2 S.
    A, c and y'my are the all-sample sums minus the few missing samples' terms, so their
    cost grows with the number of missing calls, not with N.
    """
    design, y_c = model.design, model.y_centred
    n_design = design.shape[1]
    upper = np.triu_indices(n_design)
    n_pairs = len(upper[0])

    def terms(samples):
        y_s = y_c[samples]
        return np.column_stack([model.design_pairs[samples], design[samples] * y_s[:, None], y_s * y_s])

    sums = _masked_sums(called, terms, model.masked_totals)
    a = np.empty((len(genotypes), n_design, n_design))
    a[:, upper[0], upper[1]] = sums[:, :n_pairs]
    a[:, upper[1], upper[0]] = sums[:, :n_pairs]
    c = sums[:, n_pairs:-1]
    y_y = sums[:, -1]
    products = genotypes @ model.masked_columns
    u, g_y = products[:, :n_design], products[:, n_design]
    s = np.vecdot(genotypes, genotypes)
    solved, solvable = _batched_solve(a, np.stack([u, c], axis=2))
    a_inv_u, a_inv_c = solved[:, :, 0], solved[:, :, 1]
    residual_ss_g = s - np.einsum("ij,ij->i", u, a_inv_u)
    residual_ss_g[~solvable] = 0.0  # -> reported as collinear
    with np.errstate(invalid="ignore", divide="ignore"):
        beta = (g_y - np.einsum("ij,ij->i", u, a_inv_c)) / residual_ss_g
    rss = y_y - np.einsum("ij,ij->i", c, a_inv_c) - beta * beta * residual_ss_g
    return beta, residual_ss_g, rss, called.sum(axis=1).astype(np.float64)


def _batched_solve(matrices: np.ndarray, rhs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Solve a stack of small systems; a singular one gives NaN instead of failing the batch."""
    try:
        return np.linalg.solve(matrices, rhs), np.ones(len(matrices), dtype=bool)
    except np.linalg.LinAlgError:
        # rare (degenerate SNPs only): redo one by one to find which systems are singular
        out = np.full(rhs.shape, np.nan)
        ok = np.zeros(len(matrices), dtype=bool)
        for i in range(len(matrices)):
            try:
                out[i] = np.linalg.solve(matrices[i], rhs[i])
                ok[i] = True
            except np.linalg.LinAlgError:
                pass
        return out, ok


def _logistic_covariates_only(y: np.ndarray, design: np.ndarray, max_iter: int) -> np.ndarray:
    """Newton fit of the covariate-only logistic model (the warm start of every SNP)."""
    if y.min() == y.max():
        raise ValueError("the binary trait has only cases or only controls")
    params = np.zeros(design.shape[1])
    params[0] = special.logit(y.mean())
    for _ in range(max_iter * 2):
        p = special.expit(design @ params)
        hessian = design.T @ (design * (p * (1 - p))[:, None])
        step = np.linalg.solve(hessian, design.T @ (y - p))
        params += step
        if np.max(np.abs(step)) < 1e-10:
            return params
    raise ValueError(
        "the covariate-only logistic model does not converge: the covariates (perfectly) "
        "separate cases from controls"
    )


def _sigmoid(eta: np.ndarray, out: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-eta)) in place (3x faster than scipy's expit); exp overflow gives 0 correctly."""
    np.negative(eta, out=out)
    with np.errstate(over="ignore"):
        np.exp(out, out=out)
    out += 1.0
    return np.reciprocal(out, out=out)


def _masked_sums(called: np.ndarray, terms_of: Callable[[np.ndarray], np.ndarray], totals: np.ndarray) -> np.ndarray:
    """Per-SNP sums over called samples = all-sample ``totals`` - the missing samples' terms.

    ``called``: (B, N) bool; ``terms_of(sample_indices)`` -> (n, P) per-sample terms. The
    cost grows with the number of missing calls, not with N.
    """
    rows, cols = np.nonzero(~called)  # row-major order: grouped by SNP
    sums = np.broadcast_to(totals, (len(called), len(totals))).copy()
    if len(cols):
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        sums[rows[starts]] -= np.add.reduceat(terms_of(cols), starts, axis=0)
    return sums


def _logistic_newton(genotypes, mask, model: "NullModel", max_iter, tol):
    """Batched Newton-Raphson for logit P(y=1) = design @ a + b g, for every SNP (row).

    ``mask`` (B, N) float 0/1 or None (no missing calls in this batch). Returns beta (B,),
    var(beta) (B,) from the inverse observed information, and a status per SNP.

    Newton starts at the covariate-only fit with b = 0; there the fitted values are the
    same for every SNP, so the first iteration only needs products of g with fixed vectors.
    Each later iteration is a handful of passes over the N samples plus three thin matrix
    products per SNP. SNPs that have converged (or diverged) leave the active set, so the
    arrays shrink as the iterations go on.
    """
    y, design = model.y, model.design
    n_snps, n_samples = genotypes.shape
    n_design = design.shape[1]
    upper = np.triu_indices(n_design)
    n_pairs = len(upper[0])
    design_pairs = model.design_pairs
    params = np.zeros((n_snps, n_design + 1))
    params[:, :n_design] = model.start_params
    variance = np.full(n_snps, np.nan)
    status = np.full(n_snps, STATUS_NOT_CONVERGED, dtype=object)
    # buffers reused across iterations; views of their leading rows as the active set shrinks
    prob_buffer = np.empty(n_snps * n_samples)
    work_buffer = np.empty(2 * n_snps * n_samples)

    active = np.arange(n_snps)
    g, m = genotypes, mask
    for iteration in range(max_iter):
        n_active = active.size
        if n_active == 0:
            break
        theta = params[active]
        info = np.empty((n_active, n_design + 1, n_design + 1))
        rhs = np.zeros((n_active, n_design + 1, 2))
        rhs[:, n_design, 1] = 1.0  # solving for e_b too gives [info^-1]_bb, the variance
        if iteration == 0:
            products = g @ model.null_columns  # X'W0 g | r0'g
            squares = prob_buffer[: n_active * n_samples].reshape(n_active, n_samples)
            np.square(g, out=squares)
            g_w_g = squares @ model.null_weight
            if m is None:
                xwx = np.broadcast_to(model.null_totals[:n_pairs], (n_active, n_pairs))
                score_a = np.broadcast_to(model.null_totals[n_pairs:], (n_active, n_design))
            else:
                def terms(samples):
                    return np.column_stack([design_pairs[samples] * model.null_weight[samples, None],
                                            design[samples] * model.null_residual[samples, None]])
                sums = _masked_sums(m > 0, terms, model.null_totals)
                xwx, score_a = sums[:, :n_pairs], sums[:, n_pairs:]
            x_w_g, score_b = products[:, :n_design], products[:, n_design]
        else:
            prob = prob_buffer[: n_active * n_samples].reshape(n_active, n_samples)
            work = work_buffer[: 2 * n_active * n_samples].reshape(2 * n_active, n_samples)
            residual, weight = work[:n_active], work[n_active:]
            np.matmul(theta[:, :n_design], design.T, out=prob)  # eta
            np.multiply(g, theta[:, n_design:], out=residual)  # residual as scratch
            prob += residual
            _sigmoid(prob, prob)
            np.subtract(y, prob, out=residual)
            np.subtract(1.0, prob, out=weight)
            weight *= prob
            if m is not None:
                residual *= m
                weight *= m
            xwx = weight @ design_pairs
            weight *= g  # now w * g
            products = work @ design  # rows: r'X, then (w g)'X
            g_terms = np.vecdot(work.reshape(2, n_active, n_samples), g)  # r'g, g'Wg
            score_a, x_w_g = products[:n_active], products[n_active:]
            score_b, g_w_g = g_terms[0], g_terms[1]
        info[:, upper[0], upper[1]] = xwx
        info[:, upper[1], upper[0]] = xwx
        info[:, :n_design, n_design] = x_w_g
        info[:, n_design, :n_design] = x_w_g
        info[:, n_design, n_design] = g_w_g
        rhs[:, :n_design, 0] = score_a
        rhs[:, n_design, 0] = score_b
        solved, solvable = _batched_solve(info, rhs)
        step = solved[:, :, 0]
        params[active] = theta + step
        variance[active] = solved[:, n_design, 1]  # [info^-1]_bb at (almost) the estimate

        singular = ~solvable | ~np.isfinite(step).all(axis=1)
        diverged = singular | (np.abs(params[active, n_design]) > SEPARATION_BETA_LIMIT)
        converged = ~diverged & (np.max(np.abs(step), axis=1) < tol)
        status[active[diverged]] = STATUS_SEPARATION
        status[active[converged]] = STATUS_OK
        still = ~(diverged | converged)
        if not still.all():
            active = active[still]
            g = g[still]
            m = None if m is None else m[still]

    if active.size:
        # out of iterations: separation if the fit is pushing probabilities onto the labels
        eta = params[active, :n_design] @ design.T + params[active, n_design:] * g
        p = _sigmoid(eta, eta)
        fitted_on_label = np.abs(y - p) < _SATURATED
        if m is not None:
            fitted_on_label &= m > 0
        status[active[fitted_on_label.any(axis=1)]] = STATUS_SEPARATION
    ok = status == STATUS_OK
    bad_variance = ok & ~(variance > 0)
    status[bad_variance] = STATUS_SEPARATION
    return params[:, n_design], variance, status


# --------------------------------------------------------------------------------------
# Files: sample matching and the streamed run
# --------------------------------------------------------------------------------------


def _read_sample_table(path: Path, required: list[str], what: str) -> pd.DataFrame:
    """FID/IID as text, every other column parsed by pandas (NA or an empty cell = missing)."""
    if not path.exists():
        raise InputError(path, f"{what} file not found")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str}, na_values=["NA", ""],
                            keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(path, f"{what} file is empty (expected a header FID IID ...)") from None
    except pd.errors.ParserError as err:
        raise InputError(path, f"not a valid tab-separated table: {err}") from None
    for column in ["FID", "IID", *required]:
        if column not in table.columns:
            raise InputError(path, f"column '{column}' not found; columns are {list(table.columns)}", line=1)
    if table["IID"].isna().any():
        row = int(np.flatnonzero(table["IID"].isna().to_numpy())[0])
        raise InputError(path, "empty IID", line=row + 2, field="IID")
    duplicated = table["IID"].duplicated()
    if duplicated.any():
        row = int(np.flatnonzero(duplicated.to_numpy())[0])
        raise InputError(path, f"duplicate IID '{table['IID'].iloc[row]}'", line=row + 2, field="IID")
    return table


def _numeric_column(path: Path, table: pd.DataFrame, column: str) -> np.ndarray:
    """A column as float; NA / empty cells are missing, anything else must be a number."""
    values = table[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.float64)
    # pandas kept the column as text: find the first cell that is not a number
    parsed = pd.to_numeric(values.astype(str).str.strip(), errors="coerce")
    bad = parsed.isna() & values.notna()
    row = int(np.flatnonzero(bad.to_numpy())[0]) if bad.any() else 0
    raise InputError(path, f"'{values.iloc[row]}' is not a number (use NA for missing)", line=row + 2, field=column)


def load_samples(
    bed: Bed, traits_tsv: str | Path, covariates_tsv: str | Path, trait: str, kind: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Match samples by IID between .fam, traits.tsv and covariates.tsv.

    Returns (row indices into the .fam, in .fam order; y; covariate matrix; covariate names).
    Used samples: in all three files with a non-missing trait and non-missing covariates.
    Covariates that are constant on those samples are dropped (with a warning): they only
    duplicate the intercept.
    """
    traits_tsv, covariates_tsv = Path(traits_tsv), Path(covariates_tsv)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    traits = _read_sample_table(traits_tsv, [trait], "traits")
    covars = _read_sample_table(covariates_tsv, [], "covariates")
    covariate_names = [c for c in covars.columns if c not in ("FID", "IID")]

    y_all = _numeric_column(traits_tsv, traits, trait)
    if kind == "binary":
        bad = ~np.isnan(y_all) & ~np.isin(y_all, (0.0, 1.0))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise InputError(traits_tsv, f"binary trait value '{y_all[row]:g}' is not 0, 1 or NA",
                             line=row + 2, field=trait)
    cov_all = np.column_stack([_numeric_column(covariates_tsv, covars, c) for c in covariate_names]) \
        if covariate_names else np.zeros((len(covars), 0))

    fam_iid = bed.fam["iid"].astype(str).to_numpy()
    trait_row = pd.Series(np.arange(len(traits)), index=traits["IID"]).reindex(fam_iid).to_numpy()
    covar_row = pd.Series(np.arange(len(covars)), index=covars["IID"]).reindex(fam_iid).to_numpy()
    in_both = ~np.isnan(trait_row) & ~np.isnan(covar_row)
    samples = np.flatnonzero(in_both)
    y = y_all[trait_row[samples].astype(np.int64)]
    cov = cov_all[covar_row[samples].astype(np.int64)]
    complete = ~np.isnan(y) & ~np.isnan(cov).any(axis=1)
    samples, y, cov = samples[complete], y[complete], cov[complete]
    log.info(
        "%d of %d .fam samples used (%d not in %s, %d not in %s, %d with missing trait/covariates)",
        len(samples), len(fam_iid), int(np.isnan(trait_row).sum()), traits_tsv.name,
        int(np.isnan(covar_row).sum()), covariates_tsv.name, int((~complete).sum()),
    )
    if len(samples) == 0:
        raise InputError(traits_tsv, f"no sample has a non-missing '{trait}' together with non-missing covariates "
                         f"in {covariates_tsv} and genotypes in {bed.prefix}.fam (samples are matched by IID)")
    if kind == "binary" and (y.min() == y.max()):
        raise InputError(traits_tsv, f"binary trait '{trait}' has only {'cases' if y[0] else 'controls'} "
                         "among the samples used", field=trait)
    if kind == "quantitative" and not (y.std() > 0):
        raise InputError(traits_tsv, f"quantitative trait '{trait}' is constant among the samples used", field=trait)
    constant = ~(cov.std(axis=0) > 0) if cov.shape[1] else np.zeros(0, dtype=bool)
    if constant.any():
        dropped = [n for n, c in zip(covariate_names, constant) if c]
        log.warning("dropping covariate(s) constant on the samples used: %s", ", ".join(dropped))
        cov = cov[:, ~constant]
        covariate_names = [n for n, c in zip(covariate_names, constant) if not c]
    return samples, y, cov, covariate_names


def default_block_size(n_samples: int) -> int:
    """SNPs per streamed block: about 4 M genotypes per block (4 MB as int8)."""
    return int(min(4096, max(16, (4 << 20) // max(n_samples, 1))))


def default_threads() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_gwas(
    bed_prefix: str | Path,
    traits_tsv: str | Path,
    covariates_tsv: str | Path,
    trait: str,
    kind: str,
    out_path: str | Path,
    block_size: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    threads: int | None = None,
    genome_assembly: str = "NR",
) -> pd.DataFrame:
    """Run the GWAS of ``trait`` and write GWAS-SSF summary statistics to ``out_path``.

    The file and its ``-meta.yaml`` are written by `liftgwas.sumstats` (``genome_assembly``
    goes into the metadata); the returned table is the association table of every .bim
    variant (``SUMSTATS_COLUMNS``: .bim ID as variant_id, a status per SNP).

    Streams the genotypes in blocks of ``block_size`` SNPs (default: ~4 M genotypes per
    block); ``threads`` blocks (default: all usable cores) are tested concurrently, each
    by one thread with single-threaded BLAS (the products here are thin and memory-bound:
    one BLAS call per core scales, and multi-threaded BLAS collapses when the cores are
    shared). At most ``2 * threads`` blocks are in memory at a time.
    ``progress(blocks_done, blocks_total)`` is called after each block (and progress is
    logged). Returns the summary-statistics table it wrote.
    """
    threads = max(1, threads or default_threads())
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_gwas(bed_prefix, traits_tsv, covariates_tsv, trait, kind, out_path, block_size, progress,
                         threads, genome_assembly)


def _run_gwas(bed_prefix, traits_tsv, covariates_tsv, trait, kind, out_path, block_size, progress, threads,
              genome_assembly="NR"):
    bed = Bed(bed_prefix)
    samples, y, cov, covariate_names = load_samples(bed, traits_tsv, covariates_tsv, trait, kind)
    try:
        model = NullModel(y, cov, kind)
    except ValueError as err:
        raise InputError(covariates_tsv, f"cannot fit the covariate-only model for '{trait}' "
                         f"(covariates {', '.join(covariate_names) or 'none'}): {err}") from None
    block_size = block_size or default_block_size(len(samples))
    log.info("GWAS of %s trait '%s': %d samples, %d SNPs, covariates: %s; %d threads, %d SNPs per block",
             kind, trait, len(y), bed.n_snps, ", ".join(covariate_names) or "none", threads, block_size)
    subset = None if len(samples) == bed.n_samples else samples
    starts = range(0, bed.n_snps, block_size)
    n_blocks = len(starts)
    parts = []

    def collect(future) -> None:
        parts.append(future.result())
        done = len(parts)
        if progress is not None:
            progress(done, n_blocks)
        if done == n_blocks or done % max(1, n_blocks // 20) == 0:
            log.info("blocks done: %d / %d", done, n_blocks)

    def test_block(start: int) -> dict[str, np.ndarray]:
        dosages = bed.read(start, min(start + block_size, bed.n_snps), subset)
        return associate_block(dosages, y, cov, kind, model=model)

    with ThreadPoolExecutor(threads) as pool:
        pending = deque()
        for start in starts:
            pending.append(pool.submit(test_block, start))
            if len(pending) >= 2 * threads:
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())

    merged = {k: np.concatenate([p[k] for p in parts]) if parts else np.zeros(0) for k in
              ("beta", "standard_error", "effect_allele_frequency", "neg_log10_p_value", "n", "status")}
    sumstats = pd.DataFrame({
        "chromosome": bed.bim["chrom"].to_numpy(),
        "base_pair_location": bed.bim["pos"].to_numpy(),
        "effect_allele": bed.bim["a1"].to_numpy(),
        "other_allele": bed.bim["a2"].to_numpy(),
        "beta": merged["beta"],
        "standard_error": merged["standard_error"],
        "effect_allele_frequency": merged["effect_allele_frequency"],
        "p_value": format_p_values(merged["neg_log10_p_value"]),
        "neg_log10_p_value": merged["neg_log10_p_value"],
        "n": merged["n"].astype(np.int64),
        "variant_id": bed.bim["snp"].to_numpy(),
        "status": merged["status"],
    })[SUMSTATS_COLUMNS]
    counts = sumstats["status"].value_counts().to_dict()
    with np.errstate(under="ignore"):
        lambda_gc = genomic_inflation(np.power(10.0, -merged["neg_log10_p_value"]))
    log.info("status counts: %s; lambda_GC = %.4f", counts, lambda_gc)
    ssf.write_gwas_ssf(out_path, sumstats, trait=trait, kind=kind, y=y, covariates=covariate_names,
                       genome_assembly=genome_assembly)
    return sumstats
