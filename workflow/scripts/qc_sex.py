"""Snakemake adapter: sex-chromosome aneuploidy and genetic vs reported sex."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.sex_step(
    sm.params.prefix, sm.input.table, sm.input.previous, sm.output[0],
    settings=sm.params.settings, config_key=sm.params.config_key,
)  # fmt: skip
