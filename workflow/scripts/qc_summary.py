"""Snakemake adapter: the QC summary table (counts per step, trait counts)."""

from liftgwas.cohort import qc
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
qc.qc_summary(
    sm.params.prefix,
    {step: sm.input[step] for step in qc.SAMPLE_STEPS},
    sm.input.variants, sm.input.table, sm.params.traits, sm.output[0],
    genotype_probability_note=sm.params.genotype_probability_note, config_key=sm.params.config_key,
    settings=sm.params.settings,
)  # fmt: skip
