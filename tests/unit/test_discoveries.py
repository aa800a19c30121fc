"""discoveries.tsv: BH on GWAS p-values, genome-wide significance, the null and knockoff
rows, and the realised FDR / power against a constructed truth."""

import math

import numpy as np
import pandas as pd
import pytest

from liftgwas.discover import discoveries as dc


def test_bh_against_a_hand_case():
    # m = 5, q = 0.1: sorted p 0.001 0.012 0.03 0.05 0.2 against k q / m = 0.02 0.04 0.06 0.08 0.1;
    # the largest k with p_(k) <= k q / m is k = 4 (0.05 <= 0.08), so the first four are selected
    p = np.array([0.05, 0.001, 0.2, 0.03, 0.012])
    selected, cutoff = dc.bh_select(p, 0.1)
    assert selected.tolist() == [True, True, False, True, True]
    assert cutoff == 0.05
    # at q = 0.05 (k q / m = 0.01 0.02 0.03 0.04 0.05): k = 3 (0.03 <= 0.03)
    selected, cutoff = dc.bh_select(p, 0.05)
    assert selected.tolist() == [False, True, False, True, True] and cutoff == 0.03
    # nothing selectable; NaN never selected
    selected, cutoff = dc.bh_select(np.array([0.5, np.nan, 0.9]), 0.1)
    assert not selected.any() and cutoff == 0.0


@pytest.mark.parametrize("q", [0, 1, -0.1, 1.5, True])
def test_rates_outside_the_unit_interval_name_the_key(q):
    with pytest.raises(ValueError, match="discoveries.q"):
        dc.bh_select(np.array([0.1]), q)


def _sumstats(p):
    ids = [f"rs{i}" for i in range(len(p))]
    return pd.DataFrame({"bim_id": ids, "variant_id": [f"1_{i}_A_G" for i in range(len(p))],
                         "neg_log_10_p_value": -np.log10(p), "p_value": p})


def test_gwas_rows_bh_and_genome_wide():
    p = np.array([1e-9, 0.001, 0.2, 7e-8, 0.9])
    rows = dc.gwas_rows(_sumstats(p), 0.05)
    bh = rows[rows.method == "gwas_bh"].set_index("id")
    gws = rows[rows.method == "gwas_gws"].set_index("id")
    assert sorted(bh.index[bh.selected]) == ["rs0", "rs1", "rs3"]  # 0.001 <= 3 * 0.05 / 5
    assert bh["threshold"].iloc[0] == pytest.approx(3.0)  # -log10 of the largest selected p
    assert sorted(gws.index[gws.selected]) == ["rs0"] and gws["error_rate"].iloc[0] == "p<5e-08"
    assert bh["error_rate"].iloc[0] == "FDR<=0.05"


def test_null_rows_select_strictly_above_the_max_statistic():
    summary = pd.DataFrame({"variant_id": ["a", "b", "c"], "score": [25.0, 20.0, 1.0],
                            "p_empirical": [0.05, 0.05, 1.0]})
    rows = dc.null_rows(summary, np.arange(1.0, 21.0), 0.05)
    assert rows["threshold"].iloc[0] == 20.0
    assert rows["selected"].tolist() == [True, False, False]  # 20 is not above 20
    none = dc.null_rows(summary, np.arange(1.0, 11.0), 0.05)  # K = 10: no threshold
    assert math.isinf(none["threshold"].iloc[0]) and not none["selected"].any()


def _threshold_selection(t):
    def select(stats, q):
        w = stats["W"].to_numpy(float)
        return pd.DataFrame({"group": stats["group"], "statistic": w, "threshold": t, "selected": w >= t})
    return select


