"""PLINK phenotype/covariate files: headers, codings, missing values, one-hot covariates, and
the checks that run before any job (ID overlap, columns, BOM, split sum, recall.top_k)."""

import logging

import numpy as np
import pandas as pd
import pytest

from liftgwas import schema, workflow_config
from liftgwas.cohort import checks, phenotypes, plink_pheno
from liftgwas.cohort import settings as cohort_config
from liftgwas.cohort.phenotypes import CohortWarning
from liftgwas.cohort.plink_pheno import PlinkTable
from liftgwas.cohort.ukb_table import UkbTable
from liftgwas.errors import InputError

IDS = ["s-01", "s-02", "0003", "s 4".replace(" ", "_"), "s-05", "s-06"]


def write(path, text):
    path.write_text(text)
    return path


def samples(ids=IDS):
    return pd.DataFrame({"FID": ids, "IID": ids})


@pytest.mark.parametrize("header", ["FID IID", "#FID\tIID", "#IID"])
def test_headers_and_string_ids(tmp_path, header):
    with_fid = "FID" in header
    lines = [f"{header}{chr(9) if chr(9) in header else ' '}T"]
    for i, iid in enumerate(IDS):
        lines.append((f"F{i}  " if with_fid else "") + f"{iid}\t{1 + i % 2}")
    table = PlinkTable(write(tmp_path / "p.txt", "\n".join(lines) + "\n"))
    assert table.data_columns == ["T"]
    assert table.ids().tolist() == IDS  # '0003' stays a string
    assert table.read(["T"])["T"].tolist() == [str(1 + i % 2) for i in range(len(IDS))]


def test_binary_12_coding_with_minus9_and_0_missing(tmp_path, caplog):
    text = "FID IID CASE\n" + "\n".join(f"f {i} {v}" for i, v in zip(IDS, ["2", "1", "-9", "0", "NA", "2"])) + "\n"
    table = PlinkTable(write(tmp_path / "p.txt", text))
    with caplog.at_level(logging.INFO):
        values, coding = plink_pheno.binary_trait(table, "CASE", "auto", "traits.case")
    assert coding == "1/2"
    assert values.tolist()[:2] == [1.0, 0.0] and values.isna().tolist() == [False, False, True, True, True, False]
    assert "1/2 coding" in caplog.text and "1 coded 0" in caplog.text


def test_binary_01_coding_detected_and_forced(tmp_path, caplog):
    text = "#IID CASE\n" + "\n".join(f"{i} {v}" for i, v in zip(IDS, ["1", "0", "0", "-9", "1", "0"])) + "\n"
    table = PlinkTable(write(tmp_path / "p.txt", text))
    with caplog.at_level(logging.INFO):
        values, coding = plink_pheno.binary_trait(table, "CASE", "auto", "traits.case")
    assert coding == "0/1" and "0/1 coding" in caplog.text
    assert values.tolist()[:3] == [1.0, 0.0, 0.0] and np.isnan(values.iloc[3])
    forced, _ = plink_pheno.binary_trait(table, "CASE", "1/2", "traits.case")
    assert forced.tolist()[0] == 0.0 and np.isnan(forced.iloc[1])  # PLINK's reading: 0 missing, 1 control


def test_binary_value_outside_the_coding_names_line_and_column(tmp_path):
    text = "FID IID CASE\na s1 1\na s2 3\n"
    with pytest.raises(InputError, match=r"p\.txt, line 3, field 'CASE': .*'3'.*not a case/control code"):
        plink_pheno.binary_trait(PlinkTable(write(tmp_path / "p.txt", text)), "CASE", "auto", "traits.case")


def test_quantitative_missing_aggregate_and_transform(tmp_path):
    text = "#FID IID A B\nf x1 2 4\nf x2 -9 8\nf x3 NA NA\n"
    table = PlinkTable(write(tmp_path / "p.txt", text))
    mean = plink_pheno.quantitative_trait(table, ["A", "B"], "mean", "none", "traits.q")
    assert mean.tolist()[:2] == [3.0, 8.0] and np.isnan(mean.iloc[2])
    logged = plink_pheno.quantitative_trait(table, ["A"], "first", "log", "traits.q")
    assert logged.iloc[0] == pytest.approx(np.log(2)) and logged.isna().sum() == 2
    write(tmp_path / "bad.txt", "FID IID A\nf x1 2\nf x2 abc\n")
    with pytest.raises(InputError, match=r"line 3, field 'A': 'abc' is not a number"):
        plink_pheno.quantitative_trait(PlinkTable(tmp_path / "bad.txt"), ["A"], "mean", "none", "traits.q")


