"""The synthetic UK Biobank-like cohort: deterministic, and its planted problems are real.

Each planted problem is checked on the written files with independent code (bed-reader for
the genotypes, plain numpy statistics), so the QC tests that rely on this ground truth test
against problems that are actually in the data.
"""

import re

import numpy as np
import pandas as pd
import pytest
from bed_reader import open_bed

from liftgwas import plink
from liftgwas.cohort import ukb_synth


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    prefix = tmp_path_factory.mktemp("synth") / "ukb"
    truth = ukb_synth.write_synthetic_cohort(prefix)
    with open_bed(f"{prefix}.bed", count_A1=True) as bed:
        # bed-reader counts A1 (.bim column 5) with count_A1=True; NaN = missing
        dosages = bed.read(dtype="float32")  # (samples, variants)
    table = pd.read_csv(f"{prefix}.tsv", sep="\t", dtype=str, keep_default_na=False)
    return {
        "prefix": prefix,
        "truth": truth,
        "dosages": dosages,
        "bim": plink.read_bim(f"{prefix}.bim"),
        "fam": plink.read_fam(f"{prefix}.fam"),
        "table": table,
    }


def test_same_seed_same_files_other_seed_differs(tmp_path, cohort):
    ukb_synth.write_synthetic_cohort(tmp_path / "again")
    ukb_synth.write_synthetic_cohort(tmp_path / "other", ukb_synth.SyntheticSpec(seed=7))
    first = cohort["prefix"]
    for ext in ("bed", "bim", "fam", "tsv", "related.dat"):
        assert (tmp_path / f"again.{ext}").read_bytes() == first.with_name(f"ukb.{ext}").read_bytes()
    assert (tmp_path / "other.bed").read_bytes() != first.with_name("ukb.bed").read_bytes()


def test_files_have_the_ukb_layout(cohort):
    spec = ukb_synth.SyntheticSpec()
    table, fam = cohort["table"], cohort["fam"]
    assert table.columns[0] == "eid"
    assert all(re.fullmatch(r"\d+-\d+\.\d+", c) for c in table.columns[1:])
    assert len(fam) == spec.n_samples and (fam["fid"] == fam["iid"]).all()
    assert len(table) == spec.n_samples + spec.n_table_only
    assert set(fam["iid"]) <= set(table["eid"])
    assert set(table["eid"]) - set(fam["iid"]) == set(cohort["truth"]["samples"]["table_only"])
    # the export order differs from the genotype order
    assert table["eid"].iloc[: len(fam)].tolist() != fam["iid"].tolist()
    related = pd.read_csv(cohort["prefix"].with_name("ukb.related.dat"), sep=r"\s+")
    assert related.columns.tolist() == ["ID1", "ID2", "HetHet", "IBS0", "Kinship"]


def test_planted_sample_sets_are_disjoint_and_sized(cohort):
    spec = ukb_synth.SyntheticSpec()
    s = cohort["truth"]["samples"]
    sets = {
        "high_missing": set(s["high_missing"]),
        "sex_mismatch": set(s["sex_mismatch"]),
        "aneuploidy": set(s["aneuploidy"]),
        "ancestry_outlier": set(s["ancestry_outlier"]),
        "related": {x for p in s["related_pairs"] for x in p},
        "distant": {x for p in s["distant_pairs"] for x in p},
    }
    sizes = {k: len(v) for k, v in sets.items()}
    assert sizes == {
        "high_missing": spec.n_high_missing,
        "sex_mismatch": spec.n_sex_mismatch,
        "aneuploidy": 2,
        "ancestry_outlier": spec.n_ancestry_outliers,
        "related": 2 * spec.n_related_pairs,
        "distant": 2 * spec.n_distant_pairs,
    }
    union = set().union(*sets.values())
    assert len(union) == sum(sizes.values())


def _index(cohort, ids):
    return pd.Index(cohort["fam"]["iid"]).get_indexer(list(ids))


def test_high_missing_samples_and_low_call_rate_variants_are_real(cohort):
    g, bim = cohort["dosages"], cohort["bim"]
    truth = cohort["truth"]
    sample_missing = np.isnan(g).mean(axis=1)
    high = np.zeros(len(g), bool)
    high[_index(cohort, truth["samples"]["high_missing"])] = True
    assert sample_missing[high].min() > 0.04
    assert sample_missing[~high].max() < 0.005
    ok = ~high
    variant_missing = np.isnan(g[ok]).mean(axis=0)
    low = bim["snp"].isin(truth["variants"]["low_call_rate"]).to_numpy()
    assert variant_missing[low].min() > 0.03
    assert variant_missing[~low].max() < 0.01  # the call-rate threshold


def test_rare_variants_are_below_one_percent_and_others_well_above(cohort):
    g, bim = cohort["dosages"], cohort["bim"]
    on10 = (bim["chrom"] == "10").to_numpy()
    freq = np.nanmean(g, axis=0) / 2
    maf = np.minimum(freq, 1 - freq)
    rare = bim["snp"].isin(cohort["truth"]["variants"]["rare"]).to_numpy()
    assert maf[rare].max() < 0.003
    assert maf[on10 & ~rare].min() > 0.05


