"""Bad cohort input -> one clear InputError naming the file (and line/column/field), no output.

Every case goes through the QC / phenotype entry points the workflow scripts call, and checks
that the output path does not exist afterwards.
"""

import shutil

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.cohort import phenotypes, plink2, qc, variants
from liftgwas.cohort import settings as cohort_config
from liftgwas.errors import InputError
from liftgwas.cohort.phenotypes import CohortWarning

needs_plink2 = pytest.mark.skipif(shutil.which("plink2") is None, reason="needs plink2 (Debian package)")

T2D = {"kind": "binary", "any_of": [{"fields": [20002], "codes": [1220]}, {"fields": [41202], "prefixes": ["E11"]}]}
HBA1C = {"kind": "quantitative", "field": 30750, "transform": "log"}
N = 40


def settings(**qc_overrides):
    s = cohort_config.cohort_settings({"genotypes": "g", "phenotypes": "t.tsv", "traits": {"t2d": T2D, "hba1c": HBA1C}}, "bad")
    for step, values in qc_overrides.items():
        s["qc"][step].update(values)
    return s


@pytest.fixture
def cohort(tmp_path):
    """A small valid cohort: 40 samples x 30 SNPs and a table with every field used."""
    rng = np.random.default_rng(1)
    ids = [str(1000 + i) for i in range(N)]
    bim = pd.DataFrame({"chrom": "10", "snp": [f"rs{i}" for i in range(30)], "cm": 0.0,
                        "pos": np.arange(30) * 1000 + 1, "a1": "A", "a2": "G"})  # fmt: skip
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": "0", "mother": "0", "sex": 1, "phenotype": "-9"})
    plink.write_plink(tmp_path / "g", rng.binomial(2, 0.3, (30, N)).astype(np.int8), bim, fam)
    table = pd.DataFrame(
        {
            "eid": ids,
            "31-0.0": "1",
            "22001-0.0": "1",
            "20002-0.0": ["1220" if i % 4 == 0 else "" for i in range(N)],
            "41202-0.0": ["E119" if i % 7 == 0 else "" for i in range(N)],
            "30750-0.0": [f"{30 + i}.5" for i in range(N)],
            "30750-1.0": "",
        }
    )
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    return tmp_path


def expect_error(call, match, *, out=None, line=None, field=None, path=None):
    """``call`` raises one InputError matching ``match`` and leaves no ``out`` (default call.out)."""
    out = out if out is not None else call.out
    with pytest.raises(InputError, match=match) as info:
        call()
    err = info.value
    if path is not None:
        assert err.path == str(path) and str(path) in str(err)
    if line is not None:
        assert err.line == line and f"line {line}" in str(err)
    if field is not None:
        assert err.field == field and f"field '{field}'" in str(err)
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")]  # no temp leftovers
    return err


def with_out(call, out):
    call.out = out
    return call


def missingness(cohort, out):
    return with_out(lambda: qc.sample_missingness_step(cohort / "g", out, settings=settings()), out)


@pytest.mark.parametrize("ext", ["bed", "bim", "fam"])
def test_missing_plink_file(cohort, ext):
    (cohort / f"g.{ext}").unlink()
    out = cohort / "qc" / "m.tsv"
    out.parent.mkdir()
    expect_error(missingness(cohort, out), rf"PLINK \.{ext} file not found", path=cohort / f"g.{ext}")


@pytest.mark.parametrize("change, state", [(-1, "truncated"), (+5, "padded")])
def test_truncated_or_padded_bed(cohort, change, state):
    bed = cohort / "g.bed"
    data = bed.read_bytes()
    bed.write_bytes(data[:change] if change < 0 else data + bytes(change))
    out = cohort / "m.tsv"
    err = expect_error(missingness(cohort, out), state, path=bed)
    assert str(plink.bed_size(30, N)) in str(err)


def test_bad_magic_and_sample_major_bed(cohort):
    bed = cohort / "g.bed"
    data = bytearray(bed.read_bytes())
    out = cohort / "m.tsv"
    bed.write_bytes(bytes([0x00, 0x1B]) + data[2:])
    expect_error(missingness(cohort, out), "bad magic number", path=bed)
    bed.write_bytes(bytes(data[:2]) + bytes([0x00]) + data[3:])
    expect_error(missingness(cohort, out), "only SNP-major", path=bed)


def test_duplicate_sample_id(cohort):
    fam = cohort / "g.fam"
    lines = fam.read_text().splitlines()
    lines[5] = lines[2]
    fam.write_text("\n".join(lines) + "\n")
    expect_error(missingness(cohort, cohort / "m.tsv"), "duplicate sample ID '1002'", line=6, field="iid", path=fam)


