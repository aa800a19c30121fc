"""Block jobs of the grid: one job trains (or attributes) every cell of a dataset x trait
(by default; ``training.block_by`` gives each architecture, ..., each cell a job of its own:
workflow/rules/common.smk. This module trains whatever cells a job lists).

Why blocks: the paper grid is 1,600 cells of ~5 s of work each; as one job per cell it
is 3,200 cluster jobs of mostly start-up (interpreter, torch, data load). One job per
dataset x trait holds all its architecture x L1 x seed cells (80 on the paper grid), so
the paper grid plans 20 training + 20 DeepLIFT jobs (+ 20 + 20 retraining jobs of the
selected model after the selection checkpoint).

Partial reruns. Snakemake deletes every declared output of a job before it reruns it,
and a block job's outputs are all its cells' ``model.pt`` / ``metrics.json``, so adding a
seed (a new cell in every block) reruns each block job. What keeps the rerun partial is
a **kept result** per cell, outside Snakemake's outputs: ``<cell>/kept/<kind>/`` (train,
attribute) holds hard links to the finished cell's files (no extra disk) and ``key.json``, the digest of
everything the result depends on: the cell's settings fingerprint (the checkpoint's),
the data's content (store bytes, split rows, targets, covariates) and the source of the
code that computed it. A rerun restores a cell whose kept key matches (the same bytes:
its model file is unchanged, by hash) and computes only the others; any other change
(settings, data, code) makes the key differ and the cell is recomputed. The restored
files get a fresh mtime, so Snakemake does not see them as older than their inputs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_json

log = logging.getLogger(__name__)

KEPT_DIR = "kept"
_CHUNK = 1 << 24


@dataclass(frozen=True)
class CellFiles:
    """A cell's outputs (what downstream rules read) and its kept directory: one per kind
    of job (``train``, ``attribute``), each with its own key."""

    outputs: dict[str, Path]  # name -> path, e.g. {"model": .../model.pt, "metrics": .../metrics.json}
    kind: str = "train"

    @property
    def kept(self) -> Path:
        return next(iter(self.outputs.values())).parent / KEPT_DIR / self.kind


def file_digest(path: str | Path) -> str:
    """BLAKE2b of a file's bytes, streamed (a UK Biobank store is 35 GB: ~1 min, once per job)."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def data_digest(data) -> str:
    """Digest of the content a model is trained on: the genotype store's bytes and means,
    and each split's rows, targets and covariates (not file times: a rerun upstream job
    that writes the same bytes keeps the kept results)."""
    h = hashlib.blake2b(digest_size=20)
    h.update(file_digest(data.store.path).encode())
    h.update(np.ascontiguousarray(data.store.mean).tobytes())
    for name in sorted(data.splits):
        part = data.splits[name]
        for array in (part.rows, part.y, part.covariates):
            h.update(np.ascontiguousarray(array).tobytes())
    h.update(json.dumps([data.kind, list(data.covariate_names), data.y_mean, data.y_sd]).encode())
    return h.hexdigest()


def code_digest(*modules) -> str:
    """Digest of the source files of the modules that compute a result: editing them
    invalidates every kept result (Snakemake's code trigger sees only the rule's script)."""
    h = hashlib.blake2b(digest_size=20)
    for module in modules:
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()


def key_of(*parts) -> str:
    return hashlib.blake2b(json.dumps(parts, sort_keys=True, default=str).encode(), digest_size=20).hexdigest()


def restore(cell: CellFiles, key: str) -> bool:
    """Put the kept result back in place if it was computed for ``key``; False otherwise."""
    key_file = cell.kept / "key.json"
    try:
        if json.loads(key_file.read_text()).get("key") != key:
            return False
    except (OSError, ValueError):
        return False
    kept = {name: cell.kept / path.name for name, path in cell.outputs.items()}
    if not all(p.exists() for p in kept.values()):
        return False
    now = time.time()
    for name, path in cell.outputs.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        _link_or_copy(kept[name], path)
        os.utime(path, (now, now))
    return True


def keep(cell: CellFiles, key: str) -> None:
    """Record the finished outputs as the cell's kept result (after they were written)."""
    cell.kept.mkdir(parents=True, exist_ok=True)
    (cell.kept / "key.json").unlink(missing_ok=True)  # never a key beside half-linked files
    for path in cell.outputs.values():
        _link_or_copy(path, cell.kept / path.name)
    write_json(cell.kept / "key.json", {"key": key})  # last: a key means the files are complete


