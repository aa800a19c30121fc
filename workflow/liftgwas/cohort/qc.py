"""Sample and variant QC of a real cohort, as in the paper (Sec. 3.2), with plink2 as engine.

Sample steps, in order; each reads the samples kept by the previous one and writes a step
table (one row per sample entering the step: FID IID removed reason method + metrics):
  sample_missingness  missing-call rate > max (plink2 --missing)
  sex                 aneuploidy (22019) or genetic sex (22001) != reported sex (31); without
                      those fields, the chrX inbreeding coefficient F (numpy; this plink2 has
                      no --check-sex) decides the genetic sex
  ancestry            > max_sd robust SDs from the reference group on any of the first n_pcs
                      PCs (field 22009, or plink2 PCs of unrelated samples projected onto all)
  relatedness         kinship > max_kinship: keep one of each pair (UKB relatedness file, or
                      plink2 --king-cutoff)
Variant steps (plink2, on the samples kept; liftgwas.cohort.variants): chromosomes,
variant_call_rate (--geno), maf. For BGEN input, genotype probabilities < min are set to
missing at import (--import-dosage-certainty); a .bed holds hard calls only.

Every step can be switched off (its table then keeps everyone, method "disabled").
Outputs are written atomically; plink2 runs in a temporary directory next to the output and
its .log text is copied into this module's log (the rule's log file).
"""

from __future__ import annotations

import heapq
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .. import plink
from ..atomic import write_tsv
from ..errors import InputError
from .phenotypes import CohortWarning, extract_covariates, open_table, extract_traits, pc_columns, read_fam_ids, trait_counts, warn
from .plink2 import Plink2Error, read_id_file, run_plink2, workdir, write_id_file
from .ukb_table import UkbTable

log = logging.getLogger(__name__)

SAMPLE_STEPS = ("sample_missingness", "sex", "ancestry", "relatedness")
VARIANT_STEPS = ("genotype_probability", "chromosomes", "variant_call_rate", "maf")
STEP_COLUMNS = ["FID", "IID", "removed", "reason", "method"]
SUMMARY_COLUMNS = ["step", "samples_removed", "variants_removed", "samples_left", "variants_left"]
AUTOSOMES = [str(c) for c in range(1, 23)]
CHRX_CODES = {"X", "23", "chrX"}
# chrX non-pseudo-autosomal region (positions outside are PAR1/PAR2), as plink2 --split-par
NON_PAR_X = {"GRCh37": (2_699_521, 154_931_043), "GRCh38": (2_781_480, 155_701_382)}

__all__ = [
    "CohortWarning",
    "check_genotypes",
    "sample_missingness_step",
    "sex_step",
    "chrx_inbreeding",
    "ancestry_step",
    "relatedness_step",
    "read_relatedness_file",
    "choose_unrelated",
    "compute_pcs",
    "write_covariates",
    "qc_summary",
]


# ---- step tables ---------------------------------------------------------------------------


def check_genotypes(prefix: str | Path) -> plink.Bed:
    """Open and validate the PLINK fileset (files present, .bed magic/mode/size, unique IDs)."""
    return plink.Bed(prefix)


def _fam_samples(bed: plink.Bed) -> pd.DataFrame:
    return pd.DataFrame({"FID": bed.fam["fid"].astype(str), "IID": bed.fam["iid"].astype(str)})


def read_step(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, "reason": str, "method": str}, keep_default_na=False)


def kept_samples(step: pd.DataFrame) -> pd.DataFrame:
    return step.loc[step["removed"] == 0, ["FID", "IID"]].reset_index(drop=True)


def _incoming(bed: plink.Bed, previous: str | Path | None) -> pd.DataFrame:
    return _fam_samples(bed) if previous is None else kept_samples(read_step(previous))


def _step_table(samples: pd.DataFrame, removed_reason: pd.Series, method: str, metrics: dict | None = None) -> pd.DataFrame:
    table = samples[["FID", "IID"]].copy().reset_index(drop=True)
    reasons = removed_reason.reindex(table["IID"]).fillna("").to_numpy()
    table["removed"] = (reasons != "").astype(int)
    table["reason"] = reasons
    table["method"] = method
    for name, values in (metrics or {}).items():
        table[name] = pd.Series(values).reindex(table["IID"]).to_numpy()
    return table


