"""Snakemake adapter: interacting pairs from the retrained models, tested on the validation split (liftgwas.pairs)."""

import torch

from liftgwas import pairs
from liftgwas.data import load_job_data
from liftgwas.plink import Bed
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
torch.set_num_threads(max(1, sm.threads))
# covariates are always loaded: the interaction test is adjusted for them whatever the network used
data = load_job_data(sm.input, trait=sm.params.trait, kind=sm.params.kind, use_covariates=True)
pairs.run(
    list(sm.input.models),
    data,
    Bed(str(sm.input.bim).removesuffix(".bim")).bim,
    pairs.PairSettings.from_config(sm.params.settings),
    sm.output.pairs,
    sm.output.summary,
    chunk_size=sm.params.chunk_size,
)
