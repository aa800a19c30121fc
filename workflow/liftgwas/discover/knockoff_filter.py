"""Knockoff statistics and the knockoff+ filter (issue 11).

Per knockoff model (one draw of [X, X~], one retrain seed) DeepLIFT scores every column;
score_j = mean |attribution| of SNP j (attribution.py), s~_j that of its knockoff.

* A group's score is the **sum** of its members' scores (for independent knockoffs every
  SNP is its own group). Sum, not max: SNPs in LD split the network's weight between them,
  and the sum adds that evidence up where the max would keep only one share of it.
* W_g = sum_{j in g} s_j - sum_{j in g} s~_j: large and positive when the originals matter
  more than their knockoffs; antisymmetric under swapping a group with its knockoff.
* **Retrain seeds** (same draw) are combined by averaging W. The network's initialisation
  is i.i.d. across input columns and the batch order does not look at the columns, so
  swapping X_g with X~_g in the input permutes the law of the trained networks
  accordingly, jointly for all seeds; the average over seeds is then still a statistic
  whose null signs are fair coins (Candès et al. 2018, randomised statistics), with less
  training noise than a single seed.
* **Knockoff draws** cannot be averaged that way (independent draws flip independently,
  and an average of W's has no flip-sign property). With one draw the filter is knockoff+
  at q on W. With several, each draw m gives e-values e_g = G 1{W_g >= T_m} /
  (1 + #{k: W_k <= -T_m}) with T_m the knockoff+ threshold at q/2 (Ren & Barber 2024,
  derandomised knockoffs, their recommended level), averaged over draws, then e-BH at q;
  FDR <= q holds for the average of e-values whatever the dependence between draws.

statistics.tsv (one row per group) therefore does not depend on q: editing q reruns only
the selection (``knockoff_selection``), which 11-null's discoveries rule calls.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

STATISTICS_COLUMNS = ["group", "variant_ids", "lead_variant", "n_variants", "score_original", "score_knockoff",
                      "W", "n_seeds", "n_draws"]
DRAW_LEVEL = 0.5  # per-draw knockoff+ level as a fraction of q when draws are combined (Ren & Barber)


def knockoff_plus_threshold(W, q: float, offset: int = 1) -> float:
    """The knockoff+ threshold (offset 1; offset 0 is the plain knockoff filter).

    T = min{ t in {|W_j| : W_j != 0} : (offset + #{j: W_j <= -t}) / max(1, #{j: W_j >= t}) <= q },
    and inf when no t qualifies (nothing selected). NaN W count as 0 (never selected).
    Selected: W_j >= T.
    """
    if not 0 < q < 1:
        raise ValueError(f"config key discoveries.q: must be in (0, 1), got {q!r}")
    w = np.nan_to_num(np.asarray(W, dtype=np.float64), nan=0.0)
    candidates = np.unique(np.abs(w[w != 0]))  # ascending: the first that qualifies is the min
    if candidates.size == 0:
        return math.inf
    neg = np.sort(w[w < 0])  # counts by binary search instead of a |W| x |W| comparison
    pos = np.sort(w[w > 0])
    n_neg = np.searchsorted(neg, -candidates, side="right")  # #{W <= -t}
    n_pos = pos.size - np.searchsorted(pos, candidates, side="left")  # #{W >= t}
    ratio = (offset + n_neg) / np.maximum(n_pos, 1)
    ok = np.flatnonzero(ratio <= q)
    return float(candidates[ok[0]]) if ok.size else math.inf


def knockoff_e_values(W, q_draw: float) -> np.ndarray:
    """Ren & Barber's e-values of one draw: G 1{W >= T} / (1 + #{W <= -T}), T = knockoff+ at q_draw."""
    w = np.nan_to_num(np.asarray(W, dtype=np.float64), nan=0.0)
    t = knockoff_plus_threshold(w, q_draw)
    if math.isinf(t):
        return np.zeros_like(w)
    return w.size * (w >= t) / (1.0 + np.sum(w <= -t))


def ebh(e, q: float) -> tuple[np.ndarray, float]:
    """e-BH (Wang & Ramdas 2022): select the k largest e with k = max{k: e_(k) >= G / (q k)}.

    Returns (selected mask, the e-value threshold G / (q k); inf when nothing is selected).
    """
    e = np.asarray(e, dtype=np.float64)
    g = e.size
    order = np.argsort(-e, kind="stable")
    k = np.arange(1, g + 1)
    ok = np.flatnonzero(e[order] >= g / (q * k))
    selected = np.zeros(g, dtype=bool)
    if ok.size == 0:
        return selected, math.inf
    k_hat = int(ok[-1]) + 1
    selected[order[:k_hat]] = True
    return selected, g / (q * k_hat)


def group_statistics(score_original, score_knockoff, groups) -> pd.DataFrame:
    """Per group: summed original and knockoff scores and W = their difference."""
    frame = pd.DataFrame({"group": np.asarray(groups), "o": np.asarray(score_original, dtype=np.float64),
                          "k": np.asarray(score_knockoff, dtype=np.float64)})
    summed = frame.groupby("group", sort=True)[["o", "k"]].sum()
    return pd.DataFrame({"group": summed.index.to_numpy(), "score_original": summed["o"].to_numpy(),
                         "score_knockoff": summed["k"].to_numpy(),
                         "W": (summed["o"] - summed["k"]).to_numpy()})


def combine(draws: list[list[pd.DataFrame]], groups: list[pd.DataFrame]) -> pd.DataFrame:
    """statistics.tsv from the knockoff models' DeepLIFT tables.

    ``draws[d]`` are the per-seed tables (variant_id, score_original, score_knockoff) of
    draw d; ``groups[d]`` that draw's groups.tsv (variant_id, group). W is averaged over
    seeds within a draw (W_draw_{d+1}); ``W``, ``score_*`` are the means over draws (one
    draw: that draw's); the selection over several draws uses the W_draw columns.
    """
    if not draws or any(not seeds for seeds in draws):
        raise ValueError("no knockoff DeepLIFT tables to combine")
    base = groups[0][["variant_id", "group"]].reset_index(drop=True)
    for g in groups[1:]:
        # groups come from X alone (no randomness), so every draw must agree
        if not g["variant_id"].equals(base["variant_id"]) or not g["group"].equals(base["group"]):
            raise ValueError("knockoff draws have different LD groups; they must come from the same genotypes")
    per_draw, originals = [], []
    for seeds in draws:
        stats = []
        for table in seeds:
            if not table["variant_id"].astype(str).equals(base["variant_id"].astype(str)):
                raise ValueError("a knockoff DeepLIFT table lists other variants than groups.tsv")
            stats.append(group_statistics(table["score_original"], table["score_knockoff"], base["group"]))
            originals.append(table["score_original"].to_numpy(np.float64))
        per_draw.append(pd.concat(stats).groupby("group", sort=True).mean())
    mean = pd.concat(per_draw).groupby("group", sort=True).mean()
    members = base.groupby("group", sort=True)["variant_id"].agg(lambda v: ",".join(map(str, v)))
    # lead variant: the member with the largest mean original score (over seeds and draws)
    lead_score = base.assign(score=np.mean(originals, axis=0))
    lead = lead_score.loc[lead_score.groupby("group", sort=True)["score"].idxmax(), ["group", "variant_id"]]
    out = pd.DataFrame({
        "group": mean.index.to_numpy(),
        "variant_ids": members.loc[mean.index].to_numpy(),
        "lead_variant": lead.set_index("group").loc[mean.index, "variant_id"].to_numpy(),
        "n_variants": base.groupby("group", sort=True).size().loc[mean.index].to_numpy(),
        "score_original": mean["score_original"].to_numpy(),
        "score_knockoff": mean["score_knockoff"].to_numpy(),
        "W": mean["W"].to_numpy(),
        "n_seeds": len(draws[0]),
        "n_draws": len(draws),
    })
    for d, stats in enumerate(per_draw, start=1):
        out[f"W_draw_{d}"] = stats.loc[mean.index, "W"].to_numpy()
    return out


def draw_columns(statistics: pd.DataFrame) -> list[str]:
    cols = sorted((c for c in statistics.columns if c.startswith("W_draw_")), key=lambda c: int(c.split("_")[-1]))
    return cols or ["W"]


def knockoff_selection(statistics: pd.DataFrame, q: float) -> pd.DataFrame:
    """The selection at target FDR q from statistics.tsv: group, statistic, threshold, selected.

    One draw: statistic = W, threshold = the knockoff+ threshold T (inf: none selected),
    selected = W >= T. Several draws: statistic = the mean e-value over draws, threshold =
    the e-BH cut, selected by e-BH at q (module docstring).
    """
    cols = draw_columns(statistics)
    if len(cols) == 1:
        w = statistics[cols[0]].to_numpy(np.float64)
        t = knockoff_plus_threshold(w, q)
        selected = np.nan_to_num(w, nan=0.0) >= t
        return pd.DataFrame({"group": statistics["group"].to_numpy(), "statistic": w, "threshold": t,
                             "selected": selected})
    e = np.mean([knockoff_e_values(statistics[c].to_numpy(np.float64), DRAW_LEVEL * q) for c in cols], axis=0)
    selected, t = ebh(e, q)
    return pd.DataFrame({"group": statistics["group"].to_numpy(), "statistic": e, "threshold": t,
                         "selected": selected})
