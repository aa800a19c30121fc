"""Sample and variant QC on the synthetic UK Biobank-like cohort: exactly the planted problems go.

Each route of each step is exercised: sex from fields and from chrX heterozygosity, PCs from
field 22009 and computed by plink2, relatedness from a UKB file and from plink2 KING.
Statistics are compared with independent numpy/bed-reader computations.
"""

import shutil

import numpy as np
import pandas as pd
import pytest
from bed_reader import open_bed

from liftgwas import plink
from liftgwas.cohort import plink2, qc, ukb_synth, variants
from liftgwas.cohort import settings as cohort_config
from liftgwas.cohort.phenotypes import CohortWarning

pytestmark = pytest.mark.skipif(shutil.which("plink2") is None, reason="needs plink2 (Debian package)")

T2D = {
    "kind": "binary",
    "any_of": [
        {"fields": [20002], "codes": [1220]},
        {"fields": [41203, 41205], "prefixes": ["249", "250"]},
        {"fields": [41202, 41204], "prefixes": ["E10", "E11", "E12", "E13", "E14"]},
    ],
}
HBA1C = {"kind": "quantitative", "field": 30750, "transform": "log"}


def settings_for(prefix, **overrides):
    cohort = {
        "genotypes": str(prefix),
        "phenotypes": f"{prefix}.tsv",
        "chromosomes": ["10"],
        "traits": {"t2d": T2D, "hba1c": HBA1C},
    }
    qc_overrides = overrides.pop("qc", {})
    cohort.update(overrides)
    settings = cohort_config.cohort_settings(cohort, "test")
    for step, values in qc_overrides.items():
        settings["qc"][step].update(values)
    return settings


def run_sample_qc(prefix, out, settings, relatedness_file=None):
    out.mkdir(parents=True, exist_ok=True)
    table = f"{prefix}.tsv"
    steps = {name: out / f"{name}.tsv" for name in qc.SAMPLE_STEPS}
    results = {
        "sample_missingness": qc.sample_missingness_step(prefix, steps["sample_missingness"], settings=settings),
        "sex": qc.sex_step(prefix, table, steps["sample_missingness"], steps["sex"], settings=settings),
        "ancestry": qc.ancestry_step(
            prefix, table, steps["sex"], steps["ancestry"], settings=settings, relatedness_file=relatedness_file
        ),
        "relatedness": qc.relatedness_step(
            prefix, steps["ancestry"], steps["relatedness"], settings=settings, relatedness_file=relatedness_file
        ),
    }
    return results, steps


def removed(step: pd.DataFrame) -> set:
    return set(step.loc[step["removed"] == 1, "IID"])


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("qc") / "ukb"
    truth = ukb_synth.write_synthetic_cohort(prefix)
    return prefix, truth


@pytest.fixture(scope="module")
def king_run(cohort, tmp_path_factory):
    """Default QC, no relatedness file: plink2 KING and PCs computed by plink2."""
    prefix, truth = cohort
    out = tmp_path_factory.mktemp("king")
    settings = settings_for(prefix)
    results, steps = run_sample_qc(prefix, out, settings)
    variants.variant_qc(prefix, steps["relatedness"], out / "plink", out / "variants.tsv", out / "removed.tsv", settings=settings)
    return {"results": results, "steps": steps, "out": out, "settings": settings}


def check_planted_removed(results, truth):
    s = truth["samples"]
    assert removed(results["sample_missingness"]) == set(s["high_missing"])
    assert removed(results["sex"]) == set(s["sex_mismatch"]) | set(s["aneuploidy"])
    assert removed(results["ancestry"]) == set(s["ancestry_outlier"])
    dropped = removed(results["relatedness"])
    assert len(dropped) == len(s["related_pairs"])
    assert all(len(dropped & set(pair)) == 1 for pair in s["related_pairs"])
    assert not dropped & {x for pair in s["distant_pairs"] for x in pair}


def test_default_qc_removes_exactly_the_planted_samples(king_run, cohort):
    check_planted_removed(king_run["results"], cohort[1])
    methods = {name: r["method"].iloc[0] for name, r in king_run["results"].items()}
    assert methods["sex"].startswith("fields 22001")
    assert "plink2 PCA" in methods["ancestry"] and "reference: field 21000" in methods["ancestry"]
    assert methods["relatedness"].startswith("plink2 --king-cutoff")


