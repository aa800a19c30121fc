"""Snakemake adapter: keep one sample of each related pair."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.relatedness_step(
    sm.params.prefix, sm.input.previous, sm.output[0],
    settings=sm.params.settings, relatedness_file=sm.params.relatedness_file,
    threads=sm.threads, memory_mb=sm.resources.mem_mb,
)  # fmt: skip
