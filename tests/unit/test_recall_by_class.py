"""Locus (LD-aware) recall, recall by effect class and pair recall on constructed rankings."""

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.recall import GenotypeLD, clump, recall_by_class


def positions_of(ids, chromosome, position):
    return pd.DataFrame({"variant_id": ids, "chromosome": chromosome, "base_pair_location": position})


def fixed_ld(table):
    """An r^2 lookup from a dict {(a, b): r2} (symmetric); unlisted pairs have r^2 = 0."""
    def ld(pairs):
        return np.array([table.get((a, b), table.get((b, a), 0.0)) for a, b in pairs])
    return ld


def truth_of(rows):
    return pd.DataFrame(rows, columns=["variant_id", "class", "pair"])


def test_clump_drops_the_window_around_each_lead_edges_inclusive():
    ids = ["a", "b", "c", "d", "e"]
    strength = pd.Series([5.0, 4.0, 3.0, 2.0, 1.0], index=ids)
    # b is exactly one window from a (dropped), c one bp beyond it (kept), d on another chromosome
    chrom = ["1", "1", "1", "2", "1"]
    pos = [1_000, 101_000, 101_001, 1_000, 50_000]
    assert clump(strength, chrom, pos, 100_000, 10) == ["a", "c", "d"]
    assert clump(strength, chrom, pos, 100_000, 2) == ["a", "c"]
    assert clump(strength, chrom, pos, 0, 10) == ids  # window 0: every SNP is its own lead


def test_clump_ties_in_genome_order_and_nan_never_leads():
    ids = ["a", "b", "c", "d"]
    strength = pd.Series([1.0, 2.0, 2.0, np.nan], index=ids)
    assert clump(strength, ["1"] * 4, [0, 10, 20, 1_000_000], 5, 10) == ["b", "c", "a"]
    assert clump(strength, ["1"] * 4, [0, 10, 20, 1_000_000], 15, 10) == ["b"]


def test_tag_snp_counts_for_locus_recall_not_for_exact_recall():
    ids = [f"v{i}" for i in range(6)]
    pos = positions_of(ids, "1", [1_000, 5_000, 300_000, 600_000, 900_000, 1_200_000])
    # v1 is causal but the ranking puts its neighbour v0 (r^2 0.8) first and drops v1
    strength = pd.Series([9.0, 8.0, 1.0, 2.0, 3.0, 0.5], index=ids)
    truth = truth_of([("v1", "additive", pd.NA)])
    table = recall_by_class(strength, pos, truth, 1, ld=fixed_ld({("v0", "v1"): 0.8})).set_index("class")
    assert table.at["additive", "exact_recall"] == 0.0
    assert table.at["additive", "locus_recall"] == 1.0
    # the same lead with r^2 below the threshold, or at exactly the threshold
    low = recall_by_class(strength, pos, truth, 1, ld=fixed_ld({("v0", "v1"): 0.49})).set_index("class")
    assert low.at["additive", "locus_recall"] == 0.0
    edge = recall_by_class(strength, pos, truth, 1, ld=fixed_ld({("v0", "v1"): 0.5})).set_index("class")
    assert edge.at["additive", "locus_recall"] == 1.0


def test_lead_beyond_the_window_does_not_claim_a_correlated_snp():
    ids = ["near", "far", "causal"]
    pos = positions_of(ids, "1", [0, 500_000, 1_000])
    strength = pd.Series([1.0, 9.0, 0.0], index=ids)
    truth = truth_of([("causal", "additive", pd.NA)])
    ld = fixed_ld({("far", "causal"): 0.9, ("near", "causal"): 0.9})
    assert recall_by_class(strength, pos, truth, 1, ld=ld)["locus_recall"].iloc[0] == 0.0
    # with k = 2 the second lead is 'near' (kept: 500 kb from 'far'), which tags it
    assert recall_by_class(strength, pos, truth, 2, ld=ld)["locus_recall"].iloc[0] == 1.0


