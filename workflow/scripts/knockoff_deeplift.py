"""Snakemake adapter: DeepLIFT of a knockoff model, split into original and knockoff scores."""

import time

import torch

from liftgwas.atomic import write_json, write_tsv
from liftgwas.attribution import AttributionSettings
from liftgwas.data import load_job_data
from liftgwas.discover.knockoff_model import knockoff_deeplift
from liftgwas.plink import read_bim
from liftgwas.runlog import log_to
from liftgwas.train import device_info, load_model, pick_device

log = log_to(snakemake.log[0])
torch.set_num_threads(snakemake.threads)
p = snakemake.params
device = pick_device()
model, payload = load_model(snakemake.input.model, device)
data = load_job_data(snakemake.input, p.trait, payload["kind"], bool(payload["covariate_names"]))
attribution = AttributionSettings.from_config(p.attribution)
start = time.perf_counter()
table = knockoff_deeplift(model, payload, data, read_bim(snakemake.input.bim)["snp"].to_numpy(),
                          chunk_size=p.chunk_size, attribution=attribution, seed=p.seed, device=device)
seconds = time.perf_counter() - start
write_tsv(snakemake.output.scores, table)
write_json(snakemake.output.summary, {"attribution": attribution.describe(), "seconds": seconds,
                                      **device_info(device)})
log.info("%s of %d columns in %.1f s", attribution.label, data.n_snps, seconds)
