"""A small synthetic cohort laid out like UK Biobank, with planted QC problems and known answers.

It writes what a real cohort provides — PLINK genotypes, a main-dataset-style phenotype table
(``eid`` plus ``<field>-<instance>.<array>`` columns) and a UKB-style relatedness file — and
the ground truth of every problem it planted, so the tests can check that QC removes exactly
those samples and variants and that trait extraction finds exactly the planted cases.

Genotypes: one analysis chromosome (10) plus a non-PAR chrX section for the genetic sex
check. Everyone but the ancestry outliers comes from one population; the outliers come from a
second population with independent allele frequencies, so they separate on PC1.

Planted problems (disjoint sets of samples):
  high_missing       ~6 % missing calls (> the 2 % sample threshold)
  sex_mismatch       reported sex (31) != genetic sex (22001); chrX follows the genetic sex
  aneuploidy         field 22019 = 1: one XXY (reported male, diploid chrX) and one X0
                     (reported female, haploid chrX), so the chrX check flags them too
  ancestry_outlier   genotypes from the second population
  related pairs      the second member copies the first one's genotype at half the SNPs
                     (KING kinship ~0.25 > 0.0884): QC must drop exactly one of each pair
  distant pairs      copy 10 % (kinship ~0.05, listed in the relatedness file but below
                     the cut-off): QC must keep both
  rare variants      <= 3 minor alleles in the whole cohort (MAF < 1 %)
  low-call-rate      4 % missing calls (call rate < 99 %)
  table-only eids    rows in the phenotype table with no genotypes (withdrawn, negative eid)

Type 2 diabetes cases follow a liability with a few causal chr10 SNPs, and each case is
coded through one (sometimes two) of the routes the paper lists: 20002 = 1220 (any
instance/array), ICD9 249*/250* in 41203 or 41205, ICD10 E10*-E14* in 41202 or 41204.
Controls carry distractor codes (1221 gestational diabetes, E15, O24, 6480, ...).
HbA1c (30750) is present at instance 0, instance 1, both or neither.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plink
from ..atomic import atomic_path, write_json

ANALYSIS_CHROMOSOME = "10"
ROUTES = ("20002", "41202", "41204", "41203", "41205")
ICD10_CASE_CODES = ["E100", "E109", "E110", "E119", "E112", "E120", "E131", "E139", "E140", "E149", "E11"]
ICD10_DISTRACTORS = ["I10", "E780", "E15", "E160", "K219", "O244", "E660", "Z833"]
ICD9_CASE_CODES = ["2500", "25000", "25001", "2501", "2490", "2499", "25090"]
ICD9_DISTRACTORS = ["4019", "2510", "6480", "2724", "2780"]
SELF_REPORT_DISTRACTORS = [1065, 1111, 1221, 1226, 1074, 1473]
# UK Biobank array counts of the real fields are much larger; these keep the table small
ARRAYS = {"20002": 6, "41202": 8, "41204": 10, "41203": 4, "41205": 6}
INSTANCES_20002 = 2
GRCH37_NON_PAR_X = (2_699_521, 154_931_043)


@dataclass
class SyntheticSpec:
    """Sizes and seed of the synthetic cohort (defaults run QC + the grid in seconds)."""

    n_samples: int = 600
    n_snps: int = 3000  # analysis chromosome (KING needs a few thousand SNPs to separate 0.0884 from noise)
    n_chrx: int = 800  # female chrX F has SD ~1/sqrt(expected hets): enough to stay < 0.2
    n_high_missing: int = 8
    n_sex_mismatch: int = 5
    n_ancestry_outliers: int = 10
    n_related_pairs: int = 6
    n_distant_pairs: int = 4
    n_rare: int = 15
    n_low_call_rate: int = 15
    n_table_only: int = 3
    n_causal: int = 5
    allele_freq: tuple[float, float] = (0.1, 0.5)  # A1 frequency range of ordinary SNPs
    case_fraction: float = 0.12
    baseline_missing: float = 0.0005
    high_missing_rate: float = 0.06
    low_call_rate_missing: float = 0.04
    pc_fields: bool = False  # write 22009 PCs (computed here with numpy) into the table
    sex_fields: bool = True  # write 22001 genetic sex and 22019 aneuploidy
    seed: int = 2024


@dataclass
class SyntheticCohort:
    """Everything generated: genotypes (variants x samples), tables and the ground truth."""

    dosages: np.ndarray
    bim: pd.DataFrame
    fam: pd.DataFrame
    table: pd.DataFrame  # all strings; "" = missing
    related: pd.DataFrame  # ID1 ID2 HetHet IBS0 Kinship
    truth: dict = field(default_factory=dict)


def generate(spec: SyntheticSpec | None = None) -> SyntheticCohort:
    spec = spec or SyntheticSpec()
    rng = np.random.default_rng(spec.seed)
    n = spec.n_samples

    eids = (1_000_000 + rng.choice(5_000_000, size=n, replace=False)).astype(str)  # UKB-like 7-digit eids
    roles = _assign_roles(spec, rng)

    # --- autosomal genotypes ---------------------------------------------------------
    freq_main = rng.uniform(*spec.allele_freq, spec.n_snps)
    freq_out = rng.uniform(0.05, 0.95, spec.n_snps)
    outlier = roles["role"] == "ancestry_outlier"
    freqs = np.where(outlier[None, :], freq_out[:, None], freq_main[:, None])
    auto = rng.binomial(2, freqs).astype(np.int8)  # (snps, samples)
    for (a, b), share in [(p, 0.5) for p in roles["related_pairs"]] + [(p, 0.1) for p in roles["distant_pairs"]]:
        copied = rng.random(spec.n_snps) < share
        auto[copied, b] = auto[copied, a]

    snp_roles = np.array(["normal"] * spec.n_snps, dtype=object)
    special = rng.choice(spec.n_snps, size=spec.n_rare + spec.n_low_call_rate, replace=False)
    rare, low_call = special[: spec.n_rare], special[spec.n_rare :]
    snp_roles[rare], snp_roles[low_call] = "rare", "low_call_rate"
    for j in rare:  # 0 to 3 copies of the A1 allele in the whole cohort
        auto[j] = 0
        auto[j, rng.choice(n, size=rng.integers(0, 4), replace=False)] = 1

    # --- causal liability, cases, HbA1c ---------------------------------------------
    candidates = np.flatnonzero(snp_roles == "normal")
    causal = np.sort(rng.choice(candidates, size=spec.n_causal, replace=False))
    standardised = (auto[causal].T - 2 * freq_main[causal]) / np.sqrt(2 * freq_main[causal] * (1 - freq_main[causal]))
    genetic = standardised @ rng.choice([-1.0, 1.0], spec.n_causal) * 0.45
    liability = genetic + rng.normal(0, 1, n)
    is_case = liability > np.quantile(liability, 1 - spec.case_fraction)

    # --- sex and chrX ----------------------------------------------------------------
    genetic_sex = rng.integers(0, 2, n)  # UKB coding: 0 female, 1 male
    reported_sex = genetic_sex.copy()
    mismatch = roles["role"] == "sex_mismatch"
    reported_sex[mismatch] = 1 - genetic_sex[mismatch]
    xxy, x0 = roles["aneuploidy"]
    genetic_sex[xxy], reported_sex[xxy] = 1, 1
    genetic_sex[x0], reported_sex[x0] = 0, 0
    x_copies = np.where(genetic_sex == 1, 1, 2)
    x_copies[xxy], x_copies[x0] = 2, 1
    freq_x = rng.uniform(0.15, 0.5, spec.n_chrx)
    diploid = rng.binomial(2, np.broadcast_to(freq_x[:, None], (spec.n_chrx, n)))
    haploid = 2 * rng.binomial(1, np.broadcast_to(freq_x[:, None], (spec.n_chrx, n)))
    chrx = np.where(x_copies[None, :] == 2, diploid, haploid).astype(np.int8)

    dosages = np.vstack([auto, chrx])
    # --- missingness -------------------------------------------------------------------
    missing = rng.random(dosages.shape) < spec.baseline_missing
    high = roles["role"] == "high_missing"
    missing[:, high] |= rng.random((dosages.shape[0], int(high.sum()))) < spec.high_missing_rate
    n_low = int(round(spec.low_call_rate_missing * n))
    for j in low_call:
        missing[j, rng.choice(n, size=n_low, replace=False)] = True
    dosages[missing] = plink.MISSING

    bim = _make_bim(spec, rng)
    fam = pd.DataFrame(
        {"fid": eids, "iid": eids, "father": "0", "mother": "0", "sex": np.where(reported_sex == 1, 1, 2), "phenotype": "-9"}
    )

    # --- phenotype table -----------------------------------------------------------------
    routes = _case_routes(is_case, rng)
    hba1c_instances, hba1c_truth = _hba1c(liability, is_case, rng)
    table = _make_table(spec, rng, eids, roles, reported_sex, genetic_sex, is_case, routes, hba1c_instances)
    if spec.pc_fields:
        # like UK Biobank 22009: fitted on unrelated samples, everyone projected
        unrelated = np.ones(n, dtype=bool)
        unrelated[[b for _, b in roles["related_pairs"]]] = False
        pcs = pd.DataFrame(np.round(_numpy_pcs(auto, 10, unrelated), 5), index=eids)
        for k in range(10):
            table[f"22009-0.{k + 1}"] = table["eid"].map(pcs[k].astype(str)).fillna("")
    related = _relatedness_file(eids, roles)

    truth = {
        "spec": asdict(spec),
        "samples": {
            "high_missing": sorted(eids[high].tolist()),
            "sex_mismatch": sorted(eids[mismatch].tolist()),
            "aneuploidy": sorted([str(eids[xxy]), str(eids[x0])]),
            "ancestry_outlier": sorted(eids[outlier].tolist()),
            "related_pairs": [[str(eids[a]), str(eids[b])] for a, b in roles["related_pairs"]],
            "distant_pairs": [[str(eids[a]), str(eids[b])] for a, b in roles["distant_pairs"]],
            "table_only": table.loc[table["eid"].str.startswith("-"), "eid"].tolist(),
        },
        "variants": {
            "rare": sorted(bim["snp"].iloc[rare].tolist()),
            "low_call_rate": sorted(bim["snp"].iloc[low_call].tolist()),
            "chrx": bim.loc[bim["chrom"] == "X", "snp"].tolist(),
            "causal": bim["snp"].iloc[causal].tolist(),
        },
        # per genotyped sample, in .fam order
        "per_sample": {
            "eid": eids.tolist(),
            "t2d": is_case.astype(int).tolist(),
            "t2d_routes": routes,
            "hba1c": [None if np.isnan(v) else float(v) for v in hba1c_truth],
            "age": table.set_index("eid").loc[eids, "21022-0.0"].astype(int).tolist(),
            "sex": reported_sex.tolist(),
        },
    }
    return SyntheticCohort(dosages=dosages, bim=bim, fam=fam, table=table, related=related, truth=truth)


def write(cohort: SyntheticCohort, prefix: str | Path, table_sep: str = "\t") -> dict[str, Path]:
    """Write prefix.{bed,bim,fam} (genotypes), prefix.tsv (phenotype table; .csv when
    ``table_sep`` is ","), prefix.related.dat and prefix.truth.json. Returns the paths."""
    prefix = Path(prefix)
    paths = {
        "bed": prefix.with_name(prefix.name + ".bed"),
        "table": prefix.with_name(prefix.name + (".csv" if table_sep == "," else ".tsv")),
        "related": prefix.with_name(prefix.name + ".related.dat"),
        "truth": prefix.with_name(prefix.name + ".truth.json"),
    }
    plink.write_plink(prefix, cohort.dosages, cohort.bim, cohort.fam)
    with atomic_path(paths["table"]) as tmp:
        cohort.table.to_csv(tmp, sep=table_sep, index=False)
    with atomic_path(paths["related"]) as tmp:
        cohort.related.to_csv(tmp, sep=" ", index=False, float_format="%.4f")
    write_json(paths["truth"], cohort.truth)
    return paths


def write_synthetic_cohort(prefix: str | Path, spec: SyntheticSpec | None = None, table_sep: str = "\t") -> dict:
    """Generate and write a synthetic cohort; return its ground truth."""
    cohort = generate(spec)
    write(cohort, prefix, table_sep)
    return cohort.truth


def load_truth(path: str | Path) -> dict:
    return json.loads(Path(path).read_text())


# ------------------------------------------------------------------------------------------


def _assign_roles(spec: SyntheticSpec, rng: np.random.Generator) -> dict:
    n = spec.n_samples
    order = rng.permutation(n)
    role = np.array(["normal"] * n, dtype=object)
    taken = 0

    def take(k):
        nonlocal taken
        chosen = order[taken : taken + k]
        taken += k
        if taken > n:
            raise ValueError(f"SyntheticSpec plants more problem samples than n_samples={n}")
        return chosen

    for name, k in [
        ("high_missing", spec.n_high_missing),
        ("sex_mismatch", spec.n_sex_mismatch),
        ("ancestry_outlier", spec.n_ancestry_outliers),
    ]:
        role[take(k)] = name
    aneuploidy = take(2)
    role[aneuploidy] = "aneuploidy"
    related = take(2 * spec.n_related_pairs).reshape(-1, 2)
    role[related[:, 0]], role[related[:, 1]] = "related_first", "related_second"
    distant = take(2 * spec.n_distant_pairs).reshape(-1, 2)
    role[distant.ravel()] = "distant_relative"
    return {
        "role": role,
        "aneuploidy": aneuploidy.tolist(),
        "related_pairs": [tuple(p) for p in related.tolist()],
        "distant_pairs": [tuple(p) for p in distant.tolist()],
    }


def _make_bim(spec: SyntheticSpec, rng: np.random.Generator) -> pd.DataFrame:
    pos10 = 100_000 + np.sort(rng.choice(135_000_000, size=spec.n_snps, replace=False))
    lo, hi = GRCH37_NON_PAR_X
    posx = lo + np.sort(rng.choice(hi - lo, size=spec.n_chrx, replace=False))
    alleles = np.array([("A", "G"), ("C", "T"), ("A", "C"), ("G", "T"), ("T", "C"), ("G", "A")])
    pick = alleles[rng.integers(0, len(alleles), spec.n_snps + spec.n_chrx)]
    return pd.DataFrame(
        {
            "chrom": [ANALYSIS_CHROMOSOME] * spec.n_snps + ["X"] * spec.n_chrx,
            "snp": [f"rs10{p:09d}" for p in pos10] + [f"rsX{p:09d}" for p in posx],
            "cm": 0.0,
            "pos": np.concatenate([pos10, posx]),
            "a1": pick[:, 0],
            "a2": pick[:, 1],
        }
    )


def _case_routes(is_case: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Route(s) coding each case ('' for controls): cycled so every route is well used."""
    routes = [""] * len(is_case)
    cases = rng.permutation(np.flatnonzero(is_case))
    for k, i in enumerate(cases):
        chosen = [ROUTES[k % len(ROUTES)]]
        if rng.random() < 0.15:  # some cases are coded twice
            chosen.append(ROUTES[(k + 1 + rng.integers(0, len(ROUTES) - 1)) % len(ROUTES)])
        routes[i] = ";".join(sorted(set(chosen)))
    return routes


