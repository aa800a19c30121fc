"""Snakemake adapter: validate the genotypes, drop samples with too many missing calls."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.sample_missingness_step(
    sm.params.prefix, sm.output[0], settings=sm.params.settings, table_path=sm.input.table,
    threads=sm.threads, memory_mb=sm.resources.mem_mb, config_key=sm.params.config_key,
)  # fmt: skip
