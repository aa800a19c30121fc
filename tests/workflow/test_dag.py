"""Dry-run plans: the paper grid's size, and which jobs a config edit reruns."""

import copy

import pytest

from snakemake_runner import REPO, TINY_CONFIG, count_rules, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow


def test_paper_grid_plans_1600_training_and_1600_deeplift_jobs(tmp_path):
    jobs = planned_jobs(tmp_path, REPO / "config" / "paper-simulation.yaml")
    counts = count_rules(jobs)
    # 4 settings x 5 datasets x 4 architectures x 4 L1 x 5 seeds; retraining comes after
    # the model-selection checkpoint, so the dry run shows the grid only
    assert counts["train"] == 4 * 5 * 4 * 4 * 5
    assert counts["deeplift"] == counts["train"]
    assert counts["simulate_dataset"] == 20
    assert counts["select_model"] == 4
    trained = {(w["arch"], w["l1"], w["seed"]) for rule, w in jobs if rule == "train"}
    assert {a for a, _, _ in trained} == {"64x128", "64x256", "128x128", "128x256"}
    assert {l for _, l, _ in trained} == {"0.01", "0.1", "1", "10"}


def test_finished_study_plans_nothing(finished_study):
    configfile = write_config(finished_study, TINY_CONFIG)
    assert planned_jobs(finished_study, configfile) == []


def _edited(finished_study, edit):
    config = copy.deepcopy(TINY_CONFIG)
    edit(config)
    configfile = write_config(finished_study, config, "edited.yaml")
    return planned_jobs(finished_study, configfile)


# What follows the grid: model selection (a checkpoint) and everything that reads its
# choice, which Snakemake re-evaluates once the checkpoint has run again
AGGREGATIONS = {
    "select_model",
    "training_summary",
    "selected_scores",
    "recall_table",
    "recall_comparison",
    "miami",
    "top_hits",
    "seed_figure",
    "method_recall",
    "recall_by_class_table",
    "seed_stability",
    "report_table1",
    "report_model_selection",
    "report_training_metrics",
    "pairs",
    "pairs_figure",
    "pair_recall",
    "report_pair_recall",
    "all",
}


def test_editing_one_l1_value_reruns_only_its_jobs(finished_study):
    jobs = _edited(finished_study, lambda c: c["model"].__setitem__("l1", [0.1, 3]))
    counts = count_rules(jobs)
    per_l1 = 2 * 2 * 1  # traits x architectures x seeds, one dataset
    assert counts["train"] == per_l1 and counts["deeplift"] == per_l1
    assert {w["l1"] for rule, w in jobs if rule in ("train", "deeplift")} == {"3"}
    assert set(counts) <= {"train", "deeplift"} | AGGREGATIONS
    assert counts["select_model"] == 2  # one per trait


def test_adding_a_seed_runs_only_the_new_seed(finished_study):
    jobs = _edited(finished_study, lambda c: c["model"].__setitem__("seeds", [1, 2]))
    assert {w["seed"] for rule, w in jobs if rule in ("train", "deeplift")} == {"2"}
    assert count_rules(jobs)["train"] == 2 * 2 * 2  # traits x architectures x L1
    assert set(count_rules(jobs)) <= {"train", "deeplift"} | AGGREGATIONS


def test_adding_an_architecture_runs_only_the_new_architecture(finished_study):
    jobs = _edited(finished_study, lambda c: c["model"]["architectures"].append("4x4"))
    assert {w["arch"] for rule, w in jobs if rule in ("train", "deeplift")} == {"4x4"}
    assert count_rules(jobs)["train"] == 2 * 2  # traits x L1
    assert set(count_rules(jobs)) <= {"train", "deeplift"} | AGGREGATIONS


def test_changing_a_training_setting_reruns_all_training(finished_study):
    jobs = _edited(finished_study, lambda c: c["training"].__setitem__("patience", 3))
    counts = count_rules(jobs)
    assert counts["train"] == 2 * 2 * 2  # every grid job of the dataset
    assert counts["simulate_dataset"] == 0 and counts["gwas"] == 0 and counts["genotype_store"] == 0


def test_gwas_setting_reruns_the_gwas_and_not_the_models(finished_study):
    jobs = _edited(finished_study, lambda c: c["gwas"].__setitem__("n_pcs", 2))
    counts = count_rules(jobs)
    # the PCs are covariates of the GWAS and inputs of the networks: both rerun
    assert counts["simulated_covariates"] == 1 and counts["gwas"] == 2
    assert counts["simulate_dataset"] == 0 and counts["genotype_store"] == 0
