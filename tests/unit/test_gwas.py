"""liftgwas.gwas against independent references: statsmodels per SNP, scipy/mpmath p-values."""

from __future__ import annotations

import gzip
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from liftgwas import gwas, plink, sumstats
from liftgwas.errors import InputError

N_SAMPLES = 400
N_SNPS = 20
MISSING_SNPS = (3, 7, 12)
MONOMORPHIC_SNP = 5
SEPARATING_SNP = 9  # binary trait only: dosage 2 in every case, 0 in every control
QUASI_SEPARATING_SNP = 10  # binary trait only: the only 3 carriers are cases


def simulate(seed: int = 1, n_covariates: int = 3):
    rng = np.random.default_rng(seed)
    covariates = rng.standard_normal((N_SAMPLES, n_covariates)) * [1.0, 3.0, 0.5][:n_covariates] + 2.0
    freq = rng.uniform(0.05, 0.5, N_SNPS)
    dosages = rng.binomial(2, freq[:, None], (N_SNPS, N_SAMPLES)).astype(np.int8)
    for snp, n_missing in zip(MISSING_SNPS, (40, 3, 100)):
        dosages[snp, rng.choice(N_SAMPLES, n_missing, replace=False)] = plink.MISSING
    dosages[MONOMORPHIC_SNP] = 1
    dosages[MONOMORPHIC_SNP, :7] = plink.MISSING
    cov_effect = covariates[:, 0] - 2.0 if n_covariates else 0.0
    eta = 0.4 * cov_effect + 0.8 * dosages[0] - 0.3
    binary = (rng.random(N_SAMPLES) < 1 / (1 + np.exp(-eta))).astype(float)
    quantitative = 0.3 * cov_effect + 0.5 * dosages[1] + rng.standard_normal(N_SAMPLES)
    return dosages, binary, quantitative, covariates


def with_separation(dosages, binary):
    dosages = dosages.copy()
    dosages[SEPARATING_SNP] = np.where(binary == 1, 2, 0)
    dosages[QUASI_SEPARATING_SNP] = 0
    dosages[QUASI_SEPARATING_SNP, np.flatnonzero(binary == 1)[:3]] = 1
    return dosages


