"""Snakemake adapter: baseline GWAS of one trait -> GWAS-SSF sumstats (logic in liftgwas.gwas)."""

import logging

from liftgwas import gwas

snakemake = globals()["snakemake"]  # injected by Snakemake's `script:` directive

logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(name)s %(levelname)s %(message)s",
)
bed_path = str(snakemake.input.bed)
if not bed_path.endswith(".bed"):
    raise ValueError(f"input.bed must be a .bed path, got {bed_path}")
gwas.run_gwas(
    bed_prefix=bed_path[: -len(".bed")],
    traits_tsv=snakemake.input.traits,
    covariates_tsv=snakemake.input.covariates,
    trait=snakemake.params.trait,
    kind=snakemake.params.kind,
    out_path=snakemake.output.sumstats,
    threads=snakemake.threads,
)
