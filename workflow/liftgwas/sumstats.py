"""GWAS-SSF summary statistics: the data file and its ``-meta.yaml`` sidecar.

GWAS-SSF (the GWAS Catalog's summary-statistics format, v1.0; checked here with the
Catalog's own validator, ``gwas-ssf validate`` from gwas-sumstats-tools) is two files:

* ``<name>.tsv.gz``: tab-separated, the mandatory columns first and in this order
  ``chromosome base_pair_location effect_allele other_allele beta standard_error
  effect_allele_frequency p_value``, then optional and custom columns. Missing values are
  ``#NA``, and only optional columns may be missing;
* ``<name>.tsv.gz-meta.yaml``: the study (trait, genome assembly, samples, software,
  covariates, ``is_harmonised``) and the data file's name and md5 sum.

What liftgwas writes, and why:

* ``chromosome`` as the spec's integers (X = 23, Y = 24, MT = 25; PLINK's XY
  pseudo-autosomal code goes to 23, its numeric 25/26 are XY/MT);
* ``beta``: the per-allele effect of the .bim A1 allele (``effect_allele``): the
  regression coefficient for quantitative traits, the log odds ratio for binary ones;
* ``p_value`` in the mandatory slot, written from −log10 p so values below the smallest
  double stay exact (``3.1e-412``), and ``neg_log_10_p_value`` as the next column (what
  the plots and comparisons read; it keeps full precision);
* ``variant_id`` as the spec's ``<chromosome>_<base_pair_location>_<ref>_<alt>``, with
  the .bim A2 as ref and A1 as alt (PLINK's convention; not checked against a reference
  genome, hence ``is_harmonised: false``);
* ``rsid``: the .bim ID where it is an rsID (``rs`` + digits), else ``#NA``; and the
  custom column ``bim_id``: the .bim ID of every row, the key that joins these rows with
  the .bim and with the DeepLIFT files (whose ``variant_id`` is that ID);
* ``n``: the samples used for that SNP (non-missing call, trait and covariates).

SNPs that could not be tested (status monomorphic, collinear, separation, not_converged)
have no beta/SE/p-value, which the format does not allow in mandatory columns, so they
are left out of the data file; their count per status is in the metadata's
``author_notes`` and in the job log.
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import platform
import re
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from .atomic import write_text, write_tsv

log = logging.getLogger(__name__)

FILE_TYPE = "GWAS-SSF v1.0"
NA = "#NA"
MANDATORY_COLUMNS = [
    "chromosome",
    "base_pair_location",
    "effect_allele",
    "other_allele",
    "beta",
    "standard_error",
    "effect_allele_frequency",
    "p_value",
]
COLUMNS = MANDATORY_COLUMNS + ["neg_log_10_p_value", "variant_id", "rsid", "n", "bim_id"]

_RSID = re.compile(r"^rs[0-9]+$")
# The spec's chromosome codes; PLINK 1 numeric codes 23-26 are X, Y, XY, MT.
_CHROMOSOME_CODES = {"X": 23, "Y": 24, "XY": 23, "M": 25, "MT": 25, "23": 23, "24": 24, "25": 23, "26": 25}


def meta_path(data_path: str | Path) -> Path:
    """The sidecar the spec names ``<data file>-meta.yaml``."""
    data_path = Path(data_path)
    return data_path.with_name(data_path.name + "-meta.yaml")


def chromosome_codes(chromosomes, source: str = "the .bim") -> np.ndarray:
    """.bim chromosome names (``1``, ``chr1``, ``X``, ``MT``…) as GWAS-SSF integers 1–25."""
    names = pd.Series(chromosomes, dtype=str).str.removeprefix("chr").str.upper()
    codes = names.map(_CHROMOSOME_CODES)
    numeric = pd.to_numeric(names, errors="coerce")
    autosome = numeric.between(1, 22) & (numeric % 1 == 0)
    codes = codes.where(~autosome, numeric)
    bad = codes.isna()
    if bad.any():
        raise ValueError(f"{source}: chromosome '{names[bad].iloc[0]}' has no GWAS-SSF code "
                         "(1-22, X=23, Y=24, MT=25)")
    return codes.to_numpy(np.int64)


def to_gwas_ssf(association: pd.DataFrame) -> pd.DataFrame:
    """The GWAS-SSF table of the tested SNPs from `liftgwas.gwas`'s association table.

    ``association`` has one row per .bim variant with chromosome, base_pair_location,
    effect_allele (A1), other_allele (A2), beta, standard_error, effect_allele_frequency,
    p_value (text), neg_log10_p_value, n, variant_id (the .bim ID) and status.
    """
    tested = association[association["status"] == "ok"]
    chromosome = chromosome_codes(tested["chromosome"])
    bim_id = tested["variant_id"].astype(str).to_numpy()
    position = tested["base_pair_location"].to_numpy(np.int64)
    ref = tested["other_allele"].astype(str).to_numpy()
    alt = tested["effect_allele"].astype(str).to_numpy()
    variant_id = [f"{c}_{p}_{r}_{a}" for c, p, r, a in zip(chromosome, position, ref, alt)]
    return pd.DataFrame({
        "chromosome": chromosome,
        "base_pair_location": position,
        "effect_allele": alt,
        "other_allele": ref,
        "beta": tested["beta"].to_numpy(float),
        "standard_error": tested["standard_error"].to_numpy(float),
        "effect_allele_frequency": tested["effect_allele_frequency"].to_numpy(float),
        "p_value": tested["p_value"].to_numpy(),
        "neg_log_10_p_value": tested["neg_log10_p_value"].to_numpy(float),
        "variant_id": variant_id,
        "rsid": [b if _RSID.match(b) else NA for b in bim_id],
        "n": tested["n"].to_numpy(np.int64),
        "bim_id": bim_id,
    })[COLUMNS]


def software_versions() -> dict[str, str]:
    """Versions of what computed the statistics, for the metadata."""
    import scipy

    from . import __version__

    return {"liftgwas": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "pandas": pd.__version__}


def sample_summary(y: np.ndarray, kind: str) -> dict:
    """The metadata's sample entry: size, and cases/controls for a binary trait."""
    y = np.asarray(y)
    entry = {"sample_size": int(y.size), "case_control_study": kind == "binary"}
    if kind == "binary":
        entry["case_count"] = int((y == 1).sum())
        entry["control_count"] = int((y == 0).sum())
    return entry


