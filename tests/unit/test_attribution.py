"""DeepLIFT: completeness, independence of chunking, and a working ranking."""

import numpy as np
import pandas as pd
import pytest
import torch
from captum.attr import DeepLift

from liftgwas.attribution import deeplift_scores
from liftgwas.data import load_training_data
from liftgwas.recall import topk_recall
from liftgwas.train import TrainSettings, train_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from toydata import write_toy_cohort

    cohort = write_toy_cohort(tmp_path_factory.mktemp("dl") / "c", n_samples=600, n_snps=120, effect=1.5)
    data = load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"],
                              cohort["split"], "binary", "binary")
    s = TrainSettings(arch="32x16", l1=1.0, l1_scaling="sum_over_n_train", seed=1, batch_size=32,
                      learning_rate=1e-3, max_epochs=40, patience=6)
    model, _ = train_model(data, s)
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    return cohort, data, model, reference


def test_completeness_sum_of_attributions_equals_output_difference(trained):
    _, data, model, reference = trained
    x = torch.from_numpy(data.store.decode(data.splits["validation"].rows[:50]) - data.store.mean)
    attr = DeepLift(model.snps.eval()).attribute(x, baselines=reference.unsqueeze(0).expand_as(x))
    with torch.no_grad():
        diff = model.snps(x).squeeze(-1) - model.snps(reference.unsqueeze(0)).squeeze(-1)
    assert torch.allclose(attr.sum(1), diff, atol=1e-4)
    result = deeplift_scores(model, data, reference, chunk_size=17)
    assert result.max_convergence_delta < 1e-4


def test_streamed_scores_equal_in_memory_scores_for_any_chunk_size(trained):
    _, data, model, reference = trained
    rows = data.splits["validation"].rows
    x = torch.from_numpy(data.store.decode(rows) - data.store.mean)
    attr = DeepLift(model.snps.eval()).attribute(x, baselines=reference.unsqueeze(0).expand_as(x))
    in_memory = attr.detach().abs().mean(0).double().numpy()
    for chunk in (7, 64, 10_000):
        streamed = deeplift_scores(model, data, reference, chunk_size=chunk)
        assert streamed.n_samples == len(rows)
        np.testing.assert_allclose(streamed.score, in_memory, rtol=1e-5, atol=1e-8)


def test_scores_rank_the_causal_snps_first(trained):
    cohort, data, model, reference = trained
    result = deeplift_scores(model, data, reference)
    bim_ids = [f"v{j:04d}" for j in range(data.n_snps)]
    scores = pd.Series(result.score, index=bim_ids)
    assert topk_recall(scores, cohort["causal"], len(cohort["causal"])) >= 0.8
