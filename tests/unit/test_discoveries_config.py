"""The config section discoveries: schema and the checks it cannot express; errors name the key."""

import copy
from pathlib import Path

import jsonschema
import pytest
import yaml

from liftgwas.workflow_config import Study

REPO = Path(__file__).resolve().parents[2]
SCHEMA = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())


def load(name):
    return yaml.safe_load((REPO / "config" / name).read_text())


def edited(section):
    config = copy.deepcopy(load("config.yaml"))
    config["discoveries"] = section
    return config


def test_default_study_has_the_gwas_methods_only_and_discoveries_yaml_turns_the_deep_ones_on():
    default = Study.from_config(load("config.yaml"))
    assert default.null_count() == 0 and not default.knockoffs_on()
    assert default.discoveries["q"] == 0.1 and default.discoveries["alpha"] == 0.05
    config = load("discoveries.yaml")
    jsonschema.Draft202012Validator(SCHEMA).validate(config)
    study = Study.from_config(config)
    assert study.null_count() >= 20 and study.discoveries["null_traits"]["fwer"]


@pytest.mark.parametrize("q", [0, 1, 1.5, -0.2])
def test_q_outside_the_unit_interval_is_a_config_error(q):
    config = edited({"q": q})
    with pytest.raises(jsonschema.ValidationError, match="q|exclusive"):
        jsonschema.Draft202012Validator(SCHEMA).validate(config)
    with pytest.raises(ValueError, match=r"config key discoveries\.q: must be a number in \(0, 1\)"):
        Study.from_config(config)  # also without the schema (e.g. a config built in Python)


def test_alpha_outside_the_unit_interval_names_its_key():
    with pytest.raises(ValueError, match=r"discoveries\.alpha"):
        Study.from_config(edited({"alpha": 1.0}))


@pytest.mark.parametrize("count", [1, 10, 19])
def test_too_few_null_traits_for_the_max_statistic_names_the_key_and_reason(count):
    config = edited({"null_traits": {"count": count}})
    jsonschema.Draft202012Validator(SCHEMA).validate(config)  # the schema allows it: the rule needs alpha
    with pytest.raises(ValueError, match=r"config key discoveries\.null_traits\.count: .* too few .*K >= 20"):
        Study.from_config(config)


def test_small_alpha_needs_more_null_traits_and_empirical_p_needs_no_minimum():
    with pytest.raises(ValueError, match="K >= 100"):
        Study.from_config(edited({"alpha": 0.01, "null_traits": {"count": 50}}))
    assert Study.from_config(edited({"alpha": 0.01, "null_traits": {"count": 100}})).null_count() == 100
    assert Study.from_config(edited({"null_traits": {"count": 2, "fwer": False}})).null_count() == 2


def test_schema_rejects_unknown_keys_and_negative_counts():
    for section in ({"null_traits": {"count": -1}}, {"nulls": 3}, {"knockoffs": {"method": "magic"}}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(SCHEMA).validate(edited(section))
