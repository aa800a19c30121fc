"""Snakemake adapter: BGEN genotype probabilities -> PLINK hard calls (uncertain -> missing)."""

from liftgwas.cohort import variants
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
variants.import_bgen(
    sm.input.bgen, sm.input.sample, sm.params.out_prefix,
    settings=sm.params.settings, ref_allele=sm.params.ref_allele, extract=sm.input.get("extract"),
    threads=sm.threads, memory_mb=sm.resources.mem_mb,
)  # fmt: skip
