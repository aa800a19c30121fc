"""model.pairwise: fm (issue 10): the factorization-machine term is the explicit pair sum,
it learns a planted pure-epistatic pair (no marginal effect), it survives the model file,
bad settings name their config key, and attribution completeness on it (IG exact, DeepLift not)."""

import numpy as np
import pandas as pd
import pytest
import torch

from liftgwas.attribution import AttributionSettings, deeplift_scores
from liftgwas.data import load_training_data
from liftgwas.model import GenotypeModel, fm_term
from liftgwas.train import TrainSettings, load_model, save_model, train_model


def settings(**overrides):
    base = dict(arch="16x8", l1=0.0, l1_scaling="sum_over_n_train", seed=3, batch_size=32,
                learning_rate=3e-3, max_epochs=60, patience=8)
    base.update(overrides)
    return TrainSettings(**base)


def load(cohort):
    return load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"],
                              cohort["split"], cohort["kind"], cohort["kind"], True)


def test_fm_term_equals_the_explicit_pair_sum():
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(7, 11, generator=gen, dtype=torch.float64)
    v = torch.randn(11, 4, generator=gen, dtype=torch.float64)
    explicit = torch.zeros(7, dtype=torch.float64)
    for i in range(11):
        for j in range(i + 1, 11):
            explicit += (v[i] @ v[j]) * z[:, i] * z[:, j]
    assert torch.allclose(fm_term(z, v).squeeze(1), explicit, atol=1e-10)


def test_pairwise_none_is_the_plain_mlp_and_fm_adds_the_term():
    torch.manual_seed(0)
    plain = GenotypeModel(10, 0, "4x3")
    assert plain.snps.fm_v is None and "snps.fm_v" not in plain.state_dict()
    fm = GenotypeModel(10, 0, "4x3", pairwise="fm", fm_rank=3)
    assert fm.snps.fm_v.shape == (10, 3)
    x = torch.randn(5, 10)
    mlp_only = fm.snps.out(fm.snps.relu2(fm.snps.second(fm.snps.relu1(fm.snps.first(x))))).squeeze(-1)
    assert torch.allclose(fm(x), mlp_only + fm_term(x, fm.snps.fm_v).squeeze(-1))


@pytest.mark.parametrize("overrides, key", [({"pairwise": "bilinear"}, "model.pairwise"),
                                            ({"pairwise": "fm", "fm_rank": 0}, "model.fm_rank"),
                                            ({"pairwise": "fm", "fm_rank": -2}, "model.fm_rank")])
def test_bad_pairwise_settings_name_the_config_key(toy_cohort, overrides, key):
    with pytest.raises(ValueError, match=key):
        train_model(load(toy_cohort), settings(**overrides))
    with pytest.raises(ValueError, match=key):
        GenotypeModel(10, 0, "4x3", overrides["pairwise"], overrides.get("fm_rank", 8))


def test_schema_defaults_and_rejects_bad_pairwise_keys():
    import copy

    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from toydata import REPO

    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    filled = copy.deepcopy(base)
    validate(filled, schema)
    assert filled["model"]["pairwise"] == "none" and filled["model"]["fm_rank"] == 8
    for key, value in [("pairwise", "bilinear"), ("fm_rank", 0), ("fm_rank", 2.5)]:
        bad = copy.deepcopy(base)
        bad["model"][key] = value
        with pytest.raises(WorkflowError, match=key):
            validate(bad, schema)


def test_fm_l1_penalises_v_and_pairwise_enters_the_fingerprint(toy_cohort):
    data = load(toy_cohort)
    model = GenotypeModel(data.n_snps, 2, "4x3", "fm", 2)
    model.l1_penalty("sum_over_n_train", 100).backward()
    assert torch.allclose(model.snps.fm_v.grad, torch.sign(model.snps.fm_v.detach()) / 100)
    assert settings().fingerprint(data) != settings(pairwise="fm").fingerprint(data)
    assert settings(pairwise="fm", fm_rank=2).fingerprint(data) != settings(pairwise="fm").fingerprint(data)
    # pairwise none: fm_rank unused, the fingerprint of settings without the keys is kept
    assert settings(fm_rank=2).fingerprint(data) == settings().fingerprint(data)