def test_each_step_starts_from_the_previous_steps_survivors(king_run):
    r = king_run["results"]
    for before, after in zip(qc.SAMPLE_STEPS, qc.SAMPLE_STEPS[1:]):
        kept = r[before].loc[r[before]["removed"] == 0, "IID"].tolist()
        assert r[after]["IID"].tolist() == kept


def test_variant_qc_removes_exactly_rare_low_call_rate_and_other_chromosomes(king_run, cohort):
    prefix, truth = cohort
    out = king_run["out"]
    removed_variants = pd.read_csv(out / "removed.tsv", sep="\t", dtype=str)
    by_step = removed_variants.groupby("step")["snp"].apply(set).to_dict()
    assert by_step == {"variant_call_rate": set(truth["variants"]["low_call_rate"]), "maf": set(truth["variants"]["rare"])}
    counts = pd.read_csv(out / "variants.tsv", sep="\t").set_index("step")
    assert counts.loc["chromosomes", "variants_removed"] == len(truth["variants"]["chrx"])
    bim = plink.read_bim(out / "plink.bim")
    expected = set(plink.read_bim(f"{prefix}.bim").query("chrom == '10'")["snp"])
    expected -= set(truth["variants"]["low_call_rate"]) | set(truth["variants"]["rare"])
    assert set(bim["snp"]) == expected
    assert counts.loc["maf", "variants_left"] == len(bim)


def test_qc_genotypes_are_the_input_calls_of_the_kept_samples_and_variants(king_run, cohort):
    prefix, _ = cohort
    out = king_run["out"]
    fam, bim = plink.read_fam(out / "plink.fam"), plink.read_bim(out / "plink.bim")
    kept = qc.kept_samples(king_run["results"]["relatedness"])
    assert fam["iid"].tolist() == kept["IID"].tolist()
    with open_bed(f"{prefix}.bed", count_A1=True) as src, open_bed(out / "plink.bed", count_A1=True) as dst:
        src_fam = pd.Index(plink.read_fam(f"{prefix}.fam")["iid"])
        src_bim = pd.Index(plink.read_bim(f"{prefix}.bim")["snp"])
        expected = src.read(index=np.s_[src_fam.get_indexer(fam["iid"]), src_bim.get_indexer(bim["snp"])], dtype="float32")
        np.testing.assert_array_equal(dst.read(dtype="float32"), expected)  # same A1, no flips
    src_bim_rows = plink.read_bim(f"{prefix}.bim").set_index("snp").loc[bim["snp"]]
    assert (src_bim_rows["a1"].to_numpy() == bim["a1"].to_numpy()).all()


def test_missing_rate_metric_matches_numpy(king_run, cohort):
    prefix, _ = cohort
    with open_bed(f"{prefix}.bed") as bed:
        expected = np.isnan(bed.read(dtype="float32")).mean(axis=1)
    step = king_run["results"]["sample_missingness"]
    np.testing.assert_allclose(step["missing_rate"], expected, atol=1e-6)


def test_missingness_threshold_edit_changes_who_goes(cohort, tmp_path):
    prefix, _ = cohort
    with open_bed(f"{prefix}.bed") as bed:
        rate = np.isnan(bed.read(dtype="float32")).mean(axis=1)
    threshold = float(np.sort(rate)[-4])  # the three highest are strictly above
    settings = settings_for(prefix, qc={"sample_missingness": {"max": threshold}})
    step = qc.sample_missingness_step(prefix, tmp_path / "m.tsv", settings=settings)
    assert step["removed"].sum() == (rate > threshold).sum() == 3


def test_missingness_from_a_table_field(cohort, tmp_path):
    prefix, truth = cohort
    table = pd.read_csv(f"{prefix}.tsv", sep="\t", dtype=str, keep_default_na=False)
    rate = np.where(table["eid"].isin(truth["samples"]["high_missing"]), "0.05", "0.001")
    rate[table["eid"] == truth["per_sample"]["eid"][0]] = "0.03"  # array missingness only here
    rate[table["eid"] == truth["per_sample"]["eid"][1]] = ""
    table["22005-0.0"] = rate
    table.to_csv(tmp_path / "t.tsv", sep="\t", index=False)
    settings = settings_for(prefix, qc={"sample_missingness": {"field": 22005}})
    with pytest.warns(CohortWarning, match="1 samples have no missingness value"):
        step = qc.sample_missingness_step(prefix, tmp_path / "m.tsv", settings=settings, table_path=tmp_path / "t.tsv")
    assert removed(step) == set(truth["samples"]["high_missing"]) | {truth["per_sample"]["eid"][0]}
    assert step["method"].iloc[0] == "field 22005"


