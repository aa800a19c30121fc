"""Snakemake adapter: 2-df genotypic GWAS of one trait (logic in liftgwas.gwas_genotypic)."""

from liftgwas import gwas_genotypic
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
gwas_genotypic.run_genotypic_gwas(
    bed_prefix=str(sm.input.bed).removesuffix(".bed"),
    traits_tsv=sm.input.traits,
    covariates_tsv=sm.input.covariates,
    trait=sm.params.trait,
    kind=sm.params.kind,
    out_path=sm.output.sumstats,
    threads=sm.threads,
    memory_mb=max(640, int(sm.resources.mem_mb * 0.8)),  # plink2's workspace (>= its minimum), room for the rest
)
