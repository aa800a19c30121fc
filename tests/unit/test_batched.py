"""Block jobs of the grid: a cell trained in a block equals the cell trained alone, each
cell stops on its own, a killed block resumes to the uninterrupted result, and a rerun
with an added seed restores the existing cells (same bytes) and trains only the new one."""

import hashlib
import json

import numpy as np
import pytest
import torch

from liftgwas.attribution import deeplift_scores, deeplift_scores_many
from liftgwas.data import load_training_data
from liftgwas.gridblock import CellFiles, attribute_block, train_block
from liftgwas.attribution import AttributionSettings
from liftgwas.plink import read_bim
from liftgwas.train import TrainingInterrupted, TrainSettings, train_model, train_models

# keys that describe the run (timings, block size), not the result
RUN_KEYS = {"seconds", "seconds_per_epoch", "cells_in_block", "block_seconds", "host", "cpu_threads"}


def settings(**overrides):
    base = dict(arch="16x8", l1=1.0, l1_scaling="sum_over_n_train", seed=3, batch_size=32,
                learning_rate=3e-3, max_epochs=6, patience=6)
    base.update(overrides)
    return TrainSettings(**base)


def load(cohort):
    return load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"],
                              cohort["split"], cohort["kind"], cohort["kind"], True)


def result_part(metrics):
    return {k: v for k, v in metrics.items() if k not in RUN_KEYS}


def assert_same_model(a, b):
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(pa, pb), name


# two architectures x two L1 values x two seeds: two streams of batches, mixed shapes
BLOCK = [settings(arch=arch, l1=l1, seed=seed) for arch in ("16x8", "8x4") for l1 in (0.1, 3.0) for seed in (3, 4)]


def test_a_cell_trained_in_a_block_equals_the_cell_trained_alone(toy_cohort):
    data = load(toy_cohort)
    block = train_models(data, BLOCK)
    for s, (model, metrics) in zip(BLOCK, block):
        alone, alone_metrics = train_model(data, s)
        assert_same_model(model, alone)
        assert result_part(metrics) == result_part(alone_metrics)
        assert metrics["cells_in_block"] == len(BLOCK) and alone_metrics["cells_in_block"] == 1
    # the cells differ from each other (the block did not train one model eight times)
    assert not torch.equal(block[0][0].snps.first.weight, block[1][0].snps.first.weight)


def test_each_cell_stops_on_its_own_and_keeps_its_best_epoch(toy_cohort):
    data = load(toy_cohort)
    # a high learning rate overfits within a few epochs; patience 1 stops that cell early
    early = settings(learning_rate=3e-2, patience=1, max_epochs=20)
    late = settings(arch="8x4", learning_rate=1e-3, patience=20, max_epochs=12)
    (m_early, early_metrics), (m_late, late_metrics) = train_models(data, [early, late])
    assert early_metrics["epochs_run"] < late_metrics["epochs_run"] == 12
    losses = [h["early_stop_loss"] for h in early_metrics["history"]]
    assert early_metrics["best_epoch"] == int(np.argmin(losses)) + 1
    assert early_metrics["epochs_run"] == early_metrics["best_epoch"] + 1  # stopped one epoch after its best
    # the stopped cell took no step while the other went on: it equals the cell alone
    assert_same_model(m_early, train_model(data, early)[0])
    assert_same_model(m_late, train_model(data, late)[0])


