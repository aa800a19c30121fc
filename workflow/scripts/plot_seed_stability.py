"""Snakemake adapter: seed stability of the selected model over all its retrain seeds."""

from liftgwas import compare, plots
from liftgwas.atomic import write_tsv
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
runs = [
    (seed, compare.read_scores(path))
    for seed, path in zip(snakemake.params.seeds, snakemake.input.scores, strict=True)
]
matrices = plots.seed_stability_plot(
    runs, snakemake.params.k, snakemake.output.png, snakemake.output.pdf, title=snakemake.params.title
)
table = plots.seed_stability_table(matrices)
write_tsv(snakemake.output.tsv, table, float_format="%.4g")
for row in table.itertuples():
    log.info("seeds %s/%s: top-%d overlap %.2f, Spearman %.3f", row.seed_a, row.seed_b, snakemake.params.k,
             row.topk_overlap, row.spearman)