def test_duplicate_variant_id(cohort):
    bim = cohort / "g.bim"
    lines = bim.read_text().splitlines()
    lines[9] = lines[9].replace("rs9", "rs3")
    bim.write_text("\n".join(lines) + "\n")
    expect_error(missingness(cohort, cohort / "m.tsv"), "duplicate variant ID 'rs3'", line=10, field="snp", path=bim)


@needs_plink2
def test_later_steps_validate_the_genotypes_too(cohort):
    good = qc.sample_missingness_step(cohort / "g", cohort / "m.tsv", settings=settings())
    assert len(good) == N
    (cohort / "g.bed").write_bytes((cohort / "g.bed").read_bytes()[:-3])
    out = cohort / "variants" / "plink"
    call = lambda: variants.variant_qc(cohort / "g", cohort / "m.tsv", out, cohort / "v.tsv", cohort / "r.tsv", settings=settings())  # noqa: E731
    with pytest.raises(InputError, match="truncated"):
        call()
    assert not any((cohort / "variants").glob("plink*")) and not (cohort / "v.tsv").exists()


def traits(cohort, out, definitions=None):
    call = lambda: phenotypes.write_traits(  # noqa: E731
        cohort / "t.tsv", definitions or {"t2d": T2D, "hba1c": HBA1C}, cohort / "g.fam", cohort / "g.fam", out,
        config_key="cohorts.bad.traits",
    )
    return with_out(call, out)


def test_valid_cohort_writes_traits(cohort):
    values = traits(cohort, cohort / "traits.tsv")()
    assert (cohort / "traits.tsv").exists() and values["t2d"].sum() == len(set(range(0, N, 4)) | set(range(0, N, 7)))


def test_table_without_eid_column(cohort):
    table = pd.read_csv(cohort / "t.tsv", sep="\t", dtype=str).rename(columns={"eid": "f.eid"})
    table.to_csv(cohort / "t.tsv", sep="\t", index=False)
    expect_error(traits(cohort, cohort / "traits.tsv"), "no 'eid' column", line=1, path=cohort / "t.tsv")


