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


# ---------------------------------------------------------------------------------------
# attribution.method, SmoothGrad, input scaling (issue 12)
# ---------------------------------------------------------------------------------------

from liftgwas.attribution import METHODS, AttributionSettings  # noqa: E402
from liftgwas.model import GenotypeModel  # noqa: E402

ALL_METHODS = [(m, False) for m in METHODS] + [(m, True) for m in METHODS if m != "deeplift_shap"]


def small(method, smoothgrad=False, shap_samples=8):
    return AttributionSettings(method=method, smoothgrad=smoothgrad, smoothgrad_samples=4, ig_steps=8,
                               shap_samples=shap_samples)


def test_deeplift_shap_sums_to_output_minus_mean_reference_output(trained):
    _, data, model, reference = trained
    result = deeplift_scores(model, data, reference, chunk_size=40, settings=small("deeplift_shap"), seed=5)
    assert result.method == "deeplift_shap"
    assert result.max_convergence_delta < 1e-4
    # the same property checked by hand on a few samples
    from captum.attr import DeepLiftShap

    from liftgwas.attribution import reference_samples

    refs = reference_samples(model, data, 8, 5, "cpu")
    x = torch.from_numpy(data.store.decode(data.splits["validation"].rows[:10]) - data.store.mean)
    attr = DeepLiftShap(model.snps.scaled_net().eval()).attribute(x, baselines=refs)
    with torch.no_grad():
        diff = model.snps(x).squeeze(-1) - model.snps.layers(refs).mean()
    assert torch.allclose(attr.sum(1), diff, atol=1e-4)


def test_integrated_gradients_completeness_improves_with_steps(trained):
    _, data, model, reference = trained
    coarse = deeplift_scores(model, data, reference, settings=AttributionSettings("integrated_gradients", ig_steps=2))
    fine = deeplift_scores(model, data, reference, settings=AttributionSettings("integrated_gradients", ig_steps=64))
    # sum(attr) = f(x) - f(ref) up to the quadrature error of the path integral
    assert fine.max_convergence_delta < 0.05 * max(coarse.max_convergence_delta, 1e-3) + 1e-3
    assert fine.max_convergence_delta < 1e-2


def _linear_model(n_snps: int, weights: torch.Tensor, input_scale: torch.Tensor) -> GenotypeModel:
    """A GenotypeModel that is linear in its inputs: first-layer biases so large that every
    ReLU is active, one hidden unit carrying ``weights``; f(x) = weights · (x * scale) + c."""
    model = GenotypeModel(n_snps, 0, "2x2")
    with torch.no_grad():
        for layer in (model.snps.first, model.snps.second, model.snps.out):
            layer.weight.zero_()
            layer.bias.fill_(100.0)
        model.snps.first.weight[0] = weights
        model.snps.second.weight[0, 0] = 1.0
        model.snps.out.weight[0, 0] = 1.0
        model.snps.input_scale.copy_(input_scale)
    return model.eval()


