"""Snakemake adapter: train a block of grid cells of one dataset x trait (liftgwas.gridblock),
restoring kept cells and resuming the others from their checkpoints."""

import shutil
from pathlib import Path

import torch

from liftgwas.data import load_job_data
from liftgwas.gridblock import CellFiles, train_block
from liftgwas.runlog import log_to
from liftgwas.train import TrainSettings, pick_device

p = snakemake.params
out = snakemake.output
checkpoints = [Path(cell["dir"]) / "checkpoint.pt" for cell in p.cells]
# Snakemake deletes a job's log before rerunning it, so the log is also kept in a file that
# is not an output; a rerun that resumes a killed attempt starts its log from there
attempts = Path(p.attempts_log)
resumed = attempts.exists() and any(c.exists() for c in checkpoints)
if resumed:
    shutil.copyfile(attempts, snakemake.log[0])
log = log_to(snakemake.log[0], append=resumed, copy_to=str(attempts))
if resumed:
    log.info("---- rerun: checkpoint(s) found, continuing the log of the killed attempt above")
torch.set_num_threads(snakemake.threads)
data = load_job_data(snakemake.input, p.trait, p.kind, p.covariates_as_inputs)
# the rule lists a block's cells and its output paths in one order (common.smk); a
# mismatch would write one cell's model under another's name
for cell, model in zip(p.cells, out.models):
    if Path(model).parent != Path(cell["dir"]):
        raise RuntimeError(f"train block: cell {cell['dir']} paired with output {model}")
cells = [
    (
        TrainSettings(arch=cell["arch"], l1=float(cell["l1"]), seed=int(cell["seed"]), **p.training),
        CellFiles({"model": Path(model), "metrics": Path(metrics)}),
        checkpoint,
    )
    for cell, model, metrics, checkpoint in zip(p.cells, out.models, out.metrics, checkpoints)
]
device = pick_device()
log.info("training %s on %s: %d cells, settings %s", p.trait, device, len(cells), p.training)
summary = train_block(data, cells, device=device, resident=p.resident)
log.info("block done: %(trained)d cells trained, %(restored)d restored from kept results", summary)
attempts.unlink(missing_ok=True)  # the rule's log holds every attempt now