def _link_or_copy(src: Path, dst: Path) -> None:
    """Hard link ``src`` to ``dst`` (replacing it atomically); copy where links fail."""
    tmp = dst.with_name(f".{dst.name}.link.tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:  # file systems without hard links, or across devices
        import shutil

        shutil.copyfile(src, tmp)
    os.replace(tmp, dst)


def train_block(data, cells: list[tuple], device=None, stop_after_epochs: int | None = None,
                resident: str = "auto") -> dict:
    """Train a block's cells: ``cells`` = [(TrainSettings, CellFiles with "model" and
    "metrics", checkpoint path)]. Cells with a matching kept result are restored, the rest
    trained together (``train.train_models``); each finished cell's model.pt and
    metrics.json are written at once, kept, and its checkpoint removed. Returns which cells
    were restored and which trained."""
    from . import data as data_module, device_decode, genostore, model as model_module, train
    from .atomic import write_json as write

    device = torch_device(device) if device is not None else train.pick_device()
    digest = data_digest(data)
    code = code_digest(train, model_module, data_module, genostore, device_decode)
    keys = [key_of("train", s.fingerprint(data), digest, code) for s, _, _ in cells]
    todo = []
    restored = []
    for (settings, files, checkpoint), key in zip(cells, keys):
        if restore(files, key):
            restored.append(files)
            log.info("%s: kept result restored (same settings, data and code), not retrained",
                     files.outputs["model"].parent)
        else:
            todo.append((settings, files, checkpoint, key))
    if not todo:
        return {"restored": len(restored), "trained": 0}
    reference = train.training_reference(data, device)  # decoded once for every cell of the block
    log.info("training %d cells in one pass per epoch (%d kept)", len(todo), len(restored))

    def finished(i, model, metrics):
        settings, files, checkpoint, key = todo[i]
        train.save_model(files.outputs["model"], model, data, settings, metrics, reference=reference)
        write(files.outputs["metrics"], metrics)
        keep(files, key)
        if checkpoint:
            Path(checkpoint).unlink(missing_ok=True)  # the finished model supersedes it
        log.info("%s: validation log-likelihood %.5f (best epoch %d of %d)", files.outputs["model"].parent,
                 metrics["validation_loglik"], metrics["best_epoch"], metrics["epochs_run"])
        if metrics.get("resumed_from_epoch") is not None:
            log.info("%s: resumed from epoch %d", files.outputs["model"].parent, metrics["resumed_from_epoch"])

    train.train_models(data, [t[0] for t in todo], [t[2] for t in todo], device, stop_after_epochs,
                       on_finished=finished, resident=resident)
    return {"restored": len(restored), "trained": len(todo)}


def attribute_block(data, cells: list[tuple], bim, settings, chunk_size: int, device=None,
                    split: str = "validation") -> dict:
    """Attribution scores of a block's cells in one pass over ``split``: ``cells`` =
    [(model path, CellFiles with "scores" and "summary", seed)]. Cells whose kept result
    matches (same model bytes, attribution settings, chunk size, data and code) are
    restored; the others are loaded and attributed together (each chunk decoded once)."""
    from . import attribution, data as data_module, device_decode, genostore, model as model_module, train
    from .atomic import write_json as write, write_tsv

    device = torch_device(device) if device is not None else train.pick_device()
    digest = data_digest(data)
    code = code_digest(attribution, model_module, data_module, genostore, device_decode)
    # the chunk the pass will use (on a GPU it follows free memory); the seeded draws depend on it
    chunk = device_decode.attribution_chunk_size(chunk_size, data.n_snps, device,
                                                 n_samples=len(data.splits[split].rows))
    todo = []
    for model_path, files, seed in cells:
        key = key_of("attribute", file_digest(model_path), settings.describe(), chunk, split, seed, digest, code)
        if restore(files, key):
            log.info("%s: kept scores restored (same model, settings, data and code)", files.outputs["scores"].parent)
        else:
            todo.append((model_path, files, seed, key))
    if not todo:
        return {"restored": len(cells), "attributed": 0}
    loaded = [train.load_model(path, device) for path, _, _, _ in todo]
    log.info("attributing %d models in one pass over the %s samples (%d kept)", len(todo), split,
             len(cells) - len(todo))
    start = time.perf_counter()
    results = attribution.deeplift_scores_many(
        [model for model, _ in loaded], data, [payload["reference"] for _, payload in loaded], split=split,
        chunk_size=chunk_size, device=device, settings=settings, seeds=[seed for _, _, seed, _ in todo])
    seconds = time.perf_counter() - start
    for (model_path, files, seed, key), (_, payload), result in zip(todo, loaded, results):
        write_tsv(files.outputs["scores"], attribution.score_table(bim, result))
        write(files.outputs["summary"], {
            "n_samples": result.n_samples,
            "max_convergence_delta": result.max_convergence_delta,
            # which scores these are: method, its settings, the score definition, the scaling
            "attribution": settings.describe(),
            "input_scaling": payload["input_scaling"],
            "seconds": seconds / len(todo),  # this cell's share of the block's pass
            "block_seconds": seconds,
            "cells_in_block": len(todo),
            **train.device_info(device),
        })
        keep(files, key)
        log.info("%s: %s on %d samples, max convergence delta %s", files.outputs["scores"].parent, settings.label,
                 result.n_samples,
                 "n/a" if result.max_convergence_delta is None else f"{result.max_convergence_delta:.2e}")
    return {"restored": len(cells) - len(todo), "attributed": len(todo)}


def torch_device(device):
    import torch

    return torch.device(device)
