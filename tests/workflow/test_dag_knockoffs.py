"""Dry-run plans of the knockoff rules (issue 11): a config with knockoffs plans them, per draw and seed."""

import copy

import pytest

from snakemake_runner import TINY_CONFIG, count_rules, planned_jobs, write_config

pytestmark = pytest.mark.slow


def _config(**knockoffs):
    config = copy.deepcopy(TINY_CONFIG)
    config["model"]["retrain_seeds"] = [11, 12]
    config["discoveries"] = {"knockoffs": {"run": True, **knockoffs}}
    return config


def test_knockoffs_plan_one_store_per_draw_and_one_model_per_draw_seed_and_trait(tmp_path):
    jobs = planned_jobs(tmp_path, write_config(tmp_path, _config(draws=2, window=50)))
    counts = count_rules(jobs)
    # one Hao dataset, 2 draws; 2 traits x 2 draws x 2 retrain seeds knockoff models
    assert counts["knockoff_genotypes"] == 2
    assert {w["draw"] for rule, w in jobs if rule == "knockoff_genotypes"} == {"1", "2"}
    assert counts["knockoff_train"] == 2 * 2 * 2 and counts["knockoff_deeplift"] == 2 * 2 * 2
    assert {(w["draw"], w["seed"]) for rule, w in jobs if rule == "knockoff_train"} == {
        ("1", "11"), ("1", "12"), ("2", "11"), ("2", "12")}
    assert counts["knockoff_statistics"] == 2  # one per trait


def test_knockoffs_off_plan_none_of_the_rules(tmp_path):
    config = _config()
    config["discoveries"]["knockoffs"]["run"] = False
    counts = count_rules(planned_jobs(tmp_path, write_config(tmp_path, config)))
    assert not {r for r in counts if r.startswith("knockoff")}