def test_relatedness_file_route_and_seeded_choice(cohort, tmp_path):
    prefix, truth = cohort
    related = f"{prefix}.related.dat"
    settings = settings_for(prefix, relatedness=related)
    results, _ = run_sample_qc(prefix, tmp_path / "a", settings, relatedness_file=related)
    check_planted_removed(results, truth)
    assert results["relatedness"]["method"].iloc[0].startswith("relatedness file")
    again = qc.relatedness_step(prefix, tmp_path / "a" / "ancestry.tsv", tmp_path / "again.tsv", settings=settings, relatedness_file=related)
    assert removed(again) == removed(results["relatedness"])
    # a lower cut-off also splits the distant pairs listed in the file (kinship 0.05)
    low = settings_for(prefix, relatedness=related, qc={"relatedness": {"max_kinship": 0.04}})
    step = qc.relatedness_step(prefix, tmp_path / "a" / "ancestry.tsv", tmp_path / "low.tsv", settings=low, relatedness_file=related)
    assert removed(step) & {x for pair in truth["samples"]["distant_pairs"] for x in pair}
    assert len(removed(step)) == len(truth["samples"]["related_pairs"]) + len(truth["samples"]["distant_pairs"])


def test_choose_unrelated_keeps_the_most_samples_and_follows_the_seed():
    pairs = pd.DataFrame(
        {"ID1": ["a", "b", "x", "p"], "ID2": ["b", "c", "y", "q"], "kinship": [0.25, 0.25, 0.5, 0.05]}
    )
    samples = pd.Series(list("abcxypq"))
    chosen = [qc.choose_unrelated(pairs, samples, 0.0884, seed) for seed in range(20)]
    assert all("b" in c and "a" not in c and "c" not in c for c in chosen)  # the hub goes, both ends stay
    assert all(len(c & {"x", "y"}) == 1 and not c & {"p", "q"} for c in chosen)
    assert {frozenset(c & {"x", "y"}) for c in chosen} == {frozenset({"x"}), frozenset({"y"})}  # random pick
    assert qc.choose_unrelated(pairs, samples, 0.0884, 3) == qc.choose_unrelated(pairs, samples, 0.0884, 3)
    assert qc.choose_unrelated(pairs, pd.Series(list("acxpq")), 0.0884, 0) == set()  # only pairs among samples


def _plain_chrx_f(g: np.ndarray) -> np.ndarray:
    """Reference: plink 1.9 --check-sex F on a dense (variants x samples) matrix, -1 missing."""
    g = g.astype(float)
    g[g < 0] = np.nan
    p = np.nanmean(g, axis=1) / 2
    f = []
    for s in range(g.shape[1]):
        ok = ~np.isnan(g[:, s])
        obs = np.sum(g[ok, s] != 1)
        exp = np.sum(1 - 2 * p[ok] * (1 - p[ok]))
        f.append((obs - exp) / (ok.sum() - exp))
    return np.array(f)


def test_chrx_inbreeding_matches_a_plain_reference(cohort):
    prefix, _ = cohort
    bed = plink.Bed(prefix)
    samples = np.arange(0, bed.n_samples, 2)
    f, n = qc.chrx_inbreeding(bed, samples, block_size=37)
    x = np.flatnonzero((bed.bim["chrom"] == "X").to_numpy())
    assert n == len(x)
    np.testing.assert_allclose(f, _plain_chrx_f(bed.read(x[0], x[-1] + 1, samples)), atol=1e-12)


def test_chrx_route_finds_the_same_sex_problems(cohort, tmp_path):
    prefix, truth = cohort
    settings = settings_for(prefix, qc={"sex": {"method": "chrx"}})
    step = qc.sex_step(prefix, f"{prefix}.tsv", None, tmp_path / "sex.tsv", settings=settings)
    assert removed(step) == set(truth["samples"]["sex_mismatch"]) | set(truth["samples"]["aneuploidy"])
    assert step["method"].iloc[0] == "chrX F over 800 variants vs field 31"
    per = pd.DataFrame(truth["per_sample"]).set_index("eid")
    ok = step[step["removed"] == 0].set_index("IID")
    males = per.loc[ok.index, "sex"] == 1
    assert ok.loc[males, "chrx_f"].min() > 0.9 and ok.loc[~males, "chrx_f"].max() < 0.3


