"""Snakemake adapter: the selected architecture / L1 trained on [X, X~] for one retrain seed."""

import json
import shutil
from pathlib import Path

import torch

from liftgwas.atomic import write_json
from liftgwas.data import load_job_data
from liftgwas.discover.knockoff_model import selected_settings
from liftgwas.runlog import log_to
from liftgwas.train import pick_device, save_model, train_model

p = snakemake.params
checkpoint = Path(p.checkpoint)
# as scripts/train.py: the log beside the checkpoint survives Snakemake's deletion of the rule log
attempts = checkpoint.with_name(checkpoint.name + ".log")
resumed = checkpoint.exists() and attempts.exists()
if resumed:
    shutil.copyfile(attempts, snakemake.log[0])
log = log_to(snakemake.log[0], append=resumed, copy_to=str(attempts))
torch.set_num_threads(snakemake.threads)
with open(snakemake.input.selected) as handle:
    selected = json.load(handle)  # the checkpoint's choice (data, not a setting)
settings = selected_settings(p.training, selected, p.seed)
data = load_job_data(snakemake.input, p.trait, p.kind, p.covariates_as_inputs)
device = pick_device()
log.info("knockoff model for %s on %d inputs (%s): %s", p.trait, data.n_snps, device, settings)
model, metrics = train_model(data, settings, checkpoint_path=checkpoint, device=device, resident=p.resident)
save_model(snakemake.output.model, model, data, settings, metrics)
write_json(snakemake.output.metrics, metrics)
checkpoint.unlink(missing_ok=True)
log.info("validation log-likelihood %.5f (best epoch %d)", metrics["validation_loglik"], metrics["best_epoch"])
attempts.unlink(missing_ok=True)