def test_ld_tie_two_identical_snps_with_equal_scores():
    """Two SNPs in perfect LD get equal scores; the first in genome order leads, and the
    causal second one is found through r^2 = 1 but not exactly."""
    rng = np.random.default_rng(3)
    n, m = 200, 5
    g = rng.binomial(2, 0.3, (m, n)).astype(np.int8)
    g[2] = g[1]
    ids = [f"s{i}" for i in range(m)]
    strength = pd.Series([0.1, 5.0, 5.0, 0.3, 0.2], index=ids)
    pos = positions_of(ids, "1", [1_000 * (i + 1) for i in range(m)])
    ld = lambda pairs: np.array([1.0 if a == b else np.corrcoef(g[ids.index(a)], g[ids.index(b)])[0, 1] ** 2
                                 for a, b in pairs])  # noqa: E731
    truth = truth_of([("s2", "dominant", pd.NA)])
    table = recall_by_class(strength, pos, truth, 1, window=1_500, ld=ld).set_index("class")
    assert table.at["dominant", "exact_recall"] == pytest.approx(0.5)  # tied for the one place
    assert table.at["dominant", "locus_recall"] == 1.0


def test_classes_and_half_found_pairs():
    ids = [f"v{i}" for i in range(10)]
    pos = positions_of(ids, "1", [100_000 * (i + 1) for i in range(10)])
    truth = truth_of([
        ("v0", "additive", pd.NA), ("v1", "recessive", pd.NA),
        ("v2", "epistatic", 1), ("v3", "epistatic", 1),   # found: both in the top 4
        ("v4", "epistatic", 2), ("v9", "epistatic", 2),   # half found: v9 ranks last
    ])
    strength = pd.Series([10.0, 1.5, 9.0, 8.0, 7.0, 2.0, 3.0, 4.0, 5.0, 0.0], index=ids)
    table = recall_by_class(strength, pos, truth, 4, window=1_000).set_index("class")
    assert table.at["all", "n"] == 6
    assert table.at["all", "exact_recall"] == pytest.approx(4 / 6)
    assert table.at["additive", "exact_recall"] == 1.0
    assert table.at["recessive", "exact_recall"] == 0.0
    assert table.at["epistatic", "exact_recall"] == pytest.approx(3 / 4)
    assert table.at["epistatic_pairs", "n"] == 2
    assert table.at["epistatic_pairs", "exact_recall"] == 0.5
    assert table.at["epistatic_pairs", "locus_recall"] == 0.5
    assert np.isnan(table.at["epistatic_pairs", "pair_list_recall"])
    assert "dominant" not in table.index


def test_pair_list_recall_either_orientation_and_through_ld():
    ids = [f"v{i}" for i in range(8)]
    pos = positions_of(ids, "1", [1_000, 2_000, 500_000, 900_000, 1_400_000, 1_900_000, 2_500_000, 3_000_000])
    truth = truth_of([("v0", "epistatic", 1), ("v2", "epistatic", 1), ("v3", "epistatic", 2), ("v4", "epistatic", 2)])
    strength = pd.Series(1.0, index=ids)
    # pair 1 found through v1 (tags v0) reversed; pair 2 only half (v3 with v6)
    pair_list = pd.DataFrame({"snp1": ["v2", "v3", "v5"], "snp2": ["v1", "v6", "v7"]})
    ld = fixed_ld({("v0", "v1"): 0.9})
    table = recall_by_class(strength, pos, truth, 3, ld=ld, pair_list=pair_list).set_index("class")
    assert table.at["epistatic_pairs", "pair_list_recall"] == 0.5
    # beyond the top k pairs nothing counts
    later = pd.concat([pd.DataFrame({"snp1": ["v5"] * 3, "snp2": ["v6"] * 3}), pair_list])
    table = recall_by_class(strength, pos, truth, 3, ld=ld, pair_list=later).set_index("class")
    assert table.at["epistatic_pairs", "pair_list_recall"] == 0.0


def test_bad_truth_is_rejected():
    ids = ["a", "b"]
    pos = positions_of(ids, "1", [1, 2])
    strength = pd.Series([1.0, 2.0], index=ids)
    with pytest.raises(ValueError, match="unknown effect class"):
        recall_by_class(strength, pos, truth_of([("a", "overdominant", pd.NA)]), 1)
    with pytest.raises(ValueError, match="not in the ranking"):
        recall_by_class(strength, pos, truth_of([("zz", "additive", pd.NA)]), 1)
    with pytest.raises(ValueError, match="one trait"):
        recall_by_class(strength, pos, truth_of([("a", "additive", pd.NA)] * 2), 1)


