"""Fixtures for the tests that need a real (local, one-node) SLURM cluster."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from cluster import LocalSlurmCluster, skip_reason  # noqa: E402


@pytest.fixture(scope="session")
def slurm_cluster():
    """One local SLURM cluster shared by every test of the session, torn down at the end.

    Skips, with the exact reason, only where the cluster truly cannot run (not root,
    not Debian, slurm-wlm/munge missing); a cluster that fails to start is an error.
    """
    reason = skip_reason()
    if reason:
        pytest.skip(reason)
    with LocalSlurmCluster() as cluster:
        yield cluster