def _cells(tmp_path, block):
    cells = []
    for s in block:
        run = tmp_path / f"{s.arch}/l1_{s.l1:g}/seed_{s.seed}"
        cells.append((s, CellFiles({"model": run / "model.pt", "metrics": run / "metrics.json"}),
                      run / "checkpoint.pt"))
    return cells


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_killed_block_resumes_to_the_uninterrupted_result(toy_cohort, tmp_path):
    data = load(toy_cohort)
    # one cell stops (patience 1) before the kill: its outputs are written at once and kept
    block = [settings(learning_rate=3e-2, patience=1, max_epochs=10), settings(seed=4, max_epochs=10, patience=10),
             settings(arch="8x4", max_epochs=10, patience=10)]
    clean = _cells(tmp_path / "clean", block)
    train_block(data, clean, device="cpu")
    killed = _cells(tmp_path / "killed", block)
    with pytest.raises(TrainingInterrupted):
        train_block(data, killed, device="cpu", stop_after_epochs=4)
    first_done, still_running = killed[0][1], killed[1][1]
    assert first_done.outputs["model"].exists() and not killed[0][2].exists()  # finished before the kill
    assert not still_running.outputs["model"].exists() and killed[1][2].exists()
    # what Snakemake does before rerunning the job: delete its declared outputs
    for _, files, _ in killed:
        for path in files.outputs.values():
            path.unlink(missing_ok=True)
    summary = train_block(data, killed, device="cpu")
    assert summary == {"restored": 1, "trained": 2}
    for (_, files_clean, _), (_, files_killed, ckpt) in zip(clean, killed):
        a = torch.load(files_clean.outputs["model"], weights_only=False)["state_dict"]
        b = torch.load(files_killed.outputs["model"], weights_only=False)["state_dict"]
        for name in a:
            assert torch.equal(a[name], b[name]), name
        ma = json.loads(files_clean.outputs["metrics"].read_text())
        mb = json.loads(files_killed.outputs["metrics"].read_text())
        assert ma["history"] == mb["history"] and ma["validation_loglik"] == mb["validation_loglik"]
        assert not ckpt.exists()
    resumed = json.loads(killed[1][1].outputs["metrics"].read_text())
    assert resumed["resumed_from_epoch"] == 4


def test_adding_a_seed_retrains_no_existing_cell(toy_cohort, tmp_path):
    data = load(toy_cohort)
    old = [settings(seed=3), settings(arch="8x4", seed=3)]
    cells = _cells(tmp_path, old)
    assert train_block(data, cells, device="cpu") == {"restored": 0, "trained": 2}
    before = {files.outputs["model"]: _digest(files.outputs["model"]) for _, files, _ in cells}
    before_metrics = {files.outputs["metrics"]: _digest(files.outputs["metrics"]) for _, files, _ in cells}
    # the config gains seed 4: Snakemake deletes the block's outputs and reruns it
    for _, files, _ in cells:
        for path in files.outputs.values():
            path.unlink()
    grown = _cells(tmp_path, old + [settings(seed=4), settings(arch="8x4", seed=4)])
    assert train_block(data, grown, device="cpu") == {"restored": 2, "trained": 2}
    for path, digest in before.items():
        assert _digest(path) == digest, path
    for path, digest in before_metrics.items():
        assert _digest(path) == digest, path
    new_model = grown[2][1].outputs["model"]
    assert new_model.exists()
    # the new cell is the cell trained alone
    assert_same_model(_load(new_model), train_model(data, settings(seed=4))[0])
    # another training setting is another result: nothing is restored
    changed = _cells(tmp_path, [settings(seed=3, patience=5)])
    assert train_block(data, changed, device="cpu") == {"restored": 0, "trained": 1}


def _load(path):
    from liftgwas.train import load_model

    return load_model(path)[0]


def test_batched_attribution_equals_each_model_alone(toy_cohort, tmp_path):
    data = load(toy_cohort)
    block = [settings(max_epochs=3), settings(arch="8x4", seed=4, max_epochs=3)]
    cells = _cells(tmp_path, block)
    train_block(data, cells, device="cpu")
    from liftgwas.train import load_model

    loaded = [load_model(files.outputs["model"]) for _, files, _ in cells]
    for method in ("deeplift", "gradient_shap"):
        attribution = AttributionSettings(method=method, shap_samples=4)
        many = deeplift_scores_many([m for m, _ in loaded], data, [p["reference"] for _, p in loaded],
                                    chunk_size=16, settings=attribution, seeds=[3, 4])
        for (model, payload), seed, result in zip(loaded, (3, 4), many):
            alone = deeplift_scores(model, data, payload["reference"], chunk_size=16, settings=attribution, seed=seed)
            assert np.array_equal(result.score, alone.score)
            assert np.array_equal(result.attribution_per_allele, alone.attribution_per_allele, equal_nan=True)
            assert result.max_convergence_delta == alone.max_convergence_delta
    assert not np.array_equal(many[0].score, many[1].score)

    # the block job's files, and a rerun restores them instead of attributing again
    bim = read_bim(f"{toy_cohort['prefix']}.bim")
    scored = [(files.outputs["model"], CellFiles({"scores": files.outputs["model"].with_name("deeplift.tsv"),
                                                  "summary": files.outputs["model"].with_name("deeplift.json")},
                                        kind="attribute"), s.seed)
              for (s, files, _) in cells]
    deeplift = AttributionSettings()
    assert attribute_block(data, scored, bim, deeplift, 16, "cpu") == {"restored": 0, "attributed": 2}
    first = _digest(scored[0][1].outputs["scores"])
    assert attribute_block(data, scored, bim, deeplift, 16, "cpu") == {"restored": 2, "attributed": 0}
    assert _digest(scored[0][1].outputs["scores"]) == first
    # another chunk size is another key (the seeded draws depend on it): attributed again
    assert attribute_block(data, scored, bim, deeplift, 32, "cpu") == {"restored": 0, "attributed": 2}
    # the training block's kept results are their own (a DeepLIFT key does not replace them)
    assert train_block(data, cells, device="cpu") == {"restored": 2, "trained": 0}