def statsmodels_fit(dosage, y, covariates, kind):
    """Reference: one statsmodels fit on the SNP's non-missing samples, same covariates."""
    keep = dosage >= 0
    design = np.column_stack([np.ones(keep.sum()), covariates[keep], dosage[keep].astype(float)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "binary":
            fit = sm.Logit(y[keep], design).fit(disp=0, method="newton", maxiter=100, tol=1e-12)
        else:
            fit = sm.OLS(y[keep], design).fit()
    return fit.params[-1], fit.bse[-1], -np.log10(fit.pvalues[-1]), keep.sum()


def assert_matches_statsmodels(result, dosages, y, covariates, kind, skip=()):
    checked = 0
    for snp in range(len(dosages)):
        if snp in skip:
            continue
        beta, se, nlp, n = statsmodels_fit(dosages[snp], y, covariates, kind)
        assert result["status"][snp] == "ok", snp
        assert result["n"][snp] == n
        assert result["beta"][snp] == pytest.approx(beta, rel=1e-4, abs=1e-10), snp
        assert result["standard_error"][snp] == pytest.approx(se, rel=1e-4), snp
        assert result["neg_log10_p_value"][snp] == pytest.approx(nlp, rel=1e-4, abs=1e-10), snp
        kept = dosages[snp][dosages[snp] >= 0]
        assert result["effect_allele_frequency"][snp] == pytest.approx(kept.mean() / 2)
        checked += 1
    assert checked >= len(dosages) - len(skip)


@pytest.mark.parametrize("n_covariates", [3, 0])
def test_linear_matches_statsmodels(n_covariates):
    dosages, _, quantitative, covariates = simulate(n_covariates=n_covariates)
    result = gwas.associate_block(dosages, quantitative, covariates, "quantitative")
    assert_matches_statsmodels(result, dosages, quantitative, covariates, "quantitative", skip={MONOMORPHIC_SNP})
    # the simulated effect of SNP 1 is found
    assert result["neg_log10_p_value"][1] > 3
    assert np.isclose(result["p_value"][1], 10 ** -result["neg_log10_p_value"][1])


@pytest.mark.parametrize("n_covariates", [3, 0])
def test_logistic_matches_statsmodels(n_covariates):
    dosages, binary, _, covariates = simulate(n_covariates=n_covariates)
    result = gwas.associate_block(dosages, binary, covariates, "binary")
    assert_matches_statsmodels(result, dosages, binary, covariates, "binary", skip={MONOMORPHIC_SNP})
    assert result["neg_log10_p_value"][0] > 3


def test_results_do_not_depend_on_batching(monkeypatch):
    dosages, binary, quantitative, covariates = simulate()
    whole = {k: gwas.associate_block(dosages, y, covariates, k) for k, y in
             (("binary", binary), ("quantitative", quantitative))}
    monkeypatch.setattr(gwas, "_BATCH_ELEMENTS", 3 * N_SAMPLES)  # 3 SNPs per internal batch
    for kind, y in (("binary", binary), ("quantitative", quantitative)):
        batched = gwas.associate_block(dosages, y, covariates, kind)
        np.testing.assert_allclose(batched["beta"], whole[kind]["beta"], rtol=1e-10)
        np.testing.assert_array_equal(batched["status"], whole[kind]["status"])


def test_monomorphic_and_separating_snps_are_flagged_not_fatal():
    dosages, binary, quantitative, covariates = simulate()
    dosages = with_separation(dosages, binary)
    result = gwas.associate_block(dosages, binary, covariates, "binary")
    assert result["status"][MONOMORPHIC_SNP] == "monomorphic"
    assert result["status"][SEPARATING_SNP] == "separation"
    assert result["status"][QUASI_SEPARATING_SNP] == "separation"
    for snp in (MONOMORPHIC_SNP, SEPARATING_SNP, QUASI_SEPARATING_SNP):
        for column in ("beta", "standard_error", "neg_log10_p_value", "p_value"):
            assert np.isnan(result[column][snp]), (snp, column)
    assert result["n"][MONOMORPHIC_SNP] == N_SAMPLES - 7
    assert result["effect_allele_frequency"][MONOMORPHIC_SNP] == pytest.approx(0.5)
    # every other SNP is still tested correctly
    assert_matches_statsmodels(result, dosages, binary, covariates, "binary",
                               skip={MONOMORPHIC_SNP, SEPARATING_SNP, QUASI_SEPARATING_SNP})
    linear = gwas.associate_block(dosages, quantitative, covariates, "quantitative")
    assert linear["status"][MONOMORPHIC_SNP] == "monomorphic"
    assert np.isnan(linear["beta"][MONOMORPHIC_SNP])
    assert (linear["status"][np.arange(N_SNPS) != MONOMORPHIC_SNP] == "ok").all()


def test_snp_collinear_with_a_covariate_is_flagged():
    dosages, _, quantitative, covariates = simulate()
    covariates = covariates.copy()
    covariates[:, 1] = dosages[4]  # SNP 4 duplicates covariate 2
    result = gwas.associate_block(dosages, quantitative, covariates, "quantitative")
    assert result["status"][4] == "collinear"
    assert np.isnan(result["beta"][4])


def test_lambda_gc_is_near_one_on_null_data():
    rng = np.random.default_rng(7)
    n, m = 500, 2000
    covariates = rng.standard_normal((n, 2))
    dosages = rng.binomial(2, rng.uniform(0.05, 0.5, m)[:, None], (m, n)).astype(np.int8)
    y_quant = covariates[:, 0] + rng.standard_normal(n)
    y_bin = (rng.random(n) < 0.4).astype(float)
    for kind, y in (("quantitative", y_quant), ("binary", y_bin)):
        result = gwas.associate_block(dosages, y, covariates, kind)
        assert 0.8 < gwas.genomic_inflation(result["p_value"]) < 1.2, kind


def test_lambda_gc_flags_uncorrected_stratification():
    rng = np.random.default_rng(8)
    n, m = 500, 1000
    population = np.repeat([0.0, 1.0], n // 2)
    base = rng.uniform(0.2, 0.8, m)
    drift = rng.uniform(-0.15, 0.15, m)
    freq = np.clip(base[:, None] + np.where(population == 1, drift[:, None], -drift[:, None]), 0.01, 0.99)
    dosages = rng.binomial(2, freq).astype(np.int8)
    y = 1.5 * population + rng.standard_normal(n)
    confounded = gwas.associate_block(dosages, y, np.zeros((n, 0)), "quantitative")
    assert gwas.genomic_inflation(confounded["p_value"]) > 2
    corrected = gwas.associate_block(dosages, y, population[:, None], "quantitative")
    assert 0.8 < gwas.genomic_inflation(corrected["p_value"]) < 1.2


def test_genomic_inflation_of_uniform_p_is_one():
    p = (np.arange(20_000) + 0.5) / 20_000
    assert gwas.genomic_inflation(p) == pytest.approx(1.0, abs=1e-3)
    chi2 = stats.chi2.isf(p, 1) * 1.5
    assert gwas.genomic_inflation(stats.chi2.sf(chi2, 1)) == pytest.approx(1.5, rel=1e-3)


def test_neg_log10_p_is_exact_beyond_underflow():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 50
    t = np.array([2.0, 8.0, 40.0, 60.0, 150.0, 400.0])
    for df in (3.0, 50.0, 9988.0):
        ours = gwas.t_two_sided_neg_log10_p(t, df)
        for value, got in zip(t, ours):
            x = mpmath.mpf(df) / (df + mpmath.mpf(value) ** 2)
            reference = -mpmath.log10(mpmath.betainc(df / 2, 0.5, 0, x, regularized=True))
            assert got == pytest.approx(float(reference), rel=1e-9), (value, df)
    z = np.array([1.0, 10.0, 40.0, 100.0])
    for value, got in zip(z, gwas.normal_two_sided_neg_log10_p(z)):
        reference = -mpmath.log10(mpmath.erfc(mpmath.mpf(value) / mpmath.sqrt(2)))
        assert got == pytest.approx(float(reference), rel=1e-9)


def test_format_p_values_keeps_underflowed_p():
    texts = gwas.format_p_values(np.array([0.5, 3.0, 400.0, 1000.5, np.nan]))
    assert float(texts[0]) == pytest.approx(10 ** -0.5, rel=1e-5)
    assert float(texts[1]) == pytest.approx(1e-3)
    assert texts[2] == "1e-400"
    assert texts[3] == f"{10 ** 0.5:.6g}e-1001"
    assert texts[4] == "NA"


# ---------------------------------------------------------------------------------------
# run_gwas: files in, GWAS-SSF out
# ---------------------------------------------------------------------------------------


def write_cohort(tmp_path, n_covariates=3):
    dosages, binary, quantitative, covariates = simulate(n_covariates=n_covariates)
    iids = np.array([f"id{i}" for i in range(N_SAMPLES)])
    bim = pd.DataFrame({"chrom": "2", "snp": [f"rs{i}" for i in range(N_SNPS)], "cm": 0.0,
                        "pos": 1000 + 10 * np.arange(N_SNPS), "a1": "T", "a2": "C"})
    fam = pd.DataFrame({"fid": "fam", "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp_path / "geno", [dosages[:8], dosages[8:]], bim, fam)
    traits = pd.DataFrame({"FID": "fam", "IID": iids, "binary": binary.astype(int).astype(str),
                           "quantitative": quantitative.astype(str)})
    traits.loc[4, "quantitative"] = "NA"
    traits.loc[6, "binary"] = "NA"
    not_genotyped = pd.DataFrame({"FID": ["x"], "IID": ["not_genotyped"], "binary": ["1"], "quantitative": ["0.5"]})
    traits = pd.concat([traits.drop(index=[2]), not_genotyped])  # id2 has no trait row
    traits = traits.sample(frac=1.0, random_state=1)  # order must not matter (matched by IID)
    traits.to_csv(tmp_path / "traits.tsv", sep="\t", index=False)
    cov_table = pd.DataFrame({"FID": "fam", "IID": iids})
    for k in range(n_covariates):
        cov_table[f"PC{k + 1}"] = covariates[:, k]
    cov_table = cov_table.drop(index=[3])  # id3 has no covariates
    cov_table.iloc[::-1].to_csv(tmp_path / "covariates.tsv", sep="\t", index=False, na_rep="NA")
    return dosages, binary, quantitative, covariates


@pytest.mark.parametrize("n_covariates", [3, 0])
@pytest.mark.parametrize("kind", ["binary", "quantitative"])
def test_run_gwas_writes_gwas_ssf_for_the_matched_samples(tmp_path, kind, n_covariates):
    dosages, binary, quantitative, covariates = write_cohort(tmp_path, n_covariates)
    out = tmp_path / "gwas" / "sumstats.tsv.gz"
    calls = []
    gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", kind, kind, out,
                  block_size=6, progress=lambda done, total: calls.append((done, total)), threads=2)
    assert calls == [(i, 4) for i in range(1, 5)]
    gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", kind, kind,
                  tmp_path / "single.tsv.gz", block_size=6, threads=1)
    with gzip.open(tmp_path / "single.tsv.gz") as single, gzip.open(out) as multi:
        assert single.read() == multi.read()  # threads change nothing
    one_block = gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", kind, kind,
                              tmp_path / "one_block.tsv.gz", block_size=N_SNPS)
    # other blocks: the same up to the last bits of the matrix products
    written = sumstats.read_gwas_ssf(out)
    tested_one_block = one_block[one_block["status"] == "ok"]
    np.testing.assert_allclose(tested_one_block["neg_log10_p_value"], written["neg_log_10_p_value"], rtol=1e-5)
    with gzip.open(out, "rt") as handle:
        header = handle.readline().rstrip("\n").split("\t")
    assert header == sumstats.COLUMNS  # GWAS-SSF columns (liftgwas.sumstats; tests/unit/test_sumstats.py)
    assert list(one_block.columns) == gwas.SUMSTATS_COLUMNS  # the returned association table
    table = one_block
    assert list(table["variant_id"]) == [f"rs{i}" for i in range(N_SNPS)]
    assert list(written["bim_id"]) == list(tested_one_block["variant_id"])
    assert (table["effect_allele"] == "T").all() and (table["other_allele"] == "C").all()
    assert list(table["base_pair_location"]) == list(1000 + 10 * np.arange(N_SNPS))
    # samples used: id2 (no trait row), id3 (no covariates) and the NA trait sample are out
    excluded = {2, 3, 6 if kind == "binary" else 4}
    used = np.array([i for i in range(N_SAMPLES) if i not in excluded])
    y = (binary if kind == "binary" else quantitative)[used]
    expected_n = (dosages[:, used] >= 0).sum(axis=1)
    np.testing.assert_array_equal(table["n"], expected_n)
    assert table.loc[MONOMORPHIC_SNP, "status"] == "monomorphic"
    assert pd.isna(table.loc[MONOMORPHIC_SNP, "neg_log10_p_value"])
    assert f"rs{MONOMORPHIC_SNP}" not in set(written["bim_id"])  # not testable: no row in GWAS-SSF
    written = written.set_index("bim_id")
    for snp in (0, 1, 3, 12):  # incl. SNPs with missing calls
        beta, se, nlp, _ = statsmodels_fit(dosages[snp, used], y, covariates[used], kind)
        assert table.loc[snp, "status"] == "ok"
        row = written.loc[f"rs{snp}"]
        assert row["beta"] == pytest.approx(beta, rel=1e-5)  # 6 significant digits in the file
        assert row["standard_error"] == pytest.approx(se, rel=1e-5)
        assert row["neg_log_10_p_value"] == pytest.approx(nlp, rel=1e-5)
        assert row["p_value"] == pytest.approx(10 ** -nlp, rel=1e-5)
        assert row["n"] == expected_n[snp]


def test_run_gwas_rejects_bad_trait_values_naming_the_place(tmp_path):
    write_cohort(tmp_path)
    traits = pd.read_csv(tmp_path / "traits.tsv", sep="\t", dtype=str, keep_default_na=False)
    traits.loc[5, "binary"] = "2"
    traits.to_csv(tmp_path / "traits.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"traits\.tsv, line 7, field 'binary': binary trait value '2'"):
        gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "binary", "binary",
                      tmp_path / "out.tsv.gz")
    with pytest.raises(InputError, match=r"traits\.tsv, line 1: column 'height' not found"):
        gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "height",
                      "quantitative", tmp_path / "out.tsv.gz")
    traits.loc[5, "binary"] = "1"
    traits.loc[8, "quantitative"] = "tall"
    traits.to_csv(tmp_path / "traits.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"line 10, field 'quantitative': 'tall' is not a number"):
        gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "quantitative",
                      "quantitative", tmp_path / "out.tsv.gz")
    assert not (tmp_path / "out.tsv.gz").exists()


def test_run_gwas_rejects_dependent_covariates(tmp_path):
    write_cohort(tmp_path)
    table = pd.read_csv(tmp_path / "covariates.tsv", sep="\t")
    table["PC4"] = 2 * table["PC1"] - table["PC2"]
    table.to_csv(tmp_path / "covariates.tsv", sep="\t", index=False)
    with pytest.raises(InputError, match=r"covariates\.tsv: .*linearly dependent"):
        gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "binary", "binary",
                      tmp_path / "out.tsv.gz")


def test_run_gwas_drops_constant_covariates(tmp_path):
    dosages, _, quantitative, covariates = write_cohort(tmp_path)
    table = pd.read_csv(tmp_path / "covariates.tsv", sep="\t")
    table["sex"] = 1
    table.to_csv(tmp_path / "covariates.tsv", sep="\t", index=False)
    out = gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "quantitative",
                        "quantitative", tmp_path / "out.tsv.gz")
    assert (out["status"] != "ok").sum() == 1  # only the monomorphic SNP
