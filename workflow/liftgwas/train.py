"""Training one grid point (trait x architecture x L1 x seed), resumable and reproducible.

* Adam on the mean data loss of a mini-batch plus the L1 penalty on the first-layer SNP
  weights (scaled as ``l1_scaling`` says); BCE-with-logits for binary traits, MSE on the
  standardised trait for quantitative ones (the Gaussian log-likelihood up to constants).
* Early stopping on the early-stop split's data loss, with ``patience`` epochs; the
  weights of the best epoch are restored.
* Every epoch an atomic checkpoint holds everything needed to continue exactly: weights,
  optimizer state, epoch, early-stopping state, the best weights and the settings. The
  mini-batch order of epoch e is drawn from a generator seeded by (seed, e), so a resumed
  run sees the same batches as an uninterrupted one and ends bit-identical on CPU.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .atomic import atomic_path
from .data import TrainingData
from .model import GenotypeModel

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainSettings:
    arch: str
    l1: float
    l1_scaling: str
    seed: int
    batch_size: int
    learning_rate: float
    max_epochs: int
    patience: int

    def fingerprint(self, data: TrainingData) -> str:
        key = json.dumps(
            {
                **asdict(self),
                "n_snps": data.n_snps,
                "kind": data.kind,
                "covariates": data.covariate_names,
                "rows": {k: hashlib.sha1(v.rows.tobytes()).hexdigest() for k, v in data.splits.items()},
            },
            sort_keys=True,
        )
        return hashlib.sha1(key.encode()).hexdigest()


def pick_device() -> torch.device:
    """CUDA when the job has a GPU (SLURM sets CUDA_VISIBLE_DEVICES), CPU otherwise."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def device_info(device: torch.device) -> dict:
    info = {
        "device": device.type,
        "torch_version": torch.__version__,
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "host": platform.node(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        info["gpu_name"] = torch.cuda.get_device_name(device)
    return info


def data_loss(model: GenotypeModel, kind: str, x, c, y) -> torch.Tensor:
    out = model(x, c)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out, y)
    return F.mse_loss(out, y)


@torch.no_grad()
def predict(model: GenotypeModel, data: TrainingData, split: str, batch_size: int, device) -> np.ndarray:
    model.eval()
    outs = [model(x, c).float().cpu().numpy() for x, c, _ in data.batches(split, batch_size, device=device)]
    return np.concatenate(outs) if outs else np.zeros(0, dtype=np.float32)


def evaluate(model: GenotypeModel, data: TrainingData, split: str, batch_size: int, device) -> dict:
    """Mean per-sample log-likelihood (and AUC or R²) of one split, in the trait's own units."""
    out = predict(model, data, split, batch_size, device).astype(np.float64)
    y = data.splits[split].y.astype(np.float64)
    n = len(y)
    if n == 0:
        return {"n": 0, "loglik": float("nan")}
    if data.kind == "binary":
        # log σ(z) for cases, log σ(-z) for controls, computed stably
        loglik = float(np.mean(-np.logaddexp(0.0, np.where(y == 1, -out, out))))
        return {"n": n, "loglik": loglik, "loss": -loglik, "auc": _auc(y, out), "case_fraction": float(y.mean())}
    mse_std = float(np.mean((out - y) ** 2))
    sigma2 = mse_std * data.y_sd**2  # maximum-likelihood residual variance, trait units
    loglik = -0.5 * (math.log(2 * math.pi * max(sigma2, 1e-300)) + 1.0)
    r2 = 1.0 - mse_std / max(float(np.var(y)), 1e-300)
    return {"n": n, "loglik": loglik, "loss": mse_std, "r2": r2}


def _auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    from scipy.stats import rankdata

    n_pos = int((y == 1).sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y == 1].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=g).numpy()


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def train_model(
    data: TrainingData,
    settings: TrainSettings,
    checkpoint_path: str | Path | None = None,
    device: torch.device | None = None,
    stop_after_epochs: int | None = None,
) -> tuple[GenotypeModel, dict]:
    """Train (or resume) one model; returns the best-epoch model and its metrics.

    ``stop_after_epochs`` ends the call early after that many epochs *of this call*, as a
    kill would (used by the resume tests); the checkpoint is left in place.
    """
    device = device or pick_device()
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    fingerprint = settings.fingerprint(data)
    n_train = len(data.splits["train"].rows)
    torch.manual_seed(settings.seed)
    model = GenotypeModel(data.n_snps, len(data.covariate_names), settings.arch).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    state = {"epoch": 0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0, "best_state": None, "history": []}
    resumed_from = None
    if checkpoint_path and checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            state = saved["state"]
            resumed_from = state["epoch"]
            log.info("resuming from checkpoint %s at epoch %d", checkpoint_path, resumed_from)
        else:
            log.info("ignoring checkpoint %s: it was written for other settings or data", checkpoint_path)

    start_time = time.perf_counter()
    epochs_this_call = 0
    finished = state["bad_epochs"] >= settings.patience or state["epoch"] >= settings.max_epochs
    while not finished:
        epoch = state["epoch"]
        model.train()
        order = _epoch_order(settings.seed, epoch, n_train)
        total, batches = 0.0, 0
        for x, c, y in data.batches("train", settings.batch_size, order, device):
            loss = data_loss(model, data.kind, x, c, y)
            if settings.l1 > 0:
                loss = loss + settings.l1 * model.l1_penalty(settings.l1_scaling, n_train)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
            batches += 1
        early = evaluate(model, data, "early_stop", settings.batch_size * 4, device)
        state["epoch"] = epoch + 1
        state["history"].append({"epoch": epoch + 1, "train_objective": total / max(batches, 1), "early_stop_loss": early["loss"]})
        if early["loss"] < state["best_loss"]:
            state.update(best_loss=early["loss"], best_epoch=epoch + 1, bad_epochs=0)
            state["best_state"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        else:
            state["bad_epochs"] += 1
        log.info(
            "epoch %d: objective %.5f, early-stop loss %.5f (best %.5f at epoch %d)",
            epoch + 1, total / max(batches, 1), early["loss"], state["best_loss"], state["best_epoch"],
        )
        finished = state["bad_epochs"] >= settings.patience or state["epoch"] >= settings.max_epochs
        if checkpoint_path:
            _save_checkpoint(
                checkpoint_path,
                {"fingerprint": fingerprint, "model": model.state_dict(), "optimizer": optimizer.state_dict(), "state": state},
            )
        epochs_this_call += 1
        if stop_after_epochs is not None and epochs_this_call >= stop_after_epochs and not finished:
            raise TrainingInterrupted(state["epoch"])
    seconds = time.perf_counter() - start_time

    model.load_state_dict({k: v.to(device) for k, v in state["best_state"].items()})
    metrics = {
        "settings": asdict(settings),
        "kind": data.kind,
        "n_snps": data.n_snps,
        "covariates": data.covariate_names,
        "best_epoch": state["best_epoch"],
        "epochs_run": state["epoch"],
        "resumed_from_epoch": resumed_from,
        "seconds": seconds,
        "seconds_per_epoch": seconds / max(epochs_this_call, 1),
        "history": state["history"],
        **device_info(device),
    }
    for split in ("train", "early_stop", "validation"):
        for key, value in evaluate(model, data, split, settings.batch_size * 4, device).items():
            metrics[f"{split}_{key}"] = value
    return model, metrics


class TrainingInterrupted(RuntimeError):
    def __init__(self, epoch: int):
        super().__init__(f"training stopped after epoch {epoch} (checkpoint kept)")
        self.epoch = epoch


def save_model(path: str | Path, model: GenotypeModel, data: TrainingData, settings: TrainSettings) -> None:
    """Everything DeepLIFT needs: weights, architecture, input centring and the reference."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": settings.arch,
        "n_snps": data.n_snps,
        "covariate_names": data.covariate_names,
        "kind": data.kind,
        "settings": asdict(settings),
        # DeepLIFT reference: the mean genotype of the training samples, in the centred
        # input space the network sees (inputs are dosage minus the all-sample mean)
        "reference": torch.from_numpy(data.mean_genotype("train") - data.store.mean),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[GenotypeModel, dict]:
    payload = torch.load(path, map_location=device, weights_only=False)
    model = GenotypeModel(payload["n_snps"], len(payload["covariate_names"]), payload["arch"])
    model.load_state_dict(payload["state_dict"])
    return model.to(device).eval(), payload
