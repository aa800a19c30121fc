"""Snakemake adapter: variant QC and the QC'd PLINK fileset."""

from liftgwas.cohort import variants
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
variants.variant_qc(
    sm.params.prefix, sm.input.samples, sm.params.out_prefix, sm.output.variants, sm.output.removed,
    settings=sm.params.settings, threads=sm.threads, memory_mb=sm.resources.mem_mb,
)  # fmt: skip
