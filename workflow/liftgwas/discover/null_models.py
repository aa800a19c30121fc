"""The selected model retrained on one null trait, scored exactly as the observed model.

One null index k = one job: the null trait is drawn (null_traits.null_trait_table, seed
from the path), the selected architecture and L1 are trained with every retrain seed
(one block, liftgwas.train.train_models, the settings rule `train` uses: each seed's model
is the one it would be trained alone), each model is attributed on
the validation split (liftgwas.attribution.deeplift_scores, reference from the saved model
file as for every other run) and the runs are averaged with attribution.seed_average_table.

Why the same seeds and the same averaging as the observed scores: the observed statistic
is the seed-averaged score of ``len(retrain_seeds)`` models; averaging shrinks the noise of
each SNP's score and so the maximum over SNPs. Null maxima of single-seed models would be
larger than the observed statistic's null maxima, and the threshold conservative by an
unknown amount (or, the other way round, anti-conservative); only the same construction
keeps the observed maximum exchangeable with the null maxima under the null.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
from pathlib import Path

import pandas as pd

from ..attribution import AttributionSettings, deeplift_scores, score_table, seed_average_table
from ..data import TrainingData
from ..train import TrainSettings, load_model, save_model, train_models

log = logging.getLogger(__name__)


def retrain_and_score(
    data: TrainingData,
    base: TrainSettings,
    seeds: list[int],
    bim: pd.DataFrame,
    attribution: AttributionSettings,
    chunk_size: int,
    device,
    checkpoint_dir: str | Path | None = None,
    resident: str = "auto",
) -> tuple[pd.DataFrame, list[dict]]:
    """Seed-averaged score table and per-seed metrics of ``base`` trained with each seed
    (``resident``: training.resident)."""
    block = [dataclasses.replace(base, seed=int(seed)) for seed in seeds]
    checkpoints = [Path(checkpoint_dir) / f"seed_{s.seed}.checkpoint.pt" if checkpoint_dir else None for s in block]
    trained = train_models(data, block, checkpoints, device=device, resident=resident)
    tables, metrics = [], []
    for seed, settings, checkpoint, (model, m) in zip(seeds, block, checkpoints, trained):
        with tempfile.TemporaryDirectory() as tmp:
            # through the model file, so the reference and scaling are those of every run
            path = Path(tmp) / "model.pt"
            save_model(path, model, data, settings, m)
            model, payload = load_model(path, device)
        result = deeplift_scores(model, data, payload["reference"], split="validation", chunk_size=chunk_size,
                                 device=device, settings=attribution, seed=int(seed))
        tables.append(score_table(bim, result))
        metrics.append({"seed": int(seed), "validation_loglik": m["validation_loglik"], "best_epoch": m["best_epoch"],
                        "epochs_run": m["epochs_run"], "seconds": m["seconds"]})
        if checkpoint:
            checkpoint.unlink(missing_ok=True)
        log.info("seed %d: validation log-likelihood %.5f, best epoch %d", seed, m["validation_loglik"], m["best_epoch"])
    return seed_average_table(tables), metrics
