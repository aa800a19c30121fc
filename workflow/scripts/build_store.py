"""Snakemake adapter: PLINK .bed -> sample-major 2-bit store (liftgwas.genostore, via plink2)."""

from liftgwas.genostore import build_store
from liftgwas.runlog import log_to

log_to(snakemake.log[0])
build_store(
    snakemake.input.bed.removesuffix(".bed"),
    snakemake.output.packed.removesuffix(".packed.npy"),
    threads=snakemake.threads,
    memory_mb=snakemake.params.plink2_memory_mb,
)
