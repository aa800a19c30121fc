"""The PLINK 1.9 pairwise scan on a tiny planted example, and its report parsers."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from liftgwas import epistasis, plink
from liftgwas.errors import InputError

needs_plink19 = pytest.mark.skipif(
    shutil.which("plink1.9") is None,
    reason="plink 1.9 not installed (Debian package plink1.9; `make system-deps` installs it)",
)

N, M = 800, 24
PAIR = (3, 17)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """A pure pairwise effect: gamma * h(gA) * h(gB), h centred, so neither SNP has a main effect."""
    tmp = tmp_path_factory.mktemp("epistasis")
    rng = np.random.default_rng(8)
    g = rng.binomial(2, 0.4, (M, N)).astype(np.int8)
    a, b = (g[i].astype(float) for i in PAIR)
    liability = 1.2 * (a - a.mean()) * (b - b.mean())
    pc = rng.standard_normal(N)
    quantitative = liability + 0.5 * pc + rng.standard_normal(N)
    binary = (rng.random(N) < 1 / (1 + np.exp(-2 * liability))).astype(int)
    iids = [f"p{k}" for k in range(N)]
    bim = pd.DataFrame({"chrom": np.where(np.arange(M) < 12, "1", "2"), "snp": [f"rs{k}" for k in range(M)],
                        "cm": 0.0, "pos": 1000 * (np.arange(M) + 1), "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp / "geno", g, bim, fam)
    traits = pd.DataFrame({"FID": iids, "IID": iids, "binary": binary, "quantitative": quantitative})
    traits.to_csv(tmp / "traits.tsv", sep="\t", index=False, float_format="%.17g")
    pd.DataFrame({"FID": iids, "IID": iids, "PC1": pc}).to_csv(tmp / "covariates.tsv", sep="\t", index=False,
                                                                float_format="%.17g")
    return {"dir": tmp, "g": g, "pc": pc, "traits": traits}


@needs_plink19
@pytest.mark.parametrize("kind", ["quantitative", "binary"])
def test_scan_finds_the_planted_pair(planted, kind, tmp_path):
    d = planted["dir"]
    snps, pairs = epistasis.run_scan(d / "geno", d / "traits.tsv", d / "covariates.tsv", kind, kind,
                                     tmp_path / "snps.tsv.gz", tmp_path / "pairs.tsv.gz", top_pairs=50)
    planted_ids = {f"rs{i}" for i in PAIR}
    assert {pairs.at[0, "snp1"], pairs.at[0, "snp2"]} == planted_ids
    assert len(pairs) <= 50 and pairs["statistic"].is_monotonic_decreasing
    assert snps["variant_id"].tolist() == [f"rs{k}" for k in range(M)]
    assert (snps["n_tests"] == M - 1).all() and (snps["status"] == "ok").all()
    top_two = set(snps.nlargest(2, "best_statistic")["variant_id"])
    assert top_two == planted_ids
    ranked = snps.set_index("variant_id")
    assert ranked.at["rs3", "best_partner"] == "rs17" and ranked.at["rs17", "best_partner"] == "rs3"
    # both files read back through the readers the recall rule uses
    assert epistasis.read_snp_ranking(tmp_path / "snps.tsv.gz")["variant_id"].tolist() == snps["variant_id"].tolist()
    assert len(epistasis.read_pair_list(tmp_path / "pairs.tsv.gz")) == len(pairs)


@needs_plink19
def test_quantitative_statistic_is_the_interaction_test_on_the_residualised_trait(planted, tmp_path):
    d = planted["dir"]
    _, pairs = epistasis.run_scan(d / "geno", d / "traits.tsv", d / "covariates.tsv", "quantitative",
                                  "quantitative", tmp_path / "s.tsv", tmp_path / "p.tsv", top_pairs=5)
    y = planted["traits"]["quantitative"].to_numpy(float)
    pc = planted["pc"]
    resid = y - sm.OLS(y, sm.add_constant(pc)).fit().fittedvalues
    a, b = (planted["g"][i].astype(float) for i in PAIR)
    fit = sm.OLS(resid, np.column_stack([np.ones(N), a, b, a * b])).fit()
    row = pairs.iloc[0]
    assert row["statistic"] == pytest.approx(fit.tvalues[3] ** 2, rel=1e-3)
    assert row["beta_interaction"] == pytest.approx(fit.params[3], rel=1e-3)


@needs_plink19
def test_scan_is_skipped_above_max_snps(planted, tmp_path):
    d = planted["dir"]
    snps, pairs = epistasis.run_scan(d / "geno", d / "traits.tsv", d / "covariates.tsv", "binary", "binary",
                                     tmp_path / "s.tsv", tmp_path / "p.tsv", max_snps=M - 1)
    assert (snps["status"] == "skipped_max_snps").all() and snps["best_statistic"].isna().all()
    assert pairs.empty and epistasis.read_pair_list(tmp_path / "p.tsv").empty


def test_parse_errors_name_file_and_line(tmp_path):
    report = tmp_path / "scan.epi.cc"
    report.write_text("CHR1 SNP1 CHR2 SNP2 STAT DF P\n1 rs1 1 rs2 3.5 4 0.47\n1 rs1 1 rs3 abc 4 0.1\n")
    with pytest.raises(InputError, match=r"scan\.epi\.cc, line 3, field 'STAT'.*'abc'"):
        epistasis.read_pairs(report)
    report.write_text("CHR1 SNP1 CHR2 SNP2 STAT DF P\n1 rs1 1 rs2 3.5 4\n")
    with pytest.raises(InputError, match="line 2: expected 7"):
        epistasis.read_pairs(report)
    report.write_text("SNP STAT\n")
    with pytest.raises(InputError, match="line 1: unexpected header"):
        epistasis.read_pairs(report)
    summary = tmp_path / "scan.epi.qt.summary"
    summary.write_text(" CHR SNP N_SIG N_TOT PROP BEST_CHISQ BEST_CHR BEST_SNP\n 1 rs1 0 3 0 2.5 1 rs2\n"
                       " 1 rs1 0 3 0 2.5 1 rs3\n")
    with pytest.raises(InputError, match="line 3, field 'SNP'.*twice"):
        epistasis.read_summary(summary)


def test_epi1_threshold():
    assert epistasis.epi1_threshold(5_000, 1_000, "binary") == pytest.approx(2_000 / (5_000 * 4_999 / 2))
    assert epistasis.epi1_threshold(100_000, 10, "quantitative") == 1e-4  # PLINK's default is the floor
    assert epistasis.epi1_threshold(10, 1_000, "binary") == 1.0
