"""The tiny study, run for real: every output exists, is complete and agrees with its inputs."""

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

import ssf_validator
from liftgwas import sumstats
from snakemake_runner import TINY_CONFIG, snakemake, write_config

pytestmark = pytest.mark.slow
DATASET = "sim-a0.5-r1"
TRAITS = TINY_CONFIG["simulation"]["traits"]
MODEL = TINY_CONFIG["model"]


def _runs(root: Path, trait: str):
    return sorted((root / "results" / DATASET / trait).glob("*/l1_*/seed_*"))


def test_every_grid_and_retrain_run_finished_cleanly(finished_study):
    for trait in TRAITS:
        runs = _runs(finished_study, trait)
        grid = {(a, f"{float(l):g}", s) for a in MODEL["architectures"] for l in MODEL["l1"] for s in MODEL["seeds"]}
        found = {(r.parts[-3], r.parts[-2][3:], int(r.parts[-1][5:])) for r in runs}
        assert grid <= found
        assert len(found - grid) == len(MODEL["retrain_seeds"])  # the selected model's retrain runs
        for run in runs:
            assert (run / "model.pt").exists() and (run / "deeplift.tsv").exists()
            assert not (run / "checkpoint.pt").exists()
            metrics = json.loads((run / "metrics.json").read_text())
            assert metrics["device"] == "cpu" and 1 <= metrics["best_epoch"] <= metrics["epochs_run"]
            summary = json.loads((run / "deeplift.json").read_text())
            assert summary["max_convergence_delta"] < 1e-3
    leftovers = [p for p in (finished_study / "results").rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")]
    assert leftovers == []


def test_scores_cover_every_variant_in_bim_order(finished_study):
    bim = pd.read_csv(finished_study / "results" / DATASET / "genotypes" / "plink.bim", sep="\t", header=None)
    for trait in TRAITS:
        scores = pd.read_csv(finished_study / "results" / DATASET / trait / "selected" / "scores.tsv", sep="\t")
        assert scores["variant_id"].tolist() == bim[1].tolist()
        assert (scores["score"] >= 0).all() and scores["score"].max() > 0
        assert (scores["n_seeds"] == len(MODEL["retrain_seeds"])).all()


def test_training_summary_lists_every_grid_run(finished_study):
    runs = pd.read_csv(finished_study / "results" / "selection" / "training_metrics.tsv", sep="\t")
    assert len(runs) == len(TRAITS) * len(MODEL["architectures"]) * len(MODEL["l1"]) * len(MODEL["seeds"])
    assert runs["validation_loglik"].notna().all()
    grids = pd.read_csv(finished_study / "results" / "selection" / "model_selection.tsv", sep="\t")
    assert grids.groupby("trait")["selected"].sum().tolist() == [1] * len(TRAITS)


def test_selection_picks_rank_one_of_the_grid(finished_study):
    for trait in TRAITS:
        base = finished_study / "results" / "selection" / "sim-a0.5" / trait
        grid = pd.read_csv(base / "grid.tsv", sep="\t", dtype={"l1": str})
        selected = json.loads((base / "selected.json").read_text())
        assert len(grid) == len(MODEL["architectures"]) * len(MODEL["l1"])
        assert grid["mean_validation_loglik"].is_monotonic_decreasing
        assert (selected["arch"], selected["l1"]) == (grid["arch"].iloc[0], grid["l1"].iloc[0])
        metrics = [
            json.loads(p.read_text())["validation_loglik"]
            for p in (finished_study / "results" / DATASET / trait / selected["arch"] / f"l1_{selected['l1']}").glob(
                "seed_*/metrics.json")
            if int(p.parent.name[5:]) in MODEL["seeds"]
        ]
        assert selected["mean_validation_loglik"] == pytest.approx(np.mean(metrics))


def test_recall_table_agrees_with_an_independent_recount(finished_study):
    runs = pd.read_csv(finished_study / "results" / "recall" / "deeplift_recall.tsv", sep="\t", dtype={"seed": str})
    truth = pd.read_csv(finished_study / "results" / DATASET / "truth.tsv", sep="\t")
    causal = set(truth["variant_id"])
    k = TINY_CONFIG["recall"]["top_k"]
    for row in runs.itertuples():
        if row.seed == "ensemble":
            path = finished_study / "results" / DATASET / row.trait / "selected" / "scores.tsv"
        else:
            path = finished_study / "results" / DATASET / row.trait / row.arch / f"l1_{row.l1:g}" / f"seed_{row.seed}" / "deeplift.tsv"
        scores = pd.read_csv(path, sep="\t")
        kth = scores["score"].sort_values(ascending=False).iloc[k - 1]
        sure = scores.loc[scores["score"] > kth, "variant_id"]
        tied = scores.loc[scores["score"] == kth, "variant_id"]
        expected = len(set(sure) & causal) + len(set(tied) & causal) * (k - len(sure)) / len(tied)
        assert row.recall == pytest.approx(expected / len(causal))
    table = (finished_study / "results" / "recall" / "table1.md").read_text()
    assert all(trait in table for trait in TRAITS)


def test_gwas_sumstats_and_comparison_figures(finished_study):
    bim = pd.read_csv(finished_study / "results" / DATASET / "genotypes" / "plink.bim", sep="\t", header=None,
                      dtype={1: str})
    for trait in TRAITS:
        path = finished_study / "results" / DATASET / trait / "gwas" / "sumstats.tsv.gz"
        with gzip.open(path, "rt") as handle:
            assert handle.readline().rstrip("\n").split("\t") == sumstats.COLUMNS
        table = sumstats.read_gwas_ssf(path)
        assert set(table["bim_id"]) <= set(bim[1]) and len(table) > 0.9 * len(bim)
        # the GWAS Catalog's validator: every check but its genome-wide rule (all 22 autosomes;
        # the simulation has 10 chromosomes), which the full CLI run is shown to fail alone
        checked = ssf_validator.validate_except_coverage(path)
        assert checked.returncode == 0 and "valid" in checked.stdout, checked.stdout + checked.stderr
        full = ssf_validator.validate(path)
        missing = sorted(set(range(1, 23)) - set(table["chromosome"]))
        assert full.returncode != 0 and f"Chromosome column missing values: {[str(c) for c in missing]}" in full.stdout
        meta = yaml.safe_load(sumstats.meta_path(path).read_text())
        assert meta["trait_description"] == [trait] and meta["is_harmonised"] is False
        figures = finished_study / "results" / "figures" / DATASET / trait
        for name in ("miami", "qq", "seeds"):
            assert (figures / f"{name}.png").stat().st_size > 10_000
            assert (figures / f"{name}.pdf").stat().st_size > 1_000


def test_every_job_kept_a_log_and_a_benchmark(finished_study):
    logs = {p.relative_to(finished_study / "logs").parts[0].removesuffix(".log")
            for p in (finished_study / "logs").rglob("*.log")}
    benchmarks = {p.relative_to(finished_study / "benchmarks").parts[0].removesuffix(".tsv")
                  for p in (finished_study / "benchmarks").rglob("*.tsv")}
    expected = {"simulate_dataset", "simulated_covariates", "split", "genotype_store", "train", "deeplift",
                "select_model", "selected_scores", "recall_table", "gwas"}
    assert expected <= logs and expected <= benchmarks


def _embedded(report_text: str, filename: str) -> str:
    """The file the report embeds under ``filename`` (as a base64 data URI), decoded."""
    import base64
    import re

    found = re.search(r"data:[^;]+;charset=[^;]+;filename=" + re.escape(filename) + r";base64,([A-Za-z0-9+/=]+)",
                      report_text)
    assert found, f"{filename} is not embedded in the report"
    return base64.b64decode(found.group(1)).decode()


def test_html_report_holds_the_tables_and_figures(finished_study):
    configfile = write_config(finished_study, TINY_CONFIG)
    snakemake(finished_study, configfile, "--report", "results/report.html")
    report = finished_study / "results" / "report.html"
    assert report.stat().st_size > 100_000
    text = report.read_text(errors="ignore")
    for name in ("table1.tsv", "training_metrics.tsv", "model_selection.tsv", "miami.png", "qq.png",
                 "seed_stability.png", "table1.html", "model_selection.html", "training_metrics.html",
                 "discoveries.html", "discoveries_list.html"):
        assert name in text, name
    # Table 1's values, as an HTML table inside the report
    table1 = pd.read_csv(finished_study / "results" / "recall" / "table1.tsv", sep="\t", dtype=str,
                         keep_default_na=False)
    html = _embedded(text, "table1.html")
    assert "<table>" in html and "<th>" + table1.columns[0] + "</th>" in html
    for value in table1.iloc[0]:
        assert f"<td>{value}</td>" in html or _number_cell(value) in html, value
    selection = _embedded(text, "model_selection.html")
    assert "<table>" in selection and "mean_validation_loglik" in selection
    # one category per topic: recall tables only under "Recall", labels instead of paths
    for label in ('"Table 1"', '"Table 1 (TSV)"', '"GWAS vs DeepLIFT recall"', '"Model-selection grid"',
                  '"Training metrics"', '"Recall by effect class and method"'):
        assert label in text, label
    assert "Recall over all settings" not in text


def _number_cell(value: str) -> str:
    try:
        return f"<td>{float(value):.4g}</td>"
    except ValueError:
        return f"<td>{value}</td>"


def test_deeplift_files_have_alleles_direction_and_rank(finished_study):
    bim = pd.read_csv(finished_study / "results" / DATASET / "genotypes" / "plink.bim", sep="\t", header=None,
                      dtype=str)
    for trait in TRAITS:
        run = _runs(finished_study, trait)[0]
        scores = pd.read_csv(run / "deeplift.tsv", sep="\t", dtype={"variant_id": str})
        assert list(scores.columns) == ["variant_id", "chromosome", "base_pair_location", "effect_allele",
                                        "other_allele", "attribution_per_allele", "score", "score_se", "rank"]
        assert list(scores["effect_allele"]) == list(bim[4]) and list(scores["other_allele"]) == list(bim[5])
        assert list(scores.sort_values("rank", kind="stable")["score"]) == sorted(scores["score"], reverse=True)
        assert (scores["attribution_per_allele"] > 0).any() and (scores["attribution_per_allele"] < 0).any()
        selected = pd.read_csv(finished_study / "results" / DATASET / trait / "selected" / "scores.tsv", sep="\t")
        for column in ("effect_allele", "other_allele", "attribution_per_allele", "score_se", "rank"):
            assert column in selected.columns


def test_progress_lines_in_the_job_logs(finished_study):
    for trait in TRAITS:
        # one block job per dataset x trait: its log holds every cell's epochs
        train_log = (finished_study / "logs" / "train" / DATASET / f"{trait}.log").read_text()
        assert re.search(r"training epoch 1: ([\d,]+) / \1 samples \(100\.0%\), [\d,]+ samples/s, ETA", train_log)
        deeplift_log = (finished_study / "logs" / "deeplift" / DATASET / f"{trait}.log").read_text()
        assert "DeepLIFT (validation): " in deeplift_log and "samples/s, ETA" in deeplift_log


def test_seed_stability_covers_every_retrain_seed(finished_study):
    for trait in TRAITS:
        table = pd.read_csv(finished_study / "results" / "compare" / DATASET / trait / "seed_stability.tsv", sep="\t")
        n = len(MODEL["retrain_seeds"])
        assert len(table) == n * (n - 1) // 2
        figure = finished_study / "results" / "figures" / DATASET / trait / "seed_stability.png"
        assert figure.stat().st_size > 10_000


def test_discoveries_without_deep_methods_hold_the_gwas_selections(finished_study):
    # the tiny study has no discoveries section: the DeepLIFT methods are off (the default),
    # the GWAS's BH at q = 0.1 and 5e-8 selections are there, with realised FDR / power
    from liftgwas.discover.discoveries import bh_select, read_discoveries

    for trait in TRAITS:
        base = finished_study / "results" / DATASET / trait
        table = read_discoveries(base / "discoveries.tsv")
        assert set(table["method"]) == {"gwas_bh", "gwas_gws"}
        bh = table[table["method"] == "gwas_bh"]
        sumstats = pd.read_csv(base / "gwas" / "sumstats.tsv.gz", sep="\t", na_values=["#NA"])
        assert len(bh) == len(sumstats)
        expected, _ = bh_select(np.power(10.0, -sumstats["neg_log_10_p_value"].to_numpy(float)), 0.1)
        assert int(bh["selected"].sum()) == int(expected.sum())
        summary = pd.read_csv(base / "discoveries_summary.tsv", sep="\t")
        assert {"fdr", "power"} <= set(summary.columns) and summary["power"].between(0, 1).all()
