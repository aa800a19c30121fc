"""Snakemake adapter: write the synthetic UK Biobank-like cohort (liftgwas.cohort.ukb_synth)."""

from liftgwas.cohort import ukb_synth
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])  # noqa: F821
spec = ukb_synth.SyntheticSpec(**snakemake.params.spec)  # noqa: F821
truth = ukb_synth.write_synthetic_cohort(snakemake.params.prefix, spec)  # noqa: F821
log.info("synthetic cohort: %s", {k: len(v) for k, v in truth["samples"].items()})
