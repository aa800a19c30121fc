"""Model selection as in the paper, and the averaging of the selected model's scores.

Per selection group (a simulation setting a, or a real cohort) and trait, pick the
architecture x L1 with the best validation log-likelihood averaged over the grid seeds
(and, for simulations, over the group's datasets); the selected model is then retrained
with fresh seeds.

A choice at the edge of the grid (the largest or smallest L1, or the largest or smallest
architecture in both hidden sizes) is flagged: the best value may lie beyond the grid,
so ``selected.json``, the selection table and the report say so and advise extending it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

GRID_COLUMNS = ["arch", "l1", "dataset", "seed", "validation_loglik"]


def read_grid_metrics(paths: list[str | Path], keys: list[dict]) -> pd.DataFrame:
    """One row per grid job: its coordinates (``keys``) and validation metrics."""
    rows = []
    for path, key in zip(paths, keys):
        metrics = json.loads(Path(path).read_text())
        row = dict(key)
        for name in ("validation_loglik", "validation_auc", "validation_r2", "early_stop_loglik", "best_epoch", "seconds"):
            if name in metrics:
                row[name] = metrics[name]
        rows.append(row)
    return pd.DataFrame(rows)


def summarise_grid(grid: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd of the validation log-likelihood per architecture x L1, best first.

    Ties (equal means) go to the smaller network, then to the stronger L1, so the choice
    never depends on file order.
    """
    missing = [c for c in GRID_COLUMNS if c not in grid.columns]
    if missing:
        raise ValueError(f"grid table lacks columns {missing}")
    summary = (
        grid.groupby(["arch", "l1"], sort=False)["validation_loglik"]
        .agg(mean_validation_loglik="mean", sd_validation_loglik="std", n_runs="count")
        .reset_index()
    )
    if summary["mean_validation_loglik"].isna().any():
        bad = summary.loc[summary["mean_validation_loglik"].isna(), ["arch", "l1"]].to_dict("records")
        raise ValueError(f"validation log-likelihood is NaN for {bad}")
    size = summary["arch"].map(lambda a: np.prod([int(h) for h in a.split("x")]))
    summary = summary.assign(_size=size, _l1=summary["l1"].astype(float))
    summary = summary.sort_values(
        ["mean_validation_loglik", "_size", "_l1"], ascending=[False, True, False], kind="mergesort"
    )
    summary = summary.drop(columns=["_size", "_l1"]).reset_index(drop=True)
    summary.insert(0, "rank", np.arange(1, len(summary) + 1))
    archs, l1s = list(summary["arch"]), list(summary["l1"])
    summary["grid_edge"] = [
        "; ".join(grid_edges(a, l, archs, l1s)) for a, l in zip(summary["arch"], summary["l1"])
    ]
    return summary


def grid_edges(arch: str, l1, archs: list[str], l1_values: list) -> list[str]:
    """Which edges of the grid (arch, l1) sits on: 'largest L1', 'smallest L1',
    'largest architecture', 'smallest architecture' (a dimension with one value has none).

    An architecture is at an edge when it has the largest (smallest) first *and* second
    hidden size of the grid: with 2 x 2 architectures the off-diagonal ones are inside.
    """
    edges = []
    values = sorted({float(v) for v in l1_values})
    if len(values) > 1:
        if float(l1) == values[-1]:
            edges.append("largest L1")
        elif float(l1) == values[0]:
            edges.append("smallest L1")
    sizes = {a: tuple(int(h) for h in str(a).split("x")) for a in set(archs)}
    if len(sizes) > 1:
        h = sizes[arch]
        firsts, seconds = [s[0] for s in sizes.values()], [s[1] for s in sizes.values()]
        if h[0] == max(firsts) and h[1] == max(seconds):
            edges.append("largest architecture")
        elif h[0] == min(firsts) and h[1] == min(seconds):
            edges.append("smallest architecture")
    return edges


def edge_advice(edges: list[str]) -> str | None:
    """The advice written beside a choice at the edge of the grid (None inside it)."""
    if not edges:
        return None
    keys = sorted({"model.l1" if "L1" in e else "model.architectures" for e in edges})
    return (f"the selected model is at the edge of the grid ({', '.join(edges)}): the best setting may lie "
            f"beyond it; extend {' and '.join(keys)} in that direction and rerun")


def select(grid: pd.DataFrame) -> dict:
    summary = summarise_grid(grid)
    best = summary.iloc[0]
    edges = grid_edges(best["arch"], best["l1"], list(summary["arch"]), list(summary["l1"]))
    return {
        "arch": str(best["arch"]),
        "l1": str(best["l1"]),
        "mean_validation_loglik": float(best["mean_validation_loglik"]),
        "n_runs": int(best["n_runs"]),
        "at_grid_edge": bool(edges),
        "grid_edges": edges,
        "advice": edge_advice(edges),
    }