def test_chrx_route_is_automatic_without_sex_fields_and_uses_fam_sex_without_31(tmp_path):
    prefix = tmp_path / "nofields"
    truth = ukb_synth.write_synthetic_cohort(prefix, ukb_synth.SyntheticSpec(sex_fields=False))
    table = pd.read_csv(f"{prefix}.tsv", sep="\t", dtype=str, keep_default_na=False)
    table.drop(columns=["31-0.0"]).to_csv(f"{prefix}.tsv", sep="\t", index=False)
    step = qc.sex_step(prefix, f"{prefix}.tsv", None, tmp_path / "sex.tsv", settings=settings_for(prefix))
    assert step["method"].iloc[0].endswith("vs .fam sex")
    assert removed(step) == set(truth["samples"]["sex_mismatch"]) | set(truth["samples"]["aneuploidy"])


def test_pc_field_route_removes_the_outliers(tmp_path):
    prefix = tmp_path / "pcs"
    truth = ukb_synth.write_synthetic_cohort(prefix, ukb_synth.SyntheticSpec(pc_fields=True))
    step = qc.ancestry_step(prefix, f"{prefix}.tsv", None, tmp_path / "anc.tsv", settings=settings_for(prefix))
    assert step["method"].iloc[0].startswith("field 22009")
    assert removed(step) == set(truth["samples"]["ancestry_outlier"])


def test_robust_distance_is_in_reference_sd_units():
    rng = np.random.default_rng(0)
    pcs = rng.normal(0, [1.0, 10.0], size=(2000, 2))
    pcs[0] = [0, 70]  # 7 SDs out on the wide PC: 7, not 70
    reference = np.ones(len(pcs), bool)
    d = qc.robust_distance(pcs, reference)
    assert 6.5 < d[0] < 7.5
    assert np.median(d) < 1.5


def test_disabled_steps_keep_everyone(cohort, tmp_path):
    prefix, truth = cohort
    off = {step: {"enabled": False} for step in ("sample_missingness", "sex", "ancestry", "relatedness", "variant_call_rate", "maf")}
    settings = settings_for(prefix, qc=off)
    results, steps = run_sample_qc(prefix, tmp_path, settings)
    for name, step in results.items():
        assert step["removed"].sum() == 0 and step["method"].iloc[0] == "disabled", name
    counts = variants.variant_qc(prefix, steps["relatedness"], tmp_path / "plink", tmp_path / "v.tsv", tmp_path / "r.tsv", settings=settings)
    assert counts.set_index("step")["variants_removed"].to_dict() == {"chromosomes": 800, "variant_call_rate": 0, "maf": 0}
    assert plink.Bed(tmp_path / "plink").n_samples == len(truth["per_sample"]["eid"])


def test_summary_counts_follow_the_steps(king_run, cohort, tmp_path):
    prefix, truth = cohort
    out = king_run["out"]
    with pytest.warns(CohortWarning, match="3 of 603 participants in the phenotype table are not in the genotype .fam"):
        summary = qc.qc_summary(prefix, king_run["steps"], out / "variants.tsv", f"{prefix}.tsv",
                                king_run["settings"]["traits"], tmp_path / "summary.tsv")  # fmt: skip
    assert summary.columns[:5].tolist() == qc.SUMMARY_COLUMNS
    s = summary.set_index("step")
    assert s.index.tolist() == ["input", *qc.SAMPLE_STEPS, "chromosomes", "variant_call_rate", "maf"]
    assert (s["samples_left"].diff().fillna(0) == -s["samples_removed"]).all()
    assert (s["variants_left"].diff().fillna(0) == -s["variants_removed"]).all()
    final = s.loc["maf"]
    fam = plink.read_fam(out / "plink.fam")
    assert final["samples_left"] == len(fam) and final["variants_left"] == len(plink.read_bim(out / "plink.bim"))
    per = pd.DataFrame(truth["per_sample"]).set_index("eid").loc[fam["iid"]]
    assert final["t2d_cases"] == per["t2d"].sum() and final["t2d_controls"] == (per["t2d"] == 0).sum()
    assert final["hba1c_n"] == per["hba1c"].notna().sum()
    assert s.loc["input", "t2d_cases"] == sum(truth["per_sample"]["t2d"])
    assert pd.read_csv(tmp_path / "summary.tsv", sep="\t").shape == summary.shape