@pytest.mark.parametrize("sep", ["\t", ","])
def test_non_numeric_value_in_numeric_field_names_line_and_column(cohort, sep):
    table = pd.read_csv(cohort / "t.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.loc[12, "30750-1.0"] = "high"
    path = cohort / ("t.csv" if sep == "," else "t.tsv")
    table.to_csv(path, sep=sep, index=False)
    out = cohort / "traits.tsv"
    call = lambda: phenotypes.write_traits(path, {"hba1c": HBA1C}, cohort / "g.fam", cohort / "g.fam", out)  # noqa: E731
    # row 12 of the data is line 14 of the file (line 1 is the header)
    expect_error(call, "'high' is not a number", out=out, line=14, field="30750-1.0", path=path)


def test_trait_with_zero_cases_after_qc(cohort):
    no_cases = {"t2d": {"kind": "binary", "any_of": [{"fields": [20002], "codes": [9999]}]}}
    err = expect_error(traits(cohort, cohort / "traits.tsv", no_cases), "trait 't2d' has no cases among the 40 samples passing QC")
    assert "cohorts.bad.traits.t2d" in str(err)


def test_trait_with_zero_controls_after_qc(cohort):
    everyone = {"t2d": {"kind": "binary", "any_of": [{"fields": [31], "codes": [0, 1]}]}}
    expect_error(traits(cohort, cohort / "traits.tsv", everyone), "trait 't2d' has no controls")


def test_quantitative_trait_without_values_after_qc(cohort):
    empty = {"x": {"kind": "quantitative", "field": 30750, "instances": [1]}}
    expect_error(traits(cohort, cohort / "traits.tsv", empty), "trait 'x' .* has no values", field="30750")


def test_log_of_a_non_positive_value_names_line_and_column(cohort):
    table = pd.read_csv(cohort / "t.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.loc[3, "30750-0.0"] = "0"
    table.to_csv(cohort / "t.tsv", sep="\t", index=False)
    expect_error(traits(cohort, cohort / "traits.tsv"), "cannot be log-transformed", line=5, field="30750-0.0")


def test_table_samples_missing_from_fam_warn_with_a_count_and_do_not_fail(cohort):
    table = pd.read_csv(cohort / "t.tsv", sep="\t", dtype=str, keep_default_na=False)
    extra = table.iloc[:4].copy()
    extra["eid"] = ["-1", "-2", "-3", "999999"]
    pd.concat([table, extra]).to_csv(cohort / "t.tsv", sep="\t", index=False)
    with pytest.warns(CohortWarning, match="4 of 44 participants in the phenotype table are not in the genotype .fam"):
        traits(cohort, cohort / "traits.tsv")()
    assert len(pd.read_csv(cohort / "traits.tsv", sep="\t")) == N


def test_config_field_missing_from_table(cohort):
    bad = {"t2d": {"kind": "binary", "any_of": [{"fields": [20002], "codes": [1220]}, {"fields": [41204], "prefixes": ["E11"]}]}}
    err = expect_error(traits(cohort, cohort / "traits.tsv", bad), "needs field 41204", field="41204", path=cohort / "t.tsv")
    assert "cohorts.bad.traits.t2d.any_of[1]" in str(err)


def test_sex_check_field_missing_from_table(cohort):
    out = cohort / "sex.tsv"
    s = settings(sex={"method": "fields", "genetic_field": 22002})
    call = lambda: qc.sex_step(cohort / "g", cohort / "t.tsv", None, out, settings=s, config_key="cohorts.bad.qc.sex")  # noqa: E731
    err = expect_error(call, "needs field 22002", out=out, field="22002")
    assert "cohorts.bad.qc.sex.genetic_field" in str(err)


def test_sex_check_from_chrx_without_chrx_variants(cohort):
    out = cohort / "sex.tsv"
    call = lambda: qc.sex_step(cohort / "g", cohort / "t.tsv", None, out, settings=settings(sex={"method": "chrx"}))  # noqa: E731
    expect_error(call, "needs >= 50 non-PAR chrX variants, found 0", out=out, path=cohort / "g.bim")


def test_covariate_field_missing_from_table(cohort):
    s = settings()
    s["covariates"]["n_pcs"] = 0
    out = cohort / "cov.tsv"
    call = lambda: qc.write_covariates(cohort / "t.tsv", s, cohort / "g.fam", cohort / "g", out, config_key="cohorts.bad.covariates")  # noqa: E731
    err = expect_error(call, "needs field 21022", out=out, field="21022")
    assert "cohorts.bad.covariates.fields.age" in str(err)


def test_too_few_pc_columns(cohort):
    s = settings()
    s["covariates"].update({"fields": {"sex": 31}, "pcs": "field", "n_pcs": 10})
    out = cohort / "cov.tsv"
    call = lambda: qc.write_covariates(cohort / "t.tsv", s, cohort / "g.fam", cohort / "g", out)  # noqa: E731
    expect_error(call, "needs 10 PCs from field 22009, the table has 0", out=out, field="22009")


def test_duplicate_and_empty_eids(cohort):
    table = pd.read_csv(cohort / "t.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.loc[7, "eid"] = table.loc[2, "eid"]
    table.to_csv(cohort / "t.tsv", sep="\t", index=False)
    expect_error(traits(cohort, cohort / "traits.tsv"), "duplicate eid '1002'", line=9, field="eid")
    table.loc[7, "eid"] = ""
    table.to_csv(cohort / "t.tsv", sep="\t", index=False)
    expect_error(traits(cohort, cohort / "traits.tsv"), "empty eid", line=9, field="eid")


def test_missing_table(cohort):
    (cohort / "t.tsv").unlink()
    expect_error(traits(cohort, cohort / "traits.tsv"), "phenotype table not found", path=cohort / "t.tsv")


@pytest.mark.parametrize(
    "content, match, line, field",
    [
        ("ID1 ID2 HetHet IBS0\n1000 1001 0.1 0.01\n", "lacks column.*Kinship", 1, None),
        ("ID1 ID2 HetHet IBS0 Kinship\n1000 1001 0.1 0.01 0.25\n1002 1003 0.1 0.01 high\n", "'high' is not a number", 3, "Kinship"),
    ],
)
def test_bad_relatedness_file(cohort, content, match, line, field):
    (cohort / "rel.dat").write_text(content)
    qc.write_tsv(cohort / "prev.tsv", pd.DataFrame({"FID": ["1000"], "IID": ["1000"], "removed": [0], "reason": [""], "method": [""]}))
    out = cohort / "rel.tsv"
    call = lambda: qc.relatedness_step(cohort / "g", cohort / "prev.tsv", out, settings=settings(), relatedness_file=cohort / "rel.dat")  # noqa: E731
    expect_error(call, match, out=out, line=line, field=field, path=cohort / "rel.dat")


@needs_plink2
def test_no_variants_on_the_configured_chromosomes(cohort):
    qc.sample_missingness_step(cohort / "g", cohort / "m.tsv", settings=settings())
    s = settings()
    s["chromosomes"] = ["22"]
    out = cohort / "geno" / "plink"
    with pytest.raises(InputError, match=r"no variants on chromosome\(s\) 22 \(config key chromosomes\)") as info:
        variants.variant_qc(cohort / "g", cohort / "m.tsv", out, cohort / "v.tsv", cohort / "r.tsv", settings=s)
    assert info.value.path == str(cohort / "g.bim")
    assert not (cohort / "geno").exists() or not any((cohort / "geno").iterdir())
    assert not (cohort / "v.tsv").exists()
