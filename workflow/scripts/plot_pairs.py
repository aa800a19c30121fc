"""Snakemake adapter: the tested pairs as arcs over the genome axis (liftgwas.plots.pair_arcs_plot)."""

from liftgwas import compare, pairs, plots
from liftgwas.plink import read_bim
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log = log_to(sm.log[0])
table = pairs.read_pairs_table(sm.input.pairs)
planted = None
truth = getattr(sm.input, "truth", None)
if truth:
    rows = compare.read_truth_rows(truth, sm.params.trait).dropna(subset=["pair"])
    planted = [tuple(g["variant_id"].astype(str)) for _, g in rows.groupby("pair") if len(g) == 2]
drawn = plots.pair_arcs_plot(read_bim(sm.input.bim), table, sm.output.png, sm.output.pdf, title=sm.params.title,
                             alpha=sm.params.alpha, planted=planted)
log.info("pair arcs: %s", drawn)
