"""Snakemake adapter: the paper's Table 1 (top-k recall of the selected models)."""

from liftgwas.atomic import write_text, write_tsv
from liftgwas.recall import recall_runs, table1, table1_markdown
from liftgwas.runlog import log_to

log_to(snakemake.log[0])
runs = recall_runs(snakemake.params.runs, top_k=snakemake.params.top_k)
table = table1(runs)
write_tsv(snakemake.output.runs, runs)
write_tsv(snakemake.output.table, table)
write_text(snakemake.output.markdown, table1_markdown(table, top_k=snakemake.params.top_k))
