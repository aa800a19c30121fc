"""Snakemake adapter: the report's discoveries tables (per method, and the discovered SNPs
with every method's statistic beside the GWAS's; liftgwas.discover.discoveries)."""

import pandas as pd

from liftgwas import compare
from liftgwas.atomic import write_text, write_tsv
from liftgwas.discover import discoveries as dc
from liftgwas.runlog import log_to

log_to(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
keys = sm.params.datasets_traits
summaries = []
for key, path in zip(keys, sm.input.summaries):
    s = pd.read_csv(path, sep="\t")
    for column, value in reversed(list(key.items())):
        s.insert(0, column, value)
    summaries.append(s)
summary = pd.concat(summaries, ignore_index=True)
write_tsv(sm.output.tsv, summary)
write_text(sm.output.html, compare.table_html(
    summary, "Discoveries per method, each at its stated error rate",
    "deeplift_null: FWER by the null-trait max statistic; deeplift_knockoff: FDR by knockoff+; gwas_bh: FDR by "
    "Benjamini-Hochberg; gwas_gws: p < 5e-8. On simulations fdr/power are realised against the truth."))
listing = dc.discovery_listing([dc.read_discoveries(p) for p in sm.input.tables], keys)
write_text(sm.output.listing, compare.table_html(
    listing, "Discovered SNPs: DeepLIFT beside the GWAS",
    "one row per SNP selected by any method; a method's column holds its statistic where it selected the SNP "
    "(score, W, or -log10 p), empty otherwise; gwas_p = the GWAS p-value."))
