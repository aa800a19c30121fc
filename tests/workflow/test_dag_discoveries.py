"""Dry-run plans of the discoveries stage: editing q or alpha reruns only the selection step
(rule discoveries) and what reads its table; adding null traits runs only the new null jobs."""

import copy
import shutil

import pytest

from snakemake_runner import REPO, TINY_CONFIG, count_rules, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow
DATASET = "sim-a0.5-r1"
# one trait's outputs only: the other trait's null jobs would otherwise be planned by every edit
TARGETS = [f"results/{DATASET}/binary/discoveries.tsv", f"results/figures/{DATASET}/binary/miami.png"]
# K = 2 with fwer off keeps this cheap (2 null trainings); the plan's shape does not depend on
# K: each null index is its own job, and no job but null_summary sees the count
NULLS = {"q": 0.1, "alpha": 0.05, "null_traits": {"count": 2, "fwer": False}}


def _config(**edits):
    config = copy.deepcopy(TINY_CONFIG)
    config["discoveries"] = copy.deepcopy(NULLS)
    for key, value in edits.items():
        if key == "count":
            config["discoveries"]["null_traits"]["count"] = value
        else:
            config["discoveries"][key] = value
    return config


@pytest.fixture(scope="module")
def null_study(finished_study, tmp_path_factory):
    """A copy of the finished tiny study with K = 2 null traits run for the binary trait."""
    workdir = tmp_path_factory.mktemp("nulls") / "study"
    shutil.copytree(finished_study, workdir, symlinks=True)  # copy2: mtimes kept, nothing reruns
    snakemake(workdir, write_config(workdir, _config()), *TARGETS)
    return workdir


def _plan(workdir, **edits):
    return planned_jobs(workdir, write_config(workdir, _config(**edits), "edited.yaml"), *TARGETS)


def test_null_stage_outputs(null_study):
    base = null_study / "results" / DATASET / "binary"
    for k in (1, 2):
        assert (base / "null" / f"null_{k}" / "scores.tsv").exists()
    summary = (base / "null" / "summary.tsv").read_text().splitlines()
    assert summary[0].split("\t") == ["variant_id", "score", "p_empirical", "p_pooled", "p_fwer"]
    assert len(summary) == 1 + TINY_CONFIG["simulation"]["n_snps"]
    table = (base / "discoveries.tsv").read_text()
    assert "deeplift_null" in table and "gwas_bh" in table and "gwas_gws" in table
    assert planned_jobs(null_study, write_config(null_study, _config(), "same.yaml"), *TARGETS) == []


@pytest.mark.parametrize("edit", [{"q": 0.2}, {"alpha": 0.1}])
def test_changing_q_or_alpha_reruns_only_the_discoveries_step(null_study, edit):
    counts = count_rules(_plan(null_study, **edit))
    assert counts == {"discoveries": 1, "miami": 1}


def test_adding_null_traits_runs_only_the_new_null_jobs(null_study):
    jobs = _plan(null_study, count=4)
    counts = count_rules(jobs)
    assert sorted(w["null"] for rule, w in jobs if rule == "null_train") == ["3", "4"]
    assert counts == {"null_train": 2, "null_summary": 1, "discoveries": 1, "miami": 1}


def test_discoveries_study_plans_the_stage(tmp_path):
    jobs = planned_jobs(tmp_path, REPO / "config" / "discoveries.yaml")
    counts = count_rules(jobs)
    # one dataset x one trait: K = 20 null jobs (their paths do not depend on the checkpoint's
    # choice, only their inputs do, so the dry run shows them), one summary, one table
    assert counts["null_train"] == 20 and counts["null_summary"] == 1
    assert sorted(int(w["null"]) for rule, w in jobs if rule == "null_train") == list(range(1, 21))
    assert counts["discoveries"] == 1 and counts["discoveries_report"] == 1 and counts["miami"] == 1
