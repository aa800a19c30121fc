"""Knockoff genotypes (discover/knockoffs.py): exchangeability, determinism, the store, config errors."""

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.discover import knockoffs as K
from liftgwas.genostore import GenotypeStore, build_store


def hao_like(n=3000, m=40, seed=0):
    """Two populations with their own allele frequencies (SNPs independent given population)."""
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 2, n)
    freqs = rng.uniform(0.05, 0.95, (2, m))
    x = rng.binomial(2, freqs[pop]).astype(np.int8)
    factor = (pop - pop.mean())[:, None].astype(float)  # the one latent factor, as a PC would carry it
    return x, factor, pop, freqs


def ld_blocks(n=3000, m=20, rho=0.8, seed=0):
    """Dosages with LD: two thresholded AR(1) Gaussian chains per haplotype."""
    rng = np.random.default_rng(seed)

    def chain():
        z = np.empty((n, m))
        z[:, 0] = rng.standard_normal(n)
        for j in range(1, m):
            z[:, j] = rho * z[:, j - 1] + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        return z > rng.uniform(-0.5, 1.0, m)

    return (chain().astype(np.int8) + chain().astype(np.int8)).astype(np.int8)


def test_hao_knockoff_frequency_given_population_matches_the_original():
    x, factor, pop, freqs = hao_like()
    s = K.KnockoffSettings(run=True, factors=1)
    draw = K.knockoffs_in_memory(x, factor, s, "independent", seed=7)
    for k in (0, 1):
        orig = x[pop == k].mean(0) / 2
        knock = draw.knockoff[pop == k].mean(0) / 2
        se = np.sqrt(freqs[k] * (1 - freqs[k]) / (2 * (pop == k).sum()))
        # both estimate the population frequency: their difference is within ~4 SE of the two draws
        assert np.all(np.abs(orig - knock) < 4 * np.sqrt(2) * se + 1e-9)
    # given the population the knockoff carries no information on its own SNP
    resid = lambda a: a - np.array([a[pop == k].mean(0) for k in (0, 1)])[pop]  # noqa: E731
    r = (resid(x.astype(float)) * resid(draw.knockoff.astype(float))).mean(0)
    r /= resid(x.astype(float)).std(0) * resid(draw.knockoff.astype(float)).std(0)
    assert np.abs(r).max() < 4 / np.sqrt(len(x))


def test_hao_knockoffs_without_the_factor_miss_the_structure():
    """The test above can fail: ignoring the population gives one pooled frequency."""
    x, _, pop, _ = hao_like()
    draw = K.knockoffs_in_memory(x, None, K.KnockoffSettings(run=True, factors=0), "independent", seed=7)
    gap = np.abs(x[pop == 0].mean(0) - draw.knockoff[pop == 0].mean(0)) / 2
    assert gap.max() > 0.1


def test_swapping_x_and_knockoff_keeps_first_and_second_moments_independent():
    x, factor, _, _ = hao_like(n=4000, m=12)
    draw = K.knockoffs_in_memory(x, factor, K.KnockoffSettings(run=True, factors=1), "independent", seed=3)
    joint = draw.combined().astype(float)
    m = x.shape[1]
    swap = np.r_[m : m + 4, 4:m, 0:4, m + 4 : 2 * m]  # swap SNPs 0..3 with their knockoffs
    np.testing.assert_allclose(joint.mean(0), joint[:, swap].mean(0), atol=0.05)
    c, cs = np.cov(joint.T), np.cov(joint[:, swap].T)
    assert np.abs(c - cs).max() < 0.06


def _swap_gap(joint, groups, m):
    """Largest change of Cov([X, X~]) when one group at a time is swapped with its knockoff."""
    c = np.cov(joint.T)
    gaps = []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        perm = np.arange(2 * m)
        perm[idx], perm[idx + m] = idx + m, idx
        gaps.append(np.abs(c - c[np.ix_(perm, perm)]).max())
    return max(gaps), c


def test_gaussian_group_knockoffs_cov_invariant_under_swapping_a_group():
    x = ld_blocks()
    n, m = x.shape
    s = K.KnockoffSettings(run=True, factors=0, window=m)
    values, groups, _ = K.gaussian_group_knockoffs(x.astype(float), K.factor_design(None, n), s,
                                                   np.random.default_rng(1))
    assert 1 < groups.max() < m  # the chain's neighbours share groups
    gap, c = _swap_gap(np.column_stack([x, values]), groups, m)
    # second-order exact up to sampling error (n = 3,000: sd of a covariance ~ 0.01)
    assert gap < 0.06
    # and not trivially: the knockoffs do carry the LD (cross-covariances far from 0)
    assert np.abs(c[:m, m:][np.abs(np.subtract.outer(groups, groups)) > 0]).max() > 0.2


