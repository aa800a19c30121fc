"""Logging for workflow scripts: everything goes to the rule's log file (and stderr)."""

from __future__ import annotations

import logging
import sys
import warnings


def log_to(path: str | None, level: int = logging.INFO) -> logging.Logger:
    """Send log records and Python warnings to ``path`` (the rule's log:) and stderr."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if path:
        handlers.append(logging.FileHandler(path, mode="w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    warnings.filterwarnings("ignore", message="Setting forward, backward hooks", category=UserWarning)
    return logging.getLogger("liftgwas")
