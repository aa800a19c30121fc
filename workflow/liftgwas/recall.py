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


def _read_causal(path, trait: str | None = None) -> list[str]:
    from .compare import read_truth  # compare imports this module

    return read_truth(path, trait)


def recall_runs(runs: list[dict], top_k: int) -> pd.DataFrame:
    """Recall of each run. A run is a dict with group, sparsity, trait, dataset, arch, l1,
    seed (an int, or "ensemble" for the score averaged over seeds), scores (path) and
    truth (path)."""
    rows = []
    for run in runs:
        causal = _read_causal(run["truth"], run.get("trait"))
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
        # dropna=False: coalescent settings have no sparsity a (NaN), and must not vanish
        single.groupby(keys, sort=True, dropna=False)
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
        ens = ensemble.groupby(keys, dropna=False)["recall"].mean().rename("ensemble_recall_mean").reset_index()
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
            f"| {'–' if pd.isna(row.sparsity) else f'{row.sparsity:g}'} | {row.trait} | {row.arch.replace('x', ' by ')} | {row.l1} | "
            f"{100 * row.recall_mean:.0f} % ± {100 * sd:.0f} % | {row.n_runs} | {ens_text} |"
        )
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------
# Recall by effect class, LD-aware ("locus") recall and pair recall
# --------------------------------------------------------------------------------------
#
# On genotypes with LD (the coalescent engine) a method that ranks a tag SNP of a causal
# SNP first has found the locus, yet exact-SNP recall counts it as a miss. Locus recall
# counts it as found: the ranking is clumped greedily (the best remaining SNP becomes a
# lead and every SNP within +-window bp of it on its chromosome is dropped, as PLINK's
# --clump does), the top-k leads are kept, and a causal SNP is found when one of those
# leads lies within the window on its chromosome and has r^2 >= r2_threshold with it.
# The window also bounds which lead can claim a causal SNP: LD is a property of linked
# sites, and a correlation between distant SNPs created by population structure (the Hao
# engine's SNPs are unlinked but share ancestry) is not a hit at the locus.

CLASSES = ("additive", "dominant", "recessive", "epistatic")
PAIRS = "epistatic_pairs"
RECALL_BY_CLASS_COLUMNS = ["class", "n", "exact_recall", "locus_recall", "pair_list_recall"]


def clump(strength: pd.Series, chromosome, position, window: int, n_leads: int) -> list[str]:
    """The first ``n_leads`` leads of a greedy clumping of ``strength`` (larger = stronger).

    ``chromosome`` and ``position`` are aligned with ``strength`` (same length and order).
    The strongest remaining SNP becomes a lead and every SNP on its chromosome with
    ``|position - lead position| <= window`` is dropped (the window edge is inclusive).
    SNPs without a value (NaN) are never leads; tied values are taken in input (genome)
    order, as `top_k` does, so a table made from the same inputs lists the same leads.
    """
    if window < 0:
        raise ValueError(f"window must be >= 0 bp, got {window}")
    values = strength.to_numpy(dtype=float)
    chrom_codes = pd.factorize(pd.Series(np.asarray(chromosome)).astype(str))[0]
    pos = np.asarray(position, dtype=np.int64)
    if not (len(values) == len(chrom_codes) == len(pos)):
        raise ValueError("strength, chromosome and position must have the same length")
    ids = strength.index.astype(str).to_numpy()
    valid = ~np.isnan(values)
    order = np.flatnonzero(valid)[np.argsort(-values[valid], kind="stable")]
    alive = np.ones(len(values), dtype=bool)
    leads: list[str] = []
    cursor = 0
    while len(leads) < n_leads:
        while cursor < len(order) and not alive[order[cursor]]:
            cursor += 1
        if cursor == len(order):
            break
        lead = order[cursor]
        leads.append(str(ids[lead]))
        # one vectorised pass per lead: k passes over M SNPs, never a loop over SNPs
        alive &= ~((chrom_codes == chrom_codes[lead]) & (np.abs(pos - pos[lead]) <= window))
    return leads


