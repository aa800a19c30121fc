"""Snakemake adapter: covariates.tsv (FID IID age sex PC1..PC10) for the samples passing QC."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.write_covariates(
    sm.input.table, sm.params.settings, sm.input.qc_fam, sm.params.prefix, sm.output[0],
    threads=sm.threads, memory_mb=sm.resources.mem_mb, config_key=sm.params.config_key,
)  # fmt: skip
