"""Checks of a cohort's inputs before any job runs (called while Snakemake builds the DAG).

Only headers and ID columns are read, so this costs seconds on a biobank, against hours of
QC that would otherwise run before the trait rules found the problem:
  * the phenotype table's declared format matches its header (BOM stripped, and said)
  * every column/field the config needs exists (traits, covariates, QC fields)
  * the table's sample IDs overlap the .fam's IIDs (min_sample_overlap), else an error
    naming both files, the counts and three example IDs of each
  * recall.top_k is at most the number of input variants
Inputs that do not exist yet (made by a rule, e.g. the synthetic example or a BGEN import)
are checked by the jobs that read them.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..errors import InputError
from .phenotypes import open_table, plan_traits, plink_trait_columns, sniff_format
from .plink_pheno import PlinkTable
from .settings import covariate_table, genotype_source, phenotype_table

log = logging.getLogger(__name__)


def _fam_iids(fam: Path) -> pd.Series:
    return pd.read_csv(fam, sep=r"\s+", header=None, usecols=[1], dtype=str)[1]


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)


def _examples(ids) -> str:
    return ", ".join(f"'{i}'" for i in list(ids)[:3])


def check_sample_overlap(table_ids: pd.Index, table_path, fam_ids: pd.Series, fam_path, min_fraction: float, key: str) -> int:
    """Number of .fam samples with a table row; InputError if under min_fraction of the .fam."""
    fam_index = pd.Index(fam_ids.astype(str))
    n_common = int(fam_index.isin(table_ids).sum())
    if n_common == 0 or n_common < min_fraction * len(fam_index):
        raise InputError(
            table_path,
            f"only {n_common} of the {len(fam_index)} samples of {fam_path} have a row in this table "
            f"({len(table_ids)} rows; at least {min_fraction:g} of the .fam needed, config key {key}). "
            f"Table IDs: {_examples(table_ids)}; .fam IIDs: {_examples(fam_index)}. The table's IDs must be the "
            ".fam's IIDs (column 2)",
        )
    return n_common


def _stat(path) -> list | None:
    try:
        s = Path(path).stat()
    except (OSError, TypeError):
        return None
    return [str(path), s.st_size, s.st_mtime_ns]


def check_cohort_cached(settings: dict, name: str, top_k: int | None, cache_dir: str | Path) -> dict:
    """check_cohort, skipped when the same settings and unchanged files (size, mtime) passed
    before: the ID column of a wide UK Biobank export takes a scan of the whole file, which
    every snakemake invocation would otherwise repeat."""
    import hashlib
    import json

    from ..atomic import write_json

    prefix = genotype_source(settings, name)["prefix"]
    files = [phenotype_table(settings)["path"], covariate_table(settings), f"{prefix}.fam", f"{prefix}.bim"]
    key = json.dumps({"settings": settings, "top_k": top_k, "files": [_stat(f) for f in files]}, sort_keys=True, default=str)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    cached = Path(cache_dir) / f"{name}.{digest}.json"
    if cached.exists():
        return json.loads(cached.read_text())
    checked = check_cohort(settings, name, top_k)
    if checked.get("overlap") is not None:  # only a complete check is remembered
        cached.parent.mkdir(parents=True, exist_ok=True)
        for old in cached.parent.glob(f"{name}.*.json"):
            old.unlink(missing_ok=True)
        write_json(cached, checked)
    return checked


def check_cohort(settings: dict, name: str, top_k: int | None = None) -> dict:
    """All checks of one cohort whose input files exist; returns what was checked (counts)."""
    key = f"cohorts.{name}"
    table_spec = phenotype_table(settings)
    path = Path(table_spec["path"])
    checked: dict = {}
    if not path.exists():
        return checked
    found = sniff_format(path)
    if found != table_spec["format"]:
        expected = {"plink": "'FID IID ...', '#FID IID ...' or '#IID ...'", "ukb": "'eid ...'"}[table_spec["format"]]
        raise InputError(
            path,
            f"config key {key}.phenotypes says format {table_spec['format']}, whose header starts {expected}, "
            f"but this header looks like a {found} file; set phenotypes: {{format: {found}, path: ...}}",
            line=1,
        )
    table = open_table(path)
    traits = settings["traits"]
    if isinstance(table, PlinkTable):
        for trait, definition in traits.items():
            for column in plink_trait_columns(definition, f"{key}.traits.{trait}"):
                table.require(column, f"{key}.traits.{trait}")
        if settings["covariates"].get("format") != "plink":
            raise ValueError(
                f"config key {key}.covariates: the phenotypes are a PLINK file, which has no UK Biobank fields; "
                "set covariates: {format: plink, path: <covariate file>, columns: [...]} (columns: [] for PCs only)"
            )
        ids = table.ids()
    else:
        for trait, definition in traits.items():
            if "column" in definition or "columns" in definition:
                raise ValueError(f"config key {key}.traits.{trait}: 'column' is for PLINK phenotype files; a UK Biobank table uses 'field'/'any_of'")
        plan_traits(table, traits, f"{key}.traits")
        cov = settings["covariates"]
        if cov.get("format") != "plink":
            for cov_name, field in cov["fields"].items():
                table.require(field, f"{key}.covariates.fields.{cov_name}")
            if cov["n_pcs"] and cov["pcs"] == "field":
                table.require(cov["pc_field"], f"{key}.covariates.pc_field")
        qc = settings["qc"]
        if qc["sex"]["enabled"] and qc["sex"]["method"] == "fields":
            for f in ("reported_field", "genetic_field"):
                table.require(qc["sex"][f], f"{key}.qc.sex.{f}")
        if qc["sample_missingness"]["enabled"] and qc["sample_missingness"].get("field"):
            table.require(qc["sample_missingness"]["field"], f"{key}.qc.sample_missingness.field")
        if qc["ancestry"]["enabled"] and qc["ancestry"]["pcs"] == "field":
            table.require(qc["ancestry"]["pc_field"], f"{key}.qc.ancestry.pc_field")
        ids = pd.Series([i for chunk in table.read([]) for i in chunk.index], dtype=str)
    cov_path = covariate_table(settings)
    if cov_path:
        cov_table = PlinkTable(cov_path, "covariate file")
        for column in settings["covariates"].get("columns", []):
            cov_table.require(column, f"{key}.covariates.columns")
    checked["table_rows"] = len(ids)
    prefix = genotype_source(settings, name)["prefix"]
    fam, bim = Path(f"{prefix}.fam"), Path(f"{prefix}.bim")
    if fam.exists():
        checked["overlap"] = check_sample_overlap(pd.Index(ids.astype(str)), path, _fam_iids(fam), fam,
                                                  settings["min_sample_overlap"], f"{key}.min_sample_overlap")  # fmt: skip
    if top_k is not None and bim.exists():
        n_variants = _count_lines(bim)
        checked["variants"] = n_variants
        if top_k > n_variants:
            raise ValueError(f"config key recall.top_k: {top_k} is more than the {n_variants} variants of cohort {name} ({bim})")
    log.info("cohort %s: inputs checked before QC: %s", name, checked)
    return checked
