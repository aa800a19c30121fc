"""Snakemake adapter: keep samples near the reference group in PC space."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.ancestry_step(
    sm.params.prefix, sm.input.table, sm.input.previous, sm.output[0],
    settings=sm.params.settings, relatedness_file=sm.params.relatedness_file,
    threads=sm.threads, memory_mb=sm.resources.mem_mb, config_key=sm.params.config_key,
)  # fmt: skip