def test_categorical_covariates_are_one_hot_encoded_and_stated(tmp_path, caplog):
    text = "FID IID age batch site\nf a 50 2 north\nf b 61 1 south\nf c -9 3 NA\nf d 40 1 north\n"
    table = PlinkTable(write(tmp_path / "c.txt", text), "covariate file")
    with caplog.at_level(logging.INFO):
        cov = plink_pheno.covariate_columns(table, ["age", "batch", "site"], ["batch"], "covariates")
    assert cov.columns.tolist() == ["age", "batch_2", "batch_3", "site_south"]
    assert cov["batch_2"].tolist() == [1, 0, 0, 0] and cov["batch_3"].tolist() == [0, 0, 1, 0]
    assert cov["site_south"].tolist()[:2] == [0, 1] and np.isnan(cov["site_south"].iloc[2])
    assert np.isnan(cov.loc["c", "age"])
    assert "'batch' is categorical (listed in categorical)" in caplog.text
    assert "'site' is categorical (non-numeric values)" in caplog.text and "reference level 'north'" in caplog.text


@pytest.mark.parametrize(
    "text, message",
    [
        ("s1 1 2\ns2 1 1\n", r"line 1: the first line must be a header 'FID IID"),
        ("FID IID T T\na b 1 1\n", r"column 'T' appears twice"),
        ("FID IID T\na b 1\na b 2\n", r"line 3, field 'IID': duplicate IID 'b'"),
        ("FID IID T\na b 1\na c\n", r"line 3: 2 fields, the header has 3"),
    ],
)
def test_bad_plink_files(tmp_path, text, message):
    with pytest.raises(InputError, match=message):
        PlinkTable(write(tmp_path / "p.txt", text)).read(["T"])


def test_bom_is_stripped_in_both_formats(tmp_path):
    plink_file = tmp_path / "p.txt"
    plink_file.write_bytes("\ufeff#FID IID T\nf a 1\n".encode())
    table = PlinkTable(plink_file)
    assert table.had_bom and table.header == ["FID", "IID", "T"] and table.ids().tolist() == ["a"]
    assert phenotypes.sniff_format(plink_file) == "plink"
    ukb_file = tmp_path / "u.tsv"
    ukb_file.write_bytes("\ufeffeid\t31-0.0\n1001\t1\n".encode())
    ukb = UkbTable(ukb_file)
    assert ukb.had_bom and ukb.header[0] == "eid"
    assert ukb.read_all(["31-0.0"], numeric=["31-0.0"]).index.tolist() == ["1001"]


def test_plink_traits_for_the_fam_samples(tmp_path):
    text = "#FID IID CASE LDL\n" + "\n".join(f"f {i} {c} {q}" for i, c, q in
                                             zip(IDS[:5], ["2", "1", "-9", "2", "1"], ["1.5", "-9", "2", "3", "NA"])) + "\n"  # fmt: skip
    write(tmp_path / "p.txt", text)
    traits = {"case": {"kind": "binary", "column": "CASE"}, "ldl": {"kind": "quantitative", "column": "LDL"}}
    with pytest.warns(CohortWarning, match="1 genotyped samples have no row in the phenotype file"):
        out = phenotypes.extract_traits(tmp_path / "p.txt", traits, samples(), samples()["IID"])
    assert out["IID"].tolist() == IDS
    assert out["case"].tolist()[:2] == [1, 0] and out["case"].isna().tolist() == [False, False, True, False, False, True]
    assert out["ldl"].tolist()[0] == 1.5 and out["ldl"].isna().tolist() == [False, True, False, False, True, True]


# ---- schema defaults and checks before any job ----------------------------------------------


