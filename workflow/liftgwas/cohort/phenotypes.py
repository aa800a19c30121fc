"""Traits and covariates from a UK Biobank-style table or PLINK files, defined in the config.

PLINK phenotype/covariate files (liftgwas.cohort.plink_pheno): a trait is a column chosen by
name (``column``; binary in 1/2 or 0/1 coding, or quantitative), covariates are columns too.
The rest of this docstring is about UK Biobank tables.

A binary trait is a list of case rules (``any_of``); each rule names fields and either exact
``codes`` or code ``prefixes``, matched at any instance/array. Everyone else who passes QC and
has a row in the table is a control. A quantitative trait is one numeric field, aggregated
over the instances/arrays present (mean by default) and optionally log-transformed; a
participant without a value is NA for that trait only. Genotyped participants with no row in
the table are NA for every trait.

The paper's traits are config entries (config/ukb-example.yaml):
  t2d:   20002 contains 1220, or ICD9 249*/250* in 41203/41205, or ICD10 E10*-E14* in 41202/41204
  hba1c: 30750, mean over instances, log
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic import write_tsv
from ..errors import InputError
from . import plink_pheno
from .plink_pheno import BOM, PlinkTable
from .ukb_table import UkbTable

log = logging.getLogger(__name__)

AGGREGATES = ("mean", "median", "min", "max", "first")
TRANSFORMS = {"none": None, "log": np.log, "log10": np.log10}


class CohortWarning(UserWarning):
    """Suspicious but usable input (e.g. table rows without genotypes)."""


def warn(message: str) -> None:
    # scripts route warnings into the rule log (logging.captureWarnings)
    warnings.warn(message, CohortWarning, stacklevel=2)


def open_table(path: str | Path, what: str = "phenotype table") -> UkbTable | PlinkTable:
    """The phenotype table at ``path``, UK Biobank (header starts with ``eid``) or PLINK
    (``FID``/``IID``/``#FID``/``#IID``). The format is read from the header, so every QC step
    opens either kind the same way; the config's ``phenotypes.format`` is checked against it
    before any job runs (liftgwas.cohort.checks)."""
    path = Path(path)
    if path.exists() and sniff_format(path) == "plink":
        return PlinkTable(path, what)
    return UkbTable(path)


def sniff_format(path: str | Path) -> str:
    """'plink' or 'ukb' from the first header token ('ukb' when unknown: UkbTable then says
    what it expected)."""
    import gzip

    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            line = handle.readline().lstrip(BOM)
    except OSError:
        return "ukb"
    first = line.replace(",", " ").split()[0].strip('"').lstrip("#") if line.split() else ""
    return "plink" if first in ("FID", "IID") else "ukb"


# ---- trait rules ----------------------------------------------------------------------------


def _numeric_codes(codes) -> bool:
    return all(isinstance(c, (int, np.integer)) and not isinstance(c, bool) for c in codes)


def _rule_columns(table: UkbTable, rule: dict, used_by: str) -> list[str]:
    cols = []
    for field in rule["fields"]:
        cols += table.require(field, used_by, rule.get("instances"))
    return cols


def plan_traits(table: UkbTable, traits: dict, config_key: str = "traits") -> tuple[list[str], set[str]]:
    """Columns the trait definitions read, and which of them must be numeric.

    Raises an InputError naming the field (and the config key asking for it) when the table
    lacks a field.
    """
    columns: list[str] = []
    numeric: set[str] = set()
    for name, definition in traits.items():
        used_by = f"{config_key}.{name}"
        if definition["kind"] == "binary":
            for k, rule in enumerate(definition["any_of"]):
                cols = _rule_columns(table, rule, f"{used_by}.any_of[{k}]")
                columns += cols
                if "codes" in rule and _numeric_codes(rule["codes"]):
                    numeric.update(cols)
        else:
            cols = table.require(definition["field"], used_by, definition.get("instances"))
            columns += cols
            numeric.update(cols)
    return list(dict.fromkeys(columns)), numeric


def _as_text(values: pd.Series) -> pd.Series:
    """Codes as text; a column read as numbers (another rule compares it numerically) is
    turned back into its integer text, 1220.0 -> '1220'."""
    if values.dtype.kind != "f":
        return values
    return values.map("{:.15g}".format, na_action="ignore")


def _binary_values(chunk: pd.DataFrame, table: UkbTable, definition: dict) -> np.ndarray:
    case = np.zeros(len(chunk), dtype=bool)
    for rule in definition["any_of"]:
        cols = [c for f in rule["fields"] for c in table.columns(f, rule.get("instances"))]
        block = chunk[cols]
        if "codes" in rule and _numeric_codes(rule["codes"]):
            case |= block.isin([float(c) for c in rule["codes"]]).to_numpy().any(axis=1)
        elif "codes" in rule:
            codes = [str(c) for c in rule["codes"]]
            for col in cols:
                case |= _as_text(block[col]).isin(codes).to_numpy(dtype=bool)
        else:
            prefixes = tuple(str(p) for p in rule["prefixes"])
            for col in cols:
                case |= _as_text(block[col]).str.startswith(prefixes, na=False).to_numpy(dtype=bool)
    return case.astype(float)  # 0/1; float so NA fits beside it


def _quantitative_values(chunk: pd.DataFrame, table: UkbTable, definition: dict, first_line: int) -> np.ndarray:
    cols = table.columns(definition["field"], definition.get("instances"))
    values = chunk[cols].to_numpy(dtype=float)
    transform = definition.get("transform", "none")
    if transform != "none":
        bad = values <= 0
        if bad.any():
            row, col = (int(x[0]) for x in np.nonzero(bad))
            raise InputError(
                table.path,
                f"value {values[row, col]:g} cannot be {transform}-transformed (must be > 0)",
                line=first_line + row,
                field=cols[col],
            )
    return aggregate_and_transform(values, definition.get("aggregate", "mean"), transform)


def aggregate_and_transform(values: np.ndarray, aggregate: str, transform: str) -> np.ndarray:
    """One value per row from its instances/columns (NaN = missing), then ``transform``d.

    Shared by the UK Biobank and PLINK-file readers; positivity for log transforms is
    checked by the callers, which know the file line to blame.
    """
    present = ~np.isnan(values)
    any_present = present.any(axis=1)
    result = np.full(len(values), np.nan)
    if any_present.any():
        v = values[any_present]
        if aggregate == "first":
            result[any_present] = v[np.arange(len(v)), np.argmax(~np.isnan(v), axis=1)]
        else:
            result[any_present] = getattr(np, f"nan{aggregate}")(v, axis=1)
    fn = TRANSFORMS[transform]
    return fn(result) if fn is not None else result


def extract_traits(
    table_path: str | Path,
    traits: dict,
    samples: pd.DataFrame,
    genotyped: pd.Series | None = None,
    config_key: str = "traits",
) -> pd.DataFrame:
    """Trait values for ``samples`` (columns FID, IID; IID = eid) -> FID IID <trait>...

    ``genotyped`` (all IIDs of the input .fam) is used to warn, with a count, about table
    rows that have no genotypes; genotyped samples without a table row are NA and counted.
    """
    table = open_table(table_path)
    if isinstance(table, PlinkTable):
        return _plink_traits(table, traits, samples, genotyped, config_key)
    columns, numeric = plan_traits(table, traits, config_key)
    wanted = pd.Index(samples["IID"].astype(str))
    genotyped_ids = pd.Index(genotyped.astype(str)) if genotyped is not None else wanted
    parts = []
    n_rows = n_not_genotyped = 0
    first_line = 2
    for chunk in table.read(columns, numeric):
        n_rows += len(chunk)
        n_not_genotyped += int((~chunk.index.isin(genotyped_ids)).sum())
        keep = chunk.index.isin(wanted)
        values = pd.DataFrame(index=chunk.index[keep])
        for name, definition in traits.items():
            if definition["kind"] == "binary":
                v = _binary_values(chunk, table, definition)
            else:
                v = _quantitative_values(chunk, table, definition, first_line)
            values[name] = v[keep]
        parts.append(values)
        first_line += len(chunk)
    found = pd.concat(parts) if parts else pd.DataFrame(columns=list(traits))
    if n_not_genotyped:
        warn(
            f"{table.path}: {n_not_genotyped} of {n_rows} participants in the phenotype table are not in the "
            "genotype .fam (withdrawn or not genotyped); they are ignored"
        )
    no_row = ~wanted.isin(found.index)
    if no_row.any():
        warn(f"{table.path}: {int(no_row.sum())} genotyped samples have no row in the phenotype table; their traits are NA")
    out = samples[["FID", "IID"]].copy().reset_index(drop=True)
    aligned = found.reindex(wanted)
    for name in traits:
        out[name] = aligned[name].to_numpy()
        if traits[name]["kind"] == "binary":
            out[name] = out[name].astype("Int64")
    return out


def _plink_traits(table: PlinkTable, traits: dict, samples: pd.DataFrame, genotyped, config_key: str) -> pd.DataFrame:
    values = {}
    for name, definition in traits.items():
        used_by = f"{config_key}.{name}"
        if definition["kind"] == "binary":
            column = plink_trait_columns(definition, used_by)[0]
            values[name], _ = plink_pheno.binary_trait(table, table.require(column, used_by), definition.get("coding", "auto"), used_by)
        else:
            columns = [table.require(c, used_by) for c in plink_trait_columns(definition, used_by)]
            values[name] = plink_pheno.quantitative_trait(table, columns, definition.get("aggregate", "mean"),
                                                          definition.get("transform", "none"), used_by)  # fmt: skip
    ids = table.ids()
    found = pd.DataFrame(values, index=pd.Index(ids.to_numpy()))
    _warn_unmatched(table.path, found.index, samples, genotyped)
    out = samples[["FID", "IID"]].copy().reset_index(drop=True)
    aligned = found.reindex(pd.Index(samples["IID"].astype(str)))
    for name in traits:
        out[name] = aligned[name].to_numpy()
        if traits[name]["kind"] == "binary":
            out[name] = out[name].astype("Int64")
    return out


def plink_trait_columns(definition: dict, used_by: str) -> list[str]:
    """The PLINK column(s) a trait reads: ``column``, or ``columns`` (quantitative, aggregated)."""
    if "column" in definition:
        return [definition["column"]]
    if "columns" in definition and definition["kind"] == "quantitative":
        return list(definition["columns"])
    raise ValueError(
        f"config key {used_by}: a trait of a PLINK phenotype file names its column ('column: <name>'); "
        "'field'/'any_of' are UK Biobank fields"
    )


def _warn_unmatched(path, table_ids: pd.Index, samples: pd.DataFrame, genotyped) -> None:
    wanted = pd.Index(samples["IID"].astype(str))
    genotyped_ids = pd.Index(genotyped.astype(str)) if genotyped is not None else wanted
    n_not_genotyped = int((~table_ids.isin(genotyped_ids)).sum())
    if n_not_genotyped:
        warn(f"{path}: {n_not_genotyped} of {len(table_ids)} samples in the phenotype file are not in the genotype .fam; they are ignored")
    no_row = int((~wanted.isin(table_ids)).sum())
    if no_row:
        warn(f"{path}: {no_row} genotyped samples have no row in the phenotype file; their traits are NA")


def check_traits(table_path: str | Path, trait_values: pd.DataFrame, traits: dict, config_key: str = "traits") -> None:
    """InputError if a binary trait has no cases or no controls, or a quantitative trait no
    values, among the samples given (those passing QC)."""
    n = len(trait_values)
    for name, definition in traits.items():
        values = trait_values[name]
        if definition["kind"] == "binary":
            cases, controls = int((values == 1).sum()), int((values == 0).sum())
            if cases == 0 or controls == 0:
                which = "cases" if cases == 0 else "controls"
                raise InputError(
                    table_path,
                    f"trait '{name}' has no {which} among the {n} samples passing QC ({cases} cases, "
                    f"{controls} controls); check the rules in {config_key}.{name} and the QC settings",
                )
        elif values.notna().sum() == 0:
            kind, source = ("field", definition["field"]) if "field" in definition else ("column", definition.get("column") or definition.get("columns"))
            raise InputError(
                table_path,
                f"trait '{name}' ({kind} {source}) has no values among the {n} samples passing QC",
                field=str(source),
            )


def trait_counts(trait_values: pd.DataFrame, traits: dict) -> dict[str, int]:
    """{<t>_cases, <t>_controls} per binary trait and {<t>_n} per quantitative trait."""
    counts = {}
    for name, definition in traits.items():
        values = trait_values[name]
        if definition["kind"] == "binary":
            counts[f"{name}_cases"] = int((values == 1).sum())
            counts[f"{name}_controls"] = int((values == 0).sum())
        else:
            counts[f"{name}_n"] = int(values.notna().sum())
    return counts


def read_fam_ids(fam_path: str | Path) -> pd.DataFrame:
    from ..plink import read_fam

    fam = read_fam(fam_path)
    return pd.DataFrame({"FID": fam["fid"].astype(str), "IID": fam["iid"].astype(str)})


def write_traits(
    table_path: str | Path,
    traits: dict,
    qc_fam: str | Path,
    input_fam: str | Path,
    out: str | Path,
    config_key: str = "traits",
) -> pd.DataFrame:
    """traits.tsv for the samples of the QC'd .fam (checked: cases and controls present)."""
    samples = read_fam_ids(qc_fam)
    values = extract_traits(table_path, traits, samples, read_fam_ids(input_fam)["IID"], config_key)
    check_traits(table_path, values, traits, config_key)
    for name, count in trait_counts(values, traits).items():
        log.info("%s: %d", name, count)
    write_tsv(out, values)
    return values


# ---- covariates -----------------------------------------------------------------------------


def pc_columns(table: UkbTable, pc_field: int, n_pcs: int, used_by: str) -> list[str]:
    """The first ``n_pcs`` columns of a PC field (UKB 22009: instance 0, arrays 1..40)."""
    cols = table.columns(pc_field, instances=[0]) or table.columns(pc_field)
    if len(cols) < n_pcs:
        raise InputError(
            table.path,
            f"{used_by} needs {n_pcs} PCs from field {pc_field}, the table has {len(cols)} column(s)",
            field=str(pc_field),
        )
    return cols[:n_pcs]


def first_instance_column(table: UkbTable, field: int, used_by: str) -> str:
    return table.require(field, used_by)[0]


def extract_covariates(
    table_path: str | Path,
    settings: dict,
    samples: pd.DataFrame,
    computed_pcs: pd.DataFrame | None = None,
    config_key: str = "covariates",
) -> pd.DataFrame:
    """FID IID <named fields> PC1..PC<n> for ``samples``.

    Named fields use their first column (instance 0, array 0: e.g. age at recruitment).
    PCs come from ``settings['pc_field']`` unless ``computed_pcs`` (IID, PC1..) is given.
    Missing values stay NA. With ``settings['format'] == 'plink'`` the named covariates are
    ``settings['columns']`` of the PLINK file ``settings['path']`` (categorical ones one-hot
    encoded) and the PCs must be ``computed_pcs``.
    """
    if settings.get("format") == "plink":
        return _plink_covariates(settings, samples, computed_pcs, config_key)
    table = UkbTable(table_path)
    named = {name: first_instance_column(table, field, f"{config_key}.fields.{name}") for name, field in settings["fields"].items()}
    n_pcs = settings["n_pcs"]
    pc_cols = []
    if n_pcs and computed_pcs is None:
        pc_cols = pc_columns(table, settings["pc_field"], n_pcs, f"{config_key}.pcs")
    columns = list(named.values()) + pc_cols
    data = table.read_all(columns, numeric=columns)
    wanted = pd.Index(samples["IID"].astype(str))
    aligned = data.reindex(wanted)
    out = samples[["FID", "IID"]].copy().reset_index(drop=True)
    for name, col in named.items():
        values = aligned[col]
        integral = values.dropna().eq(values.dropna().round()).all()
        out[name] = values.astype("Int64").to_numpy() if integral else values.to_numpy()
    if n_pcs:
        if computed_pcs is not None:
            pcs = computed_pcs.set_index(computed_pcs["IID"].astype(str)).reindex(wanted)
            for k in range(1, n_pcs + 1):
                out[f"PC{k}"] = pcs[f"PC{k}"].to_numpy()
        else:
            for k, col in enumerate(pc_cols, start=1):
                out[f"PC{k}"] = aligned[col].to_numpy()
    missing = int(out.drop(columns=["FID", "IID"]).isna().any(axis=1).sum())
    if missing:
        warn(f"{table.path}: {missing} of {len(out)} samples have a missing covariate (written as NA)")
    return out


def _plink_covariates(settings: dict, samples: pd.DataFrame, computed_pcs: pd.DataFrame | None, config_key: str) -> pd.DataFrame:
    table = PlinkTable(settings["path"], "covariate file")
    named = plink_pheno.covariate_columns(table, list(settings.get("columns", [])), list(settings.get("categorical", [])), config_key)
    wanted = pd.Index(samples["IID"].astype(str))
    no_row = int((~wanted.isin(named.index)).sum())
    if no_row:
        warn(f"{table.path}: {no_row} of {len(wanted)} samples passing QC have no row in the covariate file (written as NA)")
    out = samples[["FID", "IID"]].copy().reset_index(drop=True)
    aligned = named.reindex(wanted)
    for name in named.columns:
        values = aligned[name]
        integral = values.dropna().eq(values.dropna().round()).all()
        out[name] = values.astype("Int64").to_numpy() if integral else values.to_numpy()
    n_pcs = settings["n_pcs"]
    if n_pcs:
        if computed_pcs is None:
            raise ValueError(f"config key {config_key}.n_pcs: a PLINK covariate file has no PC field; PCs are computed")
        pcs = computed_pcs.set_index(computed_pcs["IID"].astype(str)).reindex(wanted)
        for k in range(1, n_pcs + 1):
            out[f"PC{k}"] = pcs[f"PC{k}"].to_numpy()
    missing = int(out.drop(columns=["FID", "IID"]).isna().any(axis=1).sum())
    if missing:
        warn(f"{table.path}: {missing} of {len(out)} samples have a missing covariate (written as NA)")
    return out
