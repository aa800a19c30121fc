"""GWAS-SSF output (liftgwas.sumstats): spec columns, #NA, the -meta.yaml, and the GWAS Catalog's
validator (`gwas-ssf validate`) on the files run_gwas writes."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
import yaml

import ssf_validator
from liftgwas import gwas, plink, sumstats

N_SAMPLES = 300
CHROMOSOMES = [str(c) for c in range(1, 23)] + ["X"]  # the validator wants every autosome
MONOMORPHIC = 4


def write_genome_wide_cohort(tmp_path, kind="binary"):
    rng = np.random.default_rng(3)
    chrom = np.repeat(CHROMOSOMES, 2)
    n_snps = chrom.size
    dosages = rng.binomial(2, rng.uniform(0.1, 0.5, n_snps)[:, None], (n_snps, N_SAMPLES)).astype(np.int8)
    dosages[MONOMORPHIC] = 0
    dosages[7, :5] = plink.MISSING
    ids = [f"rs{100 + i}" if i % 3 else f"snp_{i}" for i in range(n_snps)]  # mixed rsIDs / other IDs
    bim = pd.DataFrame({"chrom": chrom, "snp": ids, "cm": 0.0, "pos": 5000 + 100 * np.arange(n_snps),
                        "a1": np.where(np.arange(n_snps) % 2, "A", "G"), "a2": np.where(np.arange(n_snps) % 2, "C", "T")})
    iids = [f"i{k}" for k in range(N_SAMPLES)]
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp_path / "geno", dosages, bim, fam)
    eta = 0.9 * dosages[1] - 0.8
    y = (rng.random(N_SAMPLES) < 1 / (1 + np.exp(-eta))).astype(int) if kind == "binary" else eta + rng.standard_normal(N_SAMPLES)
    pd.DataFrame({"FID": iids, "IID": iids, "t": y}).to_csv(tmp_path / "traits.tsv", sep="\t", index=False)
    pd.DataFrame({"FID": iids, "IID": iids, "PC1": rng.standard_normal(N_SAMPLES)}).to_csv(
        tmp_path / "covariates.tsv", sep="\t", index=False)
    return bim, y


@pytest.fixture(scope="module", params=["binary", "quantitative"])
def written(request, tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp(f"ssf_{request.param}")
    bim, y = write_genome_wide_cohort(tmp_path, request.param)
    out = tmp_path / "gwas" / "sumstats.tsv.gz"
    association = gwas.run_gwas(tmp_path / "geno", tmp_path / "traits.tsv", tmp_path / "covariates.tsv", "t",
                                request.param, out, genome_assembly="GRCh38")
    return out, bim, y, association, request.param


def test_gwas_catalog_validator_accepts_the_file(written):
    out = written[0]
    result = ssf_validator.validate(out)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Data table is valid" in result.stdout, result.stdout
    meta = ssf_validator.check_metadata(out)
    assert meta.returncode == 0, meta.stderr


def test_validator_rejects_what_the_old_writer_wrote(written, tmp_path):
    """The check can fail: the previous column name (neg_log10_p_value in the p-value slot, no
    p_value) and #NA in a mandatory column are both rejected."""
    out = written[0]
    table = sumstats.read_gwas_ssf(out)
    old = table.drop(columns=["p_value"]).rename(columns={"neg_log_10_p_value": "neg_log10_p_value"})
    old.to_csv(tmp_path / "old.tsv", sep="\t", index=False)
    assert ssf_validator.validate(tmp_path / "old.tsv").returncode != 0
    missing = table.copy()
    missing.loc[3, "beta"] = np.nan
    missing.to_csv(tmp_path / "na.tsv", sep="\t", index=False, na_rep="#NA")
    result = ssf_validator.validate(tmp_path / "na.tsv")
    assert result.returncode != 0 and "Data table is valid" not in result.stdout


def test_columns_ids_and_missing_values(written):
    out, bim, y, association, kind = written
    with gzip.open(out, "rt") as handle:
        assert handle.readline().rstrip("\n").split("\t") == sumstats.COLUMNS
    table = sumstats.read_gwas_ssf(out)
    tested = bim.drop(index=MONOMORPHIC).reset_index(drop=True)  # not testable: left out
    assert association.loc[MONOMORPHIC, "status"] == "monomorphic"
    assert list(table["bim_id"]) == list(tested["snp"])
    codes = tested["chrom"].replace({"X": "23"}).astype(int)
    assert list(table["chromosome"]) == list(codes)
    assert list(table["variant_id"]) == [f"{c}_{p}_{a2}_{a1}" for c, p, a2, a1 in
                                         zip(codes, tested["pos"], tested["a2"], tested["a1"])]
    assert list(table["effect_allele"]) == list(tested["a1"]) and list(table["other_allele"]) == list(tested["a2"])
    rs = tested["snp"].str.match(r"^rs[0-9]+$")
    assert list(table.loc[rs, "rsid"]) == list(tested.loc[rs, "snp"])
    assert table.loc[~rs, "rsid"].isna().all() and (~rs).any()
    with gzip.open(out, "rt") as handle:
        text = handle.read()
    assert "\t#NA\t" in text and "\tNA\t" not in text
    np.testing.assert_allclose(10 ** -table["neg_log_10_p_value"], table["p_value"], rtol=1e-5)
    assert table.loc[table["bim_id"] == "rs107", "n"].item() == N_SAMPLES - 5


def test_metadata_sidecar(written):
    out, bim, y, association, kind = written
    meta = yaml.safe_load(sumstats.meta_path(out).read_text())
    assert sumstats.meta_path(out).name == "sumstats.tsv.gz-meta.yaml"
    assert meta["genome_assembly"] == "GRCh38"
    assert meta["trait_description"] == ["t"]
    assert meta["is_harmonised"] is False
    assert meta["file_type"] == "GWAS-SSF v1.0"
    assert meta["data_file_name"] == "sumstats.tsv.gz"
    import hashlib

    assert meta["data_file_md5sum"] == hashlib.md5(out.read_bytes()).hexdigest()
    sample = meta["samples"][0]
    assert sample["sample_size"] == N_SAMPLES
    if kind == "binary":
        assert (sample["case_count"], sample["control_count"]) == (int(y.sum()), int((1 - y).sum()))
    assert "numpy" in meta["analysis_software"] and "liftgwas" in meta["analysis_software"]
    assert meta["adjusted_covariates"] == ["PC1"]
    assert "monomorphic 1" in meta["author_notes"]


def test_chromosome_codes():
    assert list(sumstats.chromosome_codes(["1", "chr22", "X", "Y", "XY", "MT", "26", "25"])) == [1, 22, 23, 24, 23, 25, 25, 23]
    with pytest.raises(ValueError, match="chromosome 'UN'"):
        sumstats.chromosome_codes(["1", "Un"])
