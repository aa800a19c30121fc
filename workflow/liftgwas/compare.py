"""GWAS versus DeepLIFT: rankings, top hits, agreement and top-k recall.

Both methods give one number per SNP where larger means "more associated": the GWAS
−log10 p and the DeepLIFT score (mean |attribution|). Everything here compares the two
rankings those numbers induce.

Ranking rules, shared with :mod:`liftgwas.recall` (the lead's recall table) so that
every table and plot of the project agrees:

* a SNP without a value (NA p-value of a monomorphic SNP, NA score) ranks after every
  SNP with a value;
* the top-k of a method is taken by value, ties broken by the input (.bim) order
  (``recall.top_k``), so a table and a plot made from the same inputs label the same
  SNPs, and top-k recall is ``recall.topk_recall`` on that ranking;
* the rank reported for a SNP is the competition rank ("1224"): tied SNPs share the
  best rank of their tie.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from .errors import InputError
from .recall import check_top_k, top_k, topk_recall

__all__ = [
    "deeplift_strength",
    "gwas_strength",
    "rank_descending",
    "ranking_agreement",
    "read_deeplift_recall",
    "read_scores",
    "read_selected",
    "read_sumstats",
    "read_truth",
    "read_truth_rows",
    "recall_summary",
    "recall_summary_markdown",
    "spearman_correlation",
    "top_hits_table",
    "top_k_ids",
    "topk_recall",
]

SUMSTATS_REQUIRED = ["chromosome", "base_pair_location", "variant_id", "p_value"]
SCORES_REQUIRED = ["variant_id", "chromosome", "base_pair_location", "score"]
TRUTH_REQUIRED = ["variant_id", "beta"]
TRUTH_CLASSES = ("additive", "dominant", "recessive", "epistatic")
DEEPLIFT_RECALL_REQUIRED = ["group", "sparsity", "trait", "arch", "l1", "dataset", "seed", "k", "recall"]
METHODS = ("gwas", "deeplift")


# ----------------------------------------------------------------------------- reading


def _read_tsv(path: str | Path, required: list[str], kind: str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"{kind} file not found")
    try:
        df = pd.read_csv(path, sep="\t", dtype={"variant_id": str, "chromosome": str}, na_values=["NA"])
    except pd.errors.EmptyDataError:
        raise InputError(path, f"{kind} file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as error:
        raise InputError(path, f"cannot parse {kind} as a tab-separated table: {error}") from None
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(
            path,
            f"missing column(s) {', '.join(missing)} (header has: {' '.join(map(str, df.columns))})",
            line=1,
        )
    return df


def _check_numeric(path: str | Path, df: pd.DataFrame, column: str, allow_na: bool) -> None:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna() & (df[column].notna() if allow_na else True)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"'{df[column].iloc[i]}' is not a number", line=i + 2, field=column)
    df[column] = values.astype(float)


def _check_unique_ids(path: str | Path, df: pd.DataFrame) -> None:
    dup = df["variant_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(path, f"duplicate variant_id '{df['variant_id'].iloc[i]}'", line=i + 2, field="variant_id")


def read_sumstats(path: str | Path) -> pd.DataFrame:
    """GWAS-SSF summary statistics (plain or .gz); p_value may be NA (e.g. monomorphic SNPs).

    In the files liftgwas writes (`liftgwas.sumstats`) the .bim ID, the key of the DeepLIFT
    files and of the truth, is ``bim_id`` and ``variant_id`` is chr_pos_ref_alt: the result
    then has the .bim ID as ``variant_id`` (the spec's one as ``ssf_variant_id``) and the
    spec's ``neg_log_10_p_value`` as ``neg_log10_p_value``.
    """
    df = _read_tsv(path, ["chromosome", "base_pair_location", "p_value"], "summary statistics")
    if "bim_id" in df.columns:
        df = df.rename(columns={"variant_id": "ssf_variant_id", "bim_id": "variant_id"})
        df["variant_id"] = df["variant_id"].astype(str)
    df = df.rename(columns={"neg_log_10_p_value": "neg_log10_p_value"})
    if "variant_id" not in df.columns:
        raise InputError(path, f"missing column(s) variant_id (header has: {' '.join(map(str, df.columns))})", line=1)
    _check_numeric(path, df, "p_value", allow_na=True)
    _check_numeric(path, df, "base_pair_location", allow_na=False)
    if "neg_log10_p_value" in df.columns:
        _check_numeric(path, df, "neg_log10_p_value", allow_na=True)
    p = df["p_value"]
    out_of_range = p.notna() & ((p < 0) | (p > 1))
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range.to_numpy())[0])
        raise InputError(path, f"p-value {p.iloc[i]} outside [0, 1]", line=i + 2, field="p_value")
    _check_unique_ids(path, df)
    return df


def read_scores(path: str | Path) -> pd.DataFrame:
    """A per-SNP DeepLIFT score table (one run, or the selected model's mean over seeds)."""
    df = _read_tsv(path, SCORES_REQUIRED, "DeepLIFT score")
    _check_numeric(path, df, "score", allow_na=True)
    _check_numeric(path, df, "base_pair_location", allow_na=False)
    _check_unique_ids(path, df)
    return df


def read_truth_rows(path: str | Path, trait: str | None = None) -> pd.DataFrame:
    """The causal SNPs of a simulated dataset: variant_id, class, pair, beta (one trait).

    The truth table has one row per causal SNP per trait (columns trait, variant_id,
    class, pair, beta, ...). ``trait`` selects that trait's rows. An older table with only
    variant_id and beta holds the additive SNPs of every trait; a row with beta 0 is not
    causal (the same rule as `liftgwas.recall`).
    """
    df = _read_tsv(path, TRUTH_REQUIRED, "truth")
    _check_numeric(path, df, "beta", allow_na=False)
    if "trait" in df.columns and trait is not None:
        df = df[df["trait"].isna() | (df["trait"].astype(str) == str(trait))]
    elif "trait" in df.columns and df["trait"].nunique() > 1:
        raise InputError(path, "truth table holds several traits; name the trait to read", field="trait")
    if "class" not in df.columns:
        df["class"] = "additive"
    bad = ~df["class"].isin(TRUTH_CLASSES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"unknown class '{df['class'].iloc[i]}' (expected one of {', '.join(TRUTH_CLASSES)})",
                         line=int(df.index[i]) + 2, field="class")
    df["pair"] = pd.to_numeric(df["pair"], errors="coerce").astype("Int64") if "pair" in df.columns else pd.NA
    df = df[df["beta"] != 0]
    dup = df["variant_id"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(path, f"duplicate variant_id '{df['variant_id'].iloc[i]}'"
                         + (f" for trait '{trait}'" if trait is not None else ""),
                         line=int(df.index[i]) + 2, field="variant_id")
    if df.empty:
        raise InputError(path, "truth table lists no causal SNP (no row with beta != 0)"
                         + (f" for trait '{trait}'" if trait is not None else ""))
    return df[["variant_id", "class", "pair", "beta"]].reset_index(drop=True)


def read_truth(path: str | Path, trait: str | None = None) -> list[str]:
    """The causal variant ids of a simulated dataset (of ``trait``; see `read_truth_rows`)."""
    return read_truth_rows(path, trait)["variant_id"].tolist()


def read_selected(path: str | Path) -> dict:
    """The selected model of a setting: {"arch": ..., "l1": ..., "retrain_seeds": [...]}."""
    path = Path(path)
    try:
        selected = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "selected-model file not found") from None
    except json.JSONDecodeError as error:
        raise InputError(path, f"not valid JSON: {error.msg}", line=error.lineno) from None
    for key in ("arch", "l1", "retrain_seeds"):
        if key not in selected:
            raise InputError(path, "missing key", field=key)
    if not isinstance(selected["retrain_seeds"], list) or not selected["retrain_seeds"]:
        raise InputError(path, "must be a non-empty list of seeds", field="retrain_seeds")
    return selected


def read_deeplift_recall(path: str | Path) -> pd.DataFrame:
    """The lead's per-run recall table (one row per retrain run of the selected model)."""
    df = _read_tsv(path, DEEPLIFT_RECALL_REQUIRED, "DeepLIFT recall")
    for column in ("recall", "k"):
        _check_numeric(path, df, column, allow_na=False)
    _check_numeric(path, df, "sparsity", allow_na=True)  # coalescent settings have no sparsity a
    df["group"] = df["group"].astype(str)
    df["trait"] = df["trait"].astype(str)
    df["arch"] = df["arch"].astype(str)
    df["l1"] = df["l1"].astype(str)
    df["seed"] = df["seed"].astype(str)  # an int, or "ensemble" for the seed-averaged score
    return df


# ---------------------------------------------------------------------------- rankings


def gwas_strength(sumstats: pd.DataFrame) -> pd.Series:
    """−log10 p per SNP (indexed by variant_id); the stored −log10 p is preferred because it
    keeps p-values below the float range (p = 0 in p_value) apart."""
    if "neg_log10_p_value" in sumstats.columns:
        values = pd.to_numeric(sumstats["neg_log10_p_value"], errors="coerce").to_numpy(float)
    else:
        with np.errstate(divide="ignore"):
            values = -np.log10(pd.to_numeric(sumstats["p_value"], errors="coerce").to_numpy(float))
    return pd.Series(values, index=pd.Index(sumstats["variant_id"].astype(str), name="variant_id"), name="gwas")


def deeplift_strength(scores: pd.DataFrame) -> pd.Series:
    """The DeepLIFT score per SNP (indexed by variant_id)."""
    values = pd.to_numeric(scores["score"], errors="coerce").to_numpy(float)
    return pd.Series(values, index=pd.Index(scores["variant_id"].astype(str), name="variant_id"), name="deeplift")


def top_k_ids(strength: pd.Series, k: int) -> list[str]:
    """The k strongest SNPs: ties in input order, NaN after every value (``recall.top_k``)."""
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return top_k(strength.astype(float).fillna(-np.inf), k)


def rank_descending(strength: pd.Series) -> pd.Series:
    """Competition rank (1 = strongest; tied SNPs share their best rank; NaN rank last)."""
    values = strength.to_numpy(float)
    has_value = ~np.isnan(values)
    ranks = np.full(len(values), int(has_value.sum()) + 1, dtype=np.int64)
    if has_value.any():
        ranks[has_value] = pd.Series(-values[has_value]).rank(method="min").to_numpy().astype(np.int64)
    return pd.Series(ranks, index=strength.index, name=f"{strength.name}_rank")


def spearman_correlation(a: pd.Series, b: pd.Series) -> float:
    """Spearman's rho (scipy.stats.spearmanr, average ranks for ties) of two strengths over
    their shared SNPs with values in both; NaN when fewer than 2 or either is constant."""
    joined = pd.concat([a.rename("a"), b.rename("b")], axis=1, join="inner").dropna()
    # an infinite −log10 p still has a well-defined rank; only NaN is dropped
    if len(joined) < 2 or joined["a"].nunique() < 2 or joined["b"].nunique() < 2:
        return math.nan
    return float(stats.spearmanr(joined["a"], joined["b"]).statistic)


# -------------------------------------------------------------------------- comparison


def top_hits_table(
    sumstats: pd.DataFrame,
    scores: pd.DataFrame,
    k: int,
    causal_ids: Iterable[str] | None = None,
) -> pd.DataFrame:
    """The top-k SNPs of each method with their rank in the other method.

    One row per (method, SNP): method, rank (in that method), variant_id, chromosome,
    base_pair_location, neg_log10_p, gwas_rank, deeplift_score, deeplift_rank,
    in_other_top_k and, when ``causal_ids`` is given, causal. A SNP absent from the other
    method's table has rank NA there.
    """
    gwas = gwas_strength(sumstats)
    deeplift = deeplift_strength(scores)
    positions = pd.concat(
        [
            scores.set_index(scores["variant_id"].astype(str))[["chromosome", "base_pair_location"]],
            sumstats.set_index(sumstats["variant_id"].astype(str))[["chromosome", "base_pair_location"]],
        ]
    )
    positions = positions[~positions.index.duplicated(keep="first")]
    gwas_rank = rank_descending(gwas)
    deeplift_rank = rank_descending(deeplift)
    top = {"gwas": top_k_ids(gwas, k), "deeplift": top_k_ids(deeplift, k)}
    causal = set(map(str, causal_ids)) if causal_ids is not None else None
    rows = []
    for method in METHODS:
        other = top["deeplift" if method == "gwas" else "gwas"]
        for position, variant in enumerate(top[method], start=1):
            row = {
                "method": method,
                "rank": position,
                "variant_id": variant,
                "chromosome": positions.at[variant, "chromosome"],
                "base_pair_location": int(positions.at[variant, "base_pair_location"]),
                "neg_log10_p": gwas.get(variant, math.nan),
                "gwas_rank": gwas_rank.get(variant, pd.NA),
                "deeplift_score": deeplift.get(variant, math.nan),
                "deeplift_rank": deeplift_rank.get(variant, pd.NA),
                "in_other_top_k": variant in other,
            }
            if causal is not None:
                row["causal"] = variant in causal
            rows.append(row)
    table = pd.DataFrame(rows)
    for column in ("gwas_rank", "deeplift_rank"):
        table[column] = table[column].astype("Int64")
    return table


def ranking_agreement(
    sumstats: pd.DataFrame,
    scores: pd.DataFrame,
    k: int,
    causal_ids: Iterable[str] | None = None,
) -> dict:
    """How much the two rankings agree, and (with a truth) how well each finds the causal SNPs.

    Keys: k, n_gwas, n_deeplift, n_shared, spearman_rho, topk_overlap (SNPs in both
    top-k lists), topk_overlap_fraction (overlap / k), n_causal, gwas_recall,
    deeplift_recall (NaN without ``causal_ids``).
    """
    gwas = gwas_strength(sumstats)
    deeplift = deeplift_strength(scores)
    shared = gwas.index.intersection(deeplift.index)
    if len(shared) == 0:
        raise ValueError("the summary statistics and the DeepLIFT scores share no variant_id")
    check_top_k(k, min(len(gwas), len(deeplift)))  # else overlap / k is a fraction of a shorter list
    overlap = len(set(top_k_ids(gwas, k)) & set(top_k_ids(deeplift, k)))
    result = {
        "k": int(k),
        "n_gwas": int(len(gwas)),
        "n_deeplift": int(len(deeplift)),
        "n_shared": int(len(shared)),
        "spearman_rho": spearman_correlation(gwas, deeplift),
        "topk_overlap": int(overlap),
        "topk_overlap_fraction": overlap / k if k else math.nan,
        "n_causal": math.nan,
        "gwas_recall": math.nan,
        "deeplift_recall": math.nan,
    }
    if causal_ids is not None:
        causal = list(map(str, causal_ids))
        result["n_causal"] = len(set(causal))
        result["gwas_recall"] = topk_recall(gwas, causal, k)
        result["deeplift_recall"] = topk_recall(deeplift, causal, k)
    return result


# ----------------------------------------------------------------- summary over settings

SUMMARY_COLUMNS = [
    "group",
    "sparsity",
    "trait",
    "k",
    "arch",
    "l1",
    "n_datasets",
    "gwas_recall_mean",
    "gwas_recall_sd",
    "n_deeplift_runs",
    "deeplift_recall_mean",
    "deeplift_recall_sd",
    "deeplift_ensemble_recall_mean",
    "deeplift_ensemble_recall_sd",
]


def _mean_sd(values: pd.Series) -> tuple[float, float, int]:
    values = values.dropna().astype(float)
    n = len(values)
    mean = float(values.mean()) if n else math.nan
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    return mean, sd, n


def recall_summary(agreement: pd.DataFrame, deeplift_runs: pd.DataFrame, k: int) -> pd.DataFrame:
    """GWAS versus DeepLIFT top-k recall for every simulation setting and trait.

    ``agreement``: one row per simulated dataset × trait with columns group, sparsity,
    dataset, trait, k, gwas_recall, deeplift_recall (the recall of the selected model's
    seed-averaged scores, i.e. the ensemble). ``deeplift_runs``: the per-retrain-run recall
    table (group sparsity trait arch l1 dataset seed k recall; rows with seed "ensemble"
    are ignored).

    Returns one row per (group, trait): GWAS recall mean and sd over datasets, DeepLIFT
    recall mean and sd over every retrain run, and the ensemble's recall mean and sd over
    datasets (sd is sample sd; NaN with one value).
    """
    for name, df, column in (("agreement", agreement, "k"), ("DeepLIFT recall", deeplift_runs, "k")):
        other_k = sorted(set(pd.to_numeric(df[column]).astype(int)) - {int(k)})
        if other_k:
            raise ValueError(f"{name} table has k = {other_k}, expected k = {k} for every row")
    # the recall table also holds the seed-averaged ("ensemble") score per dataset: it is
    # reported from ``agreement`` here, so only the single retrain runs are kept
    single_runs = deeplift_runs[deeplift_runs["seed"].astype(str) != "ensemble"]
    rows = []
    for (group, trait), block in agreement.groupby(["group", "trait"], sort=True):
        runs = single_runs[(single_runs["group"] == group) & (single_runs["trait"] == trait)]
        gwas_mean, gwas_sd, n_datasets = _mean_sd(block["gwas_recall"])
        ensemble_mean, ensemble_sd, _ = _mean_sd(block["deeplift_recall"])
        run_mean, run_sd, n_runs = _mean_sd(runs["recall"])
        models = sorted(set(zip(runs["arch"], runs["l1"])))
        rows.append(
            {
                "group": group,
                "sparsity": float(block["sparsity"].iloc[0]),
                "trait": trait,
                "k": int(k),
                "arch": ";".join(m[0] for m in models) if models else "NA",
                "l1": ";".join(m[1] for m in models) if models else "NA",
                "n_datasets": n_datasets,
                "gwas_recall_mean": gwas_mean,
                "gwas_recall_sd": gwas_sd,
                "n_deeplift_runs": n_runs,
                "deeplift_recall_mean": run_mean,
                "deeplift_recall_sd": run_sd,
                "deeplift_ensemble_recall_mean": ensemble_mean,
                "deeplift_ensemble_recall_sd": ensemble_sd,
            }
        )
    summary = pd.DataFrame(rows, columns=SUMMARY_COLUMNS)
    return summary.sort_values(["trait", "sparsity", "group"], kind="stable").reset_index(drop=True)


def _format_mean_sd(mean: float, sd: float, n: int) -> str:
    if n == 0 or math.isnan(mean):
        return "NA"
    if n == 1 or math.isnan(sd):
        return f"{mean:.2f} (n={n})"
    return f"{mean:.2f} ± {sd:.2f} (n={n})"


def recall_summary_markdown(summary: pd.DataFrame) -> str:
    """The summary as a Markdown table (mean ± sd (n))."""
    header = (
        "| setting | a | trait | k | selected model (arch, L1) | GWAS recall (datasets) "
        "| DeepLIFT recall (retrain runs) | DeepLIFT ensemble recall (datasets) |\n"
        "|---|---:|---|---:|---|---:|---:|---:|\n"
    )
    lines = []
    for row in summary.itertuples(index=False):
        lines.append(
            f"| {row.group} | {'–' if pd.isna(row.sparsity) else f'{row.sparsity:g}'} | {row.trait} | {row.k} | {row.arch}, {row.l1} "
            f"| {_format_mean_sd(row.gwas_recall_mean, row.gwas_recall_sd, row.n_datasets)} "
            f"| {_format_mean_sd(row.deeplift_recall_mean, row.deeplift_recall_sd, row.n_deeplift_runs)} "
            f"| {_format_mean_sd(row.deeplift_ensemble_recall_mean, row.deeplift_ensemble_recall_sd, row.n_datasets)} |"
        )
    note = (
        "\nTop-k recall: the fraction of the causal SNPs among the k highest-ranked SNPs "
        "(GWAS by p-value, DeepLIFT by mean |attribution|). DeepLIFT recall is over every "
        "retrain run of the selected model; the ensemble row ranks SNPs by the score averaged "
        "over those runs.\n"
    )
    return "# Top-k recall: GWAS versus DeepLIFT\n\n" + header + "\n".join(lines) + "\n" + note


def table_html(table: pd.DataFrame, title: str, note: str = "") -> str:
    """A self-contained HTML page showing ``table`` (the HTML report embeds HTML pages but
    only offers TSV files for download)."""
    from html import escape

    def cell(value) -> str:
        if isinstance(value, float):
            return "NA" if math.isnan(value) else f"{value:.4g}"
        if value is pd.NA or value is None:
            return "NA"
        return escape(str(value))

    header = "".join(f"<th>{escape(str(c))}</th>" for c in table.columns)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in table.itertuples(index=False)
    )
    style = (
        "body{font-family:sans-serif;font-size:13px;margin:1em}"
        "table{border-collapse:collapse}th,td{padding:3px 8px;border-bottom:1px solid #ddd;text-align:right}"
        "th{border-bottom:2px solid #444}td:first-child,th:first-child{text-align:left}"
    )
    note_html = f"<p>{escape(note)}</p>" if note else ""
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{escape(title)}</title>"
        f"<style>{style}</style></head>\n<body><h3>{escape(title)}</h3>{note_html}\n"
        f"<table><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table></body></html>\n"
    )


