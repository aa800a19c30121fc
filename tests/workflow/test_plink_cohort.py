"""A cohort in PLINK files runs end to end: QC -> traits/covariates -> a tiny grid -> GWAS.

The test writes the cohort itself (genotypes of the synthetic cohort with string IIDs, a
PLINK phenotype file with a binary trait in 1/2 coding with -9 missing and a quantitative
trait, a covariate file with a categorical covariate) and checks traits.tsv and
covariates.tsv against the values it wrote. A table whose IDs are not the .fam's fails the
dry run with the overlap message, before any job.
"""

import copy
import shutil

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.cohort import ukb_synth
from snakemake_runner import TINY_CONFIG, snakemake, write_config

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("plink2") is None, reason="needs plink2")]

CENTRES = ["york", "leeds", "oxford"]


def write_cohort(workdir):
    """The synthetic cohort's genotypes with string IDs, and PLINK phenotype/covariate files."""
    data = ukb_synth.generate(ukb_synth.SyntheticSpec(n_samples=400, seed=11))
    per = pd.DataFrame(data.truth["per_sample"])
    n = len(per)
    iid = np.array([f"P{e}-x" for e in per["eid"]])
    fid = np.array([f"fam{k // 2}" for k in range(n)])
    fam = data.fam.assign(fid=fid, iid=iid)
    plink.write_plink(workdir / "cohort", data.dosages, data.bim, fam)
    rng = np.random.default_rng(3)
    case = np.where(per["t2d"] == 1, "2", "1").astype(object)
    case[np.arange(n) % 20 == 7] = "-9"
    hba1c = np.array(["NA" if v is None or np.isnan(v) else f"{v:.6f}" for v in per["hba1c"]], dtype=object)
    hba1c[np.arange(n) % 25 == 3] = "-9"
    pheno = pd.DataFrame({"#FID": fid, "IID": iid, "CASE": case, "HBA1C": hba1c})
    pheno.to_csv(workdir / "cohort.pheno", sep="\t", index=False)
    centre = rng.choice(CENTRES, n)
    cov = pd.DataFrame({"FID": fid, "IID": iid, "age": per["age"], "centre": centre, "sex": per["sex"]})
    cov.to_csv(workdir / "cohort.cov", sep=" ", index=False)
    expected = pd.DataFrame({"IID": iid, "case": case, "hba1c": hba1c, "age": per["age"], "centre": centre}).set_index("IID")
    return expected


def cohort_config(workdir, phenotypes="cohort.pheno"):
    config = copy.deepcopy(TINY_CONFIG)
    config["simulation"]["replicates"] = 0
    config["cohorts"] = {
        "pl": {
            "genotypes": str(workdir / "cohort"),
            "phenotypes": {"format": "plink", "path": str(workdir / phenotypes)},
            "chromosomes": ["10"],
            "qc": {"pca": {"approx": False}},
            "covariates": {"format": "plink", "path": str(workdir / "cohort.cov"), "columns": ["age", "sex", "centre"], "n_pcs": 3},
            "traits": {
                "case": {"kind": "binary", "column": "CASE"},
                "hba1c": {"kind": "quantitative", "column": "HBA1C", "transform": "log"},
            },
        }
    }
    return write_config(workdir, config)


@pytest.fixture(scope="module")
def plink_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("plink_cohort")
    expected = write_cohort(workdir)
    targets = ["results/pl/traits.tsv", "results/pl/covariates.tsv", "results/pl/qc/summary.tsv",
               "results/pl/case/selected/scores.tsv", "results/pl/case/gwas/sumstats.tsv.gz",
               "results/pl/hba1c/gwas/sumstats.tsv.gz"]  # fmt: skip
    snakemake(workdir, cohort_config(workdir), *targets, timeout=1500)
    return workdir, expected


def read(path):
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str})


def test_traits_are_the_values_written(plink_run):
    workdir, expected = plink_run
    traits = read(workdir / "results/pl/traits.tsv")
    fam = plink.read_fam(workdir / "results/pl/genotypes/plink.fam")
    assert traits["IID"].tolist() == fam["iid"].astype(str).tolist()
    assert traits["IID"].str.startswith("P").all() and traits["FID"].str.startswith("fam").all()
    e = expected.loc[traits["IID"]]
    want_case = e["case"].map({"2": 1.0, "1": 0.0, "-9": np.nan}).to_numpy()
    np.testing.assert_array_equal(traits["case"].to_numpy(float), want_case)
    assert np.isnan(want_case).sum() > 0
    want_hba1c = np.log(pd.to_numeric(e["hba1c"].replace({"-9": "NA"}), errors="coerce").to_numpy())
    np.testing.assert_allclose(traits["hba1c"].to_numpy(float), want_hba1c, rtol=1e-6)
    assert (e["hba1c"] == "-9").any() and traits["hba1c"].isna().sum() == np.isnan(want_hba1c).sum()
    log = (workdir / "logs/phenotypes/pl.log").read_text()
    assert "read as binary in 1/2 coding" in log


def test_covariates_are_the_values_written_with_one_hot_centre(plink_run):
    workdir, expected = plink_run
    cov = read(workdir / "results/pl/covariates.tsv")
    assert cov.columns.tolist() == ["FID", "IID", "age", "sex", "centre_oxford", "centre_york", "PC1", "PC2", "PC3"]
    e = expected.loc[cov["IID"]]
    assert (cov["age"].to_numpy() == e["age"].to_numpy()).all()
    for level in ("oxford", "york"):
        assert (cov[f"centre_{level}"].to_numpy() == (e["centre"] == level).to_numpy()).all()
    assert not cov.isna().any().any()
    assert "one-hot encoded as centre_oxford, centre_york, reference level 'leeds'" in (workdir / "logs/covariates/pl.log").read_text()


def test_grid_gwas_and_summary_warnings(plink_run):
    workdir, _ = plink_run
    scores = pd.read_csv(workdir / "results/pl/case/selected/scores.tsv", sep="\t")
    bim = plink.read_bim(workdir / "results/pl/genotypes/plink.bim")
    assert len(scores) == len(bim)
    gwas = pd.read_csv(workdir / "results/pl/hba1c/gwas/sumstats.tsv.gz", sep="\t")
    assert 0 < len(gwas) <= len(bim)
    summary = pd.read_csv(workdir / "results/pl/qc/summary.tsv", sep="\t", keep_default_na=False).set_index("step")
    assert "on one chromosome (10)" in summary.loc["relatedness", "warning"]
    assert "no reference group field" in summary.loc["ancestry", "warning"]
    assert summary.loc["sex", "method"].startswith("chrX F over")


def test_ids_not_in_the_fam_fail_the_dry_run(tmp_path):
    write_cohort(tmp_path)  # no workflow run: the dry run itself must fail
    pheno = pd.read_csv(tmp_path / "cohort.pheno", sep="\t", dtype=str, keep_default_na=False)
    pheno["IID"] = pheno["IID"].str.replace("P", "Q")
    pheno.to_csv(tmp_path / "renamed.pheno", sep="\t", index=False)
    config = cohort_config(tmp_path, phenotypes="renamed.pheno")
    with pytest.raises(AssertionError) as err:
        snakemake(tmp_path, config, "--dry-run", "results/pl/traits.tsv")
    message = str(err.value)
    assert "only 0 of the 400 samples" in message and "renamed.pheno" in message and "cohort.fam" in message
    assert "Table IDs: 'Q" in message and ".fam IIDs: 'P" in message
    assert not (tmp_path / "results").exists()
