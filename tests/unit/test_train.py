"""Training: L1 touches only the first layer, early stopping restores the best epoch,
CPU runs are reproducible, and a resumed run ends bit-identical to an uninterrupted one."""

import numpy as np
import pytest
import torch

from liftgwas.data import load_training_data
from liftgwas.model import GenotypeModel, parse_arch
from liftgwas.train import TrainingInterrupted, TrainSettings, train_model


def settings(**overrides):
    base = dict(arch="16x8", l1=1.0, l1_scaling="sum_over_n_train", seed=3, batch_size=32,
                learning_rate=1e-3, max_epochs=30, patience=4)
    base.update(overrides)
    return TrainSettings(**base)


def load(cohort, use_covariates=True):
    return load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"],
                              cohort["split"], cohort["kind"], cohort["kind"], use_covariates)


def test_parse_arch_rejects_bad_text():
    assert parse_arch("64x256") == (64, 256)
    with pytest.raises(ValueError, match="64by256"):
        parse_arch("64by256")


@pytest.mark.parametrize("scaling", ["sum_over_n_train", "mean"])
def test_l1_gradient_reaches_only_the_first_layer(scaling):
    torch.manual_seed(0)
    model = GenotypeModel(n_snps=20, n_covariates=3, arch="8x4")
    model.l1_penalty(scaling, n_train=100).backward()
    first = model.snps.first.weight.grad
    assert first is not None and torch.count_nonzero(first) == first.numel()
    expected = torch.sign(model.snps.first.weight.detach()) / (100 if scaling == "sum_over_n_train" else first.numel())
    assert torch.allclose(first, expected)
    for name, p in model.named_parameters():
        if name != "snps.first.weight":
            assert p.grad is None or torch.count_nonzero(p.grad) == 0, name


def test_l1_scalings_differ_by_the_number_of_weights_over_n_train():
    torch.manual_seed(0)
    model = GenotypeModel(n_snps=50, n_covariates=0, arch="10x4")
    total = model.snps.first.weight.abs().sum()
    assert torch.isclose(model.l1_penalty("sum_over_n_train", 200), total / 200)
    assert torch.isclose(model.l1_penalty("mean", 200), total / 500)


def test_strong_l1_shrinks_first_layer_weights(toy_cohort):
    data = load(toy_cohort)
    weak, _ = train_model(data, settings(l1=0.0, max_epochs=8, patience=8))
    strong, _ = train_model(data, settings(l1=100.0, max_epochs=8, patience=8))
    assert strong.snps.first.weight.abs().sum() < 0.5 * weak.snps.first.weight.abs().sum()


def test_early_stopping_restores_the_best_epoch(toy_cohort):
    data = load(toy_cohort)
    # a high learning rate overfits quickly, so the early-stop loss turns up
    model, metrics = train_model(data, settings(learning_rate=1e-2, patience=3, max_epochs=40))
    losses = [h["early_stop_loss"] for h in metrics["history"]]
    best = int(np.argmin(losses)) + 1
    assert metrics["best_epoch"] == best
    assert metrics["epochs_run"] == min(best + 3, 40)
    # the returned weights are those of the best epoch: re-evaluating gives its loss
    assert metrics["early_stop_loss"] == pytest.approx(losses[best - 1], rel=1e-5)


def test_training_learns_the_signal_and_reports_metrics(tmp_path):
    from toydata import write_toy_cohort

    cohort = write_toy_cohort(tmp_path / "b", n_samples=800, effect=1.5)
    _, metrics = train_model(load(cohort), settings(arch="32x16", l1=1.0, max_epochs=40, patience=6))
    assert metrics["validation_auc"] > 0.7
    assert metrics["device"] == "cpu" and metrics["torch_version"] == torch.__version__
    assert metrics["validation_loglik"] < 0


def test_quantitative_trait_reports_r2(tmp_path):
    from toydata import write_toy_cohort

    cohort = write_toy_cohort(tmp_path / "q", n_samples=1000, kind="quantitative")
    _, metrics = train_model(load(cohort), settings(arch="16x8", l1=1.0, learning_rate=3e-3, max_epochs=40, patience=6))
    assert metrics["validation_r2"] > 0.3


def test_cpu_training_is_reproducible_bit_for_bit(toy_cohort):
    data = load(toy_cohort)
    a, _ = train_model(data, settings(max_epochs=5, patience=5))
    b, _ = train_model(data, settings(max_epochs=5, patience=5))
    c, _ = train_model(data, settings(max_epochs=5, patience=5, seed=4))
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert not torch.equal(a.snps.first.weight, c.snps.first.weight)


def test_resume_after_interruption_is_bit_identical(toy_cohort, tmp_path):
    data = load(toy_cohort)
    s = settings(max_epochs=12, patience=12)
    reference, ref_metrics = train_model(data, s)
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        train_model(data, s, checkpoint_path=checkpoint, stop_after_epochs=5)
    assert checkpoint.exists()
    resumed, metrics = train_model(data, s, checkpoint_path=checkpoint)
    assert metrics["resumed_from_epoch"] == 5
    for (name, pa), pb in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert metrics["history"] == ref_metrics["history"]


def test_checkpoint_of_other_settings_is_ignored(toy_cohort, tmp_path):
    data = load(toy_cohort)
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        train_model(data, settings(max_epochs=6, patience=6), checkpoint_path=checkpoint, stop_after_epochs=2)
    _, metrics = train_model(data, settings(max_epochs=6, patience=6, l1=0.5), checkpoint_path=checkpoint)
    assert metrics["resumed_from_epoch"] is None