def test_genotype_ld_reads_r2_from_the_bed(tmp_path):
    rng = np.random.default_rng(5)
    n = 300
    base = rng.binomial(2, 0.4, n).astype(np.int8)
    noisy = base.copy()
    flip = rng.random(n) < 0.3
    noisy[flip] = rng.binomial(2, 0.4, flip.sum())
    dosages = np.vstack([base, noisy, rng.binomial(2, 0.4, n), np.zeros(n)]).astype(np.int8)
    dosages[1, :7] = plink.MISSING
    ids = ["a", "b", "c", "mono"]
    bim = pd.DataFrame({"chrom": "1", "snp": ids, "cm": 0.0, "pos": [10, 20, 30, 40], "a1": "A", "a2": "G"})
    iids = [f"s{i}" for i in range(n)]
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(tmp_path / "g", dosages, bim, fam)
    r2 = GenotypeLD(tmp_path / "g").r2([("a", "b"), ("b", "a"), ("a", "a"), ("a", "mono")])
    called = slice(7, None)
    expected = np.corrcoef(base[called], noisy[called])[0, 1] ** 2
    assert r2[0] == pytest.approx(expected) and r2[1] == pytest.approx(expected)
    assert r2[2] == 1.0 and np.isnan(r2[3])
    with pytest.raises(KeyError, match="not in"):
        GenotypeLD(tmp_path / "g").r2([("a", "zz")])


def test_truth_rows_per_trait_and_old_format(tmp_path):
    from liftgwas import compare
    from liftgwas.errors import InputError

    new = tmp_path / "truth.tsv"
    pd.DataFrame({
        "trait": ["bin", "bin", "bin", "qt", "qt"],
        "variant_id": ["rs1", "rs2", "rs3", "rs1", "rs9"],
        "class": ["additive", "epistatic", "epistatic", "additive", "recessive"],
        "pair": [None, 1, 1, None, None],
        "beta": [0.5, 0.2, 0.2, 0.5, 1.0],
    }).to_csv(new, sep="\t", index=False)
    rows = compare.read_truth_rows(new, "bin")
    assert rows["variant_id"].tolist() == ["rs1", "rs2", "rs3"]
    assert rows["pair"].isna().tolist() == [True, False, False]
    assert compare.read_truth(new, "qt") == ["rs1", "rs9"]
    with pytest.raises(InputError, match="several traits"):
        compare.read_truth(new)
    with pytest.raises(InputError, match="no causal SNP"):
        compare.read_truth(new, "other")
    old = tmp_path / "old.tsv"
    pd.DataFrame({"variant_id": ["rs1", "rs2"], "beta": [0.5, 0.0]}).to_csv(old, sep="\t", index=False)
    rows = compare.read_truth_rows(old, "anything")
    assert rows["variant_id"].tolist() == ["rs1"] and rows["class"].tolist() == ["additive"]
    bad = tmp_path / "bad.tsv"
    pd.DataFrame({"variant_id": ["rs1", "rs2"], "class": ["additive", "overdominant"], "beta": [1, 1]}).to_csv(
        bad, sep="\t", index=False)
    with pytest.raises(InputError, match="line 3.*overdominant|overdominant"):
        compare.read_truth_rows(bad)


def test_table1_keeps_settings_without_sparsity():
    from liftgwas.recall import table1, table1_markdown

    runs = pd.DataFrame([
        dict(group="sim-coal", sparsity=np.nan, trait="qt", arch="8x8", l1="1", dataset="sim-coal-r1", seed=s,
             k=5, recall=r) for s, r in ((1, 0.2), (2, 0.4))
    ] + [dict(group="sim-a1", sparsity=1.0, trait="qt", arch="8x8", l1="1", dataset="sim-a1-r1", seed=1, k=5,
              recall=0.6)])
    table = table1(runs)
    assert sorted(table["group"]) == ["sim-a1", "sim-coal"]
    assert table.set_index("group").at["sim-coal", "recall_mean"] == pytest.approx(0.3)
    assert "| – | qt |" in table1_markdown(table, 5)
