"""Snakemake adapter: traits.tsv (FID IID <trait>...) for the samples passing QC."""

from liftgwas.cohort import phenotypes
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
phenotypes.write_traits(
    sm.input.table, sm.params.traits, sm.input.qc_fam, sm.input.input_fam, sm.output[0],
    config_key=sm.params.config_key,
)  # fmt: skip
