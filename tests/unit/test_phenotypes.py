"""Trait and covariate extraction from UK Biobank-style tables, as the paper defines the traits."""

import numpy as np
import pandas as pd
import pytest

from liftgwas.cohort import phenotypes, ukb_synth
from liftgwas.cohort.phenotypes import CohortWarning
from liftgwas.cohort.ukb_table import UkbTable

T2D = {
    "kind": "binary",
    "any_of": [
        {"fields": [20002], "codes": [1220]},
        {"fields": [41203, 41205], "prefixes": ["249", "250"]},
        {"fields": [41202, 41204], "prefixes": ["E10", "E11", "E12", "E13", "E14"]},
    ],
}
HBA1C = {"kind": "quantitative", "field": 30750, "aggregate": "mean", "transform": "log"}
ROUTE_RULES = {
    "20002": {"fields": [20002], "codes": [1220]},
    "41203": {"fields": [41203], "prefixes": ["249", "250"]},
    "41205": {"fields": [41205], "prefixes": ["249", "250"]},
    "41202": {"fields": [41202], "prefixes": ["E10", "E11", "E12", "E13", "E14"]},
    "41204": {"fields": [41204], "prefixes": ["E10", "E11", "E12", "E13", "E14"]},
}


def samples(ids):
    ids = [str(i) for i in ids]
    return pd.DataFrame({"FID": ids, "IID": ids})


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("pheno") / "ukb"
    truth = ukb_synth.write_synthetic_cohort(prefix)
    per = pd.DataFrame(truth["per_sample"]).set_index("eid")
    return prefix, per


def test_t2d_and_hba1c_match_what_was_planted(synthetic):
    prefix, per = synthetic
    with pytest.warns(CohortWarning, match="3 of 603 participants"):
        values = phenotypes.extract_traits(f"{prefix}.tsv", {"t2d": T2D, "hba1c": HBA1C}, samples(per.index))
    assert values["IID"].tolist() == per.index.tolist()
    assert (values["t2d"].to_numpy() == per["t2d"].to_numpy()).all()
    expected = per["hba1c"].astype(float).to_numpy()
    got = values["hba1c"].to_numpy(dtype=float)
    assert (np.isnan(got) == np.isnan(expected)).all()
    np.testing.assert_allclose(got[~np.isnan(got)], expected[~np.isnan(expected)], rtol=0, atol=1e-12)


@pytest.mark.parametrize("route", sorted(ROUTE_RULES))
def test_each_code_route_alone_finds_exactly_its_cases(synthetic, route):
    prefix, per = synthetic
    trait = {"kind": "binary", "any_of": [ROUTE_RULES[route]]}
    with pytest.warns(CohortWarning):
        values = phenotypes.extract_traits(f"{prefix}.tsv", {"t": trait}, samples(per.index))
    expected = per["t2d_routes"].str.split(";").apply(lambda routes: route in routes).astype(int)
    assert expected.sum() >= 10
    assert (values["t"].to_numpy() == expected.to_numpy()).all()


