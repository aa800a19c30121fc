"""Interacting pairs from the network (issue 13): pair scores on a constructed network with a
known product term, the held-out interaction test against statsmodels' own Logit/OLS, the
multiple-testing corrections, the split discipline and the config errors."""

import numpy as np
import pandas as pd
import pytest
import torch

from liftgwas import pairs as lp
from liftgwas.data import load_training_data
from liftgwas.errors import InputError
from liftgwas.model import GenotypeModel

PRODUCT = (0, 1)  # SNPs whose product the network computes
ADDITIVE = (2, 3)  # SNPs entering linearly, each on units of their own


def product_network(n_snps: int) -> GenotypeModel:
    """out = relu(a+b) + relu(-a-b) - relu(a-b) - relu(b-a) + z2 + z3, with a, b = z0, z1:
    the first four units give |a+b| - |a-b| = 2 sign(ab) min(|a|, |b|), which is 2ab on the
    centred-genotype lattice {-1, 0, 1} (a true product term); z2, z3 are additive."""
    model = GenotypeModel(n_snps, 0, "8x8")
    snps = model.snps
    with torch.no_grad():
        for p in (snps.first.weight, snps.first.bias, snps.second.weight, snps.second.bias, snps.out.weight,
                  snps.out.bias):
            p.zero_()
        a, b = PRODUCT
        for unit, (wa, wb) in enumerate([(1, 1), (-1, -1), (1, -1), (-1, 1)]):
            snps.first.weight[unit, a], snps.first.weight[unit, b] = wa, wb
        c, d = ADDITIVE
        snps.first.weight[4, c], snps.first.weight[5, c] = 1, -1
        snps.first.weight[6, d], snps.first.weight[7, d] = 1, -1
        snps.second.weight.copy_(torch.eye(8))  # ReLU of non-negative units: the identity
        snps.out.weight.copy_(torch.tensor([[1, 1, -1, -1, 1, -1, 1, -1]], dtype=torch.float32))
    return model.eval()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    from toydata import write_toy_cohort

    c = write_toy_cohort(tmp_path_factory.mktemp("pairs") / "c", n_samples=240, n_snps=12, n_causal=2)
    data = load_training_data(c["store"], c["fam"], c["traits"], c["covariates"], c["split"], "binary", "binary")
    return c, data


def test_constructed_network_computes_the_product_on_the_genotype_lattice():
    model = product_network(6)
    z = torch.tensor([[a, b, 0, 0, 0, 0] for a in (-1, 0, 1) for b in (-1, 0, 1)], dtype=torch.float32)
    with torch.no_grad():
        out = model.snps(z).squeeze(-1)
    np.testing.assert_allclose(out.numpy(), 2 * z[:, 0].numpy() * z[:, 1].numpy(), atol=1e-6)


@pytest.mark.parametrize("candidates", ["all", "top_snps"])
def test_nid_ranks_the_product_pair_first_and_the_additive_pair_at_zero(candidates):
    model = product_network(6)
    settings = lp.PairSettings(method="nid", candidates=candidates, top_snps=6, top_pairs=3, inputs_per_unit=3)
    result = lp.score_pairs([(model, torch.zeros(6))], None, settings, snp_scores=np.ones(6))
    first = result.pairs.iloc[0]
    assert (first["snp_i"], first["snp_j"]) == PRODUCT and first["network_score"] > 0
    scores = {(i, j): s for i, j, s in result.pairs[["snp_i", "snp_j", "network_score"]].itertuples(index=False)}
    assert scores.get(ADDITIVE, 0.0) == 0.0  # never on a shared unit: no NID interaction
    assert all(s == 0.0 for pair, s in scores.items() if pair != PRODUCT)


def test_deeplift_interaction_ranks_the_product_pair_first_and_the_additive_pair_near_zero(cohort):
    _, data = cohort
    model = product_network(data.n_snps)
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    matrix = lp.deeplift_interaction(model, data, reference, np.arange(6), chunk_size=50)
    assert np.allclose(matrix, matrix.T) and np.all(np.diag(matrix) == 0)
    best = np.unravel_index(np.argmax(matrix), matrix.shape)
    assert tuple(sorted(best)) == PRODUCT
    assert matrix[ADDITIVE] < 1e-6 * matrix[PRODUCT]
    # chunking changes nothing (streamed sums, never T^2 x N)
    np.testing.assert_allclose(lp.deeplift_interaction(model, data, reference, np.arange(6), chunk_size=7), matrix,
                               rtol=1e-5, atol=1e-9)
    # and it is the seed-averaged ranking score_pairs returns
    settings = lp.PairSettings(method="deeplift_interaction", candidates="top_snps", top_snps=6, top_pairs=2)
    scores = np.r_[np.ones(6), np.zeros(data.n_snps - 6)]
    result = lp.score_pairs([(model, reference), (model, reference)], data, settings, snp_scores=scores)
    assert tuple(result.pairs.iloc[0][["snp_i", "snp_j"]]) == PRODUCT
    assert set(np.unique(result.pairs[["snp_i", "snp_j"]])) == set(range(6))


