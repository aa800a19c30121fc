"""The 2-df genotypic GWAS (plink2 --glm genotypic) against statsmodels on the same files."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from liftgwas import gwas_genotypic, plink
from liftgwas.errors import InputError

pytestmark = pytest.mark.skipif(
    shutil.which("plink2") is None, reason="plink2 not installed (Debian package plink2; `make system-deps`)"
)

N, M = 700, 12
DOMINANT, RECESSIVE, ADDITIVE = 2, 5, 8


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("genotypic")
    rng = np.random.default_rng(21)
    g = rng.binomial(2, rng.uniform(0.25, 0.5, M)[:, None], (M, N)).astype(np.int8)
    g[3, rng.random(N) < 0.05] = plink.MISSING  # missing calls: dropped per SNP, as in the additive GWAS
    age = rng.normal(50, 10, N)
    pc = rng.standard_normal(N) * 0.01
    d = g.clip(0).astype(float)
    liability = 0.8 * (d[DOMINANT] >= 1) + 1.0 * (d[RECESSIVE] == 2) + 0.3 * d[ADDITIVE] + 0.02 * (age - 50)
    quantitative = liability + rng.standard_normal(N)
    binary = (rng.random(N) < 1 / (1 + np.exp(-(liability - liability.mean())))).astype(int)
    iids = [f"i{k}" for k in range(N)]
    bim = pd.DataFrame({"chrom": "1", "snp": [f"rs{k}" for k in range(M)], "cm": 0.0,
                        "pos": 1000 * (np.arange(M) + 1), "a1": "A", "a2": "C"})
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp / "geno", g, bim, fam)
    traits = pd.DataFrame({"FID": iids, "IID": iids, "binary": binary, "quantitative": quantitative})
    traits.loc[[4], "quantitative"] = np.nan
    traits.to_csv(tmp / "traits.tsv", sep="\t", index=False, na_rep="NA", float_format="%.17g")
    pd.DataFrame({"FID": iids, "IID": iids, "age": age, "PC1": pc}).to_csv(
        tmp / "covariates.tsv", sep="\t", index=False, float_format="%.17g")
    return {"dir": tmp, "g": g, "age": age, "pc": pc, "traits": traits}


def statsmodels_2df(cohort, kind):
    """-log10 p of the joint test of (dosage, heterozygote) given [1, age, PC1], per SNP."""
    y_all = cohort["traits"][kind].to_numpy(float)
    out = []
    for snp in range(M):
        g = cohort["g"][snp].astype(float)
        use = (g >= 0) & ~np.isnan(y_all)
        x = np.column_stack([np.ones(use.sum()), cohort["age"][use], cohort["pc"][use], g[use], g[use] == 1])
        y = y_all[use]
        restriction = np.zeros((2, 5))
        restriction[0, 3] = restriction[1, 4] = 1
        if kind == "quantitative":
            test = sm.OLS(y, x).fit().f_test(restriction)
        else:
            test = sm.Logit(y, x).fit(disp=0).wald_test(restriction, use_f=False, scalar=True)
        out.append(-np.log10(float(test.pvalue)))
    return np.array(out)


@pytest.mark.parametrize("kind", ["quantitative", "binary"])
def test_matches_statsmodels_joint_test(cohort, kind, tmp_path):
    out = tmp_path / "sumstats.tsv.gz"
    table = gwas_genotypic.run_genotypic_gwas(cohort["dir"] / "geno", cohort["dir"] / "traits.tsv",
                                              cohort["dir"] / "covariates.tsv", kind, kind, out)
    assert table["variant_id"].tolist() == [f"rs{k}" for k in range(M)]
    assert (table["status"] == "ok").all()
    expected = statsmodels_2df(cohort, kind)
    np.testing.assert_allclose(table["neg_log10_p_value"].to_numpy(float), expected, rtol=2e-3, atol=1e-4)
    # the 2-df test finds the dominant and recessive SNPs; the written file reads back
    assert set(table.nlargest(3, "neg_log10_p_value")["variant_id"]) >= {f"rs{DOMINANT}", f"rs{RECESSIVE}"}
    written = pd.read_csv(out, sep="\t")
    assert written.columns.tolist() == gwas_genotypic.COLUMNS
    assert written.loc[3, "n"] < N - 1  # the SNP with missing calls used fewer samples


def test_bad_glm_output_names_file_and_line(tmp_path):
    path = tmp_path / "x.glm.linear"
    path.write_text("#CHROM\tPOS\tID\tA1\tA1_FREQ\tTEST\tOBS_CT\tBETA\tSE\tZ_OR_F_STAT\tLOG10_P\tERRCODE\n"
                    "1\t10\trs1\tA\t0.3\tADD\t100\t0.1\t0.1\t1.0\t0.5\t.\n"
                    "1\t10\trs1\tA\t0.3\tDOMDEV\t100\tx\t0.1\t1.0\t0.5\t.\n")
    with pytest.raises(InputError, match=r"x\.glm\.linear, line 3, field 'BETA'"):
        gwas_genotypic.read_glm_genotypic(path)
    path.write_text("#CHROM\tPOS\tID\tA1\tA1_FREQ\tTEST\tOBS_CT\tBETA\tSE\tZ_OR_F_STAT\tLOG10_P\tERRCODE\n"
                    "1\t10\trs1\tA\t0.3\tage\t100\t0.1\t0.1\t1.0\t0.5\t.\n")
    with pytest.raises(InputError, match="line 2.*unexpected TEST 'age'"):
        gwas_genotypic.read_glm_genotypic(path)
