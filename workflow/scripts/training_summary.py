"""Snakemake adapter: every grid run's training metrics, and every selection grid, as tables."""

import pandas as pd

from liftgwas.atomic import write_tsv
from liftgwas.runlog import log_to
from liftgwas.selection import read_grid_metrics

log_to(snakemake.log[0])
runs = read_grid_metrics(list(snakemake.input.metrics), snakemake.params.runs)
write_tsv(snakemake.output.runs, runs)
grids = []
for key, path in zip(snakemake.params.groups, snakemake.input.grids):
    grid = pd.read_csv(path, sep="\t", dtype={"l1": str})
    grids.append(grid.assign(group=key["group"], trait=key["trait"], selected=grid["rank"] == 1))
table = pd.concat(grids, ignore_index=True)
write_tsv(snakemake.output.grids, table[["group", "trait", *[c for c in table.columns if c not in ("group", "trait")]]])
