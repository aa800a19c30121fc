"""Snakemake adapter: train / early-stop / validation split of a dataset (liftgwas.split)."""

from liftgwas import split
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log = log_to(sm.log[0])
fractions = {name: float(getattr(sm.params, name)) for name in split.SPLITS}
table = split.write_split(sm.input.fam, sm.output.split, int(sm.params.seed), fractions)
log.info("split %d samples: %s", len(table), table["split"].value_counts().to_dict())
