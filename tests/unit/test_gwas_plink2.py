"""liftgwas.gwas.run_gwas against the real `plink2 --glm` on the same files."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from liftgwas import gwas, plink

PLINK2 = shutil.which("plink2")
pytestmark = pytest.mark.skipif(
    PLINK2 is None, reason="plink2 not installed (Debian package plink2; `make system-deps` installs it)"
)

N_SAMPLES = 800
N_SNPS = 60


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A small cohort with covariates of very different scales, missing calls and rare SNPs."""
    tmp = tmp_path_factory.mktemp("plink2_cohort")
    rng = np.random.default_rng(11)
    age = rng.normal(55, 8, N_SAMPLES)
    sex = rng.integers(1, 3, N_SAMPLES).astype(float)
    pcs = rng.standard_normal((N_SAMPLES, 3)) * 0.01
    covariates = np.column_stack([age, sex, pcs])
    freq = np.concatenate([rng.uniform(0.01, 0.05, 10), rng.uniform(0.05, 0.5, N_SNPS - 10)])
    dosages = rng.binomial(2, freq[:, None], (N_SNPS, N_SAMPLES)).astype(np.int8)
    for snp in range(0, N_SNPS, 4):  # every 4th SNP has 0-10 % missing calls
        dosages[snp, rng.random(N_SAMPLES) < rng.uniform(0, 0.1)] = plink.MISSING
    eta = 0.03 * (age - 55) + 0.3 * (sex - 1.5) + 0.6 * dosages[12].clip(0) - 0.5
    binary = (rng.random(N_SAMPLES) < 1 / (1 + np.exp(-eta))).astype(int)
    quantitative = 0.05 * age + 0.4 * dosages[13].clip(0) + 0.3 * dosages[16].clip(0) + rng.standard_normal(N_SAMPLES)

    iids = [f"s{i}" for i in range(N_SAMPLES)]
    bim = pd.DataFrame({"chrom": "1", "snp": [f"rs{i}" for i in range(N_SNPS)], "cm": 0.0,
                        "pos": 100 + 100 * np.arange(N_SNPS), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp / "geno", dosages, bim, fam)
    covar = pd.DataFrame({"FID": iids, "IID": iids, "age": age, "sex": sex,
                          **{f"PC{k + 1}": pcs[:, k] for k in range(pcs.shape[1])}})
    covar.to_csv(tmp / "covariates.tsv", sep="\t", index=False, float_format="%.17g")
    traits = pd.DataFrame({"FID": iids, "IID": iids, "binary": binary, "quantitative": quantitative})
    traits.loc[[5, 17], "binary"] = pd.NA
    traits["binary"] = traits["binary"].astype("Int64")
    traits.loc[[9], "quantitative"] = np.nan
    traits.to_csv(tmp / "traits.tsv", sep="\t", index=False, na_rep="NA", float_format="%.17g")
    # plink2 codes case/control as 1/2 (0 would mean missing): same trait, shifted
    pheno = traits[["FID", "IID"]].copy()
    pheno["binary"] = traits["binary"] + 1
    pheno["quantitative"] = traits["quantitative"]
    pheno.to_csv(tmp / "pheno.tsv", sep="\t", index=False, na_rep="NA", float_format="%.17g")
    return tmp


def run_plink2(cohort):
    # omit-ref: always report the .bim column-5 allele (plink2's ALT) as A1, like us;
    # no-firth: plain logistic regression (NA when it fails), the model we fit;
    # log10: -log10 p directly, so small p keep their digits.
    # --covar-variance-standardize: plink2 refuses covariates of very different scales (age vs
    # PCs here); an affine rescaling of covariates leaves the SNP's beta, SE and p unchanged.
    out = cohort / "plink2"
    cmd = [PLINK2, "--bfile", str(cohort / "geno"), "--pheno", str(cohort / "pheno.tsv"),
           "--covar", str(cohort / "covariates.tsv"), "--covar-variance-standardize",
           "--glm", "hide-covar", "omit-ref", "no-firth", "log10",
           "cols=chrom,pos,ref,alt,a1freq,nobs,beta,se,tz,p,err",
           "--threads", "1", "--memory", "1000", "--out", str(out)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    return out


@pytest.mark.parametrize("kind,suffix", [("binary", "glm.logistic"), ("quantitative", "glm.linear")])
def test_matches_plink2_glm(cohort, kind, suffix, tmp_path):
    out = run_plink2(cohort)
    reference = pd.read_csv(f"{out}.{kind}.{suffix}", sep="\t", na_values=["NA", "."])
    ours = gwas.run_gwas(cohort / "geno", cohort / "traits.tsv", cohort / "covariates.tsv", kind, kind,
                         tmp_path / "sumstats.tsv.gz", block_size=16)
    merged = ours.merge(reference, left_on="variant_id", right_on="ID", validate="one_to_one")
    assert len(merged) == N_SNPS
    assert (merged["A1"] == merged["effect_allele"]).all()
    np.testing.assert_array_equal(merged["n"], merged["OBS_CT"])
    np.testing.assert_allclose(merged["effect_allele_frequency"], merged["A1_FREQ"], rtol=1e-5)

    both_ok = (merged["status"] == "ok") & merged["ERRCODE"].isna()
    # plink2 reports every SNP we call ok (and vice versa) on this cohort
    assert both_ok.sum() == N_SNPS
    rows = merged[both_ok]
    # plink2 prints 6 significant digits
    np.testing.assert_allclose(rows["beta"], rows["BETA"], rtol=1e-3, atol=1e-6)
    # plink2 v2.00a3.5's logistic SE (hence p) for SNPs with missing calls is up to ~0.5 % off
    # the exact inverse information of the fit on the called samples (its beta is exact; the
    # deviation is there without covariates too; statsmodels agrees with ours to 1e-8, see
    # test_gwas.py). Those SNPs are compared tightly for linear, loosely for logistic.
    complete = rows["n"] == rows["n"].max()
    loose = 1e-3 if kind == "quantitative" else 1e-2
    for subset, rtol in ((rows[complete], 1e-3), (rows[~complete], loose)):
        np.testing.assert_allclose(subset["standard_error"], subset["SE"], rtol=rtol)
        np.testing.assert_allclose(subset["neg_log10_p_value"], subset["LOG10_P"], rtol=rtol, atol=1e-5)
    assert complete.sum() >= N_SNPS // 2
    # the simulated associations are found by both
    causal = ["rs12"] if kind == "binary" else ["rs13", "rs16"]
    assert (rows.set_index("variant_id").loc[causal, "neg_log10_p_value"] > 4).all()
