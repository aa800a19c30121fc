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
* ``input_scaling`` sets the SNP network's fixed input multiplier (model.py): 1, or
  1 / training SD per SNP.
* ``class_balance`` (binary traits): ``weighted`` gives cases the weight
  n_controls / n_cases in the training loss; ``oversample`` draws extra cases (with
  replacement, from the (seed, epoch) generator) up to ``oversample_ratio`` cases per
  control. Either way the network then predicts the odds of the balanced training
  distribution, so every log-likelihood (early stopping, validation, model selection) is
  computed on the true labels with the logit shifted back by the prior correction
  logit(case fraction) - logit(effective training case fraction): the figures stay those
  of the true class balance, comparable across settings.
* ``warm_start: covariates`` starts the covariate term (and the output bias) from the
  covariate-only fit (logistic or linear regression of the trait on the covariates,
  training samples), so the first epochs need not learn population structure.
* ``pairwise: fm`` adds the factorization-machine term of model.py (rank ``fm_rank``), its
  V under the same L1 as the first layer; the two keys enter the fingerprint only when
  pairwise is not none, so existing checkpoints still resume.
* ``lr_schedule: plateau`` divides the learning rate by 3 when the early-stop loss has
  not improved for 2 epochs (torch ReduceLROnPlateau; its state is checkpointed).
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
from torch import nn

from .atomic import write_torch
from .cellpool import CellWorkers, cell_workers
from .data import TrainingData, oversampled_order
from .device_decode import autocast, check_precision, training_reserve_bytes
from .model import GenotypeModel, parse_arch
from .progress import Progress

log = logging.getLogger(__name__)

