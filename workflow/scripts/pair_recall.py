"""Snakemake adapter: pair recall of the network's tested pairs vs the exhaustive scan (liftgwas.pairs)."""

import json

import pandas as pd

from liftgwas import compare, epistasis, pairs
from liftgwas.atomic import write_tsv
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log = log_to(sm.log[0])
rows = []
# params.entries maps each dataset x trait to its files, every one of them listed in input:
for entry in sm.params.entries:
    truth = compare.read_truth_rows(entry["truth"], entry["trait"])
    scan = epistasis.read_pair_list(entry["scan_pairs"]) if entry.get("scan_pairs") else None
    with open(entry["summary"]) as handle:
        info = json.load(handle)
    table = pairs.read_pairs_table(entry["pairs"])
    rows.append(pairs.recall_row(entry["dataset"], entry["trait"], table, info, truth, scan))
write_tsv(sm.output.tsv, pd.DataFrame(rows, columns=pairs.RECALL_COLUMNS), float_format="%.4g")
log.info("pair recall of %d dataset x trait combinations", len(rows))