# ------------------------------------------------- recall by effect class and method

# The methods of the class-by-method recall table, in report order, with their labels.
METHOD_LABELS = {
    "deeplift": "DeepLIFT (selected model, seed-averaged)",
    "gwas": "additive GWAS",
    "gwas_genotypic": "2-df genotypic GWAS",
    "epistasis": "pairwise scan (PLINK 1.9)",
}
RECALL_BY_METHOD_COLUMNS = ["method", "class", "n", "exact_recall", "locus_recall", "pair_list_recall"]


def recall_by_method(
    rankings: dict[str, pd.Series],
    positions: pd.DataFrame,
    truth_rows: pd.DataFrame,
    k: int,
    *,
    window: int,
    r2_threshold: float,
    ld=None,
    pair_lists: dict[str, pd.DataFrame] | None = None,
) -> pd.DataFrame:
    """`liftgwas.recall.recall_by_class` of every method's ranking (one trait), stacked.

    ``rankings``: method -> strength per SNP (larger = stronger: -log10 p, DeepLIFT score,
    best pair statistic). ``pair_lists``: method -> its ranked pairs (the pairwise scan).
    """
    from .recall import recall_by_class

    pair_lists = pair_lists or {}
    parts = []
    for method, strength in rankings.items():
        table = recall_by_class(strength, positions, truth_rows, k, window=window, r2_threshold=r2_threshold,
                                ld=ld, pair_list=pair_lists.get(method))
        table.insert(0, "method", method)
        parts.append(table)
    return pd.concat(parts, ignore_index=True)[RECALL_BY_METHOD_COLUMNS]


