"""One exception type for bad user input, so every message names where the problem is."""

from __future__ import annotations

from pathlib import Path


class InputError(ValueError):
    """Bad input data or configuration.

    The message always names the file, and where it applies the line (1-based) and
    the field/column, so a user can go straight to the problem.
    """

    def __init__(
        self,
        path: str | Path,
        message: str,
        *,
        line: int | None = None,
        field: str | None = None,
    ):
        self.path = str(path)
        self.line = line
        self.field = field
        where = self.path
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field '{field}'"
        super().__init__(f"{where}: {message}")