def _finish_step(table: pd.DataFrame, out: str | Path, step: str, settings: dict | None = None) -> pd.DataFrame:
    n_removed = int(table["removed"].sum())
    log.info("%s: %d of %d samples removed (%s)", step, n_removed, len(table), table["method"].iloc[0] if len(table) else "")
    fraction = (settings or {}).get("qc", {}).get("warn_removed_fraction")
    message = removed_fraction_warning(n_removed, len(table), fraction)
    if message:
        warn(f"{step}: {message}")
    write_tsv(out, table)
    return table


def removed_fraction_warning(n_removed: int, n_in: int, fraction: float | None) -> str:
    """The warning for a step that removes more than ``fraction`` of its samples ('' if not)."""
    if fraction is None or n_in == 0 or n_removed <= fraction * n_in:
        return ""
    return (
        f"removed {n_removed} of {n_in} samples ({n_removed / n_in:.0%}), more than "
        f"qc.warn_removed_fraction {fraction:g}: check this step's method and thresholds"
    )


def king_warning(bim: pd.DataFrame, min_variants: int) -> str:
    """Why KING kinship from these genotypes is unreliable ('' if it is not).

    KING's robust estimator needs genome-wide variants: measured here, plink2 --king-cutoff
    0.0884 on one 10 Mb region flagged 66 % of a cohort without relatives.
    """
    codes = bim["chrom"].astype(str).str.replace(r"^chr", "", regex=True, case=False)
    autosomal = codes[codes.isin(AUTOSOMES)]
    n, n_chrom = len(autosomal), autosomal.nunique()
    if n >= min_variants and n_chrom > 1:
        return ""
    what = f"{n} autosomal variants" + (f" on one chromosome ({autosomal.iloc[0]})" if n_chrom == 1 else f" on {n_chrom} chromosomes")
    return (
        f"KING kinship (plink2 --king-cutoff) from {what} is unreliable (fewer than qc.relatedness.min_variants "
        f"{min_variants}, or one chromosome) and can remove many unrelated samples; pass a relatedness file computed "
        "genome-wide as config key relatedness: UK Biobank's ukbA_rel_sP.dat ('ID1 ID2 ... Kinship') or the .kin0 of "
        "plink2 --make-king-table run on all autosomes"
    )


def _disabled(samples: pd.DataFrame, out, step) -> pd.DataFrame:
    return _finish_step(_step_table(samples, pd.Series(dtype=str), "disabled"), out, step)


# ---- sample missingness ----------------------------------------------------------------------


def sample_missingness_step(
    prefix: str | Path,
    out: str | Path,
    *,
    settings: dict,
    table_path: str | Path | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
    config_key: str = "qc.sample_missingness",
) -> pd.DataFrame:
    """First step: validates the genotypes, then drops samples with missing rate > max
    (computed by plink2, or read from the table's ``field`` when the config sets one)."""
    bed = check_genotypes(prefix)
    samples = _fam_samples(bed)
    step = settings["qc"]["sample_missingness"]
    if not step["enabled"]:
        return _disabled(samples, out, "sample_missingness")
    if step.get("field"):
        if table_path is None:
            raise ValueError(f"{config_key}.field is set: the phenotype table is needed")
        table = open_table(table_path)
        col = table.require(step["field"], f"{config_key}.field")[0]
        rate = table.read_all([col], numeric=[col])[col].reindex(samples["IID"])
        unknown = int(rate.isna().sum())
        if unknown:
            warn(f"{table.path}: {unknown} samples have no missingness value (field {step['field']}); kept")
        too_high = rate[rate > step["max"]]
        reasons = too_high.map(lambda r: f"missing call rate {r:.4f} > {step['max']:g} (field {step['field']})")
        method = f"field {step['field']}"
        return _finish_step(_step_table(samples, reasons, method, {"missing_rate": rate}), out, "sample_missingness", settings)
    with workdir(Path(out)) as tmp:
        run_plink2(["--bfile", prefix, "--missing", "sample-only"], tmp / "miss", what="sample missingness", threads=threads, memory_mb=memory_mb)
        smiss = pd.read_csv(tmp / "miss.smiss", sep="\t", dtype={"#FID": str, "FID": str, "IID": str})
    rate = pd.Series(smiss["F_MISS"].to_numpy(), index=smiss["IID"].astype(str))
    too_high = rate[rate > step["max"]]
    reasons = too_high.map(lambda r: f"missing call rate {r:.4f} > {step['max']:g}")
    method = f"plink2 --missing (all {bed.n_snps} variants)"
    return _finish_step(_step_table(samples, reasons, method, {"missing_rate": rate}), out, "sample_missingness", settings)