def test_covariates_with_computed_pcs(king_run, cohort, tmp_path):
    prefix, truth = cohort
    cov = qc.write_covariates(f"{prefix}.tsv", king_run["settings"], king_run["out"] / "plink.fam", prefix, tmp_path / "cov.tsv")
    assert cov.columns.tolist() == ["FID", "IID", "age", "sex"] + [f"PC{k}" for k in range(1, 11)]
    per = pd.DataFrame(truth["per_sample"]).set_index("eid").loc[cov["IID"]]
    assert (cov["age"].to_numpy() == per["age"].to_numpy()).all() and (cov["sex"].to_numpy() == per["sex"].to_numpy()).all()
    pcs = cov[[f"PC{k}" for k in range(1, 11)]].to_numpy()
    assert not np.isnan(pcs).any()
    corr = np.corrcoef(pcs.T)
    assert np.abs(corr - np.eye(10)).max() < 0.1  # PCs are (nearly) uncorrelated
    written = pd.read_csv(tmp_path / "cov.tsv", sep="\t", dtype={"IID": str})
    assert written["IID"].tolist() == cov["IID"].tolist()


def test_cohort_settings_fill_defaults_and_name_bad_keys(cohort):
    prefix, _ = cohort
    s = settings_for(prefix)
    assert s["qc"]["sample_missingness"] == {"enabled": True, "max": 0.02}
    assert s["qc"]["relatedness"]["max_kinship"] == 0.0884
    assert s["qc"]["variant_call_rate"]["min"] == 0.99 and s["qc"]["maf"]["min"] == 0.01
    assert s["covariates"] == {"fields": {"age": 21022, "sex": 31}, "n_pcs": 10, "pcs": "auto", "pc_field": 22009}
    assert s["traits"]["hba1c"]["aggregate"] == "mean" and s["traits"]["hba1c"]["transform"] == "log"
    assert "aggregate" not in s["traits"]["t2d"]
    base = {"genotypes": "g", "phenotypes": "t.tsv", "traits": {"t2d": T2D}}
    with pytest.raises(ValueError, match=r"cohorts\.x\.qc\.maf\.min"):
        cohort_config.cohort_settings({**base, "qc": {"maf": {"min": 0.7}}}, "x")
    with pytest.raises(ValueError, match=r"cohorts\.x\.traits\.bmi.*'kind' is a required property"):
        cohort_config.cohort_settings({**base, "traits": {"bmi": {"field": 21001}}}, "x")
    with pytest.raises(ValueError, match=r"cohorts\.x\.traits\.t2d"):
        cohort_config.cohort_settings({**base, "traits": {"t2d": {"kind": "binary", "field": 1}}}, "x")
    with pytest.raises(ValueError, match=r"cohorts\.x\.qc.*sample_missingnes"):
        cohort_config.cohort_settings({**base, "qc": {"sample_missingnes": {}}}, "x")


def test_workflow_config_validates_cohorts_with_this_schema(cohort):
    from liftgwas import workflow_config

    prefix, _ = cohort
    config = {
        "cohorts": {"ukb": {"genotypes": str(prefix), "phenotypes": "t.tsv", "traits": {"t2d": T2D, "hba1c": HBA1C}}},
        "model": {"architectures": ["8x8"], "l1": [1], "seeds": [1], "retrain_seeds": [2]},
    }
    study = workflow_config.Study.from_config(config, schema_dir=cohort_config.SCHEMA_PATH.parent)
    assert study.datasets["ukb"].traits == {"t2d": "binary", "hba1c": "quantitative"}
    config["cohorts"]["ukb"]["traits"]["t2d"] = {"kind": "binary"}
    with pytest.raises(ValueError, match=r"cohorts\.ukb\.traits\.t2d.*any_of"):
        workflow_config.Study.from_config(config, schema_dir=cohort_config.SCHEMA_PATH.parent)


def test_plink2_failure_is_a_clear_error(tmp_path):
    with pytest.raises(plink2.Plink2Error, match=r"plink2 failed \(bogus\), exit code"):
        plink2.run_plink2(["--bfile", tmp_path / "nothing", "--make-bed"], tmp_path / "x", what="bogus")


