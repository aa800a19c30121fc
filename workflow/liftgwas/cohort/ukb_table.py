"""Read a UK Biobank main-dataset-style table: only the columns asked for, validated.

The table has one row per participant, an ``eid`` column and data columns named
``<field>-<instance>.<array>`` (e.g. ``20002-0.3``, ``30750-1.0``), as written by the UK
Biobank ``ukbconv`` tool. It may be tab- or comma-separated (sniffed from the header) and
gzip-compressed. Only the header is read up front; data are read column-selectively
(``usecols``) in row chunks, so a 500,000 x 10,000 export is never held in memory.

Missing values are empty cells (also ``NA``/``NaN``). Numeric columns are checked cell by
cell: the first non-numeric value raises an InputError naming its line and column.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from ..errors import InputError

EID = "eid"
COLUMN_PATTERN = re.compile(r"^(\d+)-(\d+)\.(\d+)$")
MISSING_VALUES = ["", "NA", "NaN", "nan"]
DEFAULT_CHUNK_ROWS = 100_000


@dataclass(frozen=True)
class Column:
    name: str
    field: int
    instance: int
    array: int


class UkbTable:
    """A phenotype table opened by its header; ``read`` streams the requested columns."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "phenotype table not found")
        header = _first_line(self.path)
        # a UTF-8 byte-order mark (spreadsheet exports) would otherwise glue itself to 'eid'
        self.had_bom = header is not None and header.startswith("\ufeff")
        if self.had_bom:
            header = header[1:]
        if header is None or not header.strip():
            raise InputError(self.path, "phenotype table is empty (no header line)", line=1)
        self.sep = "\t" if "\t" in header else ","
        self.header = [name.strip().strip('"') for name in header.split(self.sep)]
        seen: set[str] = set()
        for name in self.header:
            if name in seen:
                raise InputError(self.path, f"column '{name}' appears twice in the header", line=1, field=name)
            seen.add(name)
        if EID not in seen:
            shown = ", ".join(self.header[:5]) + (", ..." if len(self.header) > 5 else "")
            raise InputError(
                self.path,
                f"no '{EID}' column in the header (found: {shown}); the participant ID column must be "
                f"named '{EID}' and columns '<field>-<instance>.<array>' (tab- or comma-separated)",
                line=1,
            )
        self._by_field: dict[int, list[Column]] = {}
        for name in self.header:
            match = COLUMN_PATTERN.match(name)
            if match:
                f, i, a = map(int, match.groups())
                self._by_field.setdefault(f, []).append(Column(name, f, i, a))
        for cols in self._by_field.values():
            cols.sort(key=lambda c: (c.instance, c.array))

    # ---- columns -----------------------------------------------------------------------

    def has_field(self, field: int) -> bool:
        return int(field) in self._by_field

    def columns(self, field: int, instances: Iterable[int] | None = None) -> list[str]:
        """Column names of a field in (instance, array) order; [] if absent."""
        cols = self._by_field.get(int(field), [])
        if instances is not None:
            wanted = set(instances)
            cols = [c for c in cols if c.instance in wanted]
        return [c.name for c in cols]

    def require(self, field: int, used_by: str, instances: Iterable[int] | None = None) -> list[str]:
        """Columns of ``field``; InputError naming the field and who asked for it if absent."""
        cols = self.columns(field, instances)
        if not cols:
            where = "" if instances is None else f" at instance(s) {sorted(set(instances))}"
            raise InputError(
                self.path,
                f"{used_by} needs field {field}{where}, but the table has no column "
                f"'{field}-<instance>.<array>' (e.g. '{field}-0.0')",
                field=str(field),
            )
        return cols

    # ---- data --------------------------------------------------------------------------

    def read(
        self,
        columns: Iterable[str],
        numeric: Iterable[str] = (),
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
    ) -> Iterator[pd.DataFrame]:
        """Yield chunks indexed by eid (str) holding ``columns``.

        ``numeric`` columns come back as float64 (empty -> NaN) after checking every
        non-empty cell is a number; the others as str with NaN for empty cells.
        Duplicate or empty eids raise an InputError naming the line.
        """
        columns = list(dict.fromkeys(columns))
        missing = [c for c in columns if c not in self.header]
        if missing:
            raise InputError(self.path, f"no column '{missing[0]}' in the header", field=missing[0])
        numeric = set(numeric)
        seen_eids: set[str] = set()
        reader = pd.read_csv(
            self.path,
            sep=self.sep,
            usecols=[EID, *columns],
            dtype=str,
            keep_default_na=False,
            na_values=MISSING_VALUES,
            skip_blank_lines=False,
            chunksize=chunk_rows,
            engine="c",
            encoding="utf-8-sig",
        )
        first_line = 2  # line 1 is the header
        try:
            for chunk in reader:
                yield self._validate_chunk(chunk, columns, numeric, first_line, seen_eids)
                first_line += len(chunk)
        except pd.errors.ParserError as err:
            raise InputError(self.path, f"cannot parse the table: {err}") from None

    def read_all(self, columns: Iterable[str], numeric: Iterable[str] = ()) -> pd.DataFrame:
        chunks = list(self.read(columns, numeric))
        return pd.concat(chunks) if chunks else pd.DataFrame(columns=list(columns))

    def _validate_chunk(self, chunk, columns, numeric, first_line, seen_eids) -> pd.DataFrame:
        eids = chunk[EID]
        empty = eids.isna().to_numpy()
        if empty.any():
            raise InputError(self.path, "empty eid", line=first_line + int(np.flatnonzero(empty)[0]), field=EID)
        eids = eids.str.strip()
        duplicated = eids.duplicated().to_numpy() | eids.isin(seen_eids).to_numpy()
        if duplicated.any():
            i = int(np.flatnonzero(duplicated)[0])
            raise InputError(self.path, f"duplicate eid '{eids.iloc[i]}'", line=first_line + i, field=EID)
        seen_eids.update(eids)
        out = pd.DataFrame(index=pd.Index(eids.to_numpy(), name=EID))
        for name in columns:
            raw = chunk[name]
            if name in numeric:
                values = pd.to_numeric(raw.str.strip(), errors="coerce")
                bad = (values.isna() & raw.notna()).to_numpy()
                if bad.any():
                    i = int(np.flatnonzero(bad)[0])
                    raise InputError(
                        self.path,
                        f"'{raw.iloc[i]}' is not a number (field {name.split('-')[0]} is read as numeric)",
                        line=first_line + i,
                        field=name,
                    )
                out[name] = values.to_numpy(dtype=float)
            else:
                out[name] = raw.str.strip().to_numpy()
        return out


def _first_line(path: Path) -> str | None:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", newline="") as handle:
            line = handle.readline()
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(path, f"cannot read the phenotype table: {err}") from None
    return line.rstrip("\r\n") if line else None
