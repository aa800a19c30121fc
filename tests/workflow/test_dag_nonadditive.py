"""Dry-run plan of config/nonadditive.yaml: both engines, named traits, the baseline rules."""

import pytest

from snakemake_runner import REPO, count_rules, planned_jobs

pytestmark = pytest.mark.slow


def test_nonadditive_config_plans_both_engines_and_the_baselines(tmp_path):
    jobs = planned_jobs(tmp_path, REPO / "config" / "nonadditive.yaml")
    counts = count_rules(jobs)
    simulated = {w["sim_dataset"] for rule, w in jobs if rule == "simulate_dataset"}
    assert simulated == {"sim-a1-r1", "sim-coal-r1"}
    pairs = {(w["dataset"], w["trait"]) for rule, w in jobs if rule == "train"}
    assert pairs == {(d, t) for d in simulated for t in ("mixed_bin", "mixed_qt")}
    # one block job per dataset x trait (its 1 architecture x 2 L1 x 1 grid seed cells)
    assert counts["train"] == 4 and counts["deeplift"] == 4
    # the classical baselines, one job per dataset and trait, beside the additive GWAS
    for rule in ("gwas", "gwas_genotypic", "epistasis_scan"):
        assert counts[rule] == 4, (rule, dict(counts))


def test_nonadditive_config_plans_the_network_pairs_and_their_comparison(tmp_path):
    jobs = planned_jobs(tmp_path, REPO / "config" / "nonadditive.yaml")
    counts = count_rules(jobs)
    # one pair job and one figure per dataset and trait (they read the retrained models, known
    # after select_model: planned now, re-evaluated after the checkpoint), one recall table
    expected = {("sim-a1-r1", "mixed_bin"), ("sim-a1-r1", "mixed_qt"), ("sim-coal-r1", "mixed_bin"),
                ("sim-coal-r1", "mixed_qt")}
    for rule in ("pairs", "pairs_figure"):
        assert {(w["dataset"], w["trait"]) for r, w in jobs if r == rule} == expected, (rule, dict(counts))
    assert counts["pair_recall"] == 1 and counts["report_pair_recall"] == 1


def test_pairs_settings_larger_than_the_simulated_snps_stop_the_plan_naming_the_key(tmp_path):
    import copy

    from snakemake_runner import TINY_CONFIG, write_config

    config = copy.deepcopy(TINY_CONFIG)  # 120 SNPs
    config["pairs"] = {"candidates": "top_snps", "top_snps": 500}
    with pytest.raises(AssertionError, match=r"pairs\.top_snps"):
        planned_jobs(tmp_path, write_config(tmp_path, config))