def _r2(a: np.ndarray, b: np.ndarray) -> float:
    """Squared Pearson correlation of two dosage vectors over the samples called in both."""
    called = (a >= 0) & (b >= 0)
    if called.sum() < 3:
        return float("nan")
    x, y = a[called].astype(float), b[called].astype(float)
    if x.std() == 0 or y.std() == 0:
        return float("nan")  # a monomorphic SNP tags nothing
    return float(np.corrcoef(x, y)[0, 1] ** 2)


class GenotypeLD:
    """r^2 between named SNPs of a PLINK fileset, reading only the SNPs asked for.

    Locus recall needs r^2 for a few (lead, causal SNP) pairs only (k leads times the
    causal SNPs of a chromosome), so a genome-wide LD matrix is never built: each SNP is
    read once through `plink.Bed.read` and kept for the next pairs.
    """

    def __init__(self, bed_prefix):
        from .plink import Bed

        self.bed = Bed(bed_prefix)
        self.index = pd.Series(np.arange(self.bed.n_snps), index=self.bed.bim["snp"].astype(str).to_numpy())
        self._cache: dict[str, np.ndarray] = {}

    def dosages(self, variant_id: str) -> np.ndarray:
        if variant_id not in self._cache:
            if variant_id not in self.index.index:
                raise KeyError(f"variant '{variant_id}' not in {self.bed.prefix}.bim")
            i = int(self.index[variant_id])
            self._cache[variant_id] = self.bed.read(i, i + 1)[0]
        return self._cache[variant_id]

    def r2(self, pairs) -> np.ndarray:
        return np.array([1.0 if a == b else _r2(self.dosages(a), self.dosages(b)) for a, b in pairs], dtype=float)

    __call__ = r2


def _positions_frame(positions: pd.DataFrame) -> pd.DataFrame:
    table = positions.copy()
    if "variant_id" in table.columns:
        table = table.set_index(table["variant_id"].astype(str))
    table.index = table.index.astype(str)
    return pd.DataFrame({"chromosome": table["chromosome"].astype(str).to_numpy(),
                         "position": pd.to_numeric(table["base_pair_location"]).astype(np.int64).to_numpy()},
                        index=table.index)


def _linked(a_ids, b_ids, positions: pd.DataFrame, window: int, r2_threshold: float, ld) -> np.ndarray:
    """matrix[i, j]: SNP a_i tags SNP b_j (identical, or same chromosome within the window
    and r^2 >= threshold). r^2 is asked for only for the candidate pairs."""
    linked = np.zeros((len(a_ids), len(b_ids)), dtype=bool)
    candidates = []
    for i, a in enumerate(a_ids):
        for j, b in enumerate(b_ids):
            if a == b:
                linked[i, j] = True
            elif (positions.at[a, "chromosome"] == positions.at[b, "chromosome"]
                  and abs(int(positions.at[a, "position"]) - int(positions.at[b, "position"])) <= window):
                candidates.append((i, j))
    if candidates and ld is not None and r2_threshold <= 1:
        r2 = np.asarray(ld([(a_ids[i], b_ids[j]) for i, j in candidates]), dtype=float)
        for (i, j), value in zip(candidates, r2):
            linked[i, j] = bool(value >= r2_threshold)  # NaN (monomorphic) is never linked
    return linked


