"""Snakemake adapter: average the selected model's DeepLIFT scores over its retrain seeds."""

import pandas as pd

from liftgwas.atomic import write_tsv
from liftgwas.attribution import seed_average_table
from liftgwas.runlog import log_to

log_to(snakemake.log[0])
tables = [
    pd.read_csv(path, sep="\t", dtype={"variant_id": str, "chromosome": str})
    for path in snakemake.input.scores
]
write_tsv(snakemake.output.scores, seed_average_table(tables))
