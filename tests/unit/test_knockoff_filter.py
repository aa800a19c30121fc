"""The knockoff+ threshold, group W, seed/draw combination (discover/knockoff_filter.py)."""

import math

import numpy as np
import pandas as pd
import pytest

from liftgwas.discover import knockoff_filter as F


def naive_threshold(w, q, offset=1):
    """The definition, written out: min t over |W| != 0 with (offset + #{W <= -t}) / max(1, #{W >= t}) <= q."""
    best = math.inf
    for t in sorted(set(abs(v) for v in w if v != 0)):
        if (offset + sum(v <= -t for v in w)) / max(1, sum(v >= t for v in w)) <= q:
            best = min(best, t)
    return best


def test_hand_checked_thresholds():
    w = [5, 4, 3, 2, -1, 1]
    # t = 1: (1 + #{W <= -1} = 1) / #{W >= 1} = 5 -> 2/5 = 0.4
    assert F.knockoff_plus_threshold(w, 0.5) == 1
    # q = 0.3: t = 1 gives 0.4 > 0.3; t = 2: (1 + 0) / 4 = 0.25 -> T = 2, SNPs with W >= 2 selected
    assert F.knockoff_plus_threshold(w, 0.3) == 2
    # q = 0.2: t = 2 -> 0.25, t = 3 -> 1/3, t = 4 -> 1/2, t = 5 -> 1: nothing qualifies
    assert F.knockoff_plus_threshold(w, 0.2) == math.inf
    # the plain knockoff filter (offset 0) at q = 0.2: t = 1 -> 1/5 = 0.2 -> T = 1
    assert F.knockoff_plus_threshold(w, 0.2, offset=0) == 1


@pytest.mark.parametrize("w", [[], [0, 0, 0], [-1, -2, -3], [np.nan, 0.0], [1, 2, 3]])
def test_nothing_selectable_gives_inf(w):
    # three positives alone: (1 + 0) / 3 = 0.33 > 0.1, so knockoff+ cannot select at q = 0.1
    assert F.knockoff_plus_threshold(w, 0.1) == math.inf


def test_matches_the_definition_on_random_vectors():
    rng = np.random.default_rng(0)
    for _ in range(200):
        w = np.round(rng.normal(0.5, 1.5, rng.integers(1, 40)), 1)  # rounding makes ties
        q = rng.uniform(0.05, 0.5)
        assert F.knockoff_plus_threshold(w, q) == naive_threshold(list(w), q)


def test_bad_q_names_the_key():
    with pytest.raises(ValueError, match=r"discoveries\.q"):
        F.knockoff_plus_threshold([1, 2], 1.0)


def test_fdr_is_controlled_on_coin_flip_nulls():
    """Null W with symmetric signs, signals large and positive: mean FDP <= q (up to MC error)."""
    rng = np.random.default_rng(1)
    q, fdp = 0.2, []
    for _ in range(400):
        null = rng.exponential(1.0, 80) * rng.choice([-1, 1], 80)
        signal = rng.exponential(1.0, 20) + rng.uniform(0, 3)
        w = np.r_[null, signal]
        selected = w >= F.knockoff_plus_threshold(w, q)
        fdp.append(selected[:80].sum() / max(selected.sum(), 1))
    assert np.mean(fdp) <= q + 3 * np.std(fdp) / np.sqrt(len(fdp))


def test_group_w_sums_members_and_flips_sign_when_swapped():
    groups = [1, 1, 2, 3, 3, 3]
    s = np.array([0.5, 0.1, 0.2, 0.0, 0.3, 0.3])
    k = np.array([0.1, 0.1, 0.4, 0.1, 0.1, 0.1])
    g = F.group_statistics(s, k, groups)
    np.testing.assert_allclose(g["score_original"], [0.6, 0.2, 0.6])
    np.testing.assert_allclose(g["W"], [0.4, -0.2, 0.3])
    np.testing.assert_allclose(F.group_statistics(k, s, groups)["W"], -g["W"])


def _table(ids, orig, knock):
    return pd.DataFrame({"variant_id": ids, "score_original": orig, "score_knockoff": knock})


def test_combine_averages_w_over_seeds_and_reports_groups():
    ids = ["a", "b", "c"]
    groups = pd.DataFrame({"variant_id": ids, "group": [1, 1, 2]})
    seeds = [_table(ids, [0.3, 0.1, 0.0], [0.1, 0.1, 0.2]), _table(ids, [0.1, 0.5, 0.0], [0.1, 0.1, 0.0])]
    out = F.combine([seeds], [groups])
    assert list(out.columns[: len(F.STATISTICS_COLUMNS)]) == F.STATISTICS_COLUMNS
    np.testing.assert_allclose(out["W"], [(0.2 + 0.4) / 2, (-0.2 + 0.0) / 2])
    np.testing.assert_allclose(out["W_draw_1"], out["W"])
    assert list(out["variant_ids"]) == ["a,b", "c"]
    assert list(out["lead_variant"]) == ["b", "c"]  # b: mean original 0.3 > a's 0.2
    assert list(out["n_variants"]) == [2, 1] and out["n_seeds"].iloc[0] == 2 and out["n_draws"].iloc[0] == 1


def test_combine_refuses_draws_with_different_groups():
    ids = ["a", "b"]
    t = [_table(ids, [1, 1], [0, 0])]
    with pytest.raises(ValueError, match="different LD groups"):
        F.combine([t, t], [pd.DataFrame({"variant_id": ids, "group": [1, 2]}),
                           pd.DataFrame({"variant_id": ids, "group": [1, 1]})])


def test_one_draw_selection_is_knockoff_plus():
    w = np.array([5, 4, 3, 2, -1, 1.0])
    stats = pd.DataFrame({"group": np.arange(1, 7), "W": w, "W_draw_1": w})
    sel = F.knockoff_selection(stats, 0.3)
    assert sel["threshold"].iloc[0] == 2
    assert list(sel["selected"]) == [True, True, True, True, False, False]
    assert not F.knockoff_selection(stats, 0.2)["selected"].any()


def test_ebh_of_one_draws_e_values_equals_knockoff_plus():
    """Ren & Barber: knockoff+ at q is e-BH at q on its own e-values (one draw, same level)."""
    rng = np.random.default_rng(2)
    for _ in range(50):
        w = np.r_[rng.normal(0, 1, 60), rng.exponential(3, 15)]
        t = F.knockoff_plus_threshold(w, 0.2)
        selected, _ = F.ebh(F.knockoff_e_values(w, 0.2), 0.2)
        np.testing.assert_array_equal(selected, w >= t)


def test_ebh_hand_case_and_several_draws():
    selected, t = F.ebh([30, 1, 12, 0], 0.5)
    # G = 4: k = 2 needs e >= 4 / (0.5 * 2) = 4 -> {30, 12}; k = 3 needs 8/3 > 1
    assert list(selected) == [True, False, True, False] and t == 4
    strong = np.r_[np.full(10, 5.0), np.linspace(-1, 1, 30)]
    stats = pd.DataFrame({"group": np.arange(40), "W": strong, "W_draw_1": strong, "W_draw_2": strong})
    sel = F.knockoff_selection(stats, 0.2)
    assert sel["selected"][:10].all() and not sel["selected"][10:].any()