def test_fm_pair_score_reads_the_factorization_machine_weights():
    model = GenotypeModel(5, 0, "4x4", pairwise="fm", fm_rank=2)
    with torch.no_grad():
        model.snps.fm_v.zero_()
        model.snps.fm_v[1] = torch.tensor([2.0, 0.0])
        model.snps.fm_v[3] = torch.tensor([1.5, 0.0])
        model.snps.fm_v[4] = torch.tensor([0.0, 1.0])  # orthogonal to both: no pair weight
    result = lp.score_pairs([(model, torch.zeros(5))], None,
                            lp.PairSettings(method="fm", candidates="top_snps", top_snps=5, top_pairs=1),
                            snp_scores=np.ones(5))
    assert tuple(result.pairs.iloc[0][["snp_i", "snp_j"]]) == (1, 3)
    assert result.pairs.iloc[0]["network_score"] == pytest.approx(3.0)
    with pytest.raises(ValueError, match="pairs.method"):
        lp.fm_scores(product_network(5), np.array([0]), np.array([1]))


def _toy(kind, n=400, seed=3, product=0.8):
    rng = np.random.default_rng(seed)
    gi, gj = rng.binomial(2, 0.4, n).astype(float), rng.binomial(2, 0.3, n).astype(float)
    cov = rng.normal(size=(n, 2))
    lin = 0.3 * gi - 0.2 * gj + product * (gi - 0.8) * (gj - 0.6) + 0.5 * cov[:, 0]
    y = rng.binomial(1, 1 / (1 + np.exp(-lin))).astype(float) if kind == "binary" else lin + rng.normal(size=n)
    return y, gi, gj, cov


def test_interaction_test_matches_statsmodels_logit_and_ols_with_formulas():
    import statsmodels.formula.api as smf

    for kind in ("binary", "quantitative"):
        y, gi, gj, cov = _toy(kind)
        ours = lp.interaction_test(y, gi, gj, cov, kind)
        frame = pd.DataFrame({"y": y, "gi": gi, "gj": gj, "c1": cov[:, 0], "c2": cov[:, 1]})
        model = smf.logit if kind == "binary" else smf.ols
        fit = model("y ~ c1 + c2 + gi * gj", frame).fit(disp=0) if kind == "binary" else \
            model("y ~ c1 + c2 + gi * gj", frame).fit()
        assert ours["status"] == "ok"
        assert ours["interaction_beta"] == pytest.approx(fit.params["gi:gj"], rel=1e-6)
        assert ours["se"] == pytest.approx(fit.bse["gi:gj"], rel=1e-5)
        assert ours["p"] == pytest.approx(fit.pvalues["gi:gj"], rel=1e-5)  # Wald z (logit), t (OLS)


def test_likelihood_ratio_option_matches_two_statsmodels_logit_fits():
    import statsmodels.formula.api as smf
    from scipy.stats import chi2

    y, gi, gj, cov = _toy("binary")
    frame = pd.DataFrame({"y": y, "gi": gi, "gj": gj, "c1": cov[:, 0], "c2": cov[:, 1]})
    full = smf.logit("y ~ c1 + c2 + gi * gj", frame).fit(disp=0)
    reduced = smf.logit("y ~ c1 + c2 + gi + gj", frame).fit(disp=0)
    ours = lp.interaction_test(y, gi, gj, cov, "binary", test="lrt")
    assert ours["p"] == pytest.approx(chi2.sf(2 * (full.llf - reduced.llf), 1), rel=1e-5)
    assert ours["interaction_beta"] == pytest.approx(full.params["gi:gj"], rel=1e-6)
    with pytest.raises(ValueError, match=r"pairs\.test"):
        lp.PairSettings(test="score").validate()


def test_residualised_product_is_the_product_of_covariate_residuals():
    rng = np.random.default_rng(4)
    gi, gj, cov = rng.binomial(2, 0.3, 50) * 1.0, rng.binomial(2, 0.5, 50) * 1.0, rng.normal(size=(50, 2))
    design = lp.interaction_design(gi, gj, cov, product="residualised")
    base = np.column_stack([np.ones(50), cov])
    ri = gi - base @ np.linalg.lstsq(base, gi, rcond=None)[0]
    rj = gj - base @ np.linalg.lstsq(base, gj, rcond=None)[0]
    np.testing.assert_allclose(design[:, -1], ri * rj, atol=1e-12)
    np.testing.assert_array_equal(design[:, :-1], lp.interaction_design(gi, gj, cov)[:, :-1])
    with pytest.raises(ValueError, match=r"pairs\.product"):
        lp.PairSettings(product="raw").validate()


