import pytest

from snakemake_runner import TINY_CONFIG, snakemake, write_config


@pytest.fixture(scope="session")
def finished_study(tmp_path_factory):
    """The tiny study run to the end once; tests read its outputs or plan edits on it."""
    workdir = tmp_path_factory.mktemp("study")
    configfile = write_config(workdir, TINY_CONFIG)
    snakemake(workdir, configfile)
    return workdir
