"""Snakemake adapter: W per group over retrain seeds and knockoff draws (liftgwas.discover.knockoff_filter)."""

import pandas as pd

from liftgwas.atomic import write_tsv
from liftgwas.discover.knockoff_filter import combine
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
runs = snakemake.params.runs  # (draw, seed) per input score file, in order
read = lambda path: pd.read_csv(path, sep="\t", dtype={"variant_id": str})  # noqa: E731
draws = sorted({d for d, _ in runs})
tables = {d: [] for d in draws}
for (draw, _), path in zip(runs, snakemake.input.scores):
    tables[draw].append(read(path))
groups = [read(path) for path in snakemake.input.groups]
statistics = combine([tables[d] for d in draws], groups)
write_tsv(snakemake.output.statistics, statistics)
log.info("%d groups, %d draws x %d seeds; %d with W > 0", len(statistics), len(draws),
         len(tables[draws[0]]), int((statistics["W"] > 0).sum()))
