"""Figures: files of the right kind and size, labels = top hits, λGC, QQ band, genome axis."""

from __future__ import annotations

import struct

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from liftgwas import compare, gwas, plots
from liftgwas.recall import topk_recall


def png_size(path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def assert_figure_files(png, pdf, width_in, height_in):
    width, height = png_size(png)
    # 300 dpi at the figure's size in inches (a pixel of rounding either way)
    assert abs(width - width_in * plots.DPI) <= 1 and abs(height - height_in * plots.DPI) <= 1
    assert png.stat().st_size > 20_000  # a drawn figure, not a blank canvas
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 5_000
    assert not list(png.parent.glob(".*.tmp"))  # atomic writes leave no temporary file


def synthetic_study(n=3000, n_causal=8, seed=0, chromosomes=("1", "2", "10", "X")):
    rng = np.random.default_rng(seed)
    chrom = np.repeat(chromosomes, -(-n // len(chromosomes)))[:n]
    pos = np.concatenate([np.sort(rng.choice(10**8, (chrom == c).sum(), replace=False)) + 1 for c in chromosomes])
    ids = np.array([f"rs{i}" for i in range(n)])
    p = rng.uniform(size=n)
    causal = rng.choice(n, n_causal, replace=False)
    p[causal] = 10.0 ** -rng.uniform(6, 20, n_causal)
    score = rng.exponential(0.01, n)
    score[causal] += rng.uniform(0.02, 0.1, n_causal)
    sumstats = pd.DataFrame({"chromosome": chrom, "base_pair_location": pos, "variant_id": ids, "p_value": p,
                             "neg_log10_p_value": -np.log10(p)})
    scores = pd.DataFrame({"variant_id": ids, "chromosome": chrom, "base_pair_location": pos, "score": score})
    return sumstats, scores, list(ids[causal])


def test_chromosome_order_and_genome_layout():
    assert sorted(["X", "10", "2", "chr1", "MT", "Y"], key=plots.chromosome_sort_key) == ["chr1", "2", "10", "X", "Y", "MT"]
    chrom = np.array(["2", "1", "10", "1", "X", "2"])
    pos = np.array([50, 100, 30, 10, 5, 200], dtype=float)
    x, ticks = plots.genome_layout(chrom, pos)
    assert ticks["chromosome"].tolist() == ["1", "2", "10", "X"]
    # within a chromosome the offset is constant; chromosomes do not overlap, in order
    assert x[1] - x[3] == pytest.approx(90.0) and x[5] - x[0] == pytest.approx(150.0)
    assert x[3] < x[1] < x[0] < x[5] < x[2] < x[4]
    assert (ticks["start"].to_numpy()[1:] > ticks["end"].to_numpy()[:-1]).all()


def test_miami_plot_labels_are_the_top_hits_of_the_comparison_table(tmp_path):
    sumstats, scores, causal = synthetic_study()
    sumstats.loc[sumstats.index[:3], ["p_value", "neg_log10_p_value"]] = np.nan  # monomorphic SNPs
    png, pdf = tmp_path / "miami.png", tmp_path / "miami.pdf"
    labels = plots.miami_plot(sumstats, scores, png, pdf, "test", causal_ids=causal, top_n_labels=5)
    assert_figure_files(png, pdf, plots.FULL_WIDTH_IN, 4.8)
    table = compare.top_hits_table(sumstats, scores, 5)
    assert labels["gwas"] == table.loc[table.method == "gwas", "variant_id"].tolist()
    assert labels["deeplift"] == table.loc[table.method == "deeplift", "variant_id"].tolist()
    independent = sumstats.dropna(subset=["p_value"]).sort_values("p_value")["variant_id"].head(5).tolist()
    assert labels["gwas"] == independent


def test_miami_labels_never_pick_snps_without_a_value():
    sumstats, scores, _ = synthetic_study(n=40, n_causal=2, chromosomes=("1",))
    sumstats["neg_log10_p_value"] = np.nan
    sumstats.loc[[4, 9], "neg_log10_p_value"] = [3.0, 5.0]
    labels = plots.miami_labels(sumstats, scores, 5)
    assert labels["gwas"] == ["rs9", "rs4"]
    assert len(labels["deeplift"]) == 5


def test_miami_plot_single_chromosome_without_truth_and_with_p_zero(tmp_path):
    sumstats, scores, _ = synthetic_study(n=500, chromosomes=("7",))
    sumstats.loc[0, ["p_value", "neg_log10_p_value"]] = [0.0, np.inf]
    png, pdf = tmp_path / "m.png", tmp_path / "m.pdf"
    labels = plots.miami_plot(sumstats, scores, png, pdf, "no truth", bonferroni=True)
    assert labels["gwas"][0] == "rs0"
    assert_figure_files(png, pdf, plots.FULL_WIDTH_IN, 4.8)


def test_qq_lambda_is_the_gwas_genomic_inflation_and_the_chi2_median_ratio(tmp_path):
    rng = np.random.default_rng(5)
    chi2_stats = rng.chisquare(1, 2001) * 1.3  # inflated by 1.3
    p = stats.chi2.sf(chi2_stats, 1)
    png, pdf = tmp_path / "qq.png", tmp_path / "qq.pdf"
    lam = plots.qq_plot(p, png, pdf, "qq")
    assert lam == pytest.approx(np.median(chi2_stats) / stats.chi2.ppf(0.5, 1), rel=1e-9)
    assert lam == pytest.approx(gwas.genomic_inflation(p), rel=1e-12)
    assert_figure_files(png, pdf, plots.HALF_WIDTH_IN, plots.HALF_WIDTH_IN)


def test_qq_points_use_neg_log10_p_where_p_underflows():
    expected, observed = plots.qq_points(np.array([0.0, 0.5, np.nan, 0.1]), neg_log10_p=np.array([400.0, 0.30103, np.nan, 1.0]))
    np.testing.assert_allclose(observed, [400.0, 1.0, 0.30103])
    np.testing.assert_allclose(expected, -np.log10(np.array([1, 2, 3]) / 4))


def test_qq_band_covers_95_percent_of_null_order_statistics():
    n, replicates = 500, 400
    band_x, lower, upper = plots.qq_confidence_band(n, n_points=50)
    ranks = np.rint((n + 1) * 10.0 ** -band_x).astype(int)  # recover i from expected = -log10(i/(n+1))
    rng = np.random.default_rng(11)
    ordered = -np.log10(np.sort(rng.uniform(size=(replicates, n)), axis=1)[:, ranks - 1])
    inside = ((ordered >= lower) & (ordered <= upper)).mean(axis=0)
    # each rank's band is a 95 % interval: coverage near 0.95 at every rank
    assert np.all(np.abs(inside - 0.95) < 0.045), inside


def test_seed_scores_plot_recalls_and_files(tmp_path):
    _, scores, causal = synthetic_study(n=1500, chromosomes=("1",))
    other = scores.assign(score=np.random.default_rng(2).permutation(scores["score"].to_numpy()))
    png, pdf = tmp_path / "seeds.png", tmp_path / "seeds.pdf"
    recalls = plots.seed_scores_plot([(101, scores), (102, other)], causal, 8, png, pdf, "seeds")
    assert recalls == {
        101: topk_recall(compare.deeplift_strength(scores), causal, 8),
        102: topk_recall(compare.deeplift_strength(other), causal, 8),
    }
    assert recalls[101] > recalls[102]  # the permuted run lost the signal
    assert_figure_files(png, pdf, plots.FULL_WIDTH_IN, 1.9 * 2 + 1.1)