CLASS_BALANCES = ("none", "weighted", "oversample")
LR_SCHEDULES = ("constant", "plateau")
WARM_STARTS = ("none", "covariates")


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
    input_scaling: str = "centred"
    class_balance: str = "none"
    oversample_ratio: float = 1.0
    lr_schedule: str = "constant"
    warm_start: str = "none"
    pairwise: str = "none"
    fm_rank: int = 8
    # matmul precision of the forward pass (device_decode.autocast); fp32 keeps CPU runs bit-identical
    precision: str = "fp32"

    def validate(self) -> None:
        """Errors name the config key of the bad value."""
        from .model import INPUT_SCALINGS, PAIRWISE

        if self.input_scaling not in INPUT_SCALINGS:
            raise ValueError(f"config key model.input_scaling: {self.input_scaling!r} is not one of {list(INPUT_SCALINGS)}")
        if self.class_balance not in CLASS_BALANCES:
            raise ValueError(f"config key training.class_balance: {self.class_balance!r} is not one of {list(CLASS_BALANCES)}")
        if not self.oversample_ratio > 0:
            raise ValueError(f"config key training.oversample_ratio: must be > 0, got {self.oversample_ratio!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"config key training.lr_schedule: {self.lr_schedule!r} is not one of {list(LR_SCHEDULES)}")
        if self.warm_start not in WARM_STARTS:
            raise ValueError(f"config key training.warm_start: {self.warm_start!r} is not one of {list(WARM_STARTS)}")
        if self.pairwise not in PAIRWISE:
            raise ValueError(f"config key model.pairwise: {self.pairwise!r} is not one of {list(PAIRWISE)}")
        if isinstance(self.fm_rank, bool) or not isinstance(self.fm_rank, int) or self.fm_rank < 1:
            raise ValueError(f"config key model.fm_rank: must be an integer >= 1, got {self.fm_rank!r}")
        check_precision(self.precision)

    def fingerprint(self, data: TrainingData) -> str:
        fields = asdict(self)
        if self.pairwise == "none":  # fm_rank is then unused; old checkpoints keep their fingerprint
            fields.pop("pairwise")
            fields.pop("fm_rank")
        if self.precision == "fp32":  # tf32/bf16 change results; fp32 checkpoints keep their fingerprint
            fields.pop("precision")
        key = json.dumps(
            {
                **fields,
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


def data_loss(model: GenotypeModel, kind: str, x, c, y, pos_weight: torch.Tensor | None = None) -> torch.Tensor:
    out = model(x, c)
    if kind == "binary":
        return F.binary_cross_entropy_with_logits(out, y, pos_weight=pos_weight)
    return F.mse_loss(out, y)


def _logit(p: float) -> float:
    return math.log(p / (1.0 - p))


def class_balance_plan(y: np.ndarray, method: str, oversample_ratio: float) -> dict:
    """pos_weight, the effective training case fraction and the logit offset that maps
    the network's balanced-training odds back to the true case fraction."""
    plan = {"pos_weight": None, "effective_case_fraction": None, "logit_offset": 0.0}
    if method == "none":
        return plan
    n_cases = int((y == 1).sum())
    n_controls = len(y) - n_cases
    if n_cases == 0 or n_controls == 0:
        raise ValueError("training.class_balance needs cases and controls among the training samples")
    if method == "weighted":
        plan["pos_weight"] = n_controls / n_cases
        effective = 0.5  # total case weight n_cases * n_controls / n_cases = total control weight
    else:
        effective_cases = max(int(round(oversample_ratio * n_controls)), n_cases)
        effective = effective_cases / (effective_cases + n_controls)
    plan["effective_case_fraction"] = effective
    plan["logit_offset"] = _logit(n_cases / len(y)) - _logit(effective)
    return plan


def covariate_fit(data: TrainingData) -> tuple[np.ndarray, float]:
    """Covariate-only model of the trait on the training samples: (coefficients, intercept).

    statsmodels' GLM (binomial, logit link) for binary traits; least squares otherwise.
    """
    train = data.splits["train"]
    c = train.covariates.astype(np.float64)
    design = np.column_stack([np.ones(len(c)), c])
    y = train.y.astype(np.float64)
    if data.kind == "binary":
        import statsmodels.api as sm

        params = sm.GLM(y, design, family=sm.families.Binomial()).fit().params
    else:
        params = np.linalg.lstsq(design, y, rcond=None)[0]
    return np.asarray(params[1:]), float(params[0])


@torch.no_grad()
def predict(model: GenotypeModel, data: TrainingData, split: str, batch_size: int, device) -> np.ndarray:
    return predict_many([model], data, split, batch_size, device)[0]


@torch.no_grad()
def predict_many(models: list[GenotypeModel], data: TrainingData, split: str, batch_size: int, device,
                 workers: CellWorkers | None = None) -> list[np.ndarray]:
    """Every model's output on one split, decoding each batch once for all of them
    (the models side by side on ``workers`` when given: cellpool)."""
    for model in models:
        model.eval()
    workers = workers or CellWorkers(1, single_thread=False)
    costs = [model_cost(m) for m in models]
    outs: list[list[np.ndarray]] = [[] for _ in models]
    for x, c, _ in data.batches(split, batch_size, device=device):
        for out, value in zip(outs, workers.map(lambda m: m(x, c).float().cpu().numpy(), models, costs, grad=False)):
            out.append(value)
    return [np.concatenate(o) if o else np.zeros(0, dtype=np.float32) for o in outs]


def model_cost(model: nn.Module) -> int:
    """A model's work per sample, for balancing workers: its parameter count."""
    return sum(p.numel() for p in model.parameters())


def evaluate(
    model: GenotypeModel, data: TrainingData, split: str, batch_size: int, device, logit_offset: float = 0.0
) -> dict:
    """Mean per-sample log-likelihood (and AUC or R²) of one split, in the trait's own units.

    Binary traits: the log-likelihood of the true labels, every sample weighted 1, with
    ``logit_offset`` (the prior correction of class-balanced training) added to the logit.
    ``case_recall`` is the fraction of cases the uncorrected logit calls cases (> 0): the
    minority recall of the classifier the (balanced) training produced.
    """
    return evaluate_many([model], data, split, batch_size, device, [logit_offset])[0]


def evaluate_many(models, data: TrainingData, split: str, batch_size: int, device, logit_offsets,
                  workers: CellWorkers | None = None) -> list[dict]:
    """``evaluate`` for several models on one pass over the split's batches."""
    outs = predict_many(models, data, split, batch_size, device, workers)
    return [_score(out.astype(np.float64), data, split, offset) for out, offset in zip(outs, logit_offsets)]


def _score(out: np.ndarray, data: TrainingData, split: str, logit_offset: float) -> dict:
    y = data.splits[split].y.astype(np.float64)
    n = len(y)
    if n == 0:
        return {"n": 0, "loglik": float("nan")}
    if data.kind == "binary":
        z = out + logit_offset
        # log σ(z) for cases, log σ(-z) for controls, computed stably
        loglik = float(np.mean(-np.logaddexp(0.0, np.where(y == 1, -z, z))))
        case_recall = float((out[y == 1] > 0).mean()) if (y == 1).any() else float("nan")
        return {"n": n, "loglik": loglik, "loss": -loglik, "auc": _auc(y, out), "case_fraction": float(y.mean()),
                "case_recall": case_recall}
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


def _epoch_order(seed: int, epoch: int, n: int, y: np.ndarray | None = None, ratio: float | None = None) -> np.ndarray:
    g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    if ratio is not None:
        return oversampled_order(y, ratio, g)
    return torch.randperm(n, generator=g).numpy()


def train_model(
    data: TrainingData,
    settings: TrainSettings,
    checkpoint_path: str | Path | None = None,
    device: torch.device | None = None,
    stop_after_epochs: int | None = None,
    resident: str = "auto",
) -> tuple[GenotypeModel, dict]:
    """Train (or resume) one model; returns the best-epoch model and its metrics.

    ``stop_after_epochs`` ends the call early after that many epochs *of this call*, as a
    kill would (used by the resume tests); the checkpoint is left in place. One cell is a
    block of one: the same loop as ``train_models``, so a cell trained alone and the same
    cell trained in a block do the same arithmetic (bit-identical on CPU, tested).
    """
    return train_models(data, [settings], [checkpoint_path], device, stop_after_epochs, resident=resident)[0]


@dataclass
class _Cell:
    """One grid cell of a block: its own model, optimizer, schedule, early-stopping state
    and checkpoint; nothing is shared with the other cells but the decoded batches."""

    index: int
    settings: TrainSettings
    model: GenotypeModel
    optimizer: torch.optim.Optimizer
    scheduler: object
    state: dict
    fingerprint: str
    checkpoint_path: Path | None
    balance: dict
    pos_weight: torch.Tensor | None
    ratio: float | None
    resumed_from: int | None = None
    epochs_this_call: int = 0
    seconds: float = 0.0  # time in this cell's own steps and evaluations

    @property
    def finished(self) -> bool:
        return self.state["bad_epochs"] >= self.settings.patience or self.state["epoch"] >= self.settings.max_epochs

    @property
    def label(self) -> str:
        s = self.settings
        return f"{s.arch}/l1_{s.l1:g}/seed_{s.seed}"


def _new_cell(index: int, data: TrainingData, settings: TrainSettings, checkpoint_path, device) -> _Cell:
    settings.validate()
    checkpoint_path = Path(checkpoint_path) if checkpoint_path else None
    fingerprint = settings.fingerprint(data)
    y_train = data.splits["train"].y
    balance = class_balance_plan(y_train, settings.class_balance if data.kind == "binary" else "none", settings.oversample_ratio)
    pos_weight = None if balance["pos_weight"] is None else torch.tensor(balance["pos_weight"], device=device)
    ratio = settings.oversample_ratio if data.kind == "binary" and settings.class_balance == "oversample" else None
    torch.manual_seed(settings.seed)
    model = GenotypeModel(data.n_snps, len(data.covariate_names), settings.arch, settings.pairwise, settings.fm_rank)
    # a fixed buffer, not a parameter: set before training, saved with the weights
    model.snps.input_scale.copy_(torch.from_numpy(data.input_scale(settings.input_scaling)))
    if settings.warm_start == "covariates":
        coef, intercept = covariate_fit(data)
        with torch.no_grad():
            if model.covariates is not None:
                model.covariates.weight.copy_(torch.from_numpy(coef).float().unsqueeze(0))
            model.snps.out.bias += intercept
    model = model.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = (
        torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=1 / 3, patience=2)
        if settings.lr_schedule == "plateau" else None
    )
    state = {"epoch": 0, "best_loss": math.inf, "best_epoch": 0, "bad_epochs": 0, "best_state": None, "history": []}
    cell = _Cell(index, settings, model, optimizer, scheduler, state, fingerprint, checkpoint_path, balance,
                 pos_weight, ratio)
    if checkpoint_path and checkpoint_path.exists():
        saved = torch.load(checkpoint_path, map_location=device, weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if scheduler is not None:
                scheduler.load_state_dict(saved["scheduler"])
            cell.state = saved["state"]
            cell.resumed_from = cell.state["epoch"]
            log.info("resuming from checkpoint %s at epoch %d", checkpoint_path, cell.resumed_from)
        else:
            log.info("ignoring checkpoint %s: it was written for other settings or data", checkpoint_path)
    return cell


def _stream_key(cell: _Cell) -> tuple:
    # cells whose epoch order is the same array read the same decoded batches: the order
    # depends on the seed and the epoch (and, when oversampling, on the ratio)
    return (cell.settings.seed, cell.state["epoch"], cell.ratio, cell.settings.batch_size)


def train_models(
    data: TrainingData,
    settings: list[TrainSettings],
    checkpoint_paths: list | None = None,
    device: torch.device | None = None,
    stop_after_epochs: int | None = None,
    on_finished=None,
    resident: str = "auto",
) -> list[tuple[GenotypeModel, dict]] | None:
    """Train (or resume) a block of grid cells on the same data, sharing decoded batches.

    Each epoch, the active cells are grouped by their epoch order (seed and epoch, so
    every cell sees exactly the batches it sees when trained alone); each group's
    mini-batches are decoded once and every cell of the group takes its own Adam step on
    them, in turn (on CPU one wide fused matrix multiply measured slower than the cells'
    own ones, so the cells keep their own modules). The early-stop pass is decoded once
    for all cells. Every cell keeps its own optimizer, schedule, early stopping (a cell
    whose patience ran out stops updating while the others go on) and checkpoint.

    ``on_finished(i, model, metrics)`` is called as soon as cell i is done (its best
    weights restored and evaluated), so a block job writes that cell's outputs and frees
    its memory at once; without it the (model, metrics) pairs are returned in order.
    ``stop_after_epochs``: as in ``train_model``, counted in epochs of the cells of this call.
    ``resident`` (``training.resident``): whether the packed matrix is held on the device
    (data.make_resident, once for all cells; on the CPU ``auto`` streams). Each cell's
    forward pass and loss run under its ``precision`` (device_decode.autocast).

    On the CPU the cells of a group take their steps side by side, one intra-op thread
    each, as many at a time as the job has threads (cellpool): the same arithmetic as one
    cell alone on one thread, whatever the job's core count.
    """
    device = torch.device(device) if device is not None else pick_device()
    with cell_workers(device, len(settings)) as workers:
        return _train_models(data, settings, checkpoint_paths, device, stop_after_epochs, on_finished, resident,
                             workers)


def _train_step(cell: _Cell, kind: str, n_train: int, x, c, y) -> float:
    """One Adam step of one cell on one mini-batch; its loss (data + L1)."""
    t0 = time.perf_counter()
    with autocast(x.device, cell.settings.precision):  # backward stays outside
        loss = data_loss(cell.model, kind, x, c, y, cell.pos_weight)
        if cell.settings.l1 > 0:
            loss = loss + cell.settings.l1 * cell.model.l1_penalty(cell.settings.l1_scaling, n_train)
    cell.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    cell.optimizer.step()
    cell.seconds += time.perf_counter() - t0
    return float(loss.detach())


def _train_models(data, settings, checkpoint_paths, device, stop_after_epochs, on_finished, resident,
                  workers: CellWorkers):
    checkpoint_paths = list(checkpoint_paths) if checkpoint_paths is not None else [None] * len(settings)
    if len(checkpoint_paths) != len(settings):
        raise ValueError("one checkpoint path (or None) per cell")
    n_train = len(data.splits["train"].rows)
    y_train = data.splits["train"].y
    cells = [_new_cell(i, data, s, checkpoint_paths[i], device) for i, s in enumerate(settings)]
    if cells:
        data.make_resident(device, resident, reserve_bytes=training_reserve_bytes(
            data.n_snps, max(parse_arch(s.arch)[0] for s in settings), max(s.batch_size for s in settings),
            n_cells=len(cells)))
    results: list = [None] * len(cells)
    start_time = time.perf_counter()

    def finish(done: list[_Cell]) -> None:
        for cell in done:
            cell.model.load_state_dict({k: v.to(device) for k, v in cell.state["best_state"].items()})
        evaluations = {
            split: evaluate_many([c.model for c in done], data, split, max(c.settings.batch_size for c in done) * 4,
                                 device, [c.balance["logit_offset"] for c in done], workers)
            for split in ("train", "early_stop", "validation")
        }
        for j, cell in enumerate(done):
            metrics = _metrics(cell, data, device, len(cells), time.perf_counter() - start_time)
            for split, per_cell in evaluations.items():
                for key, value in per_cell[j].items():
                    metrics[f"{split}_{key}"] = value
            if on_finished is None:
                results[cell.index] = (cell.model, metrics)
            else:
                on_finished(cell.index, cell.model, metrics)
                results[cell.index] = True
                cell.model = cell.optimizer = cell.scheduler = None  # free the cell's memory
                cell.state["best_state"] = None

    already = [c for c in cells if c.finished]
    if already:
        finish(already)
    active = [c for c in cells if not c.finished]
    while active:
        streams: dict[tuple, list[_Cell]] = {}
        for cell in active:
            streams.setdefault(_stream_key(cell), []).append(cell)
        for (seed, epoch, ratio, batch_size), group in streams.items():
            for cell in group:
                cell.model.train()
            order = _epoch_order(seed, epoch, n_train, y_train, ratio)
            totals, batches = [0.0] * len(group), 0
            if len(group) > 1:
                log.info("epoch %d of seed %d: %d cells on one stream of batches", epoch + 1, seed, len(group))
            progress = Progress(f"training epoch {epoch + 1}", n_train)  # a line every LIFTGWAS_PROGRESS_SECONDS
            costs = [model_cost(cell.model) for cell in group]
            for x, c, y in data.batches("train", batch_size, order, device):
                losses = workers.map(lambda cell: _train_step(cell, data.kind, n_train, x, c, y), group, costs)
                for j, value in enumerate(losses):
                    totals[j] += value
                progress.update(len(y))
                batches += 1
            for j, cell in enumerate(group):
                cell.state["_objective"] = totals[j] / max(batches, 1)
        early = evaluate_many([c.model for c in active], data, "early_stop",
                              max(c.settings.batch_size for c in active) * 4, device,
                              [c.balance["logit_offset"] for c in active], workers)
        done = []
        for cell, result in zip(active, early):
            state = cell.state
            objective = state.pop("_objective")
            if cell.scheduler is not None:
                cell.scheduler.step(result["loss"])
            epoch = state["epoch"]
            state["epoch"] = epoch + 1
            state["history"].append({"epoch": epoch + 1, "train_objective": objective, "early_stop_loss": result["loss"]})
            if result["loss"] < state["best_loss"]:
                state.update(best_loss=result["loss"], best_epoch=epoch + 1, bad_epochs=0)
                state["best_state"] = copy.deepcopy({k: v.detach().cpu() for k, v in cell.model.state_dict().items()})
            else:
                state["bad_epochs"] += 1
            log.info(
                "%sepoch %d: objective %.5f, early-stop loss %.5f (best %.5f at epoch %d)",
                f"{cell.label} " if len(cells) > 1 else "", epoch + 1, objective, result["loss"],
                state["best_loss"], state["best_epoch"],
            )
            if cell.checkpoint_path:
                write_torch(
                    cell.checkpoint_path,
                    {"fingerprint": cell.fingerprint, "model": cell.model.state_dict(),
                     "optimizer": cell.optimizer.state_dict(),
                     "scheduler": cell.scheduler.state_dict() if cell.scheduler is not None else None,
                     "state": state},
                )
            cell.epochs_this_call += 1
            if cell.finished:
                if len(cells) > 1:
                    log.info("%s stopped after epoch %d (best epoch %d)", cell.label, state["epoch"], state["best_epoch"])
                done.append(cell)
        if done:
            finish(done)
        active = [c for c in active if not c.finished]
        if stop_after_epochs is not None and active and any(c.epochs_this_call >= stop_after_epochs for c in active):
            raise TrainingInterrupted(max(c.state["epoch"] for c in active))
    return None if on_finished is not None else [r for r in results]


def _metrics(cell: _Cell, data: TrainingData, device, n_cells: int, block_seconds: float) -> dict:
    s = cell.settings
    return {
        "settings": asdict(s),
        "kind": data.kind,
        "n_snps": data.n_snps,
        "covariates": data.covariate_names,
        "best_epoch": cell.state["best_epoch"],
        "epochs_run": cell.state["epoch"],
        "resumed_from_epoch": cell.resumed_from,
        # the cell's own steps and evaluations (in a block the decoding is shared)
        "seconds": cell.seconds,
        "seconds_per_epoch": cell.seconds / max(cell.epochs_this_call, 1),
        "cells_in_block": n_cells,
        "block_seconds": block_seconds,
        "history": cell.state["history"],
        "class_balance": {**cell.balance, "method": s.class_balance if data.kind == "binary" else "none"},
        "final_learning_rate": cell.optimizer.param_groups[0]["lr"],
        **device_info(device),
    }


class TrainingInterrupted(RuntimeError):
    def __init__(self, epoch: int):
        super().__init__(f"training stopped after epoch {epoch} (checkpoint kept)")
        self.epoch = epoch


def save_model(
    path: str | Path, model: GenotypeModel, data: TrainingData, settings: TrainSettings, metrics: dict | None = None,
    reference: torch.Tensor | None = None,
) -> None:
    """Everything DeepLIFT needs: weights (with the input-scaling buffer), architecture,
    input centring, the input scaling and the reference. ``reference``: ``training_reference(data)``
    computed once by a block job for all its cells (it decodes the whole training split)."""
    payload = {
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "arch": settings.arch,
        "n_snps": data.n_snps,
        "covariate_names": data.covariate_names,
        "kind": data.kind,
        "settings": asdict(settings),
        "input_scaling": settings.input_scaling,
        "pairwise": settings.pairwise,
        "fm_rank": settings.fm_rank,
        "logit_offset": (metrics or {}).get("class_balance", {}).get("logit_offset", 0.0),
        "reference": training_reference(data) if reference is None else reference,
    }
    write_torch(path, payload)


def training_reference(data: TrainingData, device: torch.device | str = "cpu") -> torch.Tensor:
    """The DeepLIFT reference: the mean genotype of the training samples, in the centred
    input space the network sees (inputs are dosage minus the all-sample mean); the pass
    over the training samples is decoded on ``device`` (a GPU job: not on the host, which
    at UK Biobank size would be ~4 min of CPU decoding per job). Returned on the CPU."""
    return torch.from_numpy(data.mean_genotype("train", device=device) - data.store.mean)


def load_model(path: str | Path, device: torch.device | str = "cpu") -> tuple[GenotypeModel, dict]:
    payload = torch.load(path, map_location=device, weights_only=False)
    # model files written before the pairwise term existed have none
    payload.setdefault("pairwise", "none")
    payload.setdefault("fm_rank", 8)
    model = GenotypeModel(payload["n_snps"], len(payload["covariate_names"]), payload["arch"],
                          payload["pairwise"], payload["fm_rank"])
    state = dict(payload["state_dict"])
    # model files written before input scaling existed were centred
    state.setdefault("snps.input_scale", torch.ones(payload["n_snps"]))
    payload.setdefault("input_scaling", "centred")
    model.load_state_dict(state)
    return model.to(device).eval(), payload
