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


# ------------------------------------------- threshold lines, QQ cap, seed stability


@pytest.fixture
def captured(monkeypatch):
    """The figures the plot functions save (still open), so their axes can be inspected."""
    figures = []
    def keep(fig, png, pdf):
        figures.append(fig)
        fig.savefig(png, format="png", dpi=50)
        fig.savefig(pdf, format="pdf")

    monkeypatch.setattr(plots, "save_figure", keep)
    yield figures
    import matplotlib.pyplot as plt

    for fig in figures:
        plt.close(fig)


def test_miami_draws_genome_wide_and_bonferroni_lines_at_their_heights(tmp_path, captured):
    sumstats, scores, causal = synthetic_study(n=2000)
    sumstats.loc[:9, "neg_log10_p_value"] = np.nan  # untested SNPs do not count in M
    plots.miami_plot(sumstats, scores, tmp_path / "m.png", tmp_path / "m.pdf", "t", causal_ids=causal)
    top = captured[0].axes[0]
    heights = sorted(line.get_ydata()[0] for line in top.lines if len(set(line.get_ydata())) == 1)
    assert heights == pytest.approx(sorted([-np.log10(5e-8), -np.log10(0.05 / 1990)]))
    texts = [t.get_text() for t in top.texts]
    assert "Bonferroni 0.05/1,990" in texts and any(t.startswith("p = 5") for t in texts)


def test_qq_axis_is_capped_and_snps_beyond_are_triangles_at_the_cap(tmp_path, captured):
    rng = np.random.default_rng(1)
    p = rng.uniform(size=2000)
    p[:2] = [1e-50, 1e-30]
    plots.qq_plot(p, tmp_path / "q.png", tmp_path / "q.pdf", "qq")
    ax = captured[0].axes[0]
    cap = plots.qq_cap(-np.log10(1 / 2001))
    assert cap == 10.0 and ax.get_ylim()[1] == pytest.approx(cap)
    triangles = [c for c in ax.collections if c.get_offsets().shape[0] == 2]
    assert len(triangles) == 1 and np.allclose(triangles[0].get_offsets()[:, 1], cap)
    assert any("2 SNP(s) beyond 10" in t.get_text() for t in ax.get_legend().get_texts())
    assert "capped at 10" in ax.get_ylabel()
    # no SNP beyond the cap: the axis follows the data, nothing is said
    plots.qq_plot(rng.uniform(size=2000), tmp_path / "q2.png", tmp_path / "q2.pdf", "qq")
    assert captured[1].axes[0].get_ylim()[1] < cap and "capped" not in captured[1].axes[0].get_ylabel()


def test_seed_stability_matrices_and_figure(tmp_path):
    _, scores, _ = synthetic_study(n=400, chromosomes=("1",))
    rng = np.random.default_rng(4)
    same = scores.copy()
    shuffled = scores.assign(score=rng.permutation(scores["score"].to_numpy()))
    noisy = scores.assign(score=scores["score"] + rng.normal(0, 0.002, len(scores)))
    runs = [(11, scores), (12, same), (13, shuffled), (14, noisy)]
    k = 10
    png, pdf = tmp_path / "stab.png", tmp_path / "stab.pdf"
    m = plots.seed_stability_plot(runs, k, png, pdf, "stability")
    assert list(m["overlap"].index) == ["11", "12", "13", "14"]
    assert m["overlap"].loc["11", "12"] == 1.0 and m["spearman"].loc["11", "12"] == pytest.approx(1.0)
    top = lambda s: set(compare.top_k_ids(compare.deeplift_strength(s), k))  # noqa: E731
    assert m["overlap"].loc["11", "13"] == len(top(scores) & top(shuffled)) / k
    assert m["spearman"].loc["13", "11"] == pytest.approx(stats.spearmanr(scores["score"], shuffled["score"])[0])
    assert m["spearman"].loc["11", "14"] > m["spearman"].loc["11", "13"]
    table = plots.seed_stability_table(m)
    assert len(table) == 6 and set(table.columns) == {"seed_a", "seed_b", "topk_overlap", "spearman"}
    assert png.stat().st_size > 10_000 and pdf.stat().st_size > 1_000


def test_miami_draws_the_discovery_thresholds_on_each_panel(tmp_path, captured):
    sumstats, scores, causal = synthetic_study(n=500)
    table = pd.DataFrame({
        "method": ["deeplift_null"] * 2 + ["gwas_bh"] * 2 + ["deeplift_knockoff"],
        "threshold": [0.0123, 0.0123, 3.5, 3.5, 0.2],
        "selected": [True, False, True, True, False],
        "error_rate": ["FWER<=0.05"] * 2 + ["FDR<=0.1"] * 3,
    })
    lines = plots.discovery_lines(table)
    plots.miami_plot(sumstats, scores, tmp_path / "m.png", tmp_path / "m.pdf", "t", causal_ids=causal,
                     gwas_lines=lines["gwas"], deeplift_lines=lines["deeplift"])
    top, bottom = captured[0].axes[:2]
    flat = lambda ax: sorted(l.get_ydata()[0] for l in ax.lines if len(set(l.get_ydata())) == 1)  # noqa: E731
    assert 3.5 in flat(top) and flat(bottom) == [0.0123]
    assert "null-trait max FWER<=0.05 (1 found)" in [t.get_text() for t in bottom.texts]
    assert "BH FDR<=0.1 (2 found)" in [t.get_text() for t in top.texts]
    # nothing selectable (inf) or no null method: no line
    none = plots.discovery_lines(table.assign(threshold=np.inf))
    assert none == {"gwas": [], "deeplift": []} and plots.discovery_lines(None) == none
