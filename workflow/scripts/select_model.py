"""Snakemake adapter: pick the architecture x L1 with the best mean validation log-likelihood."""

from liftgwas.atomic import write_json, write_tsv
from liftgwas.runlog import log_to
from liftgwas.selection import read_grid_metrics, select, summarise_grid

log = log_to(snakemake.log[0])
grid = read_grid_metrics(list(snakemake.input.metrics), snakemake.params.grid_keys)
summary = summarise_grid(grid)
selected = select(grid)
selected["retrain_seeds"] = list(snakemake.params.retrain_seeds)
write_tsv(snakemake.output.grid, summary)
write_json(snakemake.output.selected, selected)
log.info(
    "selected %s, L1 %s (mean validation log-likelihood %.5f)",
    selected["arch"],
    selected["l1"],
    selected["mean_validation_loglik"],
)
if selected["at_grid_edge"]:
    log.warning("%s", selected["advice"])
