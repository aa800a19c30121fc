"""liftgwas.pca: plink2 --pca (exact and approx) against the exact SVD of the standardised genotypes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liftgwas import pca, plink
from liftgwas.errors import InputError

N_SAMPLES = 300
N_SNPS = 500
N_POPULATIONS = 4


def write_structured_cohort(prefix, seed=5):
    """Four populations with drifted allele frequencies (clear top-3 PC structure)."""
    rng = np.random.default_rng(seed)
    population = np.repeat(np.arange(N_POPULATIONS), N_SAMPLES // N_POPULATIONS)
    ancestral = rng.uniform(0.1, 0.9, N_SNPS)
    fst = 0.1
    a = ancestral * (1 - fst) / fst
    b = (1 - ancestral) * (1 - fst) / fst
    pop_freq = rng.beta(a[:, None], b[:, None], (N_SNPS, N_POPULATIONS))  # Balding-Nichols
    dosages = rng.binomial(2, pop_freq[:, population]).astype(np.int8)
    dosages[rng.random(dosages.shape) < 0.02] = plink.MISSING
    dosages[7] = 2  # monomorphic: must be ignored, not divide by zero
    bim = pd.DataFrame({"chrom": "1", "snp": [f"rs{i}" for i in range(N_SNPS)], "cm": 0.0,
                        "pos": 1 + np.arange(N_SNPS), "a1": "A", "a2": "C"})
    fam = pd.DataFrame({"fid": "f", "iid": [f"s{i}" for i in range(N_SAMPLES)], "father": "0",
                        "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(prefix, dosages, bim, fam)
    return dosages, population


def exact_pcs(dosages, k):
    """Reference: numpy SVD of the full variance-standardised matrix (written independently here)."""
    g = dosages.astype(float)
    g[dosages < 0] = np.nan
    p = np.nanmean(g, axis=1, keepdims=True) / 2
    sd = np.sqrt(2 * p * (1 - p))
    polymorphic = sd[:, 0] > 0
    z = np.where(np.isnan(g), 0.0, (g - 2 * p) / np.where(sd > 0, sd, 1.0))[polymorphic]
    _, singular_values, vt = np.linalg.svd(z, full_matrices=False)
    return vt[:k].T, singular_values[:k] ** 2 / np.sum(z * z)


@pytest.mark.parametrize("approx", [False, True])
def test_pcs_match_exact_svd_and_separate_populations(tmp_path, approx):
    dosages, population = write_structured_cohort(tmp_path / "geno")
    k = 5
    frame = pca.compute_pcs(tmp_path / "geno", k, seed=3, approx=approx)
    assert list(frame.columns) == ["FID", "IID", "PC1", "PC2", "PC3", "PC4", "PC5"]
    assert list(frame["IID"]) == [f"s{i}" for i in range(N_SAMPLES)]
    reference, explained = exact_pcs(dosages, k)
    ours = frame[[f"PC{i + 1}" for i in range(k)]].to_numpy()
    for i in range(N_POPULATIONS - 1):  # the structured PCs: clear eigen-gap after PC3
        corr = np.corrcoef(ours[:, i], reference[:, i])[0, 1]
        assert abs(corr) > 0.99, (i, corr)
    # exact --pca normalises its GRM per sample pair over jointly called SNPs (2 % missing
    # here), which inflates its eigenvalues by about 1 / 0.98^2
    np.testing.assert_allclose(frame.attrs["variance_explained"][:3], explained[:3], rtol=5e-3 if approx else 0.05)
    # scaled to mean 0, variance 1
    np.testing.assert_allclose(ours.mean(axis=0), 0, atol=1e-8)
    np.testing.assert_allclose(ours.std(axis=0), 1, rtol=1e-8)
    # the top 3 PCs tell the populations apart: population means are far apart
    means = np.array([ours[population == p, :3].mean(axis=0) for p in range(N_POPULATIONS)])
    spread = np.array([ours[population == p, :3].std(axis=0).max() for p in range(N_POPULATIONS)])
    gaps = np.linalg.norm(means[:, None] - means[None], axis=2)[np.triu_indices(N_POPULATIONS, 1)]
    assert gaps.min() > 3 * spread.max()


def test_pcs_are_reproducible_and_diploid_on_every_chromosome(tmp_path):
    write_structured_cohort(tmp_path / "geno")
    first = pca.compute_pcs(tmp_path / "geno", 3, seed=1, approx=True)
    again = pca.compute_pcs(tmp_path / "geno", 3, seed=1, approx=True, threads=2)
    np.testing.assert_allclose(again[["PC1", "PC2", "PC3"]], first[["PC1", "PC2", "PC3"]], atol=1e-6)
    other_seed = pca.compute_pcs(tmp_path / "geno", 3, seed=2, approx=True)
    # a different random start converges to (nearly) the same PCs, with the same signs
    for column in ("PC1", "PC2", "PC3"):
        assert np.corrcoef(other_seed[column], first[column])[0, 1] > 0.999
    # chromosome codes (X, split chromosomes) and sexes do not change the PCs
    bim = plink.read_bim(tmp_path / "geno.bim")
    plink.write_bim(tmp_path / "geno.bim", bim.assign(chrom=np.where(np.arange(N_SNPS) % 2, "X", "2")))
    plink.write_fam(tmp_path / "geno.fam", plink.read_fam(tmp_path / "geno.fam").assign(sex=1))
    recoded = pca.compute_pcs(tmp_path / "geno", 3, seed=1, approx=True)
    np.testing.assert_allclose(recoded[["PC1", "PC2", "PC3"]], first[["PC1", "PC2", "PC3"]], atol=1e-6)


def test_write_covariates(tmp_path):
    write_structured_cohort(tmp_path / "geno")
    pca.write_covariates(tmp_path / "geno", tmp_path / "out" / "covariates.tsv", 2, seed=0)
    table = pd.read_csv(tmp_path / "out" / "covariates.tsv", sep="\t")
    assert list(table.columns) == ["FID", "IID", "PC1", "PC2"]
    assert len(table) == N_SAMPLES and table.notna().all().all()
    pca.write_covariates(tmp_path / "geno", tmp_path / "none.tsv", 0, seed=0)
    table = pd.read_csv(tmp_path / "none.tsv", sep="\t")
    assert list(table.columns) == ["FID", "IID"] and len(table) == N_SAMPLES


def test_too_many_pcs_is_an_input_error(tmp_path):
    write_structured_cohort(tmp_path / "geno")
    with pytest.raises(InputError, match=r"geno\.bed: cannot compute 300 PCs"):
        pca.compute_pcs(tmp_path / "geno", N_SAMPLES, seed=0)