def test_csv_table_gives_the_same_traits(synthetic, tmp_path):
    prefix, per = synthetic
    table = pd.read_csv(f"{prefix}.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.to_csv(tmp_path / "ukb.csv", index=False)
    assert UkbTable(tmp_path / "ukb.csv").sep == ","
    with pytest.warns(CohortWarning):
        tsv = phenotypes.extract_traits(f"{prefix}.tsv", {"t2d": T2D, "hba1c": HBA1C}, samples(per.index))
    with pytest.warns(CohortWarning):
        csv = phenotypes.extract_traits(tmp_path / "ukb.csv", {"t2d": T2D, "hba1c": HBA1C}, samples(per.index))
    pd.testing.assert_frame_equal(tsv, csv)


def write_table(path, rows: dict, sep="\t"):
    pd.DataFrame(rows).to_csv(path, sep=sep, index=False)
    return path


def test_codes_prefixes_and_distractors(tmp_path):
    table = write_table(
        tmp_path / "t.tsv",
        {
            "eid": ["1", "2", "3", "4", "5", "6", "7", "8"],
            "20002-0.0": ["1220", "1221", "", "1065", "", "", "", "1222"],
            "20002-1.3": ["", "", "1220.0", "", "", "", "", ""],  # a later visit; numeric compare
            "41202-0.0": ["", "E15", "", "E119", "", "O244", "E1", ""],
            "41204-0.2": ["", "", "", "", "E149", "", "", "I10"],
            "41203-0.0": ["", "2510", "", "", "", "", "", ""],
            "41205-0.1": ["", "", "", "", "", "25000", "", ""],
        },
    )
    with pytest.warns(CohortWarning, match="genotype .fam"):  # nobody is genotyped here
        values = phenotypes.extract_traits(table, {"t2d": T2D}, samples(["1", "2", "3", "4", "5", "6", "7", "8"]), pd.Series(["0"]))
    # 1: 1220; 3: 1220 at instance 1; 4: E119; 5: E149 secondary; 6: ICD9 25000 secondary
    # 2: gestational 1221, E15 (not E1x diabetes), 2510; 7: 'E1' alone; 8: 1222 (not in the paper's rule)
    assert values["t2d"].tolist() == [1, 0, 1, 1, 1, 1, 0, 0]


def test_text_rules_on_a_field_another_rule_reads_as_numbers(tmp_path):
    table = write_table(tmp_path / "t.tsv", {"eid": ["1", "2", "3"], "20002-0.0": ["1220", "1223", "1065"]})
    traits = {
        "diabetes": {"kind": "binary", "any_of": [{"fields": [20002], "codes": [1220]}]},
        "any_122x": {"kind": "binary", "any_of": [{"fields": [20002], "prefixes": ["122"]}]},
        "text_code": {"kind": "binary", "any_of": [{"fields": [20002], "codes": ["1065"]}]},
    }
    values = phenotypes.extract_traits(table, traits, samples(["1", "2", "3"]))
    assert values[["diabetes", "any_122x", "text_code"]].to_numpy().tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 1]]


def test_instances_restrict_a_rule(tmp_path):
    table = write_table(tmp_path / "t.tsv", {"eid": ["1", "2"], "20002-0.0": ["1220", ""], "20002-1.0": ["", "1220"]})
    trait = {"kind": "binary", "any_of": [{"fields": [20002], "codes": [1220], "instances": [0]}]}
    values = phenotypes.extract_traits(table, {"baseline": trait}, samples(["1", "2"]))
    assert values["baseline"].tolist() == [1, 0]


@pytest.mark.parametrize(
    "aggregate, transform, expected",
    [
        ("mean", "none", [40.0, 30.0, np.nan]),
        ("mean", "log", [np.log(40.0), np.log(30.0), np.nan]),
        ("mean", "log10", [np.log10(40.0), np.log10(30.0), np.nan]),
        ("first", "none", [30.0, 30.0, np.nan]),
        ("max", "none", [50.0, 30.0, np.nan]),
        ("min", "none", [30.0, 30.0, np.nan]),
        ("median", "none", [40.0, 30.0, np.nan]),
    ],
)
def test_quantitative_aggregates_over_instances_present(tmp_path, aggregate, transform, expected):
    table = write_table(
        tmp_path / "t.tsv", {"eid": ["1", "2", "3"], "30750-0.0": ["30", "", ""], "30750-1.0": ["50", "30", ""]}
    )
    trait = {"kind": "quantitative", "field": 30750, "aggregate": aggregate, "transform": transform}
    values = phenotypes.extract_traits(table, {"x": trait}, samples(["1", "2", "3"]))
    np.testing.assert_allclose(values["x"].to_numpy(dtype=float), expected)


