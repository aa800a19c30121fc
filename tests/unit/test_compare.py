"""GWAS versus DeepLIFT comparison: ranks, top hits, Spearman, overlap, recall, summary."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from liftgwas import compare
from liftgwas.errors import InputError


def make_tables(n=60, seed=0, chromosomes=("1", "2", "3")):
    rng = np.random.default_rng(seed)
    ids = [f"rs{i}" for i in range(n)]
    chrom = np.repeat(chromosomes, -(-n // len(chromosomes)))[:n]
    pos = np.tile(np.arange(1, -(-n // len(chromosomes)) + 1) * 1000, len(chromosomes))[:n]
    p = rng.uniform(1e-6, 1, n)
    sumstats = pd.DataFrame(
        {"chromosome": chrom, "base_pair_location": pos, "variant_id": ids, "p_value": p,
         "neg_log10_p_value": -np.log10(p)}
    )
    scores = pd.DataFrame({"variant_id": ids, "chromosome": chrom, "base_pair_location": pos,
                           "score": rng.exponential(1.0, n)})
    return sumstats, scores


def test_rank_descending_matches_scipy_min_rank_with_ties_and_missing():
    values = pd.Series([3.0, 5.0, 5.0, np.nan, 1.0, 3.0], index=list("abcdef"), name="x")
    ranks = compare.rank_descending(values)
    present = ~np.isnan(values.to_numpy())
    expected = stats.rankdata(-values.to_numpy()[present], method="min")
    np.testing.assert_array_equal(ranks.to_numpy()[present], expected)
    assert ranks["d"] == present.sum() + 1  # no value: after every SNP with one


def test_top_k_ids_breaks_ties_by_input_order_and_puts_missing_last():
    values = pd.Series([1.0, np.nan, 2.0, 2.0, -np.inf], index=["a", "b", "c", "d", "e"])
    assert compare.top_k_ids(values, 3) == ["c", "d", "a"]
    assert compare.top_k_ids(values, 5)[-2:] == ["b", "e"]  # NaN and -inf tie, input order


def test_gwas_strength_prefers_stored_neg_log10_p_when_p_underflows():
    sumstats = pd.DataFrame(
        {"chromosome": ["1"] * 3, "base_pair_location": [1, 2, 3], "variant_id": ["a", "b", "c"],
         "p_value": [0.0, 0.0, 0.5], "neg_log10_p_value": [350.0, 400.0, 0.30103]}
    )
    assert compare.top_k_ids(compare.gwas_strength(sumstats), 2) == ["b", "a"]
    without = sumstats.drop(columns="neg_log10_p_value")
    strength = compare.gwas_strength(without)
    assert np.isposinf(strength["a"]) and strength["c"] == pytest.approx(-math.log10(0.5))


def test_spearman_matches_scipy_on_shuffled_tables_with_ties():
    sumstats, scores = make_tables(n=80, seed=3)
    scores["score"] = scores["score"].round(1)  # ties
    sumstats.loc[5, "neg_log10_p_value"] = np.nan  # a monomorphic SNP: left out
    shuffled = scores.sample(frac=1.0, random_state=1)
    rho = compare.spearman_correlation(compare.gwas_strength(sumstats), compare.deeplift_strength(shuffled))
    joined = sumstats.merge(scores, on="variant_id").dropna(subset=["neg_log10_p_value"])
    expected = stats.spearmanr(joined["neg_log10_p_value"], joined["score"]).statistic
    assert rho == pytest.approx(expected, abs=1e-12)


def test_spearman_of_identical_and_reversed_rankings():
    a = pd.Series(np.arange(10.0), index=[f"v{i}" for i in range(10)])
    assert compare.spearman_correlation(a, a) == pytest.approx(1.0)
    assert compare.spearman_correlation(a, -a) == pytest.approx(-1.0)


def test_top_hits_table_ranks_in_other_method_and_overlap():
    sumstats, scores = make_tables(n=50, seed=7)
    k = 6
    causal = ["rs3", "rs10", "rs22"]
    table = compare.top_hits_table(sumstats, scores, k, causal_ids=causal)
    assert list(table["method"]) == ["gwas"] * k + ["deeplift"] * k

    gwas_top = sumstats.sort_values("p_value")["variant_id"].head(k).tolist()
    deeplift_top = scores.sort_values("score", ascending=False)["variant_id"].head(k).tolist()
    assert table.loc[table.method == "gwas", "variant_id"].tolist() == gwas_top
    assert table.loc[table.method == "deeplift", "variant_id"].tolist() == deeplift_top

    gwas_rank = dict(zip(sumstats["variant_id"], stats.rankdata(sumstats["p_value"], method="min")))
    deeplift_rank = dict(zip(scores["variant_id"], stats.rankdata(-scores["score"], method="min")))
    for row in table.itertuples():
        assert row.gwas_rank == gwas_rank[row.variant_id]
        assert row.deeplift_rank == deeplift_rank[row.variant_id]
        other = deeplift_top if row.method == "gwas" else gwas_top
        assert row.in_other_top_k == (row.variant_id in other)
        assert row.causal == (row.variant_id in causal)
    position = scores.set_index("variant_id")
    first = table.iloc[0]
    assert first.base_pair_location == position.at[first.variant_id, "base_pair_location"]
    assert first.chromosome == position.at[first.variant_id, "chromosome"]

    agreement = compare.ranking_agreement(sumstats, scores, k, causal_ids=causal)
    assert agreement["topk_overlap"] == len(set(gwas_top) & set(deeplift_top))
    assert agreement["topk_overlap_fraction"] == pytest.approx(agreement["topk_overlap"] / k)
    assert agreement["n_shared"] == 50 and agreement["n_causal"] == 3


def test_recall_on_a_constructed_ranking():
    n = 30
    ids = [f"v{i}" for i in range(n)]
    # GWAS ranks the causal SNPs at places 1, 2 and 8; DeepLIFT at 1, 4 and 5
    gwas_order = ["v5", "v9", "v0", "v1", "v2", "v3", "v4", "v20"] + [v for v in ids if v not in
                                                                      {"v5", "v9", "v0", "v1", "v2", "v3", "v4", "v20"}]
    deeplift_order = ["v20", "v0", "v1", "v5", "v9"] + [v for v in ids if v not in {"v20", "v0", "v1", "v5", "v9"}]
    neg_log10_p = {v: n - i for i, v in enumerate(gwas_order)}
    score = {v: (n - i) / n for i, v in enumerate(deeplift_order)}
    sumstats = pd.DataFrame({"chromosome": "1", "base_pair_location": range(n), "variant_id": ids,
                             "p_value": [10.0 ** -neg_log10_p[v] for v in ids],
                             "neg_log10_p_value": [neg_log10_p[v] for v in ids]})
    scores = pd.DataFrame({"variant_id": ids, "chromosome": "1", "base_pair_location": range(n),
                           "score": [score[v] for v in ids]})
    causal = ["v5", "v9", "v20"]
    result = compare.ranking_agreement(sumstats, scores, 3, causal_ids=causal)
    assert result["gwas_recall"] == pytest.approx(2 / 3)
    assert result["deeplift_recall"] == pytest.approx(1 / 3)
    result = compare.ranking_agreement(sumstats, scores, 5, causal_ids=causal)
    assert result["deeplift_recall"] == pytest.approx(3 / 3)
    assert result["gwas_recall"] == pytest.approx(2 / 3)
    assert result["topk_overlap"] == 4  # {v5, v9, v0, v1}
    # without a truth there is no recall
    assert math.isnan(compare.ranking_agreement(sumstats, scores, 3)["gwas_recall"])


def test_recall_summary_means_sds_and_ignores_ensemble_rows():
    agreement = pd.DataFrame(
        {"group": ["sim-a0.1"] * 3 + ["sim-a1"] * 2, "sparsity": [0.1] * 3 + [1.0] * 2,
         "dataset": ["sim-a0.1-r1", "sim-a0.1-r2", "sim-a0.1-r3", "sim-a1-r1", "sim-a1-r2"],
         "trait": "binary", "k": 10, "gwas_recall": [0.5, 0.7, 0.6, 0.9, 0.8],
         "deeplift_recall": [0.4, 0.6, 0.5, 0.7, 0.7]}
    )
    runs = pd.DataFrame(
        {"group": ["sim-a0.1"] * 4 + ["sim-a1"] * 3, "sparsity": [0.1] * 4 + [1.0] * 3, "trait": "binary",
         "arch": "64x128", "l1": "1", "dataset": "d", "seed": ["101", "102", "103", "ensemble", "101", "102", "ensemble"],
         "k": 10, "recall": [0.3, 0.5, 0.4, 0.99, 0.6, 0.8, 0.99]}
    )
    summary = compare.recall_summary(agreement, runs, 10)
    assert summary["group"].tolist() == ["sim-a0.1", "sim-a1"]
    first = summary.iloc[0]
    assert first.gwas_recall_mean == pytest.approx(0.6)
    assert first.gwas_recall_sd == pytest.approx(np.std([0.5, 0.7, 0.6], ddof=1))
    assert first.deeplift_recall_mean == pytest.approx(0.4)  # the ensemble row is not a run
    assert first.n_deeplift_runs == 3 and first.n_datasets == 3
    assert first.deeplift_ensemble_recall_mean == pytest.approx(0.5)
    assert (first.arch, first.l1) == ("64x128", "1")
    markdown = compare.recall_summary_markdown(summary)
    assert "| sim-a1 | 1 | binary | 10 | 64x128, 1 | 0.85 ± 0.07 (n=2) | 0.70 ± 0.14 (n=2) | 0.70 ± 0.00 (n=2) |" in markdown
    with pytest.raises(ValueError, match="k = \\[5\\]"):
        compare.recall_summary(agreement, runs.assign(k=5), 10)


def test_readers_name_file_line_and_field(tmp_path):
    sumstats, scores = make_tables(n=5)
    path = tmp_path / "sumstats.tsv"
    bad = sumstats.astype({"p_value": object})
    bad.loc[2, "p_value"] = "abc"
    bad.to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match=r"sumstats.tsv, line 4, field 'p_value'"):
        compare.read_sumstats(path)
    sumstats.drop(columns="variant_id").to_csv(path, sep="\t", index=False)
    with pytest.raises(InputError, match="missing column.*variant_id"):
        compare.read_sumstats(path)
    gz = tmp_path / "sumstats.tsv.gz"
    sumstats.assign(p_value=sumstats["p_value"].astype(object).where(sumstats.index != 1, "NA")).to_csv(
        gz, sep="\t", index=False)
    read = compare.read_sumstats(gz)
    assert np.isnan(read.loc[1, "p_value"]) and read["chromosome"].dtype == object

    truth = tmp_path / "truth.tsv"
    pd.DataFrame({"variant_id": ["rs1", "rs2", "rs3"], "beta": [0.5, 0.0, -1.0]}).to_csv(truth, sep="\t", index=False)
    assert compare.read_truth(truth) == ["rs1", "rs3"]

    score_path = tmp_path / "scores.tsv"
    pd.concat([scores, scores.iloc[[0]]]).to_csv(score_path, sep="\t", index=False)
    with pytest.raises(InputError, match="line 7, field 'variant_id': duplicate"):
        compare.read_scores(score_path)


def test_table_html_escapes_and_formats():
    html = compare.table_html(pd.DataFrame({"id": ["<rs1>"], "value": [0.123456], "missing": [np.nan]}), "T & t")
    assert "&lt;rs1&gt;" in html and "<td>0.1235</td>" in html and "<td>NA</td>" in html and "T &amp; t" in html
