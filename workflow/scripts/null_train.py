"""Snakemake adapter: null trait k (drawn from the covariate-only model), the selected model
retrained on it with every retrain seed, seed-averaged DeepLIFT scores (liftgwas.discover)."""

from pathlib import Path

import pandas as pd
import torch

from liftgwas.atomic import write_json, write_tsv
from liftgwas.attribution import AttributionSettings
from liftgwas.data import load_training_data
from liftgwas.discover.null_models import retrain_and_score
from liftgwas.discover.null_traits import null_seed, null_trait_table
from liftgwas.plink import read_bim
from liftgwas.runlog import log_to
from liftgwas.train import TrainSettings, pick_device

log = log_to(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
p = sm.params
torch.set_num_threads(sm.threads)
read = lambda path: pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str}, na_values=["NA", ""])  # noqa: E731
column = f"null_{p.null}"
seed = null_seed(p.dataset, p.trait, p.null)
table, cov_model = null_trait_table(read(sm.input.traits), read(sm.input.covariates), p.trait, p.kind, seed, column)
write_tsv(sm.output.trait, table, na_rep="NA")
log.info("null trait %d of %s/%s (seed %d): covariate-only %s fit, params %s", p.null, p.dataset, p.trait, seed,
         p.kind, cov_model.params.round(4).tolist())
data = load_training_data(str(sm.input.packed).removesuffix(".packed.npy"), sm.input.fam, sm.output.trait,
                          sm.input.covariates, sm.input.split, trait=column, kind=p.kind,
                          use_covariates=p.covariates_as_inputs)
base = TrainSettings(arch=p.arch, l1=p.l1, seed=0, **p.training)
device = pick_device()
log.info("retraining %s L1 %g on %s with seeds %s", p.arch, p.l1, device, list(p.seeds))
scores, metrics = retrain_and_score(data, base, list(p.seeds), read_bim(sm.input.bim),
                                    AttributionSettings.from_config(p.attribution), p.chunk_size, device,
                                    checkpoint_dir=Path(p.checkpoint_dir), resident=p.resident)
write_tsv(sm.output.scores, scores)
y = table[column].dropna()
write_json(sm.output.metrics, {
    "null": p.null, "seed": seed, "kind": p.kind, "arch": p.arch, "l1": p.l1,
    "covariate_model": cov_model.params.tolist(), "residual_sd": cov_model.scale,
    "null_trait_mean": float(y.mean()), "n": int(len(y)), "runs": metrics,
    "max_score": float(scores["score"].max()),
})
log.info("max score %.4g", scores["score"].max())
