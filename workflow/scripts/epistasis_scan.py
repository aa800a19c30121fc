"""Snakemake adapter: exhaustive pairwise scan of one trait with plink 1.9 (logic in liftgwas.epistasis)."""

from liftgwas import epistasis
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
epistasis.run_scan(
    bed_prefix=str(sm.input.bed).removesuffix(".bed"),
    traits_tsv=sm.input.traits,
    covariates_tsv=sm.input.covariates,
    trait=sm.params.trait,
    kind=sm.params.kind,
    snps_out=sm.output.snps,
    pairs_out=sm.output.pairs,
    top_pairs=sm.params.top_pairs,
    max_snps=sm.params.max_snps,
    threads=sm.threads,
    memory_mb=max(640, int(sm.resources.mem_mb * 0.8)),  # plink's workspace, room for the rest
)
