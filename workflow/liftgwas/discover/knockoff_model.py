"""The knockoff model (issue 11): the selected architecture / L1 trained on [X, X~].

Training and attribution are the workflow's own (liftgwas.train.train_model, save_model;
liftgwas.attribution.deeplift_scores): the combined store has 2M columns in the genostore
format, so load_training_data reads it like any store. DeepLIFT runs on the validation
samples, as for every other model; its 2M scores are split into the originals' (first M)
and the knockoffs' (last M).

``knockoff_statistics_for_dataset`` runs the whole chain for a dataset on disk without
Snakemake (bench/calibration.py): knockoff store(s), knockoff models, W, statistics table.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from ..attribution import AttributionSettings, deeplift_scores
from ..data import TrainingData, load_training_data
from ..train import TrainSettings, load_model, save_model, train_model
from . import knockoff_filter, knockoffs

DEEPLIFT_COLUMNS = ["variant_id", "score_original", "score_knockoff", "score_se_original", "score_se_knockoff"]


def selected_settings(base: dict, selected: dict, seed: int) -> TrainSettings:
    """TrainSettings of a knockoff model: the training config with the selection's arch / L1."""
    return TrainSettings(**{**base, "arch": selected["arch"], "l1": float(selected["l1"]), "seed": int(seed)})


def split_scores(variant_ids, result) -> pd.DataFrame:
    """A DeepLiftResult over 2M columns -> per original SNP its score and its knockoff's."""
    variant_ids = np.asarray(variant_ids)
    m = len(variant_ids)
    if len(result.score) != 2 * m:
        raise ValueError(f"knockoff model has {len(result.score)} inputs, expected 2 x {m} SNPs")
    return pd.DataFrame({
        "variant_id": variant_ids,
        "score_original": result.score[:m],
        "score_knockoff": result.score[m:],
        "score_se_original": result.score_se[:m],
        "score_se_knockoff": result.score_se[m:],
    })


def knockoff_deeplift(model, payload: dict, data: TrainingData, variant_ids, chunk_size: int = 512,
                      attribution: AttributionSettings | None = None, seed: int = 0, device="cpu") -> pd.DataFrame:
    result = deeplift_scores(model, data, payload["reference"], split="validation", chunk_size=chunk_size,
                             device=device, settings=attribution, seed=seed)
    return split_scores(variant_ids, result)


def knockoff_statistics_for_dataset(
    directory: str | Path,
    trait: str,
    kind: str,
    train: TrainSettings,
    retrain_seeds: list[int],
    settings: knockoffs.KnockoffSettings,
    dataset: str,
    prefix: str = "plink",
    store: str = "store",
    device: str = "cpu",
) -> pd.DataFrame:
    """statistics.tsv of a dataset directory (plink.*, store.*, traits.tsv, covariates.tsv,
    split.tsv, as bench/nonadditive.py's ``prepare`` writes them), for ``settings.draws``
    draws and the given retrain seeds of the ``train`` settings (its seed is replaced).
    The knockoff stores go to ``directory/knockoffs/draw_{d}``."""
    directory = Path(directory)
    method = knockoffs.resolve_method(settings.method, dataset)
    variant_ids = None
    draws, groups = [], []
    for draw in range(1, settings.draws + 1):
        out = directory / "knockoffs" / f"draw_{draw}"
        knockoffs.build_knockoff_store(directory / prefix, directory / store, directory / "covariates.tsv",
                                       out / "store", out / "groups.tsv", settings, method,
                                       knockoffs.knockoff_seed(dataset, draw, settings.seed), dataset=dataset)
        table = pd.read_csv(out / "groups.tsv", sep="\t", dtype={"variant_id": str})
        variant_ids = table["variant_id"].to_numpy()
        groups.append(table)
        data = load_training_data(out / "store", directory / f"{prefix}.fam", directory / "traits.tsv",
                                  directory / "covariates.tsv", directory / "split.tsv", trait=trait, kind=kind,
                                  use_covariates=True)
        seeds = []
        for seed in retrain_seeds:
            s = replace(train, seed=int(seed))
            model, metrics = train_model(data, s, device=torch.device(device))
            path = out / trait / f"seed_{seed}" / "model.pt"
            save_model(path, model, data, s, metrics)
            model, payload = load_model(path, device)
            seeds.append(knockoff_deeplift(model, payload, data, variant_ids, seed=int(seed), device=device))
        draws.append(seeds)
    return knockoff_filter.combine(draws, groups)
