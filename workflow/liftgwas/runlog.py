"""Logging for workflow scripts: everything goes to the rule's log file (and stderr)."""

from __future__ import annotations

import logging
import sys
import warnings


def log_to(path: str | None, level: int = logging.INFO, append: bool = False, copy_to: str | None = None) -> logging.Logger:
    """Send log records, Python warnings and an uncaught exception's traceback to
    ``path`` (the rule's log:) and to stderr. ``append`` keeps what the file holds (a resumed
    job: the killed attempt's log stays above the rerun's). ``copy_to``: a second file that
    gets the same records (e.g. one Snakemake does not delete before a rerun)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    for target in (path, copy_to):
        if target:
            handlers.append(logging.FileHandler(target, mode="a" if append else "w"))
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        handlers=handlers,
        force=True,
    )
    logging.captureWarnings(True)
    # Captum's note that it hooks the ReLU modules during attribution is expected
    warnings.filterwarnings("ignore", message="Setting forward, backward hooks", category=UserWarning)
    log = logging.getLogger("liftgwas")

    def log_failure(kind, value, tb):
        # the traceback goes into the rule's log file, where a user looks first
        log.error("job failed", exc_info=(kind, value, tb))

    sys.excepthook = log_failure
    return log
