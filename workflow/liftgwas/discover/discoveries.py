"""discoveries.tsv: every method's selected SNPs (or LD groups) at a stated error rate.

Methods (one block of rows each; every SNP/group is listed, ``selected`` says which are
discoveries, so the file also holds the statistic of what was not selected):

* ``deeplift_null``: the seed-averaged DeepLIFT score against the max-statistic threshold
  of K null-trait retrainings (null_traits.py); selected when score > threshold; FWER <= α.
* ``deeplift_knockoff``: the knockoff statistic W of each group (11-knock's
  statistics.tsv) against the knockoff+ threshold at q (selected when W >= T), or e-BH on
  the draws' e-values with several knockoff draws (knockoff_filter.knockoff_selection);
  FDR <= q.
* ``gwas_bh``: Benjamini–Hochberg at q on the GWAS p-values (scipy's
  false_discovery_control); statistic −log10 p, threshold −log10 of the largest selected p
  (the BH cut-off; inf when nothing is selected); FDR <= q for independent or positively
  dependent tests.
* ``gwas_gws``: genome-wide significance p < 5e-8 (statistic and threshold in −log10 p).
  It is a fixed convention (FWER ≈ 0.05 for ~10⁶ independent common variants), not an
  error rate for the M SNPs of this dataset, so its error_rate reads "p<5e-8".

``realised_error`` gives, on simulations, the realised FDR and power of each method
against the truth: a selected unit is a true discovery when one of its SNPs is a causal
SNP (exactly, on the Hao engine's unlinked SNPs) or tags one (same chromosome within the
window and r² >= the threshold, recall.py's `_linked`, on data with LD).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..recall import _linked, _positions_frame

GENOME_WIDE_P = 5e-8
METHODS = ("deeplift_null", "deeplift_knockoff", "gwas_bh", "gwas_gws")
COLUMNS = ["method", "unit", "id", "variant_ids", "statistic", "threshold", "selected", "error_rate", "p_value"]


def check_rate(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ValueError(f"config key discoveries.{name}: must be a number in (0, 1), got {value!r}")


def _neg_log10(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return -np.log10(np.asarray(p, dtype=np.float64))


def bh_select(p_values, q: float) -> tuple[np.ndarray, float]:
    """Benjamini–Hochberg at ``q``: (selected mask, p cut-off), NaN p never selected.

    The cut-off is the largest selected p-value (0 when nothing is selected); the adjusted
    p-values are scipy.stats.false_discovery_control's, selected when <= q.
    """
    from scipy.stats import false_discovery_control

    check_rate("q", q)
    p = np.asarray(p_values, dtype=np.float64)
    ok = ~np.isnan(p)
    selected = np.zeros(len(p), dtype=bool)
    if ok.any():
        adjusted = false_discovery_control(p[ok], method="bh")
        selected[ok] = adjusted <= q
    cutoff = float(p[selected].max()) if selected.any() else 0.0
    return selected, cutoff


def _sumstat_p(sumstats: pd.DataFrame) -> np.ndarray:
    """p-values from −log10 p where present (exact below 1e-308), else from p_value."""
    for column in ("neg_log_10_p_value", "neg_log10_p_value"):  # the file's name, compare.read_sumstats's
        if column in sumstats.columns:
            nl = pd.to_numeric(sumstats[column], errors="coerce").to_numpy(np.float64)
            return np.power(10.0, -nl)
    return pd.to_numeric(sumstats["p_value"], errors="coerce").to_numpy(np.float64)


def _gwas_ids(sumstats: pd.DataFrame) -> np.ndarray:
    # the .bim ID is the key of the DeepLIFT files and of truth.tsv (sumstats.py)
    column = "bim_id" if "bim_id" in sumstats.columns else "variant_id"
    return sumstats[column].astype(str).to_numpy()


def gwas_rows(sumstats: pd.DataFrame, q: float) -> pd.DataFrame:
    """The gwas_bh and gwas_gws rows of one GWAS."""
    p = _sumstat_p(sumstats)
    ids = _gwas_ids(sumstats)
    stat = _neg_log10(p)
    selected, cutoff = bh_select(p, q)
    bh = pd.DataFrame({
        "method": "gwas_bh", "unit": "snp", "id": ids, "variant_ids": ids, "statistic": stat,
        "threshold": float(_neg_log10(np.array([cutoff]))[0]) if selected.any() else math.inf,
        "selected": selected, "error_rate": f"FDR<={q:g}", "p_value": p,
    })
    gws = bh.assign(method="gwas_gws", threshold=-math.log10(GENOME_WIDE_P),
                    selected=np.nan_to_num(p, nan=1.0) < GENOME_WIDE_P, error_rate=f"p<{GENOME_WIDE_P:g}")
    return pd.concat([bh, gws], ignore_index=True)


def null_rows(summary: pd.DataFrame, maxima, alpha: float, fwer: bool = True) -> pd.DataFrame:
    """deeplift_null rows from null_traits.null_summary's table and the K null maxima.

    ``fwer`` false (config discoveries.null_traits.fwer): empirical p-values only, no
    threshold (inf) and nothing selected.
    """
    from .null_traits import max_statistic_threshold

    check_rate("alpha", alpha)
    threshold = max_statistic_threshold(maxima, alpha) if fwer else math.inf
    score = summary["score"].to_numpy(np.float64)
    ids = summary["variant_id"].astype(str).to_numpy()
    return pd.DataFrame({
        "method": "deeplift_null", "unit": "snp", "id": ids, "variant_ids": ids, "statistic": score,
        "threshold": threshold, "selected": np.nan_to_num(score, nan=-np.inf) > threshold,
        "error_rate": f"FWER<={alpha:g}" if fwer else "none (empirical p only)",
        "p_value": summary["p_empirical"].to_numpy(np.float64),
    })


def knockoff_rows(statistics: pd.DataFrame, q: float, selection_fn) -> pd.DataFrame:
    """deeplift_knockoff rows from statistics.tsv (group, variant_ids, lead_variant, W ...).

    ``selection_fn(statistics, q)`` is knockoff_filter.knockoff_selection (11-knock's): a
    table of group, statistic, threshold, selected — one draw: W against the knockoff+
    threshold (inf = none selected); several draws: e-BH on the draws' e-values.
    """
    check_rate("q", q)
    chosen = selection_fn(statistics, q).set_index("group")
    groups = statistics["group"].astype(str).to_numpy()
    chosen.index = chosen.index.astype(str)
    chosen = chosen.loc[groups]
    return pd.DataFrame({
        "method": "deeplift_knockoff", "unit": "group", "id": groups,
        "variant_ids": statistics["variant_ids"].astype(str).to_numpy(),
        "statistic": chosen["statistic"].to_numpy(np.float64), "threshold": chosen["threshold"].to_numpy(np.float64),
        "selected": chosen["selected"].to_numpy(bool), "error_rate": f"FDR<={q:g}", "p_value": np.nan,
    })


def discoveries_table(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The methods' rows in METHODS order, each sorted by statistic (strongest first)."""
    table = pd.concat([p for p in parts if p is not None and len(p)], ignore_index=True)
    table["order"] = table["method"].map({m: i for i, m in enumerate(METHODS)})
    table = table.sort_values(["order", "statistic"], ascending=[True, False], kind="stable", na_position="last")
    return table.drop(columns="order").reset_index(drop=True)[COLUMNS]


def read_discoveries(path) -> pd.DataFrame:
    df = pd.read_csv(path, sep="\t", dtype={"id": str, "variant_ids": str})
    df["selected"] = df["selected"].astype(str).str.lower().isin(("true", "1"))
    return df


def summary_table(discoveries: pd.DataFrame) -> pd.DataFrame:
    """Per method: its error rate, threshold and number of discoveries."""
    rows = []
    for method, part in discoveries.groupby("method", sort=False):
        rows.append({"method": method, "error_rate": part["error_rate"].iloc[0], "unit": part["unit"].iloc[0],
                     "threshold": float(part["threshold"].iloc[0]), "tested": int(len(part)),
                     "discoveries": int(part["selected"].sum())})
    return pd.DataFrame(rows, columns=["method", "error_rate", "unit", "threshold", "tested", "discoveries"])


def realised_error(
    discoveries: pd.DataFrame,
    causal_ids,
    positions: pd.DataFrame | None = None,
    *,
    window: int = 100_000,
    r2_threshold: float = 0.5,
    ld=None,
    exact: bool = True,
) -> pd.DataFrame:
    """Per method: discoveries, false discoveries, realised FDR (V / max(R, 1)) and power.

    ``exact``: a unit is true when one of its variant_ids is causal (Hao data); otherwise
    (LD) when one of them tags a causal SNP (`_linked` on ``positions`` and ``ld``).
    Power = fraction of causal SNPs hit (exactly, or tagged) by some discovery.
    """
    causal = [str(c) for c in causal_ids]
    pos = None if exact else _positions_frame(positions)
    rows = []
    for method, part in discoveries.groupby("method", sort=False):
        chosen = part[part["selected"]]
        units = [str(v).split(",") for v in chosen["variant_ids"]]
        hit = np.zeros(len(causal), dtype=bool)
        true_unit = np.zeros(len(units), dtype=bool)
        for i, members in enumerate(units):
            if exact:
                linked = np.array([[m == c for c in causal] for m in members], dtype=bool).reshape(len(members), len(causal))
            else:
                linked = _linked(members, causal, pos, window, r2_threshold, ld)
            tagged = linked.any(axis=0)
            hit |= tagged
            true_unit[i] = bool(tagged.any())
        n = len(units)
        false = int((~true_unit).sum())
        rows.append({"method": method, "error_rate": part["error_rate"].iloc[0], "discoveries": n,
                     "false_discoveries": false, "fdr": false / max(n, 1),
                     "power": float(hit.mean()) if causal else math.nan, "n_causal": len(causal)})
    return pd.DataFrame(rows, columns=["method", "error_rate", "discoveries", "false_discoveries", "fdr", "power",
                                       "n_causal"])


def discovery_listing(tables: list[pd.DataFrame], keys: list[dict], causal: list | None = None) -> pd.DataFrame:
    """Every SNP (or group) some method selected, one row per dataset x trait x SNP: which
    methods selected it (their statistics side by side) and the GWAS p-value.

    Group discoveries (knockoffs) are listed under each of their SNPs.
    """
    rows = []
    for key, table in zip(keys, tables):
        chosen = table[table["selected"]]
        snps: dict[str, dict] = {}
        for _, r in chosen.iterrows():
            for v in str(r["variant_ids"]).split(","):
                entry = snps.setdefault(v, {})
                entry[r["method"]] = r["statistic"]
        if not snps:
            continue
        gwas = table[table["method"] == "gwas_bh"].set_index("id")["p_value"] if (table["method"] == "gwas_bh").any() \
            else pd.Series(dtype=float)
        for v, found in snps.items():
            row = {**key, "variant_id": v, "gwas_p": float(gwas.get(v, np.nan))}
            for m in METHODS:
                row[m] = found.get(m, np.nan)
            row["methods"] = ",".join(m for m in METHODS if m in found)
            rows.append(row)
    columns = [*(keys[0].keys() if keys else []), "variant_id", "methods", *METHODS, "gwas_p"]
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values([*(keys[0].keys() if keys else []), "gwas_p"], kind="stable").reset_index(drop=True)