@pytest.mark.parametrize("method", ["deeplift", "integrated_gradients", "saliency"])
def test_standardised_inputs_give_per_sd_attributions_on_a_linear_model(trained, method):
    _, data, _, reference = trained
    sd = torch.from_numpy(data.genotype_sd("train"))
    inv_sd = torch.from_numpy(data.input_scale("standardised"))
    assert torch.allclose(inv_sd * sd, torch.ones_like(sd), atol=1e-5)
    w = torch.linspace(-1, 1, data.n_snps)
    centred = _linear_model(data.n_snps, w, torch.ones(data.n_snps))
    standardised = _linear_model(data.n_snps, w * sd, inv_sd)  # the same function of the dosage
    x = torch.from_numpy(data.store.decode(data.splits["validation"].rows[:5]) - data.store.mean)
    with torch.no_grad():
        assert torch.allclose(centred.snps(x), standardised.snps(x), atol=1e-3)
    s = AttributionSettings(method, ig_steps=8)
    a = deeplift_scores(centred, data, reference, settings=s).score
    b = deeplift_scores(standardised, data, reference, settings=s).score
    if method == "saliency":
        # gradients per SD of genotype = gradients per allele x SD
        np.testing.assert_allclose(b, a * sd.numpy(), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(a, np.abs(w.numpy()), rtol=1e-5, atol=1e-7)
    else:
        # contributions of (x - reference) are the same however the input is scaled
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("method,smoothgrad", ALL_METHODS)
def test_every_method_repeats_bit_for_bit_from_the_path_seed_and_ranks_causal_snps(trained, method, smoothgrad):
    cohort, data, model, reference = trained
    s = small(method, smoothgrad)
    first = deeplift_scores(model, data, reference, chunk_size=64, settings=s, seed=7)
    again = deeplift_scores(model, data, reference, chunk_size=64, settings=s, seed=7)
    np.testing.assert_array_equal(first.score, again.score)
    assert first.method == s.label
    assert (first.max_convergence_delta is None) == (method == "saliency" or smoothgrad)
    random = smoothgrad or method in ("deeplift_shap", "gradient_shap")
    other = deeplift_scores(model, data, reference, chunk_size=64, settings=s, seed=8)
    assert (not np.array_equal(first.score, other.score)) == random
    # sanity: 3 of the 5 causal SNPs in the top 5 of 120 (chance: 0.2); the model itself
    # ranks a non-causal SNP above the weakest causal ones, so 0.6 is what every method sees
    scores = pd.Series(first.score, index=[f"v{j:04d}" for j in range(data.n_snps)])
    assert topk_recall(scores, cohort["causal"], len(cohort["causal"])) >= 0.6


@pytest.mark.parametrize(
    "section,key",
    [
        ({"method": "lime"}, "attribution.method"),
        ({"smoothgrad": True, "smoothgrad_noise_sd": 0}, "attribution.smoothgrad_noise_sd"),
        ({"smoothgrad": True, "smoothgrad_noise_sd": -0.1}, "attribution.smoothgrad_noise_sd"),
        ({"smoothgrad": True, "smoothgrad_samples": 0}, "attribution.smoothgrad_samples"),
        ({"ig_steps": -1}, "attribution.ig_steps"),
        ({"method": "deeplift_shap", "smoothgrad": True}, "attribution.smoothgrad"),
        ({"methd": "saliency"}, "attribution.methd"),
    ],
)
def test_bad_attribution_settings_name_the_config_key(section, key):
    with pytest.raises(ValueError, match=f"config key {key}:"):
        AttributionSettings.from_config(section)


def test_schema_rejects_bad_values_and_fills_defaults():
    import copy

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from toydata import REPO

    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    filled = copy.deepcopy(base)
    validate(filled, schema)
    assert filled["attribution"]["method"] == "deeplift" and filled["model"]["input_scaling"] == "centred"
    assert filled["training"]["class_balance"] == "none"
    for section, key, value in [("attribution", "method", "lime"), ("attribution", "smoothgrad_noise_sd", 0),
                                ("attribution", "smoothgrad_samples", 0), ("training", "oversample_ratio", 0),
                                ("training", "class_balance", "smote"), ("model", "input_scaling", "unit")]:
        bad = copy.deepcopy(base)
        bad.setdefault(section, {})[key] = value
        with pytest.raises(WorkflowError, match=key):
            validate(bad, schema)


# ----------------------------------------------------------------- per-SNP output columns


def _swapped_cohort(cohort, directory):
    """The same cohort with A1/A2 swapped in the .bim: dosages become 2 - g."""
    import shutil

    from liftgwas import plink
    from liftgwas.genostore import build_store

    directory.mkdir(parents=True)
    g = cohort["genotypes"]
    swapped = np.where(g < 0, g, 2 - g).astype(np.int8)
    bim = plink.read_bim(f"{cohort['prefix']}.bim")
    bim = bim.rename(columns={"a1": "a2", "a2": "a1"})
    fam = pd.read_csv(cohort["fam"], sep=r"\s+", header=None,
                      names=["fid", "iid", "father", "mother", "sex", "phenotype"])
    plink.write_plink(directory / "plink", swapped, bim[["chrom", "snp", "cm", "pos", "a1", "a2"]], fam)
    build_store(directory / "plink", directory / "store")
    for name in ("traits", "covariates", "split"):
        shutil.copy(cohort[name], directory / f"{name}.tsv")
    return directory


def test_direction_flips_and_alleles_follow_the_bim_when_a1_a2_are_swapped(trained, tmp_path):
    import copy

    from liftgwas.attribution import score_table
    from liftgwas.plink import read_bim

    cohort, data, model, reference = trained
    result = deeplift_scores(model, data, reference, chunk_size=50)
    other = _swapped_cohort(cohort, tmp_path / "swapped")
    data2 = load_training_data(other / "store", other / "plink.fam", other / "traits.tsv", other / "covariates.tsv",
                               other / "split.tsv", "binary", "binary")
    # the same network on the swapped coding: centred dosages change sign, so do its first weights
    model2 = copy.deepcopy(model)
    with torch.no_grad():
        model2.snps.first.weight.neg_()
    reference2 = torch.from_numpy(data2.mean_genotype("train") - data2.store.mean)
    result2 = deeplift_scores(model2, data2, reference2, chunk_size=50)
    np.testing.assert_allclose(result2.score, result.score, rtol=1e-4, atol=1e-7)
    informative = np.abs(result.attribution_per_allele) > 1e-6
    assert informative.sum() > 10
    np.testing.assert_allclose(result2.attribution_per_allele, -result.attribution_per_allele, rtol=1e-3, atol=1e-7)
    t1 = score_table(read_bim(f"{cohort['prefix']}.bim"), result)
    t2 = score_table(read_bim(other / "plink.bim"), result2)
    assert list(t1.columns) == ["variant_id", "chromosome", "base_pair_location", "effect_allele", "other_allele",
                                "attribution_per_allele", "score", "score_se", "rank"]
    assert (t1["effect_allele"] == "A").all() and (t2["effect_allele"] == "G").all()
    assert (t2["other_allele"] == "A").all()
    assert t1.loc[t1["score"].idxmax(), "rank"] == 1
    assert sorted(t1["rank"]) == list(range(1, len(t1) + 1))  # no ties among float scores here


def test_per_allele_direction_matches_an_in_memory_recount(trained):
    _, data, model, reference = trained
    rows = data.splits["validation"].rows
    x = torch.from_numpy(data.store.decode(rows) - data.store.mean)
    attr = DeepLift(model.snps.eval()).attribute(x, baselines=reference.unsqueeze(0).expand_as(x)).detach().double()
    d = (x - reference.unsqueeze(0)).double()
    expected = ((attr * d).sum(0) / (d * d).sum(0)).numpy()
    streamed = deeplift_scores(model, data, reference, chunk_size=23)
    np.testing.assert_allclose(streamed.attribution_per_allele, expected, rtol=1e-4, atol=1e-8)


def test_seed_average_table_carries_alleles_direction_and_rank():
    from liftgwas.attribution import seed_average_table

    base = pd.DataFrame({"variant_id": ["a", "b", "c"], "chromosome": "1", "base_pair_location": [1, 2, 3],
                         "effect_allele": ["A", "C", "G"], "other_allele": ["G", "T", "A"]})
    t1 = base.assign(attribution_per_allele=[0.2, -0.4, np.nan], score=[0.1, 0.5, 0.0], score_se=[0.03, 0.04, 0.0], rank=[2, 1, 3])
    t2 = base.assign(attribution_per_allele=[0.4, -0.2, np.nan], score=[0.3, 0.2, 0.0], score_se=[0.04, 0.03, 0.0], rank=[1, 2, 3])
    avg = seed_average_table([t1, t2])
    np.testing.assert_allclose(avg["score"], [0.2, 0.35, 0.0])
    np.testing.assert_allclose(avg["attribution_per_allele"][:2], [0.3, -0.3])
    assert np.isnan(avg["attribution_per_allele"][2])
    np.testing.assert_allclose(avg["score_se"], [0.025, 0.025, 0.0])
    assert list(avg["rank"]) == [2, 1, 3] and list(avg["effect_allele"]) == ["A", "C", "G"]
    with pytest.raises(ValueError, match="effect_allele"):
        seed_average_table([t1, t2.assign(effect_allele=["G", "C", "G"])])