# ---- sex -------------------------------------------------------------------------------------


def chrx_inbreeding(bed: plink.Bed, samples: np.ndarray, build: str = "GRCh37", block_size: int = 2000) -> tuple[np.ndarray, int]:
    """chrX inbreeding coefficient F per sample (plink 1.9 --check-sex's statistic).

    F = (observed - expected homozygous calls) / (non-missing calls - expected), over non-PAR
    chrX variants, with allele frequencies from ``samples`` (indices into the .fam). Males
    (one X) are homozygous everywhere, F ~ 1; females F ~ 0. Returns (F, n_variants).
    """
    lo, hi = NON_PAR_X[build]
    bim = bed.bim
    on_x = bim["chrom"].astype(str).isin(CHRX_CODES).to_numpy() & (bim["pos"] >= lo).to_numpy() & (bim["pos"] <= hi).to_numpy()
    index = np.flatnonzero(on_x)
    observed_hom = np.zeros(len(samples))
    expected_hom = np.zeros(len(samples))
    called = np.zeros(len(samples))
    for start in range(0, len(index), block_size):
        rows = index[start : start + block_size]
        g = bed.read(int(rows[0]), int(rows[-1]) + 1, samples)[rows - rows[0]]
        ok = g >= 0
        n_ok = ok.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            p = np.where(n_ok > 0, np.where(ok, g, 0).sum(axis=1) / (2.0 * n_ok), np.nan)
        informative = np.isfinite(p)
        hom_expected = (1 - 2 * p * (1 - p))[informative, None]
        g, ok = g[informative], ok[informative]
        observed_hom += ((g != 1) & ok).sum(axis=0)
        expected_hom += (hom_expected * ok).sum(axis=0)
        called += ok.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (observed_hom - expected_hom) / (called - expected_hom)
    return f, len(index)


