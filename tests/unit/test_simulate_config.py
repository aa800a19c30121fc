"""Simulation config: engines, named traits and liabilities, and the errors that name the key."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from liftgwas import simulate
from liftgwas.workflow_config import Study, simulation_params

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_every_config_passes_the_schema():
    for name in ("config.yaml", "paper-simulation.yaml", "nonadditive.yaml"):
        jsonschema.Draft202012Validator(SCHEMA).validate(load(name))


def test_paper_config_plans_the_same_datasets_and_seeds():
    study = Study.from_config(load("paper-simulation.yaml"))
    names = [f"sim-a{a}-r{r}" for a in ("0.01", "0.1", "0.5", "1") for r in range(1, 6)]
    assert study.dataset_names() == names
    d = study.datasets["sim-a0.1-r3"]
    assert (d.engine, d.group, d.traits) == ("hao", "sim-a0.1", {"binary": "binary"})
    assert d.seed == simulate.dataset_seed(2020, 0.1, 3)
    params = simulation_params(load("paper-simulation.yaml")["simulation"], d)
    assert params == {
        "engine": "hao", "seed": d.seed, "n_snps": 10000, "traits": ["binary"],
        "n_samples": 10000, "sparsity": 0.1, "n_causal": 10,
    }


def test_nonadditive_config_has_both_engines_and_named_traits():
    config = load("nonadditive.yaml")
    study = Study.from_config(config)
    assert study.simulated_names() == ["sim-a1-r1", "sim-coal-r1"]
    coal = study.datasets["sim-coal-r1"]
    assert (coal.engine, coal.group, coal.sparsity) == ("coalescent", "sim-coal", None)
    assert coal.seed == simulate.coalescent_dataset_seed(2020, 1) != study.datasets["sim-a1-r1"].seed
    assert study.trait_kind("sim-coal-r1", "mixed_bin") == "binary"
    assert study.trait_kind("sim-a1-r1", "mixed_qt") == "quantitative"
    params = simulation_params(config["simulation"], coal)
    assert params["engine"] == "coalescent" and "n_samples" not in params and "sparsity" not in params
    assert params["coalescent"]["model"] == "OutOfAfrica_3G09"


def edited(edit):
    config = copy.deepcopy(load("nonadditive.yaml"))
    edit(config["simulation"])
    return config


@pytest.mark.parametrize(
    "edit, key",
    [
        (lambda s: s["liabilities"]["mixed"]["epistatic_pairs"].update(variance_share=0.7),
         "simulation.liabilities.mixed: variance shares sum to 1"),
        (lambda s: s["liabilities"]["mixed"]["additive"].update(n_causal=1990),
         "simulation.liabilities.mixed: 2010 causal SNPs"),
        (lambda s: s["coalescent"].update(model="OutOfAtlantis_1X99"), "simulation.coalescent.model"),
        (lambda s: s["coalescent"]["samples"].update(ZZZ=3), "simulation.coalescent.samples"),
        (lambda s: s["traits"]["mixed_bin"].update(liability="nope"), "simulation.traits.mixed_bin.liability"),
        (lambda s: s["traits"]["mixed_qt"].update(prevalence=0.3), "simulation.traits.mixed_qt.prevalence"),
        (lambda s: s.pop("coalescent"), "simulation.coalescent: required"),
        (lambda s: s.pop("sparsity"), "simulation.sparsity: required"),
        (lambda s: s.update(traits=["binary"], n_causal=5), "simulation.traits: the coalescent engine"),
        (lambda s: s.update(traits=["binary"], n_causal=5000, genotypes="hao"), "simulation.n_causal"),
    ],
)
def test_unmeetable_configs_stop_at_validation_naming_the_key(edit, key):
    with pytest.raises(ValueError, match=key.replace(".", r"\.")):
        Study.from_config(edited(edit))


def test_schema_rejects_unknown_class_and_share_out_of_range():
    for edit in (
        lambda s: s["liabilities"]["mixed"].update(overdominant={"n_causal": 1, "variance_share": 0.1}),
        lambda s: s["liabilities"]["mixed"]["additive"].update(variance_share=1.2),
        lambda s: s.update(genotypes="slim"),
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(SCHEMA).validate(edited(edit))


def test_default_config_keeps_the_paper_trait_beside_a_non_additive_one():
    config = load("config.yaml")
    study = Study.from_config(config)
    assert study.dataset_names() == ["sim-a0.1-r1", "sim-a1-r1"]
    assert study.datasets["sim-a1-r1"].traits == {"binary": "binary", "mixed_bin": "binary"}
    liabilities = config["simulation"]["liabilities"]
    assert liabilities["paper"] == {"paper_additive": {"n_causal": 10}}
    # the non-additive trait is config/nonadditive.yaml's liability, not one tuned for this study
    assert liabilities["mixed"] == load("nonadditive.yaml")["simulation"]["liabilities"]["mixed"]


def test_paper_model_must_be_alone_in_its_liability():
    def edit(s):
        s["liabilities"]["mixed"]["paper_additive"] = {"n_causal": 3}

    with pytest.raises(ValueError, match=r"simulation\.liabilities\.mixed\.paper_additive"):
        Study.from_config(edited(edit))