def test_precision_enters_the_fingerprint_only_when_not_fp32_and_bf16_trains_in_a_block(toy_cohort):
    data = load(toy_cohort)
    fp32, bf16 = settings(max_epochs=2), settings(max_epochs=2, precision="bf16")
    assert fp32.fingerprint(data) != bf16.fingerprint(data)
    assert "precision" not in json.dumps(fp32.__dict__) or fp32.fingerprint(data) == settings(max_epochs=2).fingerprint(data)
    with pytest.raises(ValueError, match="training.precision"):
        settings(precision="fp8").validate()
    (m16, _), (m32, _) = train_models(data, [bf16, fp32])
    assert_same_model(m16, train_model(data, bf16)[0])  # bf16 in a block = bf16 alone
    assert_same_model(m32, train_model(data, fp32)[0])
    assert not torch.equal(m16.snps.first.weight, m32.snps.first.weight)


def test_a_blocks_cells_do_not_depend_on_the_jobs_core_count(toy_cohort):
    # on the CPU each cell runs single-threaded, side by side with as many cells as the job
    # has threads (cellpool): 1 worker, 3 workers and 1 cell alone give the same bits
    data = load(toy_cohort)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one_core = train_models(data, BLOCK[:5])
        torch.set_num_threads(3)
        three_cores = train_models(data, BLOCK[:5])
        assert torch.get_num_threads() == 3  # the job's setting is put back after the block
    finally:
        torch.set_num_threads(before)
    for (a, ma), (b, mb) in zip(one_core, three_cores):
        assert_same_model(a, b)
        assert result_part(ma) == result_part(mb)
    assert ma["cpu_threads"] == 1  # what each cell ran on


def test_cell_workers_keep_the_order_spread_the_cells_and_reraise_errors():
    import threading

    from liftgwas.cellpool import CellWorkers, balanced_bins

    assert balanced_bins([5, 1, 1, 3], 2) == [[0], [1, 2, 3]]
    assert balanced_bins([1, 1], 4) == [[0], [1]]  # no empty bins
    with CellWorkers(2, single_thread=True) as workers:
        assert torch.get_num_threads() == 1
        both_running = threading.Barrier(2)

        def cell(i):
            if i < 2:  # the first cell of each bin ([0, 2, 4] and [1, 3, 5]) waits for the other
                both_running.wait(timeout=30)
            return i, threading.current_thread().name

        names = workers.map(cell, list(range(6)))
        assert [i for i, _ in names] == list(range(6))
        assert len({n for _, n in names}) == 2  # two threads, at the same time
        grad = workers.map(lambda _: torch.is_grad_enabled(), [0, 1], grad=False)
        assert grad == [False, False]

        def fail(i):
            if i == 3:
                raise ValueError("cell 3")
            return i

        with pytest.raises(ValueError, match="cell 3"):
            workers.map(fail, list(range(6)))


def test_block_by_takes_distinct_grid_coordinates_and_defaults_to_one_block_per_trait():
    import copy

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from toydata import REPO

    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    del base["training"]["block_by"]
    filled = copy.deepcopy(base)
    validate(filled, schema)
    assert filled["training"]["block_by"] == []
    for ok in (["arch"], ["seed", "arch"], ["arch", "l1", "seed"]):
        good = copy.deepcopy(base)
        good["training"]["block_by"] = ok
        validate(good, schema)
    for value in (["arch", "arch"], ["epoch"], "arch"):
        bad = copy.deepcopy(base)
        bad["training"]["block_by"] = value
        with pytest.raises(WorkflowError, match="block_by"):
            validate(bad, schema)