def sex_step(
    prefix: str | Path,
    table_path: str | Path,
    previous: str | Path,
    out: str | Path,
    *,
    settings: dict,
    config_key: str = "qc.sex",
) -> pd.DataFrame:
    bed = check_genotypes(prefix)
    samples = _incoming(bed, previous)
    step = settings["qc"]["sex"]
    if not step["enabled"]:
        return _disabled(samples, out, "sex")
    table = open_table(table_path)
    method = step["method"]
    if method == "auto":
        method = "fields" if table.has_field(step["genetic_field"]) else "chrx"
    ids = samples["IID"]
    if method == "fields":
        reported_col = table.require(step["reported_field"], f"{config_key}.reported_field")[0]
        genetic_col = table.require(step["genetic_field"], f"{config_key}.genetic_field")[0]
        aneuploidy_cols = table.columns(step["aneuploidy_field"])
        if not aneuploidy_cols:
            warn(f"{table.path}: no aneuploidy field {step['aneuploidy_field']}; only genetic vs reported sex is checked")
        cols = [reported_col, genetic_col, *aneuploidy_cols[:1]]
        data = table.read_all(cols, numeric=cols).reindex(ids)
        reported, genetic = data[reported_col], data[genetic_col]
        aneuploid = data[aneuploidy_cols[0]].eq(1) if aneuploidy_cols else pd.Series(False, index=data.index)
        mismatch = reported.notna() & genetic.notna() & (reported != genetic)
        reasons = pd.Series("", index=data.index, dtype=object)
        reasons[mismatch] = [
            f"genetic sex {int(g)} ({step['genetic_field']}) != reported sex {int(r)} ({step['reported_field']})"
            for g, r in zip(genetic[mismatch], reported[mismatch])
        ]
        reasons[aneuploid] = f"sex chromosome aneuploidy ({step['aneuploidy_field']})"
        unknown = int((reported.isna() | genetic.isna()).sum())
        if unknown:
            warn(f"{table.path}: {unknown} samples lack reported or genetic sex; kept unchecked")
        method_text = f"fields {step['genetic_field']}/{step['aneuploidy_field']} vs {step['reported_field']}"
        metrics = {"reported_sex": reported, "genetic_sex": genetic}
    else:
        index = pd.Index(bed.fam["iid"].astype(str)).get_indexer(ids)
        f, n_variants = chrx_inbreeding(bed, index, step["build"])
        if n_variants < step["chrx_min_variants"]:
            raise InputError(
                Path(f"{prefix}.bim"),
                f"sex check from chrX needs >= {step['chrx_min_variants']} non-PAR chrX variants, found {n_variants}; "
                f"provide fields {step['genetic_field']}/{step['reported_field']} in the table or set {config_key}.enabled: false",
            )
        if table.has_field(step["reported_field"]):
            col = table.columns(step["reported_field"])[0]
            reported = table.read_all([col], numeric=[col])[col].reindex(ids).to_numpy()
            source = f"field {step['reported_field']}"
        else:  # .fam sex: 1 male, 2 female, 0 unknown -> UKB coding 1/0/NaN
            fam_sex = bed.fam.set_index(bed.fam["iid"].astype(str))["sex"].reindex(ids).to_numpy()
            reported = np.select([fam_sex == 1, fam_sex == 2], [1.0, 0.0], np.nan)
            source = ".fam sex"
        genetic = np.select([f < step["chrx_female_max"], f > step["chrx_male_min"]], [0.0, 1.0], np.nan)
        reasons = pd.Series("", index=ids.to_numpy(), dtype=object)
        label = {0.0: "female", 1.0: "male"}
        known = ~np.isnan(reported) & ~np.isnan(f)
        ambiguous = known & np.isnan(genetic)
        mismatch = known & ~np.isnan(genetic) & (genetic != reported)
        reasons[ambiguous] = [
            f"chrX F {fi:.3f} is ambiguous (between {step['chrx_female_max']:g} and {step['chrx_male_min']:g})"
            for fi in f[ambiguous]
        ]
        reasons[mismatch] = [
            f"chrX F {fi:.3f}: genetically {label[g]}, reported {label[r]} ({source})"
            for fi, g, r in zip(f[mismatch], genetic[mismatch], reported[mismatch])
        ]
        method_text = f"chrX F over {n_variants} variants vs {source}"
        metrics = {"chrx_f": pd.Series(f, index=ids.to_numpy())}
    reasons = reasons[reasons != ""]
    return _finish_step(_step_table(samples, reasons, method_text, metrics), out, "sex", settings)


# ---- PCs -------------------------------------------------------------------------------------


def _prune(prefix, keep_file: Path, tmp: Path, pca: dict, threads, memory_mb) -> Path:
    run_plink2(
        ["--bfile", prefix, "--keep", keep_file, "--autosome", "--maf", pca["min_maf"],
         "--indep-pairwise", pca["ld_window"], pca["ld_step"], pca["ld_r2"]],
        tmp / "prune", what="LD pruning", threads=threads, memory_mb=memory_mb,
    )  # fmt: skip
    pruned = tmp / "prune.prune.in"
    if not pruned.exists() or pruned.stat().st_size == 0:
        raise Plink2Error("LD pruning kept no variants: cannot compute PCs")
    return pruned


