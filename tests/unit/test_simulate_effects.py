"""Effect classes: codings, pure epistatic pairs without marginal effect, variance shares."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from liftgwas import gwas, plink, simulate
from liftgwas.simulate import effects, study

MIX = {
    "additive": {"n_causal": 3, "variance_share": 0.1},
    "dominant": {"n_causal": 3, "variance_share": 0.1},
    "recessive": {"n_causal": 3, "variance_share": 0.1},
    "epistatic_pairs": {"n_pairs": 3, "variance_share": 0.2},
}
TRAITS = {"mix_bin": {"kind": "binary", "liability": "mix"}, "mix_qt": {"kind": "quantitative", "liability": "mix"}}


def write(directory, *, seed=5, sparsity=0.1, n_samples=400, n_snps=150, liabilities=None, traits=None, **kw):
    return simulate.write_from_params(
        directory / "geno",
        directory / "traits.tsv",
        directory / "truth.tsv",
        engine="hao",
        seed=seed,
        n_samples=n_samples,
        n_snps=n_snps,
        sparsity=sparsity,
        traits=traits or TRAITS,
        liabilities=liabilities or {"mix": MIX},
        **kw,
    )


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    directory = tmp_path_factory.mktemp("mixed")
    written = write(directory)
    bed = plink.Bed(directory / "geno")
    return written, bed, bed.read(), directory


def test_class_codings_on_a1_dosage():
    g = np.array([0, 1, 2, 2, 1, 0], dtype=np.int8)
    np.testing.assert_array_equal(effects.coding(g, "additive"), [0, 1, 2, 2, 1, 0])
    np.testing.assert_array_equal(effects.coding(g, "dominant"), [0, 1, 1, 1, 1, 0])
    np.testing.assert_array_equal(effects.coding(g, "recessive"), [0, 0, 1, 1, 0, 0])
    with pytest.raises(ValueError):
        effects.coding(g, "epistatic_pairs")


def structured_pair(seed=0, n=3000):
    """Two SNPs correlated through ancestry (allele frequencies follow a shared coordinate)."""
    rng = np.random.default_rng(seed)
    ancestry = rng.beta(0.1, 0.1, size=n)
    p1, p2 = 0.1 + 0.8 * ancestry, 0.6 - 0.5 * ancestry
    g1 = rng.binomial(2, p1).astype(np.int8)
    g2 = rng.binomial(2, p2).astype(np.int8)
    assert abs(np.corrcoef(g1, g2)[0, 1]) > 0.3  # the case where centring alone is not enough
    return g1, g2


def test_pair_term_has_exactly_zero_marginal_association():
    g1, g2 = structured_pair()
    term = effects.pair_term(g1, g2)
    assert term.std() > 0.1  # a real interaction remains
    for g in (g1, g2):
        for klass in ("additive", "dominant", "recessive"):
            x = effects.coding(g, klass)
            assert abs(np.cov(term, x)[0, 1]) < 1e-12
        for level in (0, 1, 2):  # zero mean within every genotype class of either SNP
            assert abs(term[g == level].mean()) < 1e-12
    # the control: the product of sample-centred terms alone keeps a marginal association
    # here (E[g2 | g1] moves with g1 through ancestry), seen in its genotype-class means
    naive = (g1 - g1.mean()) * (g2 - g2.mean())
    assert max(abs(naive[g1 == level].mean()) for level in (0, 1, 2)) > 0.1


def test_class_terms_have_their_variance_share_and_rebuild_from_the_files(mixed):
    written, bed, genotypes, directory = mixed
    liability = written.liabilities["mix"]
    for klass, spec in MIX.items():
        assert liability.components[klass].var() == pytest.approx(spec["variance_share"], rel=1e-12)
    assert liability.components["environment"].var() == pytest.approx(1 - 0.5, rel=1e-12)
    truth = effects.read_truth_table(directory / "truth.tsv")
    assert truth.columns.tolist() == effects.TRUTH_COLUMNS
    assert set(truth["trait"]) == {"mix_bin", "mix_qt"}
    one = truth[truth["trait"] == "mix_qt"]
    assert one["class"].value_counts().to_dict() == {"additive": 3, "dominant": 3, "recessive": 3, "epistatic": 6}
    assert one["variant_id"].is_unique and (one["beta"] != 0).all()
    pairs = one[one["class"] == "epistatic"].groupby("pair")
    assert pairs.size().tolist() == [2, 2, 2] and (pairs["beta"].nunique() == 1).all()
    assert one.loc[one["class"] != "epistatic", "pair"].isna().all()
    # the genetic part of the trait is sum beta * (centred coding) + sum gamma * pair term
    # (pair terms residualised on every planted epistatic SNP, effects.pair_terms)
    index = pd.Series(np.arange(bed.n_snps), index=bed.bim["snp"])
    genetic = np.zeros(bed.n_samples)
    for _, row in one[one["class"] != "epistatic"].iterrows():
        x = effects.coding(genotypes[index[row["variant_id"]]], row["class"])
        genetic += row["beta"] * (x - x.mean())
    planted = [genotypes[index[pair["variant_id"]].to_numpy()] for _, pair in pairs]
    gammas = [pair["beta"].iloc[0] for _, pair in pairs]
    for gamma, term in zip(gammas, effects.pair_terms([(g[0], g[1]) for g in planted])):
        genetic += gamma * term
    traits = pd.read_csv(directory / "traits.tsv", sep="\t")
    rest = traits["mix_qt"].to_numpy() - genetic
    environment = written.source.environment
    assert np.corrcoef(rest, environment)[0, 1] == pytest.approx(1.0, abs=1e-10)


def test_planted_epistatic_snps_have_zero_marginal_effect_on_the_liability(mixed):
    written, bed, genotypes, directory = mixed
    liability = written.liabilities["mix"]
    pair_component = liability.components["epistatic_pairs"]
    truth = liability.truth
    index = pd.Series(np.arange(bed.n_snps), index=bed.bim["snp"])
    epistatic = index[truth.loc[truth["class"] == "epistatic", "variant_id"]].to_numpy()
    for snp in epistatic:
        for klass in ("additive", "dominant", "recessive"):
            x = effects.coding(genotypes[snp], klass)
            assert abs(np.cov(pair_component, x)[0, 1]) < 1e-12


def test_binary_trait_is_the_liability_threshold(mixed):
    written, _, _, directory = mixed
    traits = pd.read_csv(directory / "traits.tsv", sep="\t")
    assert traits["mix_bin"].mean() == 0.5
    cases = traits["mix_bin"] == 1
    assert traits.loc[cases, "mix_qt"].min() > traits.loc[~cases, "mix_qt"].max()
    prevalence = {"mix_bin": {"kind": "binary", "liability": "mix", "prevalence": 0.2}}
    written = write(directory / "p", traits=prevalence)
    assert written.traits["mix_bin"].mean() == pytest.approx(0.2, abs=1 / 400)


def test_same_seed_same_bytes_and_liabilities_are_independent_streams(mixed, tmp_path):
    _, _, _, directory = mixed
    write(tmp_path / "again")
    for name in ("geno.bed", "geno.bim", "traits.tsv", "truth.tsv"):
        assert (tmp_path / "again" / name).read_bytes() == (directory / name).read_bytes()
    # adding a second liability does not move the first one's causal SNPs
    two = {"mix": MIX, "other": {"additive": {"n_causal": 2, "variance_share": 0.3}}}
    traits = {**TRAITS, "other_qt": {"kind": "quantitative", "liability": "other"}}
    write(tmp_path / "two", liabilities=two, traits=traits)
    before = effects.read_truth_table(directory / "truth.tsv")
    after = effects.read_truth_table(tmp_path / "two" / "truth.tsv")
    pd.testing.assert_frame_equal(after[after["trait"] != "other_qt"].reset_index(drop=True), before)
    # the Hao genotypes are the legacy engine's for the same seed
    legacy = tmp_path / "legacy"
    simulate.write_simulated_study(
        legacy / "geno", legacy / "t.tsv", legacy / "truth.tsv", n_samples=400, n_snps=150, sparsity=0.1, seed=5
    )
    assert (legacy / "geno.bed").read_bytes() == (directory / "geno.bed").read_bytes()


def test_old_truth_files_read_as_additive_for_every_trait(tmp_path):
    path = tmp_path / "truth.tsv"
    path.write_text("variant_id\tbeta\nsnp00003\t0.5\nsnp00007\t-1.2\n")
    truth = effects.read_truth_table(path)
    assert truth["class"].tolist() == ["additive", "additive"]
    assert truth["trait"].isna().all() and truth["pair"].isna().all()


def gwas_p_values(directory, n_pcs=3):
    bed = plink.Bed(directory / "geno")
    dosages = bed.read().astype(np.float64).T
    centred = dosages - dosages.mean(axis=0)
    u, _, _ = np.linalg.svd(centred, full_matrices=False)
    covariates = pd.DataFrame({"FID": bed.fam["fid"], "IID": bed.fam["iid"]})
    for k in range(n_pcs):
        covariates[f"PC{k + 1}"] = u[:, k]
    covariates.to_csv(directory / "covariates.tsv", sep="\t", index=False)
    sumstats = gwas.run_gwas(
        directory / "geno", directory / "traits.tsv", directory / "covariates.tsv", "qt", "quantitative",
        directory / "sumstats.tsv.gz", threads=1,
    )
    return sumstats.set_index("variant_id")["p_value"].astype(float)


def test_gwas_p_values_of_pure_epistatic_snps_are_not_enriched_across_replicates(tmp_path):
    liabilities = {
        "epi": {
            "additive": {"n_causal": 2, "variance_share": 0.1},
            "epistatic_pairs": {"n_pairs": 4, "variance_share": 0.4},
        }
    }
    traits = {"qt": {"kind": "quantitative", "liability": "epi"}}
    epistatic, additive = [], []
    for replicate in range(6):
        directory = tmp_path / str(replicate)
        written = write(directory, seed=100 + replicate, sparsity=1.0, n_samples=600, n_snps=60,
                        liabilities=liabilities, traits=traits)
        p = gwas_p_values(directory)
        truth = written.truth
        epistatic += p[truth.loc[truth["class"] == "epistatic", "variant_id"]].tolist()
        additive += p[truth.loc[truth["class"] == "additive", "variant_id"]].tolist()
    epistatic = np.array(epistatic)
    # 48 p-values of SNPs carrying 40 % of the liability variance through their pairs:
    # uniform, as for null SNPs ...
    assert stats.kstest(epistatic, "uniform").pvalue > 1e-3, np.sort(epistatic)
    assert (epistatic < 0.01).sum() <= 3
    # ... while additive SNPs with an eighth of that share each are found (the test can fail)
    assert np.median(additive) < 1e-5 and np.max(additive) < 0.01, additive


@pytest.mark.parametrize(
    "liabilities, message",
    [
        ({"mix": {**MIX, "additive": {"n_causal": 3, "variance_share": 0.6}}}, "variance shares sum"),
        ({"mix": {"additive": {"n_causal": 200, "variance_share": 0.1}}}, "causal SNPs but only"),
    ],
)
def test_unmeetable_liabilities_raise_before_writing(tmp_path, liabilities, message):
    with pytest.raises(ValueError, match=message):
        write(tmp_path, liabilities=liabilities)
    assert not any(tmp_path.iterdir())


def test_check_specs_names_the_problem():
    specs, liabilities = simulate.parse_traits({"t": {"kind": "binary", "liability": "nope"}}, {"mix": MIX})
    with pytest.raises(ValueError, match="unknown liability 'nope'"):
        study.check_specs(specs, liabilities, 100)


def test_paper_liability_beside_a_mixed_one_reproduces_the_legacy_traits(tmp_path):
    legacy = tmp_path / "legacy"
    simulate.write_simulated_study(legacy / "geno", legacy / "traits.tsv", legacy / "truth.tsv", n_samples=400,
                                   n_snps=150, n_causal=10, sparsity=0.1, seed=5, traits=("binary", "quantitative"))
    liabilities = {"paper": {"paper_additive": {"n_causal": 10}}, "mix": MIX}
    traits = {"binary": {"kind": "binary", "liability": "paper"},
              "quantitative": {"kind": "quantitative", "liability": "paper"}, **TRAITS}
    write(tmp_path / "both", liabilities=liabilities, traits=traits)
    old = pd.read_csv(legacy / "traits.tsv", sep="\t")
    new = pd.read_csv(tmp_path / "both" / "traits.tsv", sep="\t")
    pd.testing.assert_frame_equal(new[old.columns], old)
    old_truth = pd.read_csv(legacy / "truth.tsv", sep="\t")
    new_truth = effects.read_truth_table(tmp_path / "both" / "truth.tsv")
    paper_rows = new_truth[new_truth["trait"] == "binary"]
    assert paper_rows["variant_id"].tolist() == old_truth["variant_id"].tolist()
    np.testing.assert_array_equal(paper_rows["beta"].to_numpy(), old_truth["beta"].to_numpy())
    assert (paper_rows["class"] == "additive").all()
