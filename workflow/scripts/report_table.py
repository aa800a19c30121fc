"""Snakemake adapter: an HTML rendering of a TSV table for the report (liftgwas.compare.table_html)."""

import pandas as pd

from liftgwas.atomic import write_text
from liftgwas.compare import table_html
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
table = pd.read_csv(snakemake.input.tsv, sep="\t", dtype=str, keep_default_na=False)
# numbers as written in the TSV; table_html formats floats, so convert the numeric columns back
for column in table.columns:
    values = pd.to_numeric(table[column], errors="coerce")
    if values.notna().all() and len(table):
        table[column] = values
write_text(snakemake.output.html, table_html(table, snakemake.params.title, snakemake.params.note))
log.info("%s: %d rows as HTML", snakemake.input.tsv, len(table))