def test_knockoff_rows_take_the_selection_of_the_knockoff_filter():
    stats = pd.DataFrame({"group": ["g1", "g2", "g3"], "variant_ids": ["a,b", "c", "d"],
                          "lead_variant": ["a", "c", "d"], "W": [2.0, 0.5, -1.0]})
    calls = []

    def select(s, q):
        calls.append(q)
        # returned in another order: rows are matched by group
        return _threshold_selection(0.5)(s, q).iloc[::-1]

    rows = dc.knockoff_rows(stats, 0.1, select)
    assert calls == [0.1]
    assert rows["id"].tolist() == ["g1", "g2", "g3"] and rows["selected"].tolist() == [True, True, False]
    assert set(rows.unit) == {"group"} and rows["variant_ids"].iloc[0] == "a,b"
    rows = dc.knockoff_rows(stats, 0.1, _threshold_selection(math.inf))
    assert not rows["selected"].any()


def _table():
    gw = dc.gwas_rows(_sumstats(np.array([1e-12, 1e-10, 0.5, 0.7])), 0.1)
    nul = dc.null_rows(pd.DataFrame({"variant_id": ["rs0", "rs1", "rs2", "rs3"],
                                     "score": [9.0, 1.0, 8.0, 0.5], "p_empirical": 0.5}), np.full(20, 2.0), 0.05)
    ko = dc.knockoff_rows(pd.DataFrame({"group": ["g1", "g2"], "variant_ids": ["rs0,rs1", "rs2,rs3"],
                                        "lead_variant": ["rs0", "rs2"], "W": [3.0, 1.0]}), 0.1, _threshold_selection(1.0))
    return dc.discoveries_table([gw, nul, ko])


def test_discoveries_table_order_columns_and_roundtrip(tmp_path):
    table = _table()
    assert list(table.columns) == dc.COLUMNS
    assert list(dict.fromkeys(table.method)) == ["deeplift_null", "deeplift_knockoff", "gwas_bh", "gwas_gws"]
    path = tmp_path / "d.tsv"
    table.to_csv(path, sep="\t", index=False)
    back = dc.read_discoveries(path)
    assert back["selected"].tolist() == table["selected"].tolist()
    summary = dc.summary_table(back).set_index("method")
    assert summary.loc["deeplift_null", "discoveries"] == 2 and summary.loc["gwas_bh", "discoveries"] == 2


def test_realised_fdr_and_power_on_a_constructed_truth():
    table = _table()
    # truth: rs0 and rs3 causal
    err = dc.realised_error(table, ["rs0", "rs3"]).set_index("method")
    # null: selects rs0 (true), rs2 (false) -> FDR 1/2, power 1/2
    assert err.loc["deeplift_null", ["discoveries", "false_discoveries"]].tolist() == [2, 1]
    assert err.loc["deeplift_null", "fdr"] == 0.5 and err.loc["deeplift_null", "power"] == 0.5
    # knockoff groups {rs0,rs1} and {rs2,rs3} both hold a causal SNP -> FDR 0, power 1
    assert err.loc["deeplift_knockoff", "fdr"] == 0.0 and err.loc["deeplift_knockoff", "power"] == 1.0
    # BH selects rs0, rs1: one false
    assert err.loc["gwas_bh", "fdr"] == 0.5 and err.loc["gwas_bh", "power"] == 0.5


def test_realised_error_with_ld_counts_a_tagging_discovery_true():
    table = dc.discoveries_table([dc.gwas_rows(_sumstats(np.array([1e-12, 0.9, 0.9, 1e-12])), 0.1)])
    positions = pd.DataFrame({"variant_id": ["rs0", "rs1", "rs2", "rs3"], "chromosome": ["1", "1", "1", "2"],
                              "base_pair_location": [100, 200, 500_000, 100]})
    r2 = {("rs0", "rs1"): 0.9, ("rs3", "rs1"): 0.9}
    ld = lambda pairs: [r2.get(tuple(p), 0.0) for p in pairs]  # noqa: E731
    err = dc.realised_error(table, ["rs1"], positions, exact=False, ld=ld).set_index("method")
    # rs0 tags rs1 (same chromosome, 100 bp, r2 0.9): true; rs3 on chromosome 2: false
    assert err.loc["gwas_bh", "false_discoveries"] == 1 and err.loc["gwas_bh", "power"] == 1.0
    exact = dc.realised_error(table, ["rs1"]).set_index("method")
    assert exact.loc["gwas_bh", "false_discoveries"] == 2 and exact.loc["gwas_bh", "power"] == 0.0