def test_interaction_test_says_why_a_pair_has_no_estimate():
    y, gi, gj, cov = _toy("binary", n=100)
    assert lp.interaction_test(y, gi, np.zeros_like(gj), cov, "binary")["status"] == "monomorphic_product"
    assert lp.interaction_test(y, gi, gi, cov, "binary")["status"] == "collinear"


def test_bonferroni_and_bh_count_every_tested_pair_and_keep_failures_missing():
    p = np.array([0.001, 0.02, np.nan, 0.04, 0.5])
    bonf, bh = lp.adjust(p)
    np.testing.assert_allclose(bonf[[0, 1, 3, 4]], [0.005, 0.1, 0.2, 1.0])
    # BH by hand over m = 5 (the failed test counts as p = 1): sorted 0.001, 0.02, 0.04, 0.5, 1
    # q = min over later ranks of p * m / rank: 0.005, 0.05, 0.0667, 0.625
    np.testing.assert_allclose(bh[[0, 1, 3, 4]], [0.005, 0.05, 0.2 / 3, 0.625])
    assert np.isnan(bonf[2]) and np.isnan(bh[2])


def test_design_matrix_has_both_main_effects_and_the_product_last():
    design = lp.interaction_design([0, 1, 2], [2, 1, 0], [[5.0], [6.0], [7.0]])
    np.testing.assert_array_equal(design, [[1, 5, 0, 2, 0], [1, 6, 1, 1, 1], [1, 7, 2, 0, 0]])


def test_genotypic_main_effects_add_the_heterozygote_columns_before_the_product():
    design = lp.interaction_design([0, 1, 2], [1, 1, 0], [[5.0], [6.0], [7.0]], "genotypic")
    np.testing.assert_array_equal(design, [[1, 5, 0, 1, 0, 1, 0], [1, 6, 1, 1, 1, 1, 1], [1, 7, 2, 0, 0, 0, 0]])
    with pytest.raises(ValueError, match=r"pairs\.main_effects"):
        lp.interaction_design([0], [1], [[0.0]], "additive")
    # a purely dominant SNP i and an independent additive SNP j, no interaction: the genotypic
    # test is the statsmodels fit with both heterozygote indicators
    import statsmodels.formula.api as smf

    y, gi, gj, cov = _toy("binary", product=0.0)
    ours = lp.interaction_test(y, gi, gj, cov, "binary", "genotypic")
    frame = pd.DataFrame({"y": y, "gi": gi, "gj": gj, "hi": (gi == 1) * 1.0, "hj": (gj == 1) * 1.0,
                          "c1": cov[:, 0], "c2": cov[:, 1]})
    fit = smf.logit("y ~ c1 + c2 + gi + gj + hi + hj + gi:gj", frame).fit(disp=0)
    assert ours["p"] == pytest.approx(fit.pvalues["gi:gj"], rel=1e-5)


def test_scores_read_only_training_samples_and_the_test_only_validation_samples(cohort, tmp_path):
    c, data = cohort
    model = product_network(data.n_snps)
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    settings = lp.PairSettings(method="deeplift_interaction", candidates="top_snps", top_snps=6, top_pairs=4)
    scores = np.r_[np.ones(6), np.zeros(data.n_snps - 6)]
    before = lp.score_pairs([(model, reference)], data, settings, snp_scores=scores).pairs
    # another split table: the validation (and early-stop) samples swapped for different ones
    split = pd.read_csv(c["split"], sep="\t")
    held = split["split"] != "train"
    split.loc[held, "split"] = np.random.default_rng(9).permutation(split.loc[held, "split"].to_numpy())
    split.to_csv(tmp_path / "split.tsv", sep="\t", index=False)
    other = load_training_data(c["store"], c["fam"], c["traits"], c["covariates"], tmp_path / "split.tsv",
                               "binary", "binary")
    after = lp.score_pairs([(model, reference)], other, settings, snp_scores=scores).pairs
    pd.testing.assert_frame_equal(before, after)
    with pytest.raises(ValueError, match="validation"):
        lp.deeplift_interaction(model, data, reference, np.arange(3), split="validation")
    # the test: exactly the statsmodels fit on the validation rows
    tested = lp.verify_pairs(before, data, 4)
    part = data.splits["validation"]
    g = data.store.decode(part.rows)
    for row in tested.itertuples():
        direct = lp.interaction_test(part.y, g[:, row.snp_i], g[:, row.snp_j], part.covariates, "binary")
        assert row.n == len(part.rows)
        assert (row.p == direct["p"]) or (np.isnan(row.p) and np.isnan(direct["p"]))


