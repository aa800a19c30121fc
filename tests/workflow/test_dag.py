"""Dry-run plans: the paper grid's size, and which jobs a config edit reruns."""

import copy
import hashlib
import shutil

import pytest

from snakemake_runner import REPO, TINY_CONFIG, count_rules, local_rules, planned_jobs, snakemake, write_config

pytestmark = pytest.mark.slow


def test_paper_grid_plans_one_training_and_one_deeplift_job_per_dataset_and_at_most_250_cluster_jobs(tmp_path):
    configfile = REPO / "config" / "paper-simulation.yaml"
    jobs = planned_jobs(tmp_path, configfile)
    counts = count_rules(jobs)
    # one block job per dataset x trait holds its 4 architectures x 4 L1 x 5 seeds = 80 cells
    assert counts["train"] == 4 * 5 and counts["deeplift"] == counts["train"]
    assert counts["simulate_dataset"] == 20
    assert counts["select_model"] == 4
    # retraining comes after the model-selection checkpoint, so the dry run shows the grid
    # only: one retrain and one DeepLIFT job per dataset x trait follow it
    after_checkpoint = 2 * 20
    local = local_rules()
    assert {"select_model", "qq", "miami", "training_summary"} <= local
    cluster = sum(1 for rule, _ in jobs if rule not in local) + after_checkpoint
    assert cluster <= 250, cluster
    assert {w["dataset"] for rule, w in jobs if rule == "train"} == {
        f"sim-a{a}-r{r}" for a in ("0.01", "0.1", "0.5", "1") for r in range(1, 6)}


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


# A grid edit reruns the block job of each dataset x trait (one job holds every cell);
# the block then restores its unchanged cells from their kept results and trains only the
# new ones (tests/unit/test_batched.py; test_adding_a_seed_retrains_no_existing_cell below).
def _block_jobs_only(jobs):
    counts = count_rules(jobs)
    assert counts["train"] == 2 and counts["deeplift"] == 2  # one per trait, one dataset
    assert set(counts) <= {"train", "deeplift"} | AGGREGATIONS
    assert counts["simulate_dataset"] == 0 and counts["genotype_store"] == 0 and counts["gwas"] == 0
    assert counts["retrain"] == 0
    return counts


def test_editing_one_l1_value_reruns_only_the_block_jobs(finished_study):
    counts = _block_jobs_only(_edited(finished_study, lambda c: c["model"].__setitem__("l1", [0.1, 3])))
    assert counts["select_model"] == 2  # one per trait


def test_adding_a_seed_reruns_only_the_block_jobs(finished_study):
    _block_jobs_only(_edited(finished_study, lambda c: c["model"].__setitem__("seeds", [1, 2])))


def test_adding_an_architecture_reruns_only_the_block_jobs(finished_study):
    _block_jobs_only(_edited(finished_study, lambda c: c["model"]["architectures"].append("4x4")))


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_adding_a_seed_retrains_no_existing_cell(finished_study, tmp_path):
    # on a copy of the finished study (file times and Snakemake's records kept)
    study = tmp_path / "study"
    shutil.copytree(finished_study, study, symlinks=True)
    old = sorted((study / "results").glob("*/*/*/l1_*/seed_1/model.pt"))
    assert len(old) == 2 * 2 * 2  # traits x architectures x L1
    before = {p: (_sha(p), _sha(p.with_name("metrics.json")), _sha(p.with_name("deeplift.tsv"))) for p in old}
    config = copy.deepcopy(TINY_CONFIG)
    config["model"]["seeds"] = [1, 2]
    configfile = write_config(study, config, "edited.yaml")
    new = [str(p.relative_to(study)).replace("seed_1", "seed_2") for p in old]
    snakemake(study, configfile, *new, *[n.replace("model.pt", "deeplift.tsv") for n in new])
    for path, digests in before.items():
        assert (_sha(path), _sha(path.with_name("metrics.json")), _sha(path.with_name("deeplift.tsv"))) == digests
    for name in new:
        assert (study / name).exists() and (study / name).with_name("deeplift.tsv").exists()
    for trait in TINY_CONFIG["simulation"]["traits"]:
        train_log = (study / "logs" / "train" / "sim-a0.5-r1" / f"{trait}.log").read_text()
        assert "block done: 4 cells trained, 4 restored from kept results" in train_log
        deeplift_log = (study / "logs" / "deeplift" / "sim-a0.5-r1" / f"{trait}.log").read_text()
        assert "block done: 4 models attributed, 4 restored from kept results" in deeplift_log


def test_changing_a_training_setting_reruns_all_training(finished_study):
    jobs = _edited(finished_study, lambda c: c["training"].__setitem__("patience", 3))
    counts = count_rules(jobs)
    assert counts["train"] == 2  # every grid block of the dataset (one per trait)
    assert counts["simulate_dataset"] == 0 and counts["gwas"] == 0 and counts["genotype_store"] == 0


def test_gwas_setting_reruns_the_gwas_and_not_the_models(finished_study):
    jobs = _edited(finished_study, lambda c: c["gwas"].__setitem__("n_pcs", 2))
    counts = count_rules(jobs)
    # the PCs are covariates of the GWAS and inputs of the networks: both rerun
    assert counts["simulated_covariates"] == 1 and counts["gwas"] == 2
    assert counts["simulate_dataset"] == 0 and counts["genotype_store"] == 0
