"""config/ukb-example.yaml really runs: synthetic cohort -> QC -> traits, covariates, summary.

The QC part of the example's DAG runs in a temporary directory (the grid is left to the
other workflow tests); outputs are checked against the synthetic cohort's ground truth, and
config edits plan exactly the jobs they affect.
"""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from snakemake_runner import REPO, count_rules, planned_jobs, snakemake, write_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("plink2") is None, reason="needs plink2")]

EXAMPLE = REPO / "config" / "ukb-example.yaml"
TARGETS = [
    "results/ukb/traits.tsv",
    "results/ukb/covariates.tsv",
    "results/ukb/qc/summary.tsv",
    "results/ukb/genotypes/plink.bed",
    "results/ukb/genotypes/plink.bim",
    "results/ukb/genotypes/plink.fam",
]
SAMPLE_RULES = {"synthetic_ukb_cohort", "qc_sample_missingness", "qc_sex", "qc_ancestry", "qc_relatedness"}


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ukb_example")
    snakemake(workdir, EXAMPLE, *TARGETS)
    truth = json.loads((workdir / "results/example-input/ukb_synth.truth.json").read_text())
    return workdir, truth


def read(path, **kwargs):
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str}, **kwargs)


def test_qc_keeps_exactly_the_unproblematic_samples_and_variants(example_run):
    workdir, truth = example_run
    s = truth["samples"]
    fam = pd.read_csv(workdir / "results/ukb/genotypes/plink.fam", sep=r"\s+", header=None, dtype=str)
    bim = pd.read_csv(workdir / "results/ukb/genotypes/plink.bim", sep=r"\s+", header=None, dtype=str)
    problems = set(s["high_missing"]) | set(s["sex_mismatch"]) | set(s["aneuploidy"]) | set(s["ancestry_outlier"])
    kept = set(fam[1])
    assert not kept & problems
    assert all(len(kept & set(pair)) == 1 for pair in s["related_pairs"])
    assert len(kept) == len(truth["per_sample"]["eid"]) - len(problems) - len(s["related_pairs"])
    v = truth["variants"]
    assert not set(bim[1]) & (set(v["rare"]) | set(v["low_call_rate"]) | set(v["chrx"]))
    assert len(bim) == truth["spec"]["n_snps"] - len(v["rare"]) - len(v["low_call_rate"])
    assert (bim[0] == "10").all()


def test_traits_match_the_planted_cases_and_hba1c(example_run):
    workdir, truth = example_run
    traits = read(workdir / "results/ukb/traits.tsv")
    fam = pd.read_csv(workdir / "results/ukb/genotypes/plink.fam", sep=r"\s+", header=None, dtype=str)
    assert traits.columns.tolist() == ["FID", "IID", "t2d", "hba1c"]
    assert traits["IID"].tolist() == fam[1].tolist()
    per = pd.DataFrame(truth["per_sample"]).set_index("eid").loc[traits["IID"]]
    assert (traits["t2d"].to_numpy() == per["t2d"].to_numpy()).all()
    np.testing.assert_allclose(traits["hba1c"].to_numpy(float), per["hba1c"].to_numpy(float), atol=1e-12)
    assert traits["hba1c"].isna().sum() == per["hba1c"].isna().sum() > 0


def test_covariates_and_summary(example_run):
    workdir, truth = example_run
    cov = read(workdir / "results/ukb/covariates.tsv")
    assert cov.columns.tolist() == ["FID", "IID", "age", "sex"] + [f"PC{k}" for k in range(1, 11)]
    assert not cov.isna().any().any()
    summary = read(workdir / "results/ukb/qc/summary.tsv", keep_default_na=False).set_index("step")
    s = truth["samples"]
    assert summary.loc["sample_missingness", "samples_removed"] == len(s["high_missing"])
    assert summary.loc["sex", "samples_removed"] == len(s["sex_mismatch"]) + len(s["aneuploidy"])
    assert summary.loc["ancestry", "samples_removed"] == len(s["ancestry_outlier"])
    assert summary.loc["relatedness", "samples_removed"] == len(s["related_pairs"])
    assert summary.loc["variant_call_rate", "variants_removed"] == len(truth["variants"]["low_call_rate"])
    assert summary.loc["maf", "variants_removed"] == len(truth["variants"]["rare"])
    traits = read(workdir / "results/ukb/traits.tsv")
    final = summary.iloc[-1]
    assert final["samples_left"] == len(cov) == len(traits)
    assert final["t2d_cases"] == traits["t2d"].sum() and final["hba1c_n"] == traits["hba1c"].notna().sum()
    assert summary.loc["relatedness", "method"].startswith("relatedness file")
    # small planted problems, a reference group field and a relatedness file: nothing to warn about
    assert summary.columns[-1] == "warning" and (summary["warning"] == "").all()


def test_every_job_kept_its_log_and_benchmark_and_plink2_logs(example_run):
    workdir, _ = example_run
    rules = ["qc_sample_missingness", "qc_sex", "qc_ancestry", "qc_relatedness", "qc_variants", "qc_summary",
             "phenotypes", "covariates"]  # fmt: skip
    for rule in rules:
        assert (workdir / f"logs/{rule}/ukb.log").stat().st_size > 0, rule
        assert (workdir / f"benchmarks/{rule}/ukb.tsv").exists(), rule
    for rule in ("qc_sample_missingness", "qc_ancestry", "qc_variants", "covariates"):
        assert "PLINK v2.00" in (workdir / f"logs/{rule}/ukb.log").read_text(), rule
    assert "3 of 603 participants" in (workdir / "logs/phenotypes/ukb.log").read_text()
    leftovers = [p for p in (workdir / "results/ukb").rglob(".*") if "plink2" in p.name or p.suffix == ".tmp"]
    assert leftovers == []


def edited_config(workdir, edit):
    config = yaml.safe_load(EXAMPLE.read_text())
    edit(config["cohorts"]["ukb"])
    return write_config(workdir, config, name="edited.yaml")


def test_editing_one_threshold_reruns_that_step_and_what_follows(example_run):
    workdir, _ = example_run
    configfile = edited_config(workdir, lambda c: c["qc"]["maf"].update(min=0.05))
    counts = count_rules(planned_jobs(workdir, configfile, *TARGETS))
    assert counts["qc_variants"] == 1 and counts["phenotypes"] == 1 and counts["covariates"] == 1
    assert not SAMPLE_RULES & set(counts)


def test_adding_a_trait_in_config_reruns_only_trait_extraction(example_run):
    workdir, _ = example_run

    def add_bmi(cohort):
        cohort["traits"]["bmi"] = {"kind": "quantitative", "field": 21001}

    counts = count_rules(planned_jobs(workdir, edited_config(workdir, add_bmi), *TARGETS))
    assert set(counts) == {"phenotypes", "qc_summary"}
