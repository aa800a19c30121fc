"""Top-k recall of a SNP ranking against the simulated causal SNPs."""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd


def top_k(scores: pd.Series, k: int) -> list[str]:
    """The k variant ids with the largest scores; ties keep the input (genome) order."""
    order = np.argsort(-scores.to_numpy(dtype=float), kind="stable")
    return [str(v) for v in scores.index.to_numpy()[order[:k]]]


def check_top_k(k: int, n: int) -> None:
    """ValueError naming recall.top_k when k exceeds the n variants ranked."""
    # a k past the ranking would make recall and top-k overlaps fractions of a shorter list
    if k > n:
        raise ValueError(f"config key recall.top_k: {k} is more than the {n} variants ranked; set recall.top_k <= {n}")


def topk_recall(scores: pd.Series, causal_ids: Iterable[str], k: int) -> float:
    """Fraction of the causal SNPs among the top k (the paper's recall, k = #causal).

    ``scores`` is indexed by variant id; larger = more associated (a DeepLIFT score or a
    GWAS -log10 p). NaN scores rank last. SNPs tied at the k-th place share the remaining
    places at random, and the expected recall is returned: a collapsed model whose scores
    are all zero gets the recall of a random guess, not one set by the genome order.
    """
    causal = set(map(str, causal_ids))
    if not causal:
        raise ValueError("no causal SNPs given")
    missing = causal - set(scores.index.astype(str))
    if missing:
        raise ValueError(f"causal SNPs not in the ranking: {sorted(missing)[:5]}")
    values = scores.astype(float).fillna(-np.inf).to_numpy()
    is_causal = np.isin(scores.index.astype(str), list(causal))
    check_top_k(k, len(values))
    threshold = np.sort(values)[::-1][k - 1]
    above, tied = values > threshold, values == threshold
    places_left = k - int(above.sum())
    expected = is_causal[above].sum() + is_causal[tied].sum() * places_left / tied.sum()
    return float(expected / len(causal))


def _read_scores(path) -> pd.Series:
    table = pd.read_csv(path, sep="\t", dtype={"variant_id": str})
    return pd.Series(table["score"].to_numpy(), index=table["variant_id"].to_numpy())


def _read_causal(path) -> list[str]:
    truth = pd.read_csv(path, sep="\t", dtype={"variant_id": str})
    return truth.loc[truth["beta"] != 0, "variant_id"].tolist()


def recall_runs(runs: list[dict], top_k: int) -> pd.DataFrame:
    """Recall of each run. A run is a dict with group, sparsity, trait, dataset, arch, l1,
    seed (an int, or "ensemble" for the score averaged over seeds), scores (path) and
    truth (path)."""
    rows = []
    for run in runs:
        causal = _read_causal(run["truth"])
        row = {k: v for k, v in run.items() if k not in ("scores", "truth")}
        row.update(k=top_k, n_causal=len(causal), recall=topk_recall(_read_scores(run["scores"]), causal, top_k))
        rows.append(row)
    return pd.DataFrame(rows)


def table1(runs: pd.DataFrame) -> pd.DataFrame:
    """The paper's Table 1: per setting and trait, the selected model and its recall
    (mean ± sd over the retrain runs), plus the recall of the seed-averaged score."""
    single = runs[runs["seed"].astype(str) != "ensemble"]
    ensemble = runs[runs["seed"].astype(str) == "ensemble"]
    keys = ["group", "sparsity", "trait"]
    table = (
        single.groupby(keys, sort=True)
        .agg(
            arch=("arch", "first"),
            l1=("l1", "first"),
            k=("k", "first"),
            recall_mean=("recall", "mean"),
            recall_sd=("recall", "std"),
            n_runs=("recall", "count"),
        )
        .reset_index()
    )
    if len(ensemble):
        ens = ensemble.groupby(keys)["recall"].mean().rename("ensemble_recall_mean").reset_index()
        table = table.merge(ens, on=keys, how="left")
    return table.sort_values(["trait", "sparsity"]).reset_index(drop=True)


def table1_markdown(table: pd.DataFrame, top_k: int) -> str:
    lines = [
        f"| setting a | trait | selected arch | L1 | top-{top_k} recall (mean ± sd) | runs | recall of seed-averaged score |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.itertuples(index=False):
        sd = 0.0 if pd.isna(row.recall_sd) else row.recall_sd
        ens = getattr(row, "ensemble_recall_mean", float("nan"))
        ens_text = "–" if pd.isna(ens) else f"{100 * ens:.0f} %"
        lines.append(
            f"| {row.sparsity:g} | {row.trait} | {row.arch.replace('x', ' by ')} | {row.l1} | "
            f"{100 * row.recall_mean:.0f} % ± {100 * sd:.0f} % | {row.n_runs} | {ens_text} |"
        )
    return "\n".join(lines) + "\n"
