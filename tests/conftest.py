"""Shared fixtures (helpers live in toydata.py)."""

import logging
import os

import pytest

from toydata import write_toy_cohort

os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def toy_cohort(tmp_path):
    return write_toy_cohort(tmp_path / "cohort")


@pytest.fixture
def restore_logging():
    """The adapters point the root logger at their log file; undo that after the test."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