def test_a_planted_interaction_is_found_significant_on_validation_samples(tmp_path):
    from toydata import write_toy_cohort

    c = write_toy_cohort(tmp_path / "c", n_samples=800, n_snps=6, n_causal=1, effect=0.0, kind="quantitative")
    traits = pd.read_csv(c["traits"], sep="\t")
    g = c["genotypes"].astype(float)
    traits["quantitative"] = (g[0] - g[0].mean()) * (g[1] - g[1].mean()) + np.random.default_rng(1).normal(size=800)
    traits.to_csv(c["traits"], sep="\t", index=False)
    data = load_training_data(c["store"], c["fam"], c["traits"], c["covariates"], c["split"], "quantitative",
                              "quantitative")
    candidates = pd.DataFrame({"snp_i": [0, 2], "snp_j": [1, 3], "network_score": [2.0, 1.0],
                               "network_rank": [1, 2]})
    tested = lp.verify_pairs(candidates, data, 2)
    assert tested["p_bonferroni"].iloc[0] < 1e-3
    assert tested["interaction_beta"].iloc[0] == pytest.approx(1.0, abs=0.25)  # trait units
    named = lp.named(tested, [f"v{j:04d}" for j in range(6)])
    assert list(named.columns) == lp.PAIR_COLUMNS and named["snp_i"].iloc[0] == "v0000"


def test_pair_recall_counts_planted_pairs_either_way_round():
    truth = pd.DataFrame({"variant_id": ["a", "b", "c", "d", "e"], "class": ["epistatic"] * 4 + ["additive"],
                          "pair": ["p1", "p1", "p2", "p2", None]})
    found = pd.DataFrame({"snp_i": ["b", "x", "c"], "snp_j": ["a", "y", "e"]})
    assert lp.pair_recall(found, truth, 3) == 0.5
    assert lp.pair_recall(found.iloc[1:], truth, 3) == 0.0


@pytest.mark.parametrize("settings, n_snps, key", [
    (dict(top_snps=50, candidates="top_snps"), 40, "pairs.top_snps"),
    (dict(top_pairs=41), 40, "pairs.top_pairs"),
    (dict(top_snps=5, top_pairs=11, candidates="top_snps"), 40, "pairs.top_pairs"),  # 10 pairs among 5 SNPs
    (dict(method="deeplift_interaction", candidates="all"), None, "pairs.candidates"),
    (dict(method="magic"), None, "pairs.method"),
    (dict(top_pairs=0), None, "pairs.top_pairs"),
    (dict(alpha=1.5), None, "pairs.alpha"),
])
def test_bad_settings_name_the_config_key(settings, n_snps, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        lp.PairSettings(**settings).validate(n_snps=n_snps)


def test_unknown_setting_names_the_key():
    with pytest.raises(ValueError, match=r"pairs\.top_k"):
        lp.PairSettings.from_config({"top_k": 3})


def test_too_few_validation_samples_for_the_interaction_model_is_an_input_error():
    with pytest.raises(InputError, match=r"split\.validation"):
        lp.check_validation_size(n_validation=14, n_covariates=10)
    lp.check_validation_size(n_validation=15, n_covariates=10)
    with pytest.raises(InputError, match=r"split\.validation"):
        lp.check_validation_size(n_validation=15, n_covariates=10, main_effects="genotypic")


def test_pair_arcs_figure_marks_significant_and_planted_pairs(tmp_path):
    from liftgwas.plots import pair_arcs_plot

    bim = pd.DataFrame({"chrom": ["1", "1", "2", "2"], "snp": ["a", "b", "c", "d"], "pos": [10, 500, 20, 900]})
    table = pd.DataFrame({"snp_i": ["a", "a"], "snp_j": ["c", "b"], "network_rank": [1, 2], "p": [1e-6, 0.3],
                          "p_bonferroni": [2e-6, 0.6], "p_bh": [2e-6, 0.3]})
    drawn = pair_arcs_plot(bim, table, tmp_path / "p.png", tmp_path / "p.pdf", title="t", planted=[("c", "a")])
    assert drawn == {"tested": 2, "bonferroni": 1, "bh_only": 0, "planted": 1, "planted_tested": 1}
    assert (tmp_path / "p.png").stat().st_size > 0 and (tmp_path / "p.pdf").stat().st_size > 0