def recall_by_class(
    strength: pd.Series,
    positions: pd.DataFrame,
    truth: pd.DataFrame,
    k: int,
    *,
    window: int = 100_000,
    r2_threshold: float = 0.5,
    ld=None,
    pair_list: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Exact and locus top-k recall of one ranking, by effect class, plus pair recall.

    ``strength``: one value per SNP (larger = stronger; NaN = untested), indexed by
    variant id. ``positions``: variant_id (column or index), chromosome,
    base_pair_location for every SNP of the ranking. ``truth``: the causal SNPs of ONE
    trait, columns variant_id, class (one of `CLASSES`) and pair (the planted pair's id
    for epistatic SNPs, NA otherwise). ``ld``: a callable taking a list of (id, id) pairs
    and returning their r^2 (a `GenotypeLD`); without it only identical SNPs tag each
    other (locus recall then differs from exact recall only through the clumping).
    ``pair_list``: for a pairwise scan, its pairs (columns snp1, snp2), best first; its
    top k pairs give ``pair_list_recall``.

    Returns one row per class present plus "all" (every causal SNP) and, when the truth
    has pairs, "epistatic_pairs" (n = planted pairs; a pair is found when BOTH its SNPs
    are found, exactly in the top k or by locus; pair_list_recall: one of the scan's top
    k pairs tags both SNPs, either way round). Exact recall is `topk_recall` (ties at the
    k-th place shared in expectation); for pairs it uses the `top_k` list.
    """
    truth = truth.copy()
    truth["variant_id"] = truth["variant_id"].astype(str)
    unknown = sorted(set(truth["class"]) - set(CLASSES))
    if unknown:
        raise ValueError(f"unknown effect class(es) {unknown}; expected one of {list(CLASSES)}")
    if truth["variant_id"].duplicated().any():
        raise ValueError("truth has a variant more than once; pass the rows of one trait")
    positions = _positions_frame(positions)
    strength = strength.copy()
    strength.index = strength.index.astype(str)
    missing = sorted(set(truth["variant_id"]) - set(strength.index))
    if missing:
        raise ValueError(f"causal SNPs not in the ranking: {missing[:5]}")
    missing = sorted(set(strength.index) - set(positions.index))
    if missing:
        raise ValueError(f"SNPs of the ranking without a position: {missing[:5]}")
    aligned = positions.loc[strength.index]
    leads = clump(strength, aligned["chromosome"], aligned["position"], window, k)
    causal = truth["variant_id"].tolist()
    found_locus = _linked(leads, causal, positions, window, r2_threshold, ld).any(axis=0) if leads else \
        np.zeros(len(causal), dtype=bool)
    found_locus = pd.Series(found_locus, index=causal)
    exact_top = set(top_k(strength.astype(float).fillna(-np.inf), k))

    rows = []
    for name in ("all", *[c for c in CLASSES if (truth["class"] == c).any()]):
        ids = causal if name == "all" else truth.loc[truth["class"] == name, "variant_id"].tolist()
        rows.append({"class": name, "n": len(ids), "exact_recall": topk_recall(strength, ids, k),
                     "locus_recall": float(found_locus[ids].mean()), "pair_list_recall": float("nan")})
    pairs = truth.dropna(subset=["pair"]).groupby("pair")["variant_id"].apply(list)
    pairs = [members for members in pairs if len(members) == 2]
    if pairs:
        row = {"class": PAIRS, "n": len(pairs),
               "exact_recall": float(np.mean([set(p) <= exact_top for p in pairs])),
               "locus_recall": float(np.mean([found_locus[p].all() for p in pairs])),
               "pair_list_recall": float("nan")}
        if pair_list is not None:
            top = pair_list.head(k)
            hits = []
            planted = [snp for p in pairs for snp in p]
            first = _linked(top["snp1"].astype(str).tolist(), planted, positions, window, r2_threshold, ld)
            second = _linked(top["snp2"].astype(str).tolist(), planted, positions, window, r2_threshold, ld)
            for n, _ in enumerate(pairs):
                a, b = 2 * n, 2 * n + 1
                hits.append(bool(((first[:, a] & second[:, b]) | (first[:, b] & second[:, a])).any()))
            row["pair_list_recall"] = float(np.mean(hits))
        rows.append(row)
    return pd.DataFrame(rows, columns=RECALL_BY_CLASS_COLUMNS)
