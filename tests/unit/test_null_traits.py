"""Null traits from the covariate-only model, empirical p-values and the max-statistic threshold."""

import math

import numpy as np
import pandas as pd
import pytest

from liftgwas.discover import null_traits as nt


def _cohort(n=4000, seed=0):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=(n, 3))
    return c


def test_binary_null_draws_reproduce_the_logistic_fit_and_prevalence():
    c = _cohort()
    rng = np.random.default_rng(1)
    true = np.array([-1.0, 0.8, -0.5, 0.3])
    y = (rng.random(len(c)) < 1 / (1 + np.exp(-(true[0] + c @ true[1:])))).astype(float)
    model = nt.fit_covariate_model(y, c, "binary")
    refits, prevalence = [], []
    for k in range(1, 41):
        y_null = nt.draw_null_trait(model, c, np.random.default_rng(nt.null_seed("d", "t", k)))
        refits.append(nt.fit_covariate_model(y_null, c, "binary").params)
        prevalence.append(y_null.mean())
    refits = np.array(refits)
    # the mean refit over 40 draws is within ~4 standard errors of the fitted coefficients
    se = refits.std(axis=0, ddof=1) / np.sqrt(len(refits))
    assert np.all(np.abs(refits.mean(axis=0) - model.params) < 4 * se + 1e-3)
    assert abs(np.mean(prevalence) - y.mean()) < 0.01
    # and the draws do carry the covariate association (not a permutation of y)
    assert np.all(np.sign(refits.mean(axis=0)[1:]) == np.sign(true[1:]))


def test_quantitative_null_draws_reproduce_mean_coefficients_and_variance():
    c = _cohort(seed=3)
    rng = np.random.default_rng(4)
    y = 2.0 + c @ np.array([0.5, 0.0, -1.0]) + rng.normal(0, 1.5, len(c))
    model = nt.fit_covariate_model(y, c, "quantitative")
    assert model.scale == pytest.approx(1.5, rel=0.05)
    draws = [nt.draw_null_trait(model, c, np.random.default_rng(nt.null_seed("d", "q", k))) for k in range(1, 31)]
    refits = np.array([nt.fit_covariate_model(d, c, "quantitative").params for d in draws])
    assert np.allclose(refits.mean(axis=0), model.params, atol=0.02)
    assert np.mean([np.var(d - model.mean(c), ddof=4) for d in draws]) == pytest.approx(model.scale**2, rel=0.03)


def test_null_seeds_are_stable_distinct_and_independent_of_K():
    seeds = [nt.null_seed("sim-a1-r1", "binary", k) for k in range(1, 23)]
    assert len(set(seeds)) == 22
    assert nt.null_seed("sim-a1-r1", "binary", 3) == seeds[2]
    assert nt.null_seed("sim-a1-r1", "mixed_bin", 3) != seeds[2]
    with pytest.raises(ValueError):
        nt.null_seed("d", "t", 0)


def test_null_trait_table_keeps_missing_samples_missing():
    c = _cohort(n=200, seed=5)
    traits = pd.DataFrame({"FID": [f"f{i}" for i in range(200)], "IID": [f"i{i}" for i in range(200)],
                           "bin": (c[:, 0] + np.random.default_rng(6).normal(size=200) > 0).astype(float)})
    traits.loc[[3, 7], "bin"] = np.nan
    cov = pd.DataFrame({"FID": traits.FID, "IID": traits.IID, "PC1": c[:, 0], "PC2": c[:, 1]})
    cov.loc[10, "PC2"] = np.nan
    table, model = nt.null_trait_table(traits, cov, "bin", "binary", seed=9, column="null_1")
    assert list(table.columns) == ["FID", "IID", "null_1"]
    assert table["null_1"].isna().sum() == 3 and table.loc[[3, 7, 10], "null_1"].isna().all()
    again, _ = nt.null_trait_table(traits, cov, "bin", "binary", seed=9, column="null_1")
    assert again.equals(table)
    assert set(table["null_1"].dropna()) <= {0.0, 1.0}


def test_empirical_p_per_snp_and_pooled_on_a_constructed_matrix():
    null = np.array([[1.0, 5.0, 0.0], [2.0, 6.0, 0.0], [3.0, 7.0, 0.0], [4.0, 8.0, 0.0]])  # K = 4, M = 3
    obs = np.array([3.0, 9.0, np.nan])
    # SNP 1: nulls >= 3 are 3 and 4 -> (1 + 2) / 5; SNP 2: none -> 1 / 5
    assert nt.empirical_p(obs, null)[:2].tolist() == [3 / 5, 1 / 5]
    assert np.isnan(nt.empirical_p(obs, null)[2])
    # pooled over all 12 null scores: >= 3 are 3, 4, 5, 6, 7, 8 -> (1 + 6) / 13
    assert nt.empirical_p(obs, null, pooled=True)[0] == pytest.approx(7 / 13)
    assert nt.empirical_p(obs, null, pooled=True)[1] == pytest.approx(1 / 13)


def test_max_statistic_threshold_uses_the_conservative_order_statistic():
    maxima = np.arange(1.0, 21.0)  # K = 20 null maxima 1..20
    # ceil(0.95 * 21) = 20 -> the largest; ceil(0.9 * 21) = 19 -> the 19th smallest
    assert nt.max_statistic_threshold(maxima, 0.05) == 20.0
    assert nt.max_statistic_threshold(maxima, 0.1) == 19.0
    # K = 19: ceil(0.95 * 20) = 19 -> still one (FWER exactly 1/20); K = 18: none
    assert nt.max_statistic_threshold(np.arange(1.0, 20.0), 0.05) == 19.0
    assert nt.max_statistic_threshold(np.arange(1.0, 19.0), 0.05) == math.inf
    # the adjusted p agrees with the threshold: above all 20 maxima -> 1/21 <= 0.05
    p = nt.fwer_p(np.array([20.5, 20.0, 19.5]), maxima)
    assert p.tolist() == [1 / 21, 2 / 21, 2 / 21]
    assert nt.min_null_traits(0.05) == 20 and nt.min_null_traits(0.01) == 100


def test_max_statistic_controls_fwer_under_exchangeability():
    # observed and K nulls drawn alike: the observed max exceeds the threshold in ~<= alpha of cases
    rng = np.random.default_rng(11)
    exceed = 0
    trials = 2000
    for _ in range(trials):
        scores = rng.gamma(2.0, size=(21, 50))
        exceed += scores[0].max() > nt.max_statistic_threshold(scores[1:].max(axis=1), 0.05)
    assert exceed / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)
    assert exceed / trials > 0.02  # and not vacuous: 1/21 expected


def test_null_summary_and_maxima_table():
    obs = pd.DataFrame({"variant_id": ["a", "b"], "score": [0.5, 0.1]})
    nulls = [pd.DataFrame({"variant_id": ["a", "b"], "score": [0.2, 0.3 + k]}) for k in range(3)]
    s = nt.null_summary(obs, nulls)
    assert s["p_empirical"].tolist() == [1 / 4, 1.0]
    m = nt.maxima_table(nulls)
    assert m["max_score"].tolist() == [0.3, 1.3, 2.3] and set(m["variant_id"]) == {"b"}
    with pytest.raises(ValueError, match="null 2"):
        nt.null_summary(obs, [nulls[0], nulls[1].iloc[::-1]])