def test_discretised_group_knockoffs_keep_genotype_counts_and_roughly_the_covariance():
    x = ld_blocks(seed=2)
    n, m = x.shape
    s = K.KnockoffSettings(run=True, factors=0, window=m)
    draw = K.knockoffs_in_memory(x, None, s, "group_gaussian", seed=5)
    assert set(np.unique(draw.knockoff)) <= {0, 1, 2}
    for d in (0, 1, 2):  # exact genotype counts per SNP: first moments equal
        np.testing.assert_array_equal((draw.knockoff == d).sum(0), (x == d).sum(0))
    gap, _ = _swap_gap(draw.combined().astype(float), draw.groups, m)
    # rank discretisation attenuates the knockoffs' own LD a little (README): looser bound
    assert gap < 0.12


def test_independent_gaussian_noise_is_not_a_valid_knockoff():
    """The swap check can fail: same marginals, no LD -> a swapped group moves the covariance."""
    x = ld_blocks(seed=4)
    m = x.shape[1]
    fake = np.random.default_rng(0).permutation(x)  # rows shuffled: marginals kept, LD with X lost
    groups = np.arange(1, m + 1)
    gap, _ = _swap_gap(np.column_stack([x, fake]).astype(float), groups, m)
    assert gap > 0.2


def test_ld_groups_join_correlated_snps_only():
    corr = np.eye(5)
    corr[0, 1] = corr[1, 0] = 0.9
    corr[2, 3] = corr[3, 2] = 0.6
    g = K.ld_groups(corr, 0.5)
    assert g[0] == g[1] and g[2] == g[3] and len({g[0], g[2], g[4]}) == 3
    assert list(g) == [1, 1, 2, 2, 3]  # numbered in SNP order
    assert len(set(K.ld_groups(corr, 0.7))) == 4  # r = 0.6 below a 0.7 cut


def test_missing_calls_stay_missing_in_the_knockoff():
    x = ld_blocks(n=400, m=10)
    x[::7, 3] = -1
    for method in K.METHODS:
        draw = K.knockoffs_in_memory(x, None, K.KnockoffSettings(run=True, factors=0, window=10), method, seed=1)
        np.testing.assert_array_equal(draw.knockoff < 0, x < 0)


@pytest.mark.parametrize("method", K.METHODS)
def test_draws_are_deterministic_from_the_seed(method):
    x = ld_blocks(n=300, m=12)
    s = K.KnockoffSettings(run=True, factors=0, window=6)
    a = K.knockoffs_in_memory(x, None, s, method, seed=K.knockoff_seed("sim-coal-r1", 1))
    b = K.knockoffs_in_memory(x, None, s, method, seed=K.knockoff_seed("sim-coal-r1", 1))
    c = K.knockoffs_in_memory(x, None, s, method, seed=K.knockoff_seed("sim-coal-r1", 2))
    np.testing.assert_array_equal(a.knockoff, b.knockoff)
    np.testing.assert_array_equal(a.groups, b.groups)
    assert (a.knockoff != c.knockoff).any()
    np.testing.assert_array_equal(a.groups, c.groups)  # groups come from X only
    assert K.knockoff_seed("sim-coal-r1", 1) != K.knockoff_seed("sim-coal-r2", 1)


def test_windows_stay_inside_chromosomes():
    bim = pd.DataFrame({"chrom": ["1"] * 5 + ["2"] * 3})
    assert K.windows(bim, 2) == [(0, 2), (2, 4), (4, 5), (5, 7), (7, 8)]


def _dataset(tmp_path, n=120, m=21):
    rng = np.random.default_rng(0)
    pop = rng.integers(0, 2, n)
    g = rng.binomial(2, np.where(pop[:, None] == 0, 0.2, 0.7) * np.ones((1, m))).astype(np.int8)
    g[rng.random((n, m)) < 0.02] = -1
    bim = pd.DataFrame({"chrom": ["1"] * 14 + ["2"] * (m - 14), "snp": [f"v{i}" for i in range(m)], "cm": 0,
                        "pos": np.arange(m) + 1, "a1": "A", "a2": "G"})
    ids = [f"s{i}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": 0, "mother": 0, "sex": 1, "phenotype": -9})
    plink.write_plink(tmp_path / "plink", g.T, bim, fam)
    build_store(tmp_path / "plink", tmp_path / "store")
    cov = pd.DataFrame({"FID": ids, "IID": ids, "PC1": pop - pop.mean(), "PC2": rng.standard_normal(n)})
    cov.to_csv(tmp_path / "covariates.tsv", sep="\t", index=False)
    return g, cov[["PC1", "PC2"]].to_numpy(), bim


@pytest.mark.parametrize("method", K.METHODS)
def test_store_round_trip_decodes_to_x_and_its_knockoff(tmp_path, method):
    g, pcs, bim = _dataset(tmp_path)
    s = K.KnockoffSettings(run=True, factors=2, window=5)
    seed = K.knockoff_seed("cohortA", 1)
    out = tmp_path / "knockoffs" / "draw_1"
    K.build_knockoff_store(tmp_path / "plink", tmp_path / "store", tmp_path / "covariates.tsv", out / "store",
                           out / "groups.tsv", s, method, seed, dataset="cohortA", row_chunk=50)
    store = GenotypeStore.open(out / "store")
    assert (store.n_samples, store.n_snps) == (len(g), 2 * g.shape[1])
    expected = K.knockoffs_in_memory(g, pcs, s, method, seed, chromosomes=bim["chrom"].to_numpy())
    np.testing.assert_array_equal(store.decode_int8(np.arange(len(g))), expected.combined())
    called = expected.combined() >= 0
    np.testing.assert_allclose(store.mean, np.where(called, expected.combined(), 0).sum(0) / called.sum(0),
                               rtol=1e-6)
    groups = pd.read_csv(out / "groups.tsv", sep="\t")
    assert list(groups["variant_id"]) == list(bim["snp"])
    np.testing.assert_array_equal(groups["group"], expected.groups)
    assert not list(out.glob(".*"))  # no scratch or temporary file left


