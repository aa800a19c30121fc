"""Snakemake adapter: baseline GWAS of one trait -> GWAS-SSF sumstats + -meta.yaml (logic in liftgwas.gwas, liftgwas.sumstats)."""

from liftgwas import gwas
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
gwas.run_gwas(
    bed_prefix=str(sm.input.bed).removesuffix(".bed"),
    traits_tsv=sm.input.traits,
    covariates_tsv=sm.input.covariates,
    trait=sm.params.trait,
    kind=sm.params.kind,
    out_path=sm.output.sumstats,
    threads=sm.threads,
    genome_assembly=sm.params.genome_assembly,
)
