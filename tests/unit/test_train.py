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


# ---------------------------------------------------------------------------------------
# input scaling, class balance, schedule, warm start (issue 12)
# ---------------------------------------------------------------------------------------


def unbalanced_cohort(directory, case_keep=0.15):
    """The toy cohort with most cases turned into controls (about 7 % cases left)."""
    import pandas as pd

    from toydata import write_toy_cohort

    cohort = write_toy_cohort(directory, n_samples=800, effect=2.0, seed=5)
    traits = pd.read_csv(cohort["traits"], sep="\t")
    rng = np.random.default_rng(1)
    drop = (traits["binary"] == 1) & (rng.random(len(traits)) > case_keep)
    traits.loc[drop, "binary"] = 0
    traits.to_csv(cohort["traits"], sep="\t", index=False)
    return cohort


def test_class_balance_raises_case_recall_and_keeps_true_frequency_loglik(tmp_path):
    from liftgwas.train import _logit, evaluate, predict

    data = load(unbalanced_cohort(tmp_path / "u"))
    y = data.splits["train"].y
    frac = float(y.mean())
    assert 0.03 < frac < 0.15
    runs = {}
    for balance in ("none", "weighted", "oversample"):
        model, metrics = train_model(data, settings(arch="16x8", class_balance=balance, max_epochs=10, patience=10,
                                                    l1=0.1, learning_rate=3e-3))
        runs[balance] = (model, metrics)
    none, weighted, over = (runs[b][1] for b in ("none", "weighted", "oversample"))
    # the minority class is found far more often by the balanced classifiers
    assert weighted["validation_case_recall"] > none["validation_case_recall"] + 0.2
    assert over["validation_case_recall"] > none["validation_case_recall"] + 0.2
    # prior correction back to the true case fraction
    assert weighted["class_balance"]["logit_offset"] == pytest.approx(_logit(frac) - _logit(0.5))
    assert over["class_balance"]["effective_case_fraction"] == pytest.approx(0.5, abs=0.01)
    assert none["class_balance"]["logit_offset"] == 0.0
    # the validation log-likelihood is that of the true labels, every sample weighted 1
    for balance, (model, metrics) in runs.items():
        z = predict(model, data, "validation", 256, "cpu").astype(np.float64) + metrics["class_balance"]["logit_offset"]
        yv = data.splits["validation"].y
        p = 1 / (1 + np.exp(-z))
        by_hand = np.mean(yv * np.log(p) + (1 - yv) * np.log(1 - p))
        assert metrics["validation_loglik"] == pytest.approx(by_hand, rel=1e-6), balance
        assert metrics["validation_case_fraction"] == pytest.approx(float(yv.mean()))
    # without the correction the balanced model's likelihood of the true labels is worse
    model = runs["weighted"][0]
    assert evaluate(model, data, "validation", 256, "cpu")["loglik"] < weighted["validation_loglik"]


def test_oversampled_order_reaches_the_ratio_and_is_seeded():
    from liftgwas.data import oversampled_order

    y = np.array([1] * 10 + [0] * 90, dtype=np.float32)
    a = oversampled_order(y, 0.5, torch.Generator().manual_seed(1))
    b = oversampled_order(y, 0.5, torch.Generator().manual_seed(1))
    np.testing.assert_array_equal(a, b)
    assert set(a.tolist()) == set(range(100))  # every sample at least once
    assert (y[a] == 1).sum() == 45 and (y[a] == 0).sum() == 90
    plain = oversampled_order(y, 0.05, torch.Generator().manual_seed(1))  # cases already above the ratio
    assert sorted(plain.tolist()) == list(range(100))
    with pytest.raises(ValueError, match="training.oversample_ratio"):
        oversampled_order(y, 0.0, torch.Generator())


@pytest.mark.parametrize(
    "overrides,key",
    [({"class_balance": "smote"}, "training.class_balance"), ({"oversample_ratio": 0.0}, "training.oversample_ratio"),
     ({"oversample_ratio": -1.0}, "training.oversample_ratio"), ({"input_scaling": "unit"}, "model.input_scaling"),
     ({"lr_schedule": "cosine"}, "training.lr_schedule"), ({"warm_start": "gwas"}, "training.warm_start")],
)
def test_bad_training_settings_name_the_config_key(toy_cohort, overrides, key):
    with pytest.raises(ValueError, match=f"config key {key}:"):
        train_model(load(toy_cohort), settings(**overrides))


