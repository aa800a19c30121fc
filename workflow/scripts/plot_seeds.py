"""Snakemake adapter: the paper's Figure 1, per-SNP DeepLIFT scores of two retrain seeds."""

from liftgwas import compare, plots
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
runs = [
    (seed, compare.read_scores(path))
    for seed, path in zip(snakemake.params.seeds, snakemake.input.scores, strict=True)
]
recalls = plots.seed_scores_plot(
    runs,
    compare.read_truth(snakemake.input.truth, snakemake.params.trait),
    snakemake.params.k,
    snakemake.output.png,
    snakemake.output.pdf,
    title=snakemake.params.title,
    score_unit=snakemake.params.score_unit,
)
for seed, recall in recalls.items():
    log.info("seed %s: recall@%d = %.3f", seed, snakemake.params.k, recall)
