"""Snakemake adapter: genotype PCs -> covariates.tsv (logic in liftgwas.pca)."""

from liftgwas import pca
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
pca.write_covariates(
    bed_prefix=str(sm.input.bed).removesuffix(".bed"),
    out_tsv=sm.output.covariates,
    n_pcs=int(sm.params.n_pcs),
    seed=int(sm.params.seed),
    threads=sm.threads,
)