def write_bgen(path, variants, probabilities, samples):
    """Minimal BGEN v1.2 writer (layout 2, uncompressed, 8-bit unphased diploid probabilities).

    ``probabilities[v][s]`` = (P(hom first allele), P(het), P(hom second allele)).
    plink2 keeps only dosages, so its own BGEN export cannot carry uncertain calls.
    """
    import struct

    flags = 2 << 2  # layout 2, no compression, no sample identifier block
    # offset to the first variant, then the 20-byte header: length, M, N, magic, flags
    out = struct.pack("<IIII", 20, 20, len(variants), len(samples)) + b"bgen" + struct.pack("<I", flags)
    for (chrom, pos, rsid, first, second), probs in zip(variants, probabilities):
        block = b""
        for text in (rsid, rsid, chrom):
            block += struct.pack("<H", len(text)) + text.encode()
        block += struct.pack("<IH", pos, 2)
        for allele in (first, second):
            block += struct.pack("<I", len(allele)) + allele.encode()
        data = struct.pack("<IHBB", len(samples), 2, 2, 2) + bytes([2] * len(samples)) + struct.pack("<BB", 0, 8)
        for p_first, p_het, _ in probs:  # the last genotype's probability is implied
            data += bytes([round(p_first * 255), round(p_het * 255)])
        out += block + struct.pack("<I", len(data)) + data
    path.write_bytes(out)
    path.with_suffix(".sample").write_text(
        "ID_1 ID_2 missing sex\n0 0 0 D\n" + "".join(f"{s} {s} 0 NA\n" for s in samples)
    )


def test_bgen_import_sets_uncertain_genotypes_missing(tmp_path):
    """BGEN probabilities: a call whose best probability is < 0.9 becomes missing (only then)."""
    probabilities = [
        [(1, 0, 0), (0.06, 0.88, 0.06), (0, 0, 1), (0.95, 0.05, 0)],  # sample 2: dosage 1, but uncertain
        [(0, 1, 0), (0.02, 0.96, 0.02), (0.04, 0.02, 0.94), (0, 0, 1)],
    ]
    snp_rows = [("10", 1000, "rs0", "A", "G"), ("10", 2000, "rs1", "C", "T")]
    write_bgen(tmp_path / "x.bgen", snp_rows, probabilities, ["s1", "s2", "s3", "s4"])
    cohort = {"genotypes": {"bgen": str(tmp_path / "x.bgen"), "sample": str(tmp_path / "x.sample")},
              "phenotypes": "t.tsv", "chromosomes": [10], "traits": {"t2d": T2D}}  # fmt: skip
    settings = cohort_config.cohort_settings(cohort, "bgen")
    assert cohort_config.genotype_source(settings, "bgen")["prefix"] == "results/bgen/qc/imported"
    variants.import_bgen(tmp_path / "x.bgen", tmp_path / "x.sample", tmp_path / "certain", settings=settings)
    settings["qc"]["genotype_probability"]["enabled"] = False
    variants.import_bgen(tmp_path / "x.bgen", tmp_path / "x.sample", tmp_path / "all", settings=settings)
    (tmp_path / "subset.txt").write_text("rs1\n")
    variants.import_bgen(tmp_path / "x.bgen", tmp_path / "x.sample", tmp_path / "subset", settings=settings, extract=tmp_path / "subset.txt")
    assert plink.Bed(tmp_path / "subset").bim["snp"].tolist() == ["rs1"]
    certain, everything = plink.Bed(tmp_path / "certain"), plink.Bed(tmp_path / "all")
    assert certain.bim["a2"].tolist() == ["A", "C"]  # ref-first: first allele is REF, A1 (col 5) is ALT
    assert certain.fam["iid"].tolist() == ["s1", "s2", "s3", "s4"]
    alt_dosage = np.array([[0, 1, 2, 0], [1, 1, 2, 2]])
    np.testing.assert_array_equal(everything.read(), alt_dosage)
    expected = alt_dosage.copy()
    expected[0, 1] = plink.MISSING
    np.testing.assert_array_equal(certain.read(), expected)


