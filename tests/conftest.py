"""Shared fixtures (helpers live in toydata.py)."""

import os

import pytest

from toydata import write_toy_cohort

os.environ.setdefault("PYTHONHASHSEED", "0")


@pytest.fixture
def toy_cohort(tmp_path):
    return write_toy_cohort(tmp_path / "cohort")
