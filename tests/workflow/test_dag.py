"""Dry-run plans: the paper grid's size, and which jobs a config edit reruns."""

import copy
import hashlib
import json
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


# training.block_by: which grid coordinates get a job each (common.smk)
@pytest.mark.parametrize(
    "block_by, per_trait",
    [([], [{}]),
     (["arch"], [{"arch": "8x8"}, {"arch": "16x8"}]),
     (["seed", "arch"], [{"arch": "8x8", "seed": "1"}, {"arch": "16x8", "seed": "1"}]),
     (["arch", "l1", "seed"], [{"arch": a, "l1": l, "seed": "1"} for a in ("8x8", "16x8") for l in ("0.1", "1")])],
)
def test_block_by_plans_one_training_and_deeplift_job_per_block(tmp_path, block_by, per_trait):
    config = copy.deepcopy(TINY_CONFIG)
    config["training"]["block_by"] = block_by
    jobs = planned_jobs(tmp_path, write_config(tmp_path, config))
    coords = ("arch", "l1", "seed")
    for rule in ("train", "deeplift"):
        blocks = sorted((w["trait"], tuple(w.get(c) for c in coords)) for r, w in jobs if r == rule)
        expected = sorted((t, tuple(b.get(c) for c in coords))
                          for t in TINY_CONFIG["simulation"]["traits"] for b in per_trait)
        assert blocks == expected, rule
    # the retraining seeds (rule retrain, after the checkpoint) are not claimed by the grid's
    # per-cell pattern: a dry run would fail on ambiguous rules, and none is planned here
    assert count_rules(jobs)["retrain"] == 0


# what a cell's metrics.json / deeplift.json say of the job that made it, not of the cell
JOB_KEYS = {"seconds", "seconds_per_epoch", "block_seconds", "cells_in_block"}


def _job_free(path):
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in JOB_KEYS}


def test_a_cell_trained_in_its_own_job_equals_the_cell_trained_in_the_block(finished_study, tmp_path):
    # the finished study trained each trait's 4 cells in one block job; on a copy with the
    # kept results removed (so nothing is restored), one job per cell trains and attributes
    # every cell again from scratch: the same bytes
    study = tmp_path / "study"
    shutil.copytree(finished_study, study, symlinks=True)
    trait = "binary"
    cells = sorted((study / "results" / "sim-a0.5-r1" / trait).glob("*/l1_*/seed_1"))
    assert len(cells) == 4
    before = {cell / n: _sha(cell / n) for cell in cells for n in ("model.pt", "deeplift.tsv")}
    reports = {cell / n: _job_free(cell / n) for cell in cells for n in ("metrics.json", "deeplift.json")}
    for cell in cells:
        shutil.rmtree(cell / "kept")
    config = copy.deepcopy(TINY_CONFIG)
    config["training"]["block_by"] = ["arch", "l1", "seed"]
    configfile = write_config(study, config, "per-cell.yaml")
    snakemake(study, configfile, *[str((cell / "deeplift.tsv").relative_to(study)) for cell in cells])
    assert {path: _sha(path) for path in before} == before
    assert {path: _job_free(path) for path in reports} == reports
    assert json.loads((cells[0] / "metrics.json").read_text())["cells_in_block"] == 1
    for cell in cells:
        log = (study / "logs" / "train" / cell.relative_to(study / "results")).with_suffix(".log")
        assert "block done: 1 cells trained, 0 restored from kept results" in log.read_text()
        assert (cell / "kept" / "train" / "key.json").exists()