def compute_pcs(
    prefix: str | Path,
    samples: pd.DataFrame,
    n_pcs: int,
    pca: dict,
    tmp: Path,
    *,
    fit_samples: pd.DataFrame | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
) -> pd.DataFrame:
    """PCs (IID, PC1..PCn) of ``samples`` from LD-pruned autosomal variants (plink2 --pca).

    With ``fit_samples`` (e.g. unrelated samples) the PCs are fitted on those and every
    sample is projected onto them (plink2 --score with the allele weights), so relatives or
    outliers cannot pull a PC of their own.
    """
    fit = samples if fit_samples is None else fit_samples
    fit_file = write_id_file(fit, tmp / "fit.id")
    pruned = _prune(prefix, fit_file, tmp, pca, threads, memory_mb)
    mode = ["approx"] if pca["approx"] else []
    if fit_samples is None:
        run_plink2(["--bfile", prefix, "--keep", fit_file, "--extract", pruned, "--pca", n_pcs, *mode],
                   tmp / "pca", what="PCA", threads=threads, memory_mb=memory_mb)  # fmt: skip
        vec = pd.read_csv(tmp / "pca.eigenvec", sep="\t", dtype=str)
        vec.columns = [c.lstrip("#") for c in vec.columns]
        pcs = vec[["IID"]].copy()
        for k in range(1, n_pcs + 1):
            pcs[f"PC{k}"] = vec[f"PC{k}"].astype(float)
        return pcs
    run_plink2(["--bfile", prefix, "--keep", fit_file, "--extract", pruned, "--freq", "counts",
                "--pca", "allele-wts", n_pcs, *mode], tmp / "fit", what="PCA (fit)", threads=threads, memory_mb=memory_mb)  # fmt: skip
    all_file = write_id_file(samples, tmp / "all.id")
    run_plink2(["--bfile", prefix, "--keep", all_file, "--extract", pruned, "--read-freq", tmp / "fit.acount",
                "--score", tmp / "fit.eigenvec.allele", 2, 5, "header-read", "no-mean-imputation", "variance-standardize",
                "--score-col-nums", f"6-{5 + n_pcs}"], tmp / "project", what="PCA (projection)", threads=threads, memory_mb=memory_mb)  # fmt: skip
    score = pd.read_csv(tmp / "project.sscore", sep="\t", dtype={"IID": str})
    pcs = score[["IID"]].copy()
    for k in range(1, n_pcs + 1):
        pcs[f"PC{k}"] = score[f"PC{k}_AVG"].astype(float)
    return pcs


# ---- ancestry --------------------------------------------------------------------------------


def _reference_group(table: UkbTable, references: list[dict], ids: pd.Series) -> tuple[np.ndarray, str]:
    for ref in references:
        if table.has_field(ref["field"]):
            col = table.columns(ref["field"])[0]
            values = table.read_all([col], numeric=[col])[col].reindex(ids)
            group = values.isin([float(c) for c in ref["codes"]]).to_numpy()
            if group.sum() >= 2:
                return group, f"field {ref['field']} in {ref['codes']}"
            warn(f"{table.path}: reference group field {ref['field']} codes {ref['codes']} match {int(group.sum())} samples; trying the next")
    return np.ones(len(ids), dtype=bool), "all samples"