def _hba1c(liability, is_case, rng):
    """HbA1c (mmol/mol) per instance, rounded as exported, and the expected log mean."""
    n = len(liability)
    log_level = np.log(35.0) + 0.04 * liability + 0.3 * is_case + rng.normal(0, 0.08, n)
    pattern = rng.choice(["0", "1", "01", "none"], size=n, p=[0.65, 0.05, 0.15, 0.15])
    values = np.full((n, 2), np.nan)
    for inst in (0, 1):
        present = np.char.find(pattern.astype(str), str(inst)) >= 0
        values[present, inst] = np.round(np.exp(log_level[present] + rng.normal(0, 0.03, present.sum())), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows without any value -> NaN
        truth = np.log(np.nanmean(values, axis=1))
    return values, truth


def _fill_codes(table, field, n_arrays, instances, rows_codes):
    """rows_codes: per row, list of codes to put in consecutive arrays of instance 0/1."""
    columns = {f"{field}-{i}.{a}": [""] * len(rows_codes) for i in range(instances) for a in range(n_arrays)}
    for r, codes in enumerate(rows_codes):
        for k, (inst, code) in enumerate(codes):
            slot = sum(1 for i, _ in codes[:k] if i == inst)
            columns[f"{field}-{inst}.{slot}"][r] = str(code)
    for name, values in columns.items():
        table[name] = values


def _make_table(spec, rng, eids, roles, reported_sex, genetic_sex, is_case, routes, hba1c_values) -> pd.DataFrame:
    n = len(eids)
    n_rows = n + spec.n_table_only
    ids = np.concatenate([eids, [f"-{k + 1}" for k in range(spec.n_table_only)]])
    table = pd.DataFrame({"eid": ids})
    pad = lambda arr: np.concatenate([np.asarray(arr).astype(str), [""] * spec.n_table_only])  # noqa: E731
    table["31-0.0"] = pad(reported_sex)
    table["21022-0.0"] = pad(rng.integers(40, 71, n))
    table["50-0.0"] = pad(np.round(rng.normal(170, 9, n), 1))  # height: a field nobody asks for
    if spec.sex_fields:
        table["22001-0.0"] = pad(genetic_sex)
        aneuploid = np.array([""] * n, dtype=object)
        aneuploid[roles["aneuploidy"]] = "1"
        table["22019-0.0"] = pad(aneuploid)
    ethnic = rng.choice(["1001", "1002", "1003"], size=n, p=[0.9, 0.07, 0.03]).astype(object)
    outliers = np.flatnonzero(roles["role"] == "ancestry_outlier")
    ethnic[outliers] = rng.choice(["3001", "4001", "5", "1001"], size=len(outliers))
    table["21000-0.0"] = pad(ethnic)

    # diagnosis codes: each list entry is (instance, code)
    self_report = [[] for _ in range(n_rows)]
    icd = {f: [[] for _ in range(n_rows)] for f in ("41202", "41204", "41203", "41205")}
    for r in range(n):
        if rng.random() < 0.35:
            self_report[r].append((int(rng.integers(0, INSTANCES_20002)), int(rng.choice(SELF_REPORT_DISTRACTORS))))
        for f in ("41202", "41204"):
            for _ in range(rng.integers(0, 3)):
                icd[f][r].append((0, str(rng.choice(ICD10_DISTRACTORS))))
        for f in ("41203", "41205"):
            if rng.random() < 0.15:
                icd[f][r].append((0, str(rng.choice(ICD9_DISTRACTORS))))
        for route in filter(None, routes[r].split(";")):
            if route == "20002":
                self_report[r].append((int(rng.integers(0, INSTANCES_20002)), 1220))
            elif route in ("41202", "41204"):
                icd[route][r].append((0, str(rng.choice(ICD10_CASE_CODES))))
            else:
                icd[route][r].append((0, str(rng.choice(ICD9_CASE_CODES))))
    for r in range(n, n_rows):  # withdrawn participants: a case code, to show they are ignored
        self_report[r].append((0, 1220))
    for rows in [self_report, *icd.values()]:
        for codes in rows:  # shuffle array positions within an instance
            rng.shuffle(codes)
    _fill_codes(table, "20002", ARRAYS["20002"], INSTANCES_20002, self_report)
    for f, rows in icd.items():
        _fill_codes(table, f, ARRAYS[f], 1, rows)
    for inst in (0, 1):
        col = np.where(np.isnan(hba1c_values[:, inst]), "", np.char.mod("%.1f", np.nan_to_num(hba1c_values[:, inst])))
        table[f"30750-{inst}.0"] = pad(col)
    table["21001-0.0"] = pad(np.round(rng.normal(27, 4, n), 2))  # BMI: unused
    # export order is not genotype order
    return table.iloc[rng.permutation(n_rows)].reset_index(drop=True)


def _relatedness_file(eids, roles) -> pd.DataFrame:
    """UKB-style ``ukbA_rel_sP.dat``: pairs with kinship > 0.0442 (the planted values)."""
    rows = [(eids[a], eids[b], 0.12, 0.0005, 0.25) for a, b in roles["related_pairs"]]
    rows += [(eids[a], eids[b], 0.08, 0.0020, 0.05) for a, b in roles["distant_pairs"]]
    return pd.DataFrame(rows, columns=["ID1", "ID2", "HetHet", "IBS0", "Kinship"])


def _numpy_pcs(dosages: np.ndarray, k: int, fit: np.ndarray) -> np.ndarray:
    """Top-k PCs (samples x k) of standardised genotypes: fitted on the ``fit`` samples,
    every sample projected."""
    g = dosages.astype(float)
    mean = g[:, fit].mean(axis=1, keepdims=True)
    sd = g[:, fit].std(axis=1, keepdims=True)
    sd[sd == 0] = 1
    z = ((g - mean) / sd).T
    # right singular vectors from the small samples x samples eigenproblem
    values, vectors = np.linalg.eigh(z[fit] @ z[fit].T)
    top = np.argsort(values)[::-1][:k]
    axes = z[fit].T @ vectors[:, top] / np.sqrt(values[top])
    return z @ axes / np.sqrt(g.shape[0])