def test_genotyped_samples_without_a_row_are_na_with_a_warning(tmp_path):
    table = write_table(tmp_path / "t.tsv", {"eid": ["1", "2"], "20002-0.0": ["1220", ""], "30750-0.0": ["40", ""]})
    with pytest.warns(CohortWarning, match="1 genotyped samples have no row"):
        values = phenotypes.extract_traits(table, {"t2d": {"kind": "binary", "any_of": [ROUTE_RULES["20002"]]}, "hba1c": HBA1C}, samples(["2", "9", "1"]))
    assert values["IID"].tolist() == ["2", "9", "1"]
    assert values["t2d"].tolist()[0] == 0 and pd.isna(values["t2d"].iloc[1]) and values["t2d"].iloc[2] == 1
    assert pd.isna(values["hba1c"].iloc[0]) and pd.isna(values["hba1c"].iloc[1])  # missing -> NA for this trait only


def test_write_traits_keeps_only_qc_samples_in_fam_order(synthetic, tmp_path):
    prefix, per = synthetic
    fam = pd.read_csv(f"{prefix}.fam", sep=" ", header=None, dtype=str)
    qc_fam = fam.iloc[::3]
    qc_fam.to_csv(tmp_path / "qc.fam", sep=" ", header=False, index=False)
    with pytest.warns(CohortWarning, match="3 of 603"):
        phenotypes.write_traits(f"{prefix}.tsv", {"t2d": T2D, "hba1c": HBA1C}, tmp_path / "qc.fam", f"{prefix}.fam", tmp_path / "traits.tsv")
    written = pd.read_csv(tmp_path / "traits.tsv", sep="\t", dtype={"FID": str, "IID": str})
    assert written.columns.tolist() == ["FID", "IID", "t2d", "hba1c"]
    assert written["IID"].tolist() == qc_fam[1].tolist()
    assert (written["t2d"].to_numpy() == per.loc[qc_fam[1], "t2d"].to_numpy()).all()
    assert "NA" in (tmp_path / "traits.tsv").read_text()


def test_covariates_from_fields(tmp_path):
    table = write_table(
        tmp_path / "t.tsv",
        {
            "eid": ["1", "2", "3"],
            "21022-0.0": ["50", "61", ""],
            "31-0.0": ["0", "1", "1"],
            **{f"22009-0.{k}": [str(k), str(-k), str(0.5 * k)] for k in range(1, 41)},
        },
    )
    settings = {"fields": {"age": 21022, "sex": 31}, "n_pcs": 3, "pcs": "auto", "pc_field": 22009}
    with pytest.warns(CohortWarning, match="1 of 3 samples have a missing covariate"):
        cov = phenotypes.extract_covariates(table, settings, samples(["3", "1", "2"]))
    assert cov.columns.tolist() == ["FID", "IID", "age", "sex", "PC1", "PC2", "PC3"]
    assert cov["IID"].tolist() == ["3", "1", "2"]
    assert pd.isna(cov["age"].iloc[0]) and cov["age"].iloc[1:].tolist() == [50, 61]
    assert cov["sex"].tolist() == [1, 0, 1]
    assert cov["PC2"].tolist() == [1.0, 2.0, -2.0]  # 22009 arrays 1..40 in order, not text order (22009-0.10 < 22009-0.2)


def test_table_reads_only_the_requested_columns_in_chunks(tmp_path):
    n = 2500
    table = write_table(
        tmp_path / "t.tsv",
        {"eid": [str(i) for i in range(n)], "30750-0.0": [str(i) for i in range(n)], "50-0.0": ["junk"] * n},
    )
    chunks = list(UkbTable(table).read(["30750-0.0"], numeric=["30750-0.0"], chunk_rows=1000))
    assert [len(c) for c in chunks] == [1000, 1000, 500]
    assert all(c.columns.tolist() == ["30750-0.0"] for c in chunks)
    assert pd.concat(chunks)["30750-0.0"].sum() == n * (n - 1) / 2
