"""Recall by class and method: the per-dataset table, the summary over datasets, its
Markdown, and the Miami plot's causal-SNP markers by class."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftgwas import compare, plots


def small_study():
    ids = [f"v{i}" for i in range(8)]
    positions = pd.DataFrame({"variant_id": ids, "chromosome": "1", "base_pair_location": [200_000 * (i + 1) for i in range(8)]})
    truth = pd.DataFrame({"variant_id": ["v0", "v1", "v2", "v3"], "class": ["additive", "dominant", "epistatic", "epistatic"],
                          "pair": pd.array([pd.NA, pd.NA, 1, 1], dtype="Int64")})
    rankings = {
        "gwas": pd.Series([9.0, 8.0, 0.1, 0.2, 5, 4, 3, 2], index=ids),   # finds the marginal SNPs only
        "epistasis": pd.Series([0.1, 0.2, 9.0, 9.0, 5, 4, 3, 2], index=ids),  # finds the pair only
    }
    pairs = {"epistasis": pd.DataFrame({"snp1": ["v3"], "snp2": ["v2"]})}
    return positions, truth, rankings, pairs


def test_recall_by_method_and_summary():
    positions, truth, rankings, pairs = small_study()
    table = compare.recall_by_method(rankings, positions, truth, 2, window=1_000, r2_threshold=0.5,
                                     pair_lists=pairs)
    got = table.set_index(["method", "class"])
    assert got.at[("gwas", "additive"), "exact_recall"] == 1.0
    assert got.at[("gwas", "epistatic"), "exact_recall"] == 0.0
    assert got.at[("epistasis", "epistatic_pairs"), "locus_recall"] == 1.0
    assert got.at[("epistasis", "epistatic_pairs"), "pair_list_recall"] == 1.0
    assert np.isnan(got.at[("gwas", "epistatic_pairs"), "pair_list_recall"])

    per_dataset = []
    for dataset, engine_table in (("d1", table), ("d2", table.assign(exact_recall=table["exact_recall"] * 0.5))):
        per_dataset.append(engine_table.assign(group="sim-a1", engine="hao", dataset=dataset, trait="qt", sparsity=1.0))
    coal = table.assign(group="sim-coal", engine="coalescent", dataset="c1", trait="qt", sparsity=np.nan)
    summary = compare.recall_by_class_summary(pd.concat(per_dataset + [coal], ignore_index=True))
    row = summary.set_index(["group", "method", "class"]).loc[("sim-a1", "gwas", "additive")]
    assert row["n_datasets"] == 2 and row["exact_recall_mean"] == pytest.approx(0.75)
    assert row["exact_recall_sd"] == pytest.approx(np.std([1.0, 0.5], ddof=1))
    assert row["headline"] == "exact_recall"
    assert summary.set_index(["group", "method", "class"]).loc[("sim-coal", "gwas", "additive"), "headline"] == "locus_recall"
    # methods in report order within a class: DeepLIFT, additive GWAS, 2-df GWAS, scan
    block = summary[(summary["group"] == "sim-a1") & (summary["class"] == "all")]
    assert block["method"].tolist() == ["gwas", "epistasis"]
    markdown = compare.recall_by_class_markdown(summary, 2)
    assert "## sim-a1, trait qt (hao genotypes, 2 datasets)" in markdown
    assert "| additive (1) | exact | **75 % ± 35** | **0 % ± 0** |" in markdown
    assert "| epistatic_pairs (1) | pair_list | – | 100 % ± 0 |" in markdown


def test_miami_marks_causal_snps_by_class(tmp_path, monkeypatch):
    rng = np.random.default_rng(2)
    n = 400
    ids = [f"rs{i}" for i in range(n)]
    chrom = np.where(np.arange(n) < 200, "1", "2")
    pos = np.tile(np.arange(1, 201) * 1000, 2)
    p = rng.uniform(size=n)
    sumstats = pd.DataFrame({"chromosome": chrom, "base_pair_location": pos, "variant_id": ids, "p_value": p,
                             "neg_log10_p_value": -np.log10(p)})
    scores = pd.DataFrame({"variant_id": ids, "chromosome": chrom, "base_pair_location": pos,
                           "score": rng.exponential(0.01, n)})
    causal = {"rs3": "additive", "rs50": "recessive", "rs210": "epistatic", "rs300": "epistatic"}
    captured = {}
    real_save = plots.save_figure

    def capture(fig, png, pdf):
        captured["legend"] = [t.get_text() for t in fig.legends[0].get_texts()]
        captured["markers"] = [c for ax in fig.axes for c in ax.collections if c.get_offsets().shape[0] in (1, 2)]
        real_save(fig, png, pdf)

    monkeypatch.setattr(plots, "save_figure", capture)
    plots.miami_plot(sumstats, scores, tmp_path / "m.png", tmp_path / "m.pdf", "classes", causal_ids=causal)
    assert [t for t in captured["legend"] if t.startswith("causal")] == [
        "causal: additive", "causal: recessive", "causal: epistatic"]
    # a plain list of ids keeps the single marker and label
    plots.miami_plot(sumstats, scores, tmp_path / "m.png", tmp_path / "m.pdf", "ids", causal_ids=list(causal))
    assert [t for t in captured["legend"] if t.startswith("causal")] == ["causal SNP (simulated)"]