def robust_distance(pcs: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per sample, the largest |PC - reference median| / (1.4826 MAD of the reference)."""
    ref = pcs[reference]
    centre = np.nanmedian(ref, axis=0)
    scale = 1.4826 * np.nanmedian(np.abs(ref - centre), axis=0)
    fallback = np.nanstd(ref, axis=0)
    scale = np.where(scale > 0, scale, np.where(fallback > 0, fallback, np.inf))
    return np.nanmax(np.abs(pcs - centre) / scale, axis=1)


def ancestry_step(
    prefix: str | Path,
    table_path: str | Path,
    previous: str | Path,
    out: str | Path,
    *,
    settings: dict,
    relatedness_file: str | Path | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
    config_key: str = "qc.ancestry",
) -> pd.DataFrame:
    bed = check_genotypes(prefix)
    samples = _incoming(bed, previous)
    step = settings["qc"]["ancestry"]
    if not step["enabled"]:
        return _disabled(samples, out, "ancestry")
    table = open_table(table_path)
    ids = samples["IID"]
    n_pcs = step["n_pcs"]
    use_field = step["pcs"] == "field" or (step["pcs"] == "auto" and table.has_field(step["pc_field"]))
    if use_field:
        cols = pc_columns(table, step["pc_field"], n_pcs, f"{config_key}.pc_field")
        pcs = table.read_all(cols, numeric=cols).reindex(ids)[cols].to_numpy()
        source = f"field {step['pc_field']}"
    else:
        with workdir(Path(out)) as tmp:
            unrelated = _unrelated_for_pca(prefix, samples, settings, relatedness_file, tmp, threads, memory_mb)
            computed = compute_pcs(prefix, samples, n_pcs, settings["qc"]["pca"], tmp, fit_samples=unrelated,
                                   threads=threads, memory_mb=memory_mb)  # fmt: skip
        pcs = computed.set_index("IID").reindex(ids)[[f"PC{k}" for k in range(1, n_pcs + 1)]].to_numpy()
        source = f"plink2 PCA of {len(unrelated)} unrelated samples, projected"
    reference, ref_text = _reference_group(table, step["reference"], ids)
    no_pcs = np.isnan(pcs).all(axis=1)
    distance = robust_distance(pcs[~no_pcs], reference[~no_pcs])
    dist = pd.Series(np.nan, index=ids.to_numpy())
    dist[~no_pcs] = distance
    reasons = pd.Series("", index=ids.to_numpy(), dtype=object)
    far = dist > step["max_sd"]
    reasons[far.to_numpy()] = [f"{d:.1f} robust SDs from the reference group (max {step['max_sd']:g})" for d in dist[far]]
    reasons[no_pcs] = f"no PCs ({source})"
    metrics = {"distance_sd": dist}
    for k in range(n_pcs):
        metrics[f"PC{k + 1}"] = pd.Series(pcs[:, k], index=ids.to_numpy())
    method = f"{source}; first {n_pcs} PCs; reference: {ref_text}"
    return _finish_step(_step_table(samples, reasons[reasons != ""], method, metrics), out, "ancestry", settings)


def _unrelated_for_pca(prefix, samples, settings, relatedness_file, tmp, threads, memory_mb) -> pd.DataFrame:
    threshold = settings["qc"]["relatedness"]["max_kinship"]
    if relatedness_file:
        pairs = read_relatedness_file(relatedness_file)
        removed = choose_unrelated(pairs, samples["IID"], threshold, settings["qc"]["relatedness"]["seed"])
    else:
        message = king_warning(plink.read_bim(f"{prefix}.bim"), settings["qc"]["relatedness"]["min_variants"])
        if message:
            warn(f"ancestry (unrelated samples for the PCA): {message}")
        removed, _ = _king_cutoff(prefix, samples, threshold, tmp, threads, memory_mb)
    return samples[~samples["IID"].isin(removed)]


# ---- relatedness -----------------------------------------------------------------------------


def read_relatedness_file(path: str | Path) -> pd.DataFrame:
    """Relatedness pairs: UKB ukbA_rel_sP.dat (header with ID1 ID2 Kinship) or plink2 .kin0 (IID1 IID2 KINSHIP)."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "relatedness file not found")
    with open(path) as handle:
        header = handle.readline().split()
    # plink2 --make-king-table output (.kin0: #FID1 IID1 FID2 IID2 NSNP HETHET IBS0 KINSHIP)
    # is read as it is, so a genome-wide KING run can be passed without renaming columns
    if {"IID1", "IID2", "KINSHIP"} <= set(header):
        pairs = pd.read_csv(path, sep=r"\s+", dtype=str, usecols=["IID1", "IID2", "KINSHIP"])
        pairs.columns = ["ID1", "ID2", "Kinship"]
        return _kinship_pairs(pairs, path)
    required = ["ID1", "ID2", "Kinship"]
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(path, f"header lacks column(s) {', '.join(missing)} (expected 'ID1 ID2 HetHet IBS0 Kinship')", line=1)
    pairs = pd.read_csv(path, sep=r"\s+", dtype=str, usecols=required)
    return _kinship_pairs(pairs, path)


def _kinship_pairs(pairs: pd.DataFrame, path: Path) -> pd.DataFrame:
    kinship = pd.to_numeric(pairs["Kinship"], errors="coerce")
    bad = kinship.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(path, f"'{pairs['Kinship'].iloc[i]}' is not a number", line=i + 2, field="Kinship")
    return pd.DataFrame({"ID1": pairs["ID1"], "ID2": pairs["ID2"], "kinship": kinship})


def choose_unrelated(pairs: pd.DataFrame, samples: pd.Series, threshold: float, seed: int) -> set[str]:
    """Samples to remove so no pair with kinship > threshold remains among ``samples``.

    Greedy: drop the sample with most remaining relatives; ties (e.g. both members of a
    pair) are broken at random with ``seed`` — the paper picks one of each pair at random.
    """
    present = set(samples.astype(str))
    close = pairs[(pairs["kinship"] > threshold) & pairs["ID1"].isin(present) & pairs["ID2"].isin(present) & (pairs["ID1"] != pairs["ID2"])]
    neighbours: dict[str, set[str]] = {}
    for a, b in zip(close["ID1"], close["ID2"]):
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    rng = np.random.default_rng(seed)
    order = {node: rng.random() for node in sorted(neighbours)}
    heap = [(-len(nb), order[node], node) for node, nb in neighbours.items()]
    heapq.heapify(heap)
    removed: set[str] = set()
    while heap:
        degree, _, node = heapq.heappop(heap)
        if node in removed or -degree != len(neighbours[node]):
            if node not in removed and neighbours[node]:
                heapq.heappush(heap, (-len(neighbours[node]), order[node], node))
            continue
        if not neighbours[node]:
            continue
        removed.add(node)
        for other in neighbours.pop(node):
            neighbours[other].discard(node)
            heapq.heappush(heap, (-len(neighbours[other]), order[other], other))
        neighbours[node] = set()
    return removed


def _king_cutoff(prefix, samples, threshold, tmp: Path, threads, memory_mb) -> tuple[set[str], pd.DataFrame]:
    keep = write_id_file(samples, tmp / "king_keep.id")
    run_plink2(["--bfile", prefix, "--keep", keep, "--autosome", "--king-cutoff", threshold,
                "--make-king-table", "--king-table-filter", threshold],
               tmp / "king", what="KING kinship", threads=threads, memory_mb=memory_mb)  # fmt: skip
    removed = set(read_id_file(tmp / "king.king.cutoff.out.id")["IID"].astype(str)) if (tmp / "king.king.cutoff.out.id").exists() else set()
    table = pd.read_csv(tmp / "king.kin0", sep="\t", dtype={"IID1": str, "IID2": str})
    pairs = pd.DataFrame({"ID1": table["IID1"], "ID2": table["IID2"], "kinship": table["KINSHIP"].astype(float)})
    return removed, pairs


def relatedness_step(
    prefix: str | Path,
    previous: str | Path,
    out: str | Path,
    *,
    settings: dict,
    relatedness_file: str | Path | None = None,
    threads: int = 1,
    memory_mb: int | None = None,
) -> pd.DataFrame:
    bed = check_genotypes(prefix)
    samples = _incoming(bed, previous)
    step = settings["qc"]["relatedness"]
    if not step["enabled"]:
        return _disabled(samples, out, "relatedness")
    threshold = step["max_kinship"]
    if relatedness_file:
        pairs = read_relatedness_file(relatedness_file)
        removed = choose_unrelated(pairs, samples["IID"], threshold, step["seed"])
        method = f"relatedness file {Path(relatedness_file).name}, kinship > {threshold:g}"
    else:
        message = king_warning(bed.bim, step["min_variants"])
        if message:
            warn(f"relatedness: {message}")
        with workdir(Path(out)) as tmp:
            removed, pairs = _king_cutoff(prefix, samples, threshold, tmp, threads, memory_mb)
        method = f"plink2 --king-cutoff {threshold:g}"
    close = pairs[pairs["kinship"] > threshold]
    reasons = {}
    for a, b, k in zip(close["ID1"], close["ID2"], close["kinship"]):
        for x, y in ((a, b), (b, a)):
            if x in removed and y not in removed:
                reasons.setdefault(x, f"kinship {k:.3f} with {y} (> {threshold:g})")
    for x in removed:
        reasons.setdefault(x, f"kinship > {threshold:g}")
    return _finish_step(_step_table(samples, pd.Series(reasons, dtype=object), method), out, "relatedness", settings)


# ---- covariates ------------------------------------------------------------------------------


def write_covariates(
    table_path: str | Path,
    settings: dict,
    qc_fam: str | Path,
    input_prefix: str | Path,
    out: str | Path,
    *,
    threads: int = 1,
    memory_mb: int | None = None,
    config_key: str = "covariates",
) -> pd.DataFrame:
    """covariates.tsv for the samples of the QC'd .fam: named fields, then PC1..PCn.

    PCs come from the table (covariates.pc_field, UKB 22009) or, without it, from plink2 on
    LD-pruned autosomal variants of the input genotypes restricted to those samples.
    """
    cov = settings["covariates"]
    samples = read_fam_ids(qc_fam)
    # a PLINK covariate file has no PC field: PCs are computed
    table = None if cov.get("format") == "plink" else open_table(table_path)
    from_field = table is not None and (cov["pcs"] == "field" or (cov["pcs"] == "auto" and table.has_field(cov["pc_field"])))
    computed = None
    if cov["n_pcs"] and not from_field:
        with workdir(Path(out)) as tmp:
            computed = compute_pcs(input_prefix, samples, cov["n_pcs"], settings["qc"]["pca"], tmp,
                                   threads=threads, memory_mb=memory_mb)  # fmt: skip
    covariates = extract_covariates(table_path, cov, samples, computed, config_key)
    write_tsv(out, covariates)
    return covariates


# ---- summary ---------------------------------------------------------------------------------


def qc_summary(
    input_prefix: str | Path,
    steps: dict[str, str | Path],
    variants: str | Path,
    table_path: str | Path,
    traits: dict,
    out: str | Path,
    *,
    genotype_probability_note: str = "",
    config_key: str = "traits",
    settings: dict | None = None,
) -> pd.DataFrame:
    """One row per QC step: samples/variants removed and left, trait counts after the step,
    and a ``warning`` (empty if none): a step removing more than qc.warn_removed_fraction of
    its samples, KING from too few variants or one chromosome, an ancestry filter whose
    reference group is the whole cohort. ``settings``: {"qc": {"warn_removed_fraction",
    "relatedness": {"min_variants"}}} (defaults when absent)."""
    qc_settings = (settings or {}).get("qc", {})
    fraction = qc_settings.get("warn_removed_fraction", 0.2)
    min_variants = qc_settings.get("relatedness", {}).get("min_variants", 100_000)
    bed = check_genotypes(input_prefix)
    all_samples = _fam_samples(bed)
    with_traits = extract_traits(table_path, traits, all_samples, all_samples["IID"], config_key).set_index("IID")

    def counts(ids) -> dict:
        return trait_counts(with_traits.loc[list(ids)], traits)

    rows = [{"step": "input", "samples_removed": 0, "variants_removed": 0, "samples_left": bed.n_samples,
             "variants_left": bed.n_snps, **counts(all_samples["IID"]), "method": ""}]  # fmt: skip
    if genotype_probability_note:
        rows.append({**rows[-1], "step": "genotype_probability", "method": genotype_probability_note})
    kept = all_samples["IID"]
    for name in SAMPLE_STEPS:
        table = read_step(steps[name])
        kept = table.loc[table["removed"] == 0, "IID"]
        method = table["method"].iloc[0] if len(table) else ""
        warnings_ = [removed_fraction_warning(int(table["removed"].sum()), len(table), fraction)]
        if name == "relatedness" and method.startswith("plink2 --king-cutoff"):
            warnings_.append(king_warning(bed.bim, min_variants))
        if name == "ancestry" and method.endswith("reference: all samples"):
            warnings_.append("no reference group field of qc.ancestry.reference in the table: the whole cohort is the "
                             "reference, so only outliers of the cohort itself are removed")  # fmt: skip
        rows.append({"step": name, "samples_removed": int(table["removed"].sum()), "variants_removed": 0,
                     "samples_left": len(kept), "variants_left": bed.n_snps, **counts(kept),
                     "method": method, "warning": "; ".join(w for w in warnings_ if w)})  # fmt: skip
        for w in warnings_:
            if w:
                log.warning("%s: %s", name, w)
    for _, v in pd.read_csv(variants, sep="\t", keep_default_na=False).iterrows():
        rows.append({"step": v["step"], "samples_removed": 0, "variants_removed": int(v["variants_removed"]),
                     "samples_left": len(kept), "variants_left": int(v["variants_left"]), **counts(kept), "method": v["method"]})  # fmt: skip
    summary = pd.DataFrame(rows)
    summary["warning"] = summary["warning"].fillna("") if "warning" in summary else ""
    rest = [c for c in summary.columns if c not in SUMMARY_COLUMNS and c != "warning"]
    summary = summary[[*SUMMARY_COLUMNS, *rest, "warning"]]
    write_tsv(out, summary)
    return summary
