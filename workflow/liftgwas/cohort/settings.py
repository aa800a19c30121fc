"""A cohort's config: validated against workflow/schemas/cohort.schema.yaml, defaults filled in."""

from __future__ import annotations

from pathlib import Path

from .. import schema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "cohort.schema.yaml"


def cohort_settings(cohort: dict, name: str = "cohort") -> dict:
    """Validate one cohort's config against cohort.schema.yaml and fill in the defaults.

    Raises ValueError naming the config key (cohorts.<name>.<path>) on an invalid value.
    """
    return schema.validate(cohort, schema.load(SCHEMA_PATH), ["cohorts", name])


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




def phenotype_table(settings: dict) -> dict:
    """{"format": "ukb"|"plink", "path": ...} of the cohort's phenotype table (a plain string
    in the config is a UK Biobank table)."""
    p = settings["phenotypes"]
    return {"format": "ukb", "path": p} if isinstance(p, str) else {"format": p.get("format", "ukb"), "path": p["path"]}


def covariate_table(settings: dict) -> str | None:
    """The PLINK covariate file, if the covariates come from one (else the phenotype table)."""
    cov = settings.get("covariates", {})
    return cov["path"] if cov.get("format") == "plink" else None
