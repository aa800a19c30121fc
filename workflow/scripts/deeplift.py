"""Snakemake adapter: attribution scores (DeepLIFT by default) of one trained model (liftgwas.attribution)."""

import time

import torch

from liftgwas.atomic import write_json, write_tsv
from liftgwas.attribution import AttributionSettings, deeplift_scores, score_table
from liftgwas.data import load_job_data
from liftgwas.plink import read_bim
from liftgwas.runlog import log_to
from liftgwas.train import device_info, load_model, pick_device

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = pick_device()
model, payload = load_model(snakemake.input.model, device)
data = load_job_data(snakemake.input, p.trait, payload["kind"], bool(payload["covariate_names"]))
start = time.perf_counter()
attribution = AttributionSettings.from_config(p.attribution)
result = deeplift_scores(
    model,
    data,
    payload["reference"],
    split="validation",
    chunk_size=p.chunk_size,
    device=device,
    settings=attribution,
    seed=p.seed,
)
seconds = time.perf_counter() - start
write_tsv(snakemake.output.scores, score_table(read_bim(snakemake.input.bim), result))
write_json(
    snakemake.output.summary,
    {
        "n_samples": result.n_samples,
        "max_convergence_delta": result.max_convergence_delta,
        # which scores these are: method, its settings, the score definition, the scaling
        "attribution": attribution.describe(),
        "input_scaling": payload["input_scaling"],
        "seconds": seconds,
        **device_info(device),
    },
)
log.info(
    "%s on %d samples in %.1f s, max convergence delta %s",
    attribution.label,
    result.n_samples,
    seconds,
    "n/a"
    if result.max_convergence_delta is None
    else f"{result.max_convergence_delta:.2e}",
)