def write_gwas_ssf(
    path: str | Path,
    association: pd.DataFrame,
    *,
    trait: str,
    kind: str,
    y: np.ndarray,
    covariates: list[str],
    genome_assembly: str = "NR",
    date: datetime.date | None = None,
) -> pd.DataFrame:
    """Write the GWAS-SSF data file ``path`` (.tsv or .tsv.gz) and its ``-meta.yaml``.

    Returns the data table written. ``genome_assembly`` is the build of the .bim
    positions (``NR``, not reported, for simulated genotypes).
    """
    path = Path(path)
    table = to_gwas_ssf(association)
    untested = association.loc[association["status"] != "ok", "status"].value_counts().sort_index()
    if len(untested):
        log.info("left out of %s (not testable, no beta/SE/p): %s", path.name, untested.to_dict())
    # 6 significant digits, except -log10 p: 8, so that 10^-x matches p_value to its 6 digits
    written = table.assign(neg_log_10_p_value=[f"{v:.8g}" for v in table["neg_log_10_p_value"]])
    write_tsv(path, written, float_format="%.6g", na_rep=NA)
    software = software_versions()
    effect = "log odds ratio (logistic regression)" if kind == "binary" else "regression coefficient (linear regression)"
    notes = (f"beta is the per-allele {effect} of effect_allele (the .bim A1) on {trait}, adjusted for "
             f"the covariates; one regression per SNP, samples with a missing call dropped per SNP "
             f"(n). variant_id takes the .bim A2 as ref. bim_id is the .bim variant ID. ")
    notes += ("SNPs left out as not testable: " + ", ".join(f"{k} {v}" for k, v in untested.items())
              if len(untested) else "Every SNP was testable.")
    meta = {
        "date_metadata_last_modified": (date or datetime.date.today()).isoformat(),
        "trait_description": [trait],
        "genome_assembly": genome_assembly,
        "coordinate_system": "1-based",
        "samples": [sample_summary(y, kind)],
        "data_file_name": path.name,
        "file_type": FILE_TYPE,
        "data_file_md5sum": hashlib.md5(path.read_bytes()).hexdigest(),
        "analysis_software": ", ".join(f"{k} {v}" for k, v in software.items()),
        "adjusted_covariates": list(covariates),
        "is_harmonised": False,
        "is_sorted": bool(_is_sorted(table)),
        "author_notes": notes,
    }
    write_text(meta_path(path), yaml.safe_dump(meta, sort_keys=False, allow_unicode=True))
    return table


def _is_sorted(table: pd.DataFrame) -> bool:
    key = table["chromosome"].to_numpy(np.int64) * (1 << 40) + table["base_pair_location"].to_numpy(np.int64)
    return bool(np.all(np.diff(key) >= 0))


def read_gwas_ssf(path: str | Path) -> pd.DataFrame:
    """A GWAS-SSF file as written here, ``#NA`` as missing."""
    return pd.read_csv(path, sep="\t", na_values=[NA], keep_default_na=False,
                       dtype={"variant_id": str, "rsid": str, "bim_id": str})