def test_too_few_samples_is_a_config_error_naming_the_key():
    with pytest.raises(ValueError, match=r"discoveries\.knockoffs\.run.*sim-coal-r1.*150 samples.*>= 200"):
        K.check_samples(150, {"run": True, "method": "auto", "window": 100}, "sim-coal-r1")
    with pytest.raises(ValueError, match=r"discoveries\.knockoffs\.run.*independent.*>= 110"):
        K.check_samples(105, {"run": True, "factors": 10}, "sim-a0.1-r1")
    K.check_samples(110, {"run": True, "factors": 10}, "sim-a0.1-r1")  # enough
    K.check_samples(10, {"run": False}, "sim-coal-r1")  # off: nothing to check


def test_method_resolution_and_bad_settings():
    assert K.resolve_method("auto", "sim-a0.1-r2") == "independent"
    assert K.resolve_method("auto", "sim-coal-r1") == "group_gaussian"
    assert K.resolve_method("auto", "ukb") == "group_gaussian"
    with pytest.raises(ValueError, match=r"discoveries\.knockoffs\.colour: unknown"):
        K.KnockoffSettings.from_config({"colour": 1})
    with pytest.raises(ValueError, match=r"discoveries\.knockoffs\.window"):
        K.KnockoffSettings.from_config({"window": 1})
    with pytest.raises(ValueError, match=r"discoveries\.knockoffs\.method"):
        K.KnockoffSettings.from_config({"method": "hmm"})


def test_statistics_for_a_dataset_without_snakemake(tmp_path):
    """The bench entry point: store -> knockoff models (2 seeds) -> DeepLIFT -> statistics table."""
    from liftgwas import split
    from liftgwas.discover import knockoff_filter, knockoff_model
    from liftgwas.train import TrainSettings

    g, pcs, bim = _dataset(tmp_path)
    ids = [f"s{i}" for i in range(len(g))]
    y = (np.nan_to_num(g[:, 0].astype(float), nan=0) + np.random.default_rng(1).normal(0, 1, len(g)) > 1).astype(int)
    pd.DataFrame({"FID": ids, "IID": ids, "case": y}).to_csv(tmp_path / "traits.tsv", sep="\t", index=False)
    split.write_split(tmp_path / "plink.fam", tmp_path / "split.tsv", 1,
                      {"train": 0.5, "early_stop": 0.25, "validation": 0.25})
    train = TrainSettings(arch="4x4", l1=0.1, l1_scaling="sum_over_n_train", seed=0, batch_size=32,
                          learning_rate=0.01, max_epochs=2, patience=1)
    s = K.KnockoffSettings(run=True, factors=2, window=5)
    stats = knockoff_model.knockoff_statistics_for_dataset(tmp_path, "case", "binary", train, [1, 2], s, "cohortA")
    assert list(stats.columns[: len(knockoff_filter.STATISTICS_COLUMNS)]) == knockoff_filter.STATISTICS_COLUMNS
    assert stats["n_variants"].sum() == g.shape[1] and (stats["n_seeds"] == 2).all()
    np.testing.assert_allclose(stats["W"], stats["score_original"] - stats["score_knockoff"])
    assert (tmp_path / "knockoffs" / "draw_1" / "case" / "seed_2" / "model.pt").exists()
    sel = knockoff_filter.knockoff_selection(stats, 0.1)
    assert len(sel) == len(stats) and sel["selected"].dtype == bool


def test_the_packing_chunk_changes_no_byte_and_is_bounded_in_bytes(tmp_path):
    _dataset(tmp_path)
    s = K.KnockoffSettings(run=True, factors=2, window=5)
    stores = []
    for chunk in (None, 7):
        out = tmp_path / f"chunk_{chunk}"
        K.build_knockoff_store(tmp_path / "plink", tmp_path / "store", tmp_path / "covariates.tsv", out / "store",
                               out / "groups.tsv", s, "group_gaussian", 3, dataset="cohortA", row_chunk=chunk)
        stores.append((out / "store.packed.npy").read_bytes())
    assert stores[0] == stores[1]
    # UK Biobank chromosome 10: 2M = 673,628 int8 columns, so 99 rows (64 MiB) at a time
    assert K.pack_rows_per_chunk(336_814) == 99 and K.pack_rows_per_chunk(21) == 4096
    assert 2 * 336_814 * K.pack_rows_per_chunk(336_814) <= K.PACK_BYTES