def plink_cohort(tmp_path, fam_ids=IDS, table_ids=IDS, extra=None):
    fam = pd.DataFrame({0: fam_ids, 1: fam_ids, 2: 0, 3: 0, 4: 1, 5: -9})
    fam.to_csv(tmp_path / "g.fam", sep=" ", header=False, index=False)
    pd.DataFrame({0: ["10"] * 3, 1: ["rs1", "rs2", "rs3"], 2: 0, 3: [1, 2, 3], 4: "A", 5: "G"}).to_csv(
        tmp_path / "g.bim", sep="\t", header=False, index=False
    )
    write(tmp_path / "p.txt", "FID IID CASE\n" + "".join(f"x {i} {1 + k % 2}\n" for k, i in enumerate(table_ids)))
    write(tmp_path / "c.txt", "#IID age batch\n" + "".join(f"{i} {40 + k} b{k % 2}\n" for k, i in enumerate(table_ids)))
    cohort = {
        "genotypes": str(tmp_path / "g"),
        "phenotypes": {"format": "plink", "path": str(tmp_path / "p.txt")},
        "covariates": {"format": "plink", "path": str(tmp_path / "c.txt"), "columns": ["age", "batch"], "n_pcs": 2},
        "traits": {"case": {"kind": "binary", "column": "CASE"}},
        **(extra or {}),
    }
    return cohort_config.cohort_settings(cohort, "mine")


def test_one_defaults_filler_for_both_config_paths(tmp_path):
    settings = plink_cohort(tmp_path)
    assert settings["qc"]["warn_removed_fraction"] == 0.2 and settings["qc"]["relatedness"]["min_variants"] == 100_000
    assert settings["traits"]["case"]["coding"] == "auto" and settings["min_sample_overlap"] == 0.5
    assert "fields" not in settings["covariates"]  # the UK Biobank default applies to UKB covariates only
    ukb = cohort_config.cohort_settings({"genotypes": "g", "phenotypes": "t.tsv",
                                         "traits": {"q": {"kind": "quantitative", "field": 1}}}, "u")  # fmt: skip
    assert ukb["covariates"]["fields"] == {"age": 21022, "sex": 31} and ukb["traits"]["q"]["aggregate"] == "mean"
    with pytest.raises(ValueError, match=r"config key cohorts\.u\.traits\.q: .*needs one of: 'field' is a required"):
        schema.validate({"genotypes": "g", "phenotypes": "t", "traits": {"q": {"kind": "quantitative"}}},
                        schema.load(cohort_config.SCHEMA_PATH), ["cohorts", "u"])  # fmt: skip


def test_checks_pass_and_count(tmp_path):
    checked = checks.check_cohort(plink_cohort(tmp_path), "mine", top_k=3)
    assert checked == {"table_rows": 6, "overlap": 6, "variants": 3}


def test_no_id_overlap_names_both_files_counts_and_examples(tmp_path):
    settings = plink_cohort(tmp_path, table_ids=[f"other{i}" for i in range(6)])
    with pytest.raises(InputError) as err:
        checks.check_cohort(settings, "mine")
    message = str(err.value)
    assert "p.txt" in message and "g.fam" in message and "only 0 of the 6 samples" in message
    assert "Table IDs: 'other0', 'other1', 'other2'" in message and ".fam IIDs: 's-01', 's-02', '0003'" in message
    assert "cohorts.mine.min_sample_overlap" in message


def test_partial_overlap_under_the_threshold(tmp_path):
    settings = plink_cohort(tmp_path, table_ids=IDS[:2] + ["z1", "z2"])
    with pytest.raises(InputError, match="only 2 of the 6 samples"):
        checks.check_cohort(settings, "mine")
    settings["min_sample_overlap"] = 0.3
    assert checks.check_cohort(settings, "mine")["overlap"] == 2


def test_missing_columns_and_wrong_format_before_qc(tmp_path):
    settings = plink_cohort(tmp_path)
    settings["traits"]["ldl"] = {"kind": "quantitative", "column": "LDL", "aggregate": "mean", "transform": "none"}
    with pytest.raises(InputError, match=r"p\.txt, line 1, field 'LDL': cohorts\.mine\.traits\.ldl needs column 'LDL'.*columns: CASE"):
        checks.check_cohort(settings, "mine")
    settings = plink_cohort(tmp_path)
    settings["covariates"]["columns"] = ["age", "bmi"]
    with pytest.raises(InputError, match=r"c\.txt, line 1, field 'bmi': cohorts\.mine\.covariates\.columns needs column 'bmi'"):
        checks.check_cohort(settings, "mine")
    settings = plink_cohort(tmp_path)
    settings["phenotypes"]["format"] = "ukb"
    with pytest.raises(InputError, match=r"says format ukb.*looks like a plink file"):
        checks.check_cohort(settings, "mine")
    settings = plink_cohort(tmp_path)
    settings["traits"]["case"] = {"kind": "binary", "any_of": [{"fields": [20002], "codes": [1]}]}
    with pytest.raises(ValueError, match=r"cohorts\.mine\.traits\.case: a trait of a PLINK phenotype file names its column"):
        checks.check_cohort(settings, "mine")


