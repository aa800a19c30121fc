"""Within-loop progress lines (liftgwas.progress): bounded rate, counts, rate and ETA."""

import logging

import pytest

from liftgwas import progress


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_lines_at_most_every_interval_and_at_the_end(caplog):
    clock = FakeClock()
    caplog.set_level(logging.INFO, logger="liftgwas.progress")
    p = progress.Progress("training epoch 1", 1000, every_s=30, clock=clock)
    for _ in range(9):  # 9 steps of 100 samples, 10 s apart: lines at 30, 60 and 90 s
        clock.now += 10
        p.update(100)
    assert p.lines == 3
    clock.now += 10
    p.update(100)  # the last step always logs
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 4
    assert lines[0] == "training epoch 1: 300 / 1,000 samples (30.0%), 10 samples/s, ETA 0:01:10"
    assert lines[-1].startswith("training epoch 1: 1,000 / 1,000 samples (100.0%)") and lines[-1].endswith("ETA 0:00:00")


def test_interval_from_the_environment(monkeypatch):
    monkeypatch.setenv(progress.ENV, "0.5")
    assert progress.Progress("x", 10).every_s == 0.5
    monkeypatch.delenv(progress.ENV)
    assert progress.Progress("x", 10).every_s == progress.DEFAULT_SECONDS
    monkeypatch.setenv(progress.ENV, "soon")
    with pytest.raises(ValueError, match="LIFTGWAS_PROGRESS_SECONDS"):
        progress.Progress("x", 10)


def test_training_and_deeplift_write_progress_lines(toy_cohort, monkeypatch, caplog):
    """Every batch logs when the interval is 0: lines inside the epoch, not only at its end."""
    import torch

    from liftgwas.attribution import deeplift_scores
    from liftgwas.data import load_training_data
    from liftgwas.train import TrainSettings, train_model

    monkeypatch.setenv(progress.ENV, "0")
    caplog.set_level(logging.INFO, logger="liftgwas.progress")
    c = toy_cohort
    data = load_training_data(c["store"], c["fam"], c["traits"], c["covariates"], c["split"], "binary", "binary")
    settings = TrainSettings(arch="8x8", l1=0.1, l1_scaling="sum_over_n_train", seed=1, batch_size=50,
                             learning_rate=1e-3, max_epochs=1, patience=1)
    model, _ = train_model(data, settings)
    n_train = len(data.splits["train"].rows)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("training epoch 1:")]
    assert len(lines) == -(-n_train // 50)
    assert lines[0].startswith(f"training epoch 1: 50 / {n_train} samples") and "samples/s, ETA" in lines[0]
    caplog.clear()
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    deeplift_scores(model, data, reference, chunk_size=40)
    n_val = len(data.splits["validation"].rows)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("DeepLIFT (validation):")]
    assert len(lines) == -(-n_val // 40) and lines[-1].startswith(f"DeepLIFT (validation): {n_val} / {n_val}")