# ---- QC guards ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gutted(tmp_path_factory):
    """A planted cohort where sample missingness removes 25 % (50 of 200), on one chromosome
    of 3,000 SNPs (KING from too few variants), and an ancestry reference field it lacks."""
    prefix = tmp_path_factory.mktemp("gutted") / "ukb"
    truth = ukb_synth.write_synthetic_cohort(prefix, ukb_synth.SyntheticSpec(n_samples=200, n_high_missing=50, seed=7))
    out = prefix.parent / "qc"
    settings = settings_for(prefix, qc={"ancestry": {"reference": [{"field": 99999, "codes": [1]}]}})
    with pytest.warns(CohortWarning) as caught:
        results, steps = run_sample_qc(prefix, out, settings)
    variants.variant_qc(prefix, steps["relatedness"], out / "plink", out / "variants.tsv", out / "removed.tsv", settings=settings)
    summary = qc.qc_summary(prefix, steps, out / "variants.tsv", f"{prefix}.tsv", settings["traits"], out / "summary.tsv",
                            settings={"qc": settings["qc"]})  # fmt: skip
    return {"truth": truth, "summary": summary, "warnings": [str(w.message) for w in caught], "out": out}


def test_a_step_removing_more_than_the_fraction_warns_in_log_and_summary(gutted):
    assert len(gutted["truth"]["samples"]["high_missing"]) == 50
    s = gutted["summary"].set_index("step")
    assert s.columns[-1] == "warning"
    assert s.loc["sample_missingness", "samples_removed"] == 50
    assert s.loc["sample_missingness", "warning"].startswith("removed 50 of 200 samples (25%), more than qc.warn_removed_fraction 0.2")
    assert s.loc["sex", "warning"] == "" and s.loc["maf", "warning"] == ""
    assert any(w.startswith("sample_missingness: removed 50 of 200") for w in gutted["warnings"])
    written = pd.read_csv(gutted["out"] / "summary.tsv", sep="\t", keep_default_na=False).set_index("step")
    assert written.loc["sample_missingness", "warning"] == s.loc["sample_missingness", "warning"]


def test_king_on_one_chromosome_warns_and_says_how_to_pass_a_relatedness_file(gutted):
    warning = gutted["summary"].set_index("step").loc["relatedness", "warning"]
    assert "KING kinship (plink2 --king-cutoff) from 3000 autosomal variants on one chromosome (10)" in warning
    assert "qc.relatedness.min_variants 100000" in warning and "config key relatedness" in warning
    assert any(w.startswith("relatedness: KING kinship") for w in gutted["warnings"])


def test_king_warning_condition():
    bim = lambda chroms: pd.DataFrame({"chrom": chroms})  # noqa: E731
    assert qc.king_warning(bim(["1"] * 50 + ["2"] * 50), 100) == ""
    assert "on one chromosome" in qc.king_warning(bim(["1"] * 200), 100)
    assert "99 autosomal variants on 2 chromosomes" in qc.king_warning(bim(["1"] * 50 + ["2"] * 49 + ["X"] * 500), 100)


def test_ancestry_without_reference_field_says_so_in_the_summary(gutted):
    s = gutted["summary"].set_index("step")
    assert s.loc["ancestry", "method"].endswith("reference: all samples")
    assert "no reference group field of qc.ancestry.reference in the table" in s.loc["ancestry", "warning"]


def test_a_killed_steps_temp_directory_is_removed_by_the_next_run(cohort, tmp_path):
    import signal
    import subprocess
    import sys

    prefix, _ = cohort
    out = tmp_path / "sample_missingness.tsv"
    # a step killed inside its plink2 work directory (SIGKILL: no clean-up runs)
    code = ("import os, signal, sys; from pathlib import Path; from liftgwas.cohort.plink2 import workdir\n"
            "with workdir(Path(sys.argv[1])) as d:\n"
            "    (d / 'big.bed').write_bytes(b'x' * 100000); os.kill(os.getpid(), signal.SIGKILL)\n")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(out)], env={"PYTHONPATH": str(cohort_config.SCHEMA_PATH.parents[1])})
    assert proc.returncode == -signal.SIGKILL
    left = list(tmp_path.glob(".sample_missingness.tsv.plink2-*"))
    assert len(left) == 1 and (left[0] / "big.bed").exists()
    qc.sample_missingness_step(prefix, out, settings=settings_for(prefix))
    assert list(tmp_path.glob(".sample_missingness.tsv.plink2-*")) == [] and out.exists()
