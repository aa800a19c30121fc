"""Snakemake adapter: attribution scores (DeepLIFT by default) of every model of a block,
in one pass over the validation samples (liftgwas.gridblock, liftgwas.attribution)."""

from pathlib import Path

import torch

from liftgwas.attribution import AttributionSettings
from liftgwas.data import load_job_data
from liftgwas.gridblock import CellFiles, attribute_block
from liftgwas.plink import read_bim
from liftgwas.runlog import log_to
from liftgwas.train import load_model, pick_device

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = pick_device()
models = list(snakemake.input.models)
# every model of a block has the same trait, kind and covariates
_, payload = load_model(models[0], "cpu")
data = load_job_data(snakemake.input, p.trait, payload["kind"], bool(payload["covariate_names"]))
attribution = AttributionSettings.from_config(p.attribution)
cells = [
    (model, CellFiles({"scores": Path(scores), "summary": Path(summary)}, kind="attribute"), int(seed))
    for model, scores, summary, seed in zip(models, snakemake.output.scores, snakemake.output.summary, p.seeds)
]
summary = attribute_block(data, cells, read_bim(snakemake.input.bim), attribution, p.chunk_size, device)
log.info("block done: %(attributed)d models attributed, %(restored)d restored from kept results", summary)
