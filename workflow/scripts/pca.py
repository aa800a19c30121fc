"""Snakemake adapter: genotype PCs -> covariates.tsv (logic in liftgwas.pca)."""

import logging

from liftgwas import pca

snakemake = globals()["snakemake"]  # injected by Snakemake's `script:` directive

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(name)s %(levelname)s %(message)s",
)
bed_path = str(snakemake.input.bed)
if not bed_path.endswith(".bed"):
    raise ValueError(f"input.bed must be a .bed path, got {bed_path}")
pca.write_covariates(
    bed_prefix=bed_path[: -len(".bed")],
    out_tsv=snakemake.output.covariates,
    n_pcs=int(snakemake.params.n_pcs),
    seed=int(snakemake.params.seed),
    threads=snakemake.threads,
)