def test_fm_model_file_round_trip_and_old_files_load(toy_cohort, tmp_path):
    data = load(toy_cohort)
    s = settings(pairwise="fm", fm_rank=3, max_epochs=2)
    model, metrics = train_model(data, s)
    save_model(tmp_path / "fm.pt", model, data, s, metrics)
    loaded, payload = load_model(tmp_path / "fm.pt")
    assert payload["pairwise"] == "fm" and payload["fm_rank"] == 3
    assert torch.equal(loaded.snps.fm_v, model.snps.fm_v.detach())
    x = torch.randn(4, data.n_snps)
    assert torch.equal(loaded(x, torch.zeros(4, 2)), model.eval()(x, torch.zeros(4, 2)))
    # a file written before the pairwise keys existed loads as the plain MLP
    plain_s = settings(max_epochs=1)
    plain, m = train_model(data, plain_s)
    save_model(tmp_path / "old.pt", plain, data, plain_s, m)
    old = torch.load(tmp_path / "old.pt", weights_only=False)
    for k in ("pairwise", "fm_rank"):
        old.pop(k)
        old["settings"].pop(k)
    torch.save(old, tmp_path / "old.pt")
    again, payload = load_model(tmp_path / "old.pt")
    assert payload["pairwise"] == "none" and again.snps.fm_v is None


@pytest.fixture(scope="module")
def epistatic_cohort(tmp_path_factory):
    """30 SNPs, a quantitative trait = product of the centred dosages of v0003 and v0017
    (no marginal effect: E[d3 d17 | g3] = d3 E[d17] = 0) plus noise."""
    from toydata import write_toy_cohort

    cohort = write_toy_cohort(tmp_path_factory.mktemp("epi"), n_samples=2000, n_snps=30, n_causal=1,
                              kind="quantitative", seed=4, effect=0.0)
    g = cohort["genotypes"].astype(float)
    d = g - g.mean(axis=1, keepdims=True)
    signal = d[3] * d[17]
    rng = np.random.default_rng(9)
    y = 2.0 * signal / signal.std() + rng.normal(0, 1, g.shape[1])
    traits = pd.read_csv(cohort["traits"], sep="\t")
    traits["quantitative"] = y
    traits.to_csv(cohort["traits"], sep="\t", index=False)
    cohort["pair"] = [3, 17]
    return cohort


def _rank_of_pair(score, pair):
    order = np.argsort(-score)
    return sorted(int(np.where(order == j)[0][0]) for j in pair)


def test_fm_ranks_a_pure_epistatic_pair_first_and_ig_is_complete_on_it(epistatic_cohort):
    data = load(epistatic_cohort)
    pair = epistatic_cohort["pair"]
    marginal = [abs(np.corrcoef(epistatic_cohort["genotypes"][j], pd.read_csv(epistatic_cohort["traits"], sep="\t")
                                ["quantitative"])[0, 1]) for j in pair]
    assert max(marginal) < 0.1  # the planted pair has no marginal effect
    model, metrics = train_model(data, settings(pairwise="fm", fm_rank=4))
    assert metrics["validation_r2"] > 0.5
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    ig = deeplift_scores(model, data, reference, settings=AttributionSettings(method="integrated_gradients"))
    assert _rank_of_pair(ig.score, pair) == [0, 1]
    dl = deeplift_scores(model, data, reference)
    assert _rank_of_pair(dl.score, pair) == [0, 1]


def test_ig_is_complete_on_the_fm_term_and_deeplift_is_not(toy_cohort):
    """On the FM term alone (MLP output weights 0), IG's attributions sum to f(x) - f(r)
    (exact for a quadratic), DeepLift's do not: it passes the gradient at x through the
    product (with r = 0 they would sum to 2 (f(x) - f(r)))."""
    data = load(toy_cohort)
    torch.manual_seed(1)
    model = GenotypeModel(data.n_snps, 2, "4x3", "fm", 3)
    with torch.no_grad():
        model.snps.out.weight.zero_()
        model.snps.fm_v.normal_(0, 0.3)
    reference = torch.from_numpy(data.mean_genotype("train") - data.store.mean)
    ig = deeplift_scores(model, data, reference, settings=AttributionSettings(method="integrated_gradients"))
    dl = deeplift_scores(model, data, reference)
    assert ig.max_convergence_delta < 1e-4
    assert dl.max_convergence_delta > 0.1
    net = model.snps.scaled_net().eval()
    z = torch.randn(3, data.n_snps)
    from captum.attr import DeepLift

    attr = DeepLift(net).attribute(z, baselines=torch.zeros_like(z))
    f = net(z).squeeze(1) - net(torch.zeros_like(z)).squeeze(1)
    assert torch.allclose(attr.sum(1), 2 * f, rtol=1e-4, atol=1e-5)