def test_chrx_follows_the_genetic_karyotype(cohort):
    g, bim, truth = cohort["dosages"], cohort["bim"], cohort["truth"]
    x = g[:, (bim["chrom"] == "X").to_numpy()]
    het = (x == 1).sum(axis=1)
    per = truth["per_sample"]
    table = cohort["table"].set_index("eid").loc[per["eid"]]
    genetic_sex = table["22001-0.0"].astype(int).to_numpy()
    xxy, x0 = (_index(cohort, [e])[0] for e in _aneuploid_roles(cohort))
    one_x = genetic_sex == 1
    one_x[xxy], one_x[x0] = False, True
    assert het[one_x].max() == 0  # hemizygous: never heterozygous
    assert het[~one_x].min() > 150  # two X copies: heterozygous at many of 800 SNPs
    reported = np.array(per["sex"])
    mismatch = _index(cohort, truth["samples"]["sex_mismatch"])
    assert (reported[mismatch] != genetic_sex[mismatch]).all()
    others = np.setdiff1d(np.arange(len(reported)), np.concatenate([mismatch, [xxy, x0]]))
    assert (reported[others] == genetic_sex[others]).all()


def _aneuploid_roles(cohort):
    """(XXY, X0) eids: XXY is reported male, X0 reported female."""
    table = cohort["table"].set_index("eid")
    a = cohort["truth"]["samples"]["aneuploidy"]
    assert (table.loc[a, "22019-0.0"] == "1").all()
    assert (table.drop(index=a)["22019-0.0"] == "").all()
    return sorted(a, key=lambda e: table.loc[e, "31-0.0"], reverse=True)


def _king_robust(g: np.ndarray) -> np.ndarray:
    """KING-robust kinship, (HetHet - 2 IBS0) / (Het_i + Het_j), missing calls ignored."""
    het = (g == 1).astype(np.float32)
    hom_a, hom_b = (g == 2).astype(np.float32), (g == 0).astype(np.float32)
    hethet = het @ het.T
    ibs0 = hom_a @ hom_b.T + hom_b @ hom_a.T
    n_het = het.sum(axis=1)
    return (hethet - 2 * ibs0) / (n_het[:, None] + n_het[None, :])


def test_related_pairs_exceed_the_kinship_cutoff_and_the_rest_do_not(cohort):
    g, bim, truth = cohort["dosages"], cohort["bim"], cohort["truth"]
    main = np.ones(len(g), bool)
    main[_index(cohort, truth["samples"]["ancestry_outlier"])] = False
    main[_index(cohort, truth["samples"]["high_missing"])] = False
    ids = cohort["fam"]["iid"].to_numpy()[main]
    phi = _king_robust(g[main][:, (bim["chrom"] == "10").to_numpy()])
    pos = {e: i for i, e in enumerate(ids)}
    related = [(pos[a], pos[b]) for a, b in truth["samples"]["related_pairs"]]
    distant = [(pos[a], pos[b]) for a, b in truth["samples"]["distant_pairs"]]
    assert min(phi[i, j] for i, j in related) > 0.18
    assert all(0.0 < phi[i, j] < 0.0884 for i, j in distant)
    mask = np.triu(np.ones_like(phi, bool), k=1)
    for i, j in related + distant:
        mask[min(i, j), max(i, j)] = False
    assert phi[mask].max() < 0.0884


def test_ancestry_outliers_differ_in_allele_frequency(cohort):
    g, bim, truth = cohort["dosages"], cohort["bim"], cohort["truth"]
    on10 = (bim["chrom"] == "10").to_numpy()
    out = np.zeros(len(g), bool)
    out[_index(cohort, truth["samples"]["ancestry_outlier"])] = True
    diff = np.abs(np.nanmean(g[out][:, on10], 0) - np.nanmean(g[~out][:, on10], 0)) / 2
    assert diff.mean() > 0.15  # very different populations


def test_every_case_route_is_used_and_codes_are_in_the_right_columns(cohort):
    truth, table = cohort["truth"], cohort["table"].set_index("eid")
    per = pd.DataFrame(truth["per_sample"]).set_index("eid")
    assert per["t2d"].sum() == round(ukb_synth.SyntheticSpec().case_fraction * len(per))
    routes = per.loc[per["t2d"] == 1, "t2d_routes"].str.split(";").explode()
    assert set(routes) == set(ukb_synth.ROUTES)
    assert routes.value_counts().min() >= 10
    assert (per.loc[per["t2d"] == 0, "t2d_routes"] == "").all()
    for route in ukb_synth.ROUTES:
        columns = [c for c in table.columns if c.startswith(f"{route}-")]
        coded = per.index[per["t2d_routes"].str.contains(route)]
        values = table.loc[coded, columns]
        if route == "20002":
            assert (values == "1220").any(axis=1).all()
        elif route in ("41202", "41204"):
            assert values.apply(lambda col: col.str.match(r"E1[0-4]")).any(axis=1).all()
        else:
            assert values.apply(lambda col: col.str.match(r"2(49|50)")).any(axis=1).all()


def test_hba1c_instances_and_truth(cohort):
    truth, table = cohort["truth"], cohort["table"].set_index("eid")
    per = pd.DataFrame(truth["per_sample"]).set_index("eid")
    values = table.loc[per.index, ["30750-0.0", "30750-1.0"]].replace("", np.nan).astype(float)
    n_present = values.notna().sum(axis=1)
    assert set(n_present) == {0, 1, 2}
    assert (n_present == 2).sum() > 30 and (values["30750-1.0"].notna() & values["30750-0.0"].isna()).sum() > 5
    expected = np.log(values.mean(axis=1))
    np.testing.assert_allclose(per["hba1c"].astype(float), expected, rtol=0, atol=1e-12)
    assert per.loc[n_present == 0, "hba1c"].isna().all()


def test_pc_fields_option_writes_22009(tmp_path):
    c = ukb_synth.generate(ukb_synth.SyntheticSpec(pc_fields=True, sex_fields=False))
    assert [f"22009-0.{k}" for k in range(1, 11)] == [col for col in c.table.columns if col.startswith("22009-")]
    assert not any(col.startswith(("22001-", "22019-")) for col in c.table.columns)
