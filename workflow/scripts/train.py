"""Snakemake adapter: train one grid point (liftgwas.train), resuming from its checkpoint."""

import shutil
from pathlib import Path

import torch

from liftgwas.atomic import write_json
from liftgwas.data import load_job_data
from liftgwas.runlog import log_to
from liftgwas.train import TrainSettings, pick_device, save_model, train_model

p = snakemake.params
checkpoint = Path(p.checkpoint)
# Snakemake deletes a job's log before rerunning it, so the log is also kept beside the
# checkpoint (not a Snakemake output either); a rerun that resumes starts its log from there
attempts = checkpoint.with_name(checkpoint.name + ".log")
resumed = checkpoint.exists() and attempts.exists()
if resumed:
    shutil.copyfile(attempts, snakemake.log[0])
log = log_to(snakemake.log[0], append=resumed, copy_to=str(attempts))
if resumed:
    log.info("---- rerun: checkpoint %s found, continuing the log of the killed attempt above", checkpoint)
torch.set_num_threads(snakemake.threads)
data = load_job_data(snakemake.input, p.trait, p.kind, p.covariates_as_inputs)
settings = TrainSettings(
    arch=p.arch,
    l1=p.l1,
    l1_scaling=p.l1_scaling,
    seed=p.seed,
    batch_size=p.batch_size,
    learning_rate=p.learning_rate,
    max_epochs=p.max_epochs,
    patience=p.patience,
    input_scaling=p.input_scaling,
    class_balance=p.class_balance,
    oversample_ratio=p.oversample_ratio,
    lr_schedule=p.lr_schedule,
    warm_start=p.warm_start,
    pairwise=p.pairwise,
    fm_rank=p.fm_rank,
)
device = pick_device()
log.info("training %s on %s: %s", p.trait, device, settings)
model, metrics = train_model(data, settings, checkpoint_path=checkpoint, device=device)
if metrics.get("resumed_from_epoch") is not None:
    log.info("resumed from epoch %d", metrics["resumed_from_epoch"])
save_model(snakemake.output.model, model, data, settings, metrics)
write_json(snakemake.output.metrics, metrics)
checkpoint.unlink(missing_ok=True)  # the finished model supersedes it
log.info(
    "validation log-likelihood %.5f (best epoch %d)", metrics["validation_loglik"], metrics["best_epoch"]
)
attempts.unlink(missing_ok=True)  # the rule's log holds every attempt now
