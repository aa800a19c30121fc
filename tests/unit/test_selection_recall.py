"""Model selection on a constructed grid, score averaging, and top-k recall."""

import numpy as np
import pandas as pd
import pytest

from liftgwas.recall import table1, topk_recall
from liftgwas.attribution import seed_average_table
from liftgwas.selection import select, summarise_grid


def grid_with_best(best_arch, best_l1, rng):
    rows = []
    for arch in ("64x128", "64x256", "128x128", "128x256"):
        for l1 in ("0.01", "0.1", "1", "10"):
            for dataset in ("d1", "d2"):
                for seed in range(5):
                    base = -0.60 + (0.05 if (arch, l1) == (best_arch, best_l1) else 0.0)
                    rows.append(dict(arch=arch, l1=l1, dataset=dataset, seed=seed,
                                     validation_loglik=base + rng.normal(0, 0.005)))
    return pd.DataFrame(rows)


@pytest.mark.parametrize("best", [("128x256", "1"), ("64x128", "0.01"), ("64x256", "10")])
def test_selection_picks_the_best_mean_validation_loglik(best):
    grid = grid_with_best(*best, rng=np.random.default_rng(0))
    chosen = select(grid)
    assert (chosen["arch"], chosen["l1"]) == best
    assert chosen["n_runs"] == 10


def test_selection_uses_the_mean_not_the_single_best_run():
    grid = pd.DataFrame(
        [dict(arch="64x128", l1="1", dataset="d", seed=s, validation_loglik=v) for s, v in enumerate([-0.1, -0.9, -0.9])]
        + [dict(arch="64x256", l1="1", dataset="d", seed=s, validation_loglik=-0.5) for s in range(3)]
    )
    assert select(grid)["arch"] == "64x256"


def test_ties_go_to_the_smaller_network_then_stronger_l1():
    grid = pd.DataFrame(
        [dict(arch=a, l1=l, dataset="d", seed=0, validation_loglik=-0.5)
         for a in ("128x256", "64x128") for l in ("0.1", "1")]
    )
    summary = summarise_grid(grid.sample(frac=1, random_state=3))
    assert list(zip(summary["arch"], summary["l1"]))[0] == ("64x128", "1")


def test_recall_on_a_constructed_ranking():
    ids = [f"v{i}" for i in range(20)]
    scores = pd.Series(np.arange(20, 0, -1, dtype=float), index=ids)  # v0 best
    assert topk_recall(scores, ["v0", "v1", "v2", "v19"], 4) == 0.75
    assert topk_recall(scores, ["v15", "v16"], 2) == 0.0
    scores["v3"] = np.nan  # NaN ranks last
    assert topk_recall(scores, ["v3"], 19) == 0.0
    zeros = pd.Series(0.0, index=ids)  # a collapsed model: every place is a tie
    assert topk_recall(zeros, ["v0", "v1"], 5) == pytest.approx(5 / 20)
    tied = pd.Series([3.0, 2.0, 2.0, 2.0, 1.0], index=["a", "b", "c", "d", "e"])
    assert topk_recall(tied, ["a", "c"], 2) == pytest.approx((1 + 1 / 3) / 2)
    with pytest.raises(ValueError, match="not in the ranking"):
        topk_recall(scores, ["zz"], 2)


def test_average_scores_and_table1():
    t1 = pd.DataFrame({"variant_id": ["a", "b"], "chromosome": ["1", "1"], "base_pair_location": [1, 2],
                       "effect_allele": ["A", "C"], "other_allele": ["G", "T"], "attribution_per_allele": [0.1, -0.2],
                       "score": [1.0, 3.0], "score_se": [0.1, 0.1]})
    t2 = t1.assign(score=[3.0, 5.0])
    avg = seed_average_table([t1, t2])
    assert avg["score"].tolist() == [2.0, 4.0] and avg["n_seeds"].iloc[0] == 2
    runs = pd.DataFrame(
        [dict(group="sim-a1", sparsity=1.0, trait="binary", dataset="d", arch="64x256", l1="1", seed=s, k=10, recall=r)
         for s, r in [(1, 0.6), (2, 0.8)]]
        + [dict(group="sim-a1", sparsity=1.0, trait="binary", dataset="d", arch="64x256", l1="1", seed="ensemble", k=10, recall=0.9)]
    )
    table = table1(runs)
    assert table["recall_mean"].iloc[0] == pytest.approx(0.7)
    assert table["n_runs"].iloc[0] == 2
    assert table["ensemble_recall_mean"].iloc[0] == pytest.approx(0.9)


@pytest.mark.parametrize(
    "best,edges",
    [
        (("64x256", "10"), ["largest L1"]),
        (("64x256", "0.01"), ["smallest L1"]),
        (("128x256", "1"), ["largest architecture"]),
        (("64x128", "10"), ["largest L1", "smallest architecture"]),
        (("128x128", "0.1"), []),  # off-diagonal architecture, inner L1
    ],
)
def test_selection_flags_a_choice_at_the_edge_of_the_grid(best, edges):
    grid = grid_with_best(*best, rng=np.random.default_rng(1))
    chosen = select(grid)
    assert (chosen["arch"], chosen["l1"]) == best
    assert chosen["grid_edges"] == edges
    assert chosen["at_grid_edge"] == bool(edges)
    if edges:
        assert "extend" in chosen["advice"]
        assert ("model.l1" in chosen["advice"]) == any("L1" in e for e in edges)
        assert ("model.architectures" in chosen["advice"]) == any("architecture" in e for e in edges)
    else:
        assert chosen["advice"] is None
    summary = summarise_grid(grid)
    assert summary.loc[0, "grid_edge"] == "; ".join(edges)
    # every row says where it sits: the largest L1 rows are all flagged
    assert summary.loc[summary["l1"] == "10", "grid_edge"].str.contains("largest L1").all()


def test_a_grid_with_one_value_per_dimension_has_no_edge():
    grid = pd.DataFrame([dict(arch="64x128", l1="1", dataset="d", seed=s, validation_loglik=-0.5) for s in range(2)])
    assert select(grid)["at_grid_edge"] is False
