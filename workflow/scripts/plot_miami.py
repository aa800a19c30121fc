"""Snakemake adapter: Miami plot (GWAS above, mean |DeepLIFT| score of the selected model below)."""

from liftgwas import compare, plots
from liftgwas.discover.discoveries import read_discoveries
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
sumstats = compare.read_sumstats(snakemake.input.sumstats)
scores = compare.read_scores(snakemake.input.scores)
truth = getattr(snakemake.input, "truth", None)
# simulations: causal SNPs marked by effect class ({variant_id: class})
causal = None
if truth:
    rows = compare.read_truth_rows(truth, snakemake.params.trait)
    causal = dict(zip(rows["variant_id"], rows["class"]))
lines = plots.discovery_lines(read_discoveries(snakemake.input.discoveries))
labels = plots.miami_plot(
    sumstats,
    scores,
    snakemake.output.png,
    snakemake.output.pdf,
    title=snakemake.params.title,
    causal_ids=causal,
    top_n_labels=snakemake.params.top_n_labels,
    score_unit=snakemake.params.score_unit,
    gwas_lines=lines["gwas"],
    deeplift_lines=lines["deeplift"],
)
log.info("labelled GWAS hits %s; DeepLIFT hits %s", labels["gwas"], labels["deeplift"])