def recall_by_class_summary(per_dataset: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over datasets of each (group, trait, method, class) recall.

    ``per_dataset``: rows of `recall_by_method` with columns group, engine, dataset and
    trait added. ``headline`` is exact-SNP recall on Hao genotypes (unlinked SNPs: a tag
    SNP cannot exist) and locus recall on coalescent ones (real LD).
    """
    rows = []
    keys = ["group", "engine", "trait", "method", "class"]
    method_order = {m: i for i, m in enumerate(METHOD_LABELS)}
    class_order = {c: i for i, c in enumerate(("all", "additive", "dominant", "recessive", "epistatic",
                                               "epistatic_pairs"))}
    for key, block in per_dataset.groupby(keys, sort=False):
        row = dict(zip(keys, key))
        row["n_datasets"] = int(block["dataset"].nunique())
        row["n"] = int(block["n"].iloc[0])
        for measure in ("exact_recall", "locus_recall", "pair_list_recall"):
            mean, sd, _ = _mean_sd(block[measure])
            row[f"{measure}_mean"], row[f"{measure}_sd"] = mean, sd
        headline = "locus_recall" if row["engine"] == "coalescent" else "exact_recall"
        row["headline"] = headline
        row["headline_recall_mean"], row["headline_recall_sd"] = row[f"{headline}_mean"], row[f"{headline}_sd"]
        rows.append(row)
    summary = pd.DataFrame(rows)
    if summary.empty:
        return summary
    summary["_m"] = summary["method"].map(method_order).fillna(len(method_order))
    summary["_c"] = summary["class"].map(class_order).fillna(len(class_order))
    summary = summary.sort_values(["trait", "group", "_c", "_m"], kind="stable").drop(columns=["_m", "_c"])
    return summary.reset_index(drop=True)


def recall_by_class_markdown(summary: pd.DataFrame, k: int) -> str:
    """One table per setting and trait: effect classes as rows, methods as columns."""

    def cell(mean, sd, n_datasets):
        if mean is None or (isinstance(mean, float) and math.isnan(mean)):
            return "–"
        text = f"{100 * mean:.0f} %"
        if n_datasets > 1 and not math.isnan(sd):
            text += f" ± {100 * sd:.0f}"
        return text

    out = [f"# Top-{k} recall by effect class and method\n",
           "Exact: the causal SNP itself is among the top k. Locus: one of the top k clumped leads "
           "tags it (r² ≥ threshold within the window). Pairs: both SNPs of a planted pair found; "
           "for the pairwise scan also its top-k pair list. The headline (bold) is exact recall on "
           "Hao genotypes (unlinked SNPs) and locus recall on coalescent ones (real LD). "
           "Mean ± sd over datasets.\n"]
    for (trait, group), block in summary.groupby(["trait", "group"], sort=False):
        methods = [m for m in METHOD_LABELS if m in set(block["method"])]
        engine = block["engine"].iloc[0]
        out.append(f"\n## {group}, trait {trait} ({engine} genotypes, {block['n_datasets'].max()} datasets)\n")
        out.append("| class (n) | measure | " + " | ".join(METHOD_LABELS[m] for m in methods) + " |")
        out.append("|---|---|" + "---:|" * len(methods))
        for cls, rows in block.groupby("class", sort=False):
            rows = rows.set_index("method")
            measures = ["exact_recall", "locus_recall"] + (["pair_list_recall"] if cls == "epistatic_pairs" else [])
            for measure in measures:
                cells = []
                for m in methods:
                    if m not in rows.index:
                        cells.append("–")
                        continue
                    r = rows.loc[m]
                    text = cell(r[f"{measure}_mean"], r[f"{measure}_sd"], r["n_datasets"])
                    cells.append(f"**{text}**" if measure == r["headline"] and text != "–" else text)
                out.append(f"| {cls} ({int(rows['n'].iloc[0])}) | {measure.replace('_recall', '')} | "
                           + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"