def test_ukb_field_missing_before_qc(tmp_path):
    write(tmp_path / "t.tsv", "eid\t31-0.0\t21022-0.0\n1\t0\t50\n2\t1\t60\n")
    settings = cohort_config.cohort_settings({"genotypes": str(tmp_path / "none"), "phenotypes": str(tmp_path / "t.tsv"),
                                              "traits": {"hba1c": {"kind": "quantitative", "field": 30750}}}, "u")  # fmt: skip
    with pytest.raises(InputError, match=r"t\.tsv, field '30750': cohorts\.u\.traits\.hba1c needs field 30750"):
        checks.check_cohort(settings, "u")


def test_top_k_larger_than_the_variants(tmp_path):
    with pytest.raises(ValueError, match=r"config key recall\.top_k: 4 is more than the 3 variants of cohort mine"):
        checks.check_cohort(plink_cohort(tmp_path), "mine", top_k=4)
    from liftgwas import compare
    from liftgwas.recall import topk_recall

    scores = pd.Series([3.0, 2.0, 1.0], index=["a", "b", "c"])
    assert topk_recall(scores, ["a"], 3) == 1.0
    with pytest.raises(ValueError, match=r"recall\.top_k: 4 is more than the 3 variants ranked"):
        topk_recall(scores, ["a"], 4)
    sumstats = pd.DataFrame({"variant_id": ["a", "b", "c"], "p_value": [0.1, 0.01, 0.5]})
    deeplift = pd.DataFrame({"variant_id": ["a", "b", "c"], "score": [0.3, 0.2, 0.1]})
    assert compare.ranking_agreement(sumstats, deeplift, 3)["topk_overlap"] == 3
    with pytest.raises(ValueError, match=r"recall\.top_k: 4 is more than the 3 variants ranked"):
        compare.ranking_agreement(sumstats, deeplift, 4)


BASE = {
    "model": {"architectures": ["8x8"], "l1": [1], "seeds": [1], "retrain_seeds": [2]},
    "simulation": {"n_samples": 100, "n_snps": 50, "n_causal": 5, "sparsity": [1], "replicates": 1, "traits": ["binary"], "seed": 1},
}


def test_split_fractions_must_sum_to_one():
    ok = {**BASE, "split": {"seed": 1, "train": 0.5, "early_stop": 0.25, "validation": 0.25}, "recall": {"top_k": 10}}
    workflow_config.Study.from_config(ok)
    bad = {**ok, "split": {"seed": 1, "train": 0.6, "early_stop": 0.25, "validation": 0.25}}
    with pytest.raises(ValueError, match=r"config key split: the fractions must sum to 1, train 0\.6 \+ early_stop 0\.25 \+ validation 0\.25 = 1\.1"):
        workflow_config.Study.from_config(bad)
    with pytest.raises(ValueError, match=r"config key recall\.top_k: 60 is more than the 50 simulated SNPs"):
        workflow_config.Study.from_config({**ok, "recall": {"top_k": 60}})


def test_a_passed_check_is_remembered_until_a_file_changes(tmp_path, monkeypatch):
    settings = plink_cohort(tmp_path)
    calls = []
    real = checks.check_cohort
    monkeypatch.setattr(checks, "check_cohort", lambda *a, **k: calls.append(1) or real(*a, **k))
    cache = tmp_path / "cache"
    first = checks.check_cohort_cached(settings, "mine", 3, cache)
    assert checks.check_cohort_cached(settings, "mine", 3, cache) == first and len(calls) == 1
    with open(tmp_path / "p.txt", "a") as handle:
        handle.write("x other 2\n")  # the table changed: checked again
    checks.check_cohort_cached(settings, "mine", 3, cache)
    assert len(calls) == 2 and len(list(cache.glob("mine.*.json"))) == 1
