"""Snakemake adapter: simulate one study (liftgwas.simulate.write_from_params).

params.spec is workflow_config.simulation_params(...): engine, the dataset's own seed
(dataset_seed / coalescent_dataset_seed), sizes, traits and liabilities.
"""

from liftgwas import simulate
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
simulate.write_from_params(
    str(sm.output.bed).removesuffix(".bed"),
    sm.output.traits,
    sm.output.truth,
    **dict(sm.params.spec),
)
