"""PLINK-style phenotype and covariate files (plink --pheno / --covar, plink2 .pheno/.cov).

The format most cohorts come in: a header line ``FID IID <name>...`` (also ``#FID IID ...``,
or ``#IID ...`` without family IDs, as plink2 writes), then one line per sample, whitespace-
or tab-separated. IDs are strings (never parsed as numbers). Columns are chosen by name in
the config. A file without a header has no column names to choose from and is refused.

Missing values follow PLINK: ``NA``/``nan`` everywhere and ``-9`` (plink's default
--missing-phenotype, which plink2 also applies to covariates). Binary phenotypes: PLINK's
1 = control / 2 = case coding, where 0 is missing too, or 0 = control / 1 = case (what
plink2 reads with --1); which one a column uses is detected (any 2 present -> 1/2) or set
with ``coding``, and stated in the log.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from ..errors import InputError

log = logging.getLogger(__name__)

MISSING_TOKENS = ["NA", "nan", "NaN", "-9"]
BOM = "\ufeff"


def _open_text(path: Path):
    import gzip

    opener = gzip.open if path.suffix == ".gz" else open
    return opener(path, "rt", newline="", encoding="utf-8")


class PlinkTable:
    """A PLINK phenotype/covariate file opened by its header; ``read`` returns chosen columns."""

    # UK Biobank field numbers do not exist in a PLINK file: QC steps that would read one
    # (genetic sex, PCs, the ancestry reference group) take their genotype-based route.
    def has_field(self, field: int) -> bool:
        return False

    def columns(self, field: int, instances=None) -> list[str]:
        return []

    def __init__(self, path: str | Path, what: str = "phenotype file"):
        self.path = Path(path)
        self.what = what
        if not self.path.exists():
            raise InputError(self.path, f"{what} not found")
        try:
            with _open_text(self.path) as handle:
                line = handle.readline()
        except (OSError, UnicodeDecodeError) as err:
            raise InputError(self.path, f"cannot read the {what}: {err}") from None
        # a UTF-8 byte-order mark (spreadsheet exports) is not part of the first column's name
        self.had_bom = line.startswith(BOM)
        if self.had_bom:
            log.info("%s: UTF-8 byte-order mark at the start of the file ignored", self.path)
        tokens = line.lstrip(BOM).split()
        if not tokens:
            raise InputError(self.path, f"{what} is empty (no header line)", line=1)
        first = tokens[0].lstrip("#")
        if first not in ("FID", "IID"):
            raise InputError(
                self.path,
                f"the first line must be a header 'FID IID <column>...' (or '#FID IID ...', '#IID ...'), "
                f"found '{' '.join(tokens[:4])}'; columns are chosen by name, so a PLINK file without a "
                "header needs one added",
                line=1,
            )
        self.has_fid = first == "FID"
        if self.has_fid and (len(tokens) < 2 or tokens[1] != "IID"):
            raise InputError(self.path, "header starts with FID but its second column is not IID", line=1)
        self.header = ["FID", *tokens[1:]] if self.has_fid else ["IID", *tokens[1:]]
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                raise InputError(self.path, f"column '{name}' appears twice in the header", line=1, field=name)
            seen.add(name)
        self.data_columns = [c for c in self.header if c not in ("FID", "IID")]

    def require(self, column: str, used_by: str) -> str:
        if column not in self.data_columns:
            shown = ", ".join(self.data_columns[:8]) + (", ..." if len(self.data_columns) > 8 else "")
            raise InputError(
                self.path,
                f"{used_by} needs column '{column}', but the {self.what}'s header has no such column (columns: {shown})",
                line=1,
                field=column,
            )
        return column

    def ids(self) -> pd.Series:
        """The IID column (str), in file order."""
        return self.read([]).index.to_series()

    def read(self, columns: Iterable[str]) -> pd.DataFrame:
        """``columns`` as text (NA for PLINK's missing tokens), indexed by IID (str).

        Duplicate IIDs and lines with the wrong number of fields raise an InputError naming
        the line.
        """
        columns = list(dict.fromkeys(columns))
        for c in columns:
            self.require(c, "the config")
        try:
            table = pd.read_csv(
                self.path,
                sep=r"\s+",
                header=None,
                skiprows=1,
                names=self.header,
                usecols=["IID", *columns],
                dtype=str,
                keep_default_na=False,
                na_values=MISSING_TOKENS,
                engine="c",
            )
        except pd.errors.ParserError as err:
            raise InputError(self.path, f"cannot parse the {self.what}: {err}") from None
        except pd.errors.EmptyDataError:
            table = pd.DataFrame(columns=["IID", *columns], dtype=str)
        widths = self._line_widths()
        bad = np.flatnonzero(widths != len(self.header))
        if len(bad):
            i = int(bad[0])
            raise InputError(self.path, f"{widths[i]} fields, the header has {len(self.header)}", line=i + 2)
        iid = table["IID"]
        if iid.isna().any():
            i = int(np.flatnonzero(iid.isna().to_numpy())[0])
            raise InputError(self.path, "missing IID", line=i + 2, field="IID")
        duplicated = iid.duplicated().to_numpy()
        if duplicated.any():
            i = int(np.flatnonzero(duplicated)[0])
            raise InputError(self.path, f"duplicate IID '{iid.iloc[i]}'", line=i + 2, field="IID")
        return table.set_index(pd.Index(iid.to_numpy(), name="IID"))[columns]

    def _line_widths(self) -> np.ndarray:
        # pandas pads short lines with NaN silently; PLINK refuses them, and so do we
        with _open_text(self.path) as handle:
            handle.readline()
            return np.array([len(line.split()) for line in handle if line.strip()], dtype=int)

    def numeric(self, column: str, used_by: str) -> pd.Series:
        """A column as float (NaN missing); InputError naming the line for a non-number."""
        raw = self.read([column])[column]
        values = pd.to_numeric(raw, errors="coerce")
        bad = (values.isna() & raw.notna()).to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(
                self.path, f"'{raw.iloc[i]}' is not a number ({used_by} reads column '{column}' as numeric)", line=i + 2, field=column
            )
        return values


def binary_trait(table: PlinkTable, column: str, coding: str, used_by: str) -> tuple[pd.Series, str]:
    """Case/control values 0/1 (NaN missing) of a PLINK binary column, and the coding used.

    coding ``1/2``: 1 control, 2 case, 0 and -9 missing (PLINK's default); ``0/1``: 0 control,
    1 case, -9 missing; ``auto``: 1/2 if any value is 2, else 0/1.
    """
    values = table.numeric(column, used_by)
    present = values.dropna()
    if coding == "auto":
        coding = "1/2" if (present == 2).any() else "0/1"
    allowed = {"1/2": {0.0, 1.0, 2.0}, "0/1": {0.0, 1.0}}[coding]
    bad = ~values.isna() & ~values.isin(list(allowed))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(
            table.path,
            f"{used_by}: value '{values.iloc[i]:g}' in column '{column}' is not a case/control code of the "
            f"{coding} coding (1/2: 1 control, 2 case, 0/-9/NA missing; 0/1: 0 control, 1 case, -9/NA missing); "
            "for a quantitative trait set kind: quantitative",
            line=i + 2,
            field=column,
        )
    if coding == "1/2":
        zeros = int((values == 0).sum())
        out = values.map({1.0: 0.0, 2.0: 1.0})  # 0 -> NaN, as PLINK reads it
    else:
        zeros = 0
        out = values.astype(float)
    n_missing = int(out.isna().sum())
    log.info(
        "%s: column '%s' read as binary in %s coding (%s); %d cases, %d controls, %d missing%s",
        table.path, column, coding, "1 control, 2 case" if coding == "1/2" else "0 control, 1 case",
        int((out == 1).sum()), int((out == 0).sum()), n_missing,
        f" (of which {zeros} coded 0, missing in the 1/2 coding)" if zeros else "",
    )  # fmt: skip
    return out, coding


def quantitative_trait(table: PlinkTable, columns: list[str], aggregate: str, transform: str, used_by: str) -> pd.Series:
    """A quantitative trait from one column (or several, aggregated), -9/NA missing, transformed."""
    from .phenotypes import aggregate_and_transform

    frame = pd.DataFrame({c: table.numeric(c, used_by) for c in columns})
    values = frame.to_numpy(dtype=float)
    if transform != "none":
        bad = values <= 0
        if bad.any():
            row, col = (int(x[0]) for x in np.nonzero(bad))
            raise InputError(
                table.path, f"{used_by}: value {values[row, col]:g} cannot be {transform}-transformed (must be > 0)",
                line=row + 2, field=columns[col],
            )  # fmt: skip
    result = aggregate_and_transform(values, aggregate, transform)
    log.info("%s: %s quantitative from %s (%s, transform %s): %d values, %d missing", table.path, used_by,
             ",".join(columns), aggregate, transform, int(np.isfinite(result).sum()), int(np.isnan(result).sum()))  # fmt: skip
    return pd.Series(result, index=frame.index)


def covariate_columns(table: PlinkTable, columns: list[str], categorical: list[str], used_by: str) -> pd.DataFrame:
    """Covariates by column name, indexed by IID. A column listed in ``categorical``, or with a
    value that is not a number, is one-hot encoded (one 0/1 column ``<name>_<level>`` per level
    except the first in sorted order, the reference), and this is stated in the log."""
    raw = table.read([table.require(c, f"{used_by}.columns") for c in columns])
    for c in categorical:
        if c not in columns:
            raise ValueError(f"config key {used_by}.categorical: '{c}' is not in {used_by}.columns")
    out = pd.DataFrame(index=raw.index)
    for c in columns:
        numbers = pd.to_numeric(raw[c], errors="coerce")
        text = (numbers.isna() & raw[c].notna()).any()
        if c in categorical or text:
            levels = list(raw[c].dropna().unique())
            levels.sort(key=float if not text else str)  # numeric codes in numeric order
            if len(levels) < 2:
                log.info("%s: categorical covariate '%s' has %d level(s); left out", table.path, c, len(levels))
                continue
            for level in levels[1:]:
                out[f"{c}_{level}"] = np.where(raw[c].isna(), np.nan, (raw[c] == level).astype(float))
            log.info(
                "%s: covariate '%s' is categorical (%s); one-hot encoded as %s, reference level '%s'",
                table.path, c, "listed in categorical" if c in categorical else "non-numeric values",
                ", ".join(f"{c}_{lv}" for lv in levels[1:]), levels[0],
            )  # fmt: skip
        else:
            out[c] = numbers
    return out
