"""A cohort's config: validated against workflow/schemas/cohort.schema.yaml, defaults filled in."""

from __future__ import annotations

import copy
import functools
from pathlib import Path

import yaml

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "cohort.schema.yaml"


@functools.lru_cache(maxsize=1)
def _schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _fill_defaults(schema: dict, instance, root: dict):
    if "$ref" in schema:
        schema = _resolve(schema["$ref"], root)
    if isinstance(instance, dict):
        for key, sub in schema.get("properties", {}).items():
            if isinstance(sub, dict) and "$ref" in sub:
                sub = {**_resolve(sub["$ref"], root), **{k: v for k, v in sub.items() if k != "$ref"}}
            if key not in instance and isinstance(sub, dict) and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
            if key in instance and isinstance(sub, dict):
                _fill_defaults(sub, instance[key], root)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict):
            for key in instance:
                if key not in schema.get("properties", {}):
                    _fill_defaults(extra, instance[key], root)
        for branch in ("then", "else"):  # trait kinds: fill the branch that applies
            if branch in schema and _if_matches(schema, instance) == (branch == "then"):
                _fill_defaults(schema[branch], instance, root)
    return instance


def _if_matches(schema: dict, instance: dict) -> bool:
    condition = schema.get("if", {}).get("properties", {})
    return all(instance.get(k) == v.get("const") for k, v in condition.items())


def _resolve(ref: str, root: dict) -> dict:
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def cohort_settings(cohort: dict, name: str = "cohort") -> dict:
    """Validate one cohort's config against cohort.schema.yaml and fill in the defaults.

    Raises ValueError naming the config key (cohorts.<name>.<path>) on an invalid value.
    """
    import jsonschema

    schema = _schema()
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(cohort), key=lambda e: list(e.path))
    if errors:
        e = errors[0]
        key = ".".join(["cohorts", name, *map(str, e.path)])
        raise ValueError(f"config key {key}: {e.message}")
    settings = _fill_defaults(schema, copy.deepcopy(cohort), schema)
    return settings


def genotype_source(settings: dict, cohort: str) -> dict:
    """Where the QC reads genotypes: {"prefix": PLINK prefix, "bgen": path or None, "sample": ...}.

    BGEN input is first imported to results/<cohort>/qc/imported.{bed,bim,fam}.
    """
    g = settings["genotypes"]
    if isinstance(g, str):
        return {"prefix": g, "bgen": None, "sample": None, "ref_allele": None, "extract": None}
    return {
        "prefix": f"results/{cohort}/qc/imported",
        "bgen": g["bgen"],
        "sample": g["sample"],
        "ref_allele": g.get("ref_allele", "ref-first"),
        "extract": g.get("extract"),
    }