def test_standardised_scaling_is_saved_in_the_model_file_and_applied_on_load(toy_cohort, tmp_path):
    from liftgwas.train import load_model, save_model

    data = load(toy_cohort)
    s = settings(input_scaling="standardised", max_epochs=3, patience=3)
    model, metrics = train_model(data, s)
    g = toy_cohort["genotypes"]  # (M, N) int8 of the .fam order
    train_rows = data.splits["train"].rows
    sd = g[:, train_rows].astype(np.float64).std(axis=1)
    np.testing.assert_allclose(model.snps.input_scale.numpy(), np.where(sd > 0, 1 / sd, 0), rtol=1e-4)
    save_model(tmp_path / "model.pt", model, data, s, metrics)
    loaded, payload = load_model(tmp_path / "model.pt")
    assert payload["input_scaling"] == "standardised"
    assert torch.equal(loaded.snps.input_scale, model.snps.input_scale)
    x = torch.from_numpy(data.store.decode(data.splits["validation"].rows[:8], center=True))
    with torch.no_grad():
        assert torch.equal(loaded(x, torch.zeros(8, 2)), model(x, torch.zeros(8, 2)))


def test_model_files_without_input_scaling_load_as_centred(toy_cohort, tmp_path):
    from liftgwas.train import load_model, save_model

    data = load(toy_cohort)
    model, _ = train_model(data, settings(max_epochs=1, patience=1))
    save_model(tmp_path / "model.pt", model, data, settings(max_epochs=1, patience=1))
    payload = torch.load(tmp_path / "model.pt", weights_only=False)
    del payload["state_dict"]["snps.input_scale"], payload["input_scaling"]
    torch.save(payload, tmp_path / "old.pt")
    loaded, info = load_model(tmp_path / "old.pt")
    assert info["input_scaling"] == "centred" and torch.equal(loaded.snps.input_scale, torch.ones(data.n_snps))


def test_resume_is_bit_identical_with_schedule_oversampling_and_warm_start(toy_cohort, tmp_path):
    data = load(toy_cohort)
    s = settings(max_epochs=8, patience=8, lr_schedule="plateau", class_balance="oversample", oversample_ratio=1.5,
                 warm_start="covariates", input_scaling="standardised", learning_rate=1e-2)
    reference, ref_metrics = train_model(data, s)
    checkpoint = tmp_path / "checkpoint.pt"
    with pytest.raises(TrainingInterrupted):
        train_model(data, s, checkpoint_path=checkpoint, stop_after_epochs=4)
    resumed, metrics = train_model(data, s, checkpoint_path=checkpoint)
    for (name, pa), pb in zip(reference.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert metrics["history"] == ref_metrics["history"]
    assert metrics["final_learning_rate"] == ref_metrics["final_learning_rate"]


def test_warm_start_sets_the_covariate_term_to_the_covariate_only_fit(tmp_path):
    import pandas as pd
    import statsmodels.api as sm

    from liftgwas.train import covariate_fit
    from toydata import write_toy_cohort

    cohort = write_toy_cohort(tmp_path / "w", n_samples=600)
    cov = pd.read_csv(cohort["covariates"], sep="\t")
    traits = pd.read_csv(cohort["traits"], sep="\t")
    traits["binary"] = (cov["PC1"] + np.random.default_rng(0).logistic(size=len(cov)) > 0).astype(int)
    traits.to_csv(cohort["traits"], sep="\t", index=False)
    data = load(cohort)
    coef, intercept = covariate_fit(data)
    assert coef[0] > 1.0 and abs(coef[1]) < 0.5  # PC1 (standardised) drives the trait, PC2 does not
    _, metrics = train_model(data, settings(warm_start="covariates", max_epochs=1, patience=1, learning_rate=1e-6))
    # with a negligible learning rate the model is the covariate-only fit plus the SNP net's start
    train = data.splits["train"]
    fit = sm.GLM(train.y, sm.add_constant(train.covariates), family=sm.families.Binomial()).fit()
    np.testing.assert_allclose(coef, fit.params[1:], rtol=1e-6)
    assert metrics["early_stop_auc"] > 0.7


def test_the_same_model_saved_twice_is_the_same_bytes(toy_cohort, tmp_path):
    # each save goes through a fresh temporary file; the bytes must not depend on its name
    from liftgwas.train import save_model

    data = load(toy_cohort)
    s = settings(max_epochs=1, patience=1)
    model, metrics = train_model(data, s)
    save_model(tmp_path / "a" / "model.pt", model, data, s, metrics)
    save_model(tmp_path / "b" / "model.pt", model, data, s, metrics)
    assert (tmp_path / "a" / "model.pt").read_bytes() == (tmp_path / "b" / "model.pt").read_bytes()
