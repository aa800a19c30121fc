"""Snakemake adapter: per-SNP empirical p-values and the K null maxima (liftgwas.discover.null_traits)."""

import pandas as pd

from liftgwas.atomic import write_tsv
from liftgwas.discover.null_traits import maxima_table, null_summary
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])  # noqa: F821
read = lambda path: pd.read_csv(path, sep="\t", dtype={"variant_id": str, "chromosome": str})  # noqa: E731
observed = read(snakemake.input.observed)  # noqa: F821
nulls = [read(path) for path in snakemake.input.nulls]  # noqa: F821
write_tsv(snakemake.output.summary, null_summary(observed, nulls))  # noqa: F821
maxima = maxima_table(nulls)
write_tsv(snakemake.output.maxima, maxima)  # noqa: F821
log.info("%d nulls; maxima %s; observed max %.4g", len(nulls), maxima["max_score"].round(4).tolist(),
         observed["score"].max())
