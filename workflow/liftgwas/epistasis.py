"""Exhaustive pairwise SNP x SNP scan with PLINK 1.9: the classical test for epistasis.

Binary traits: ``--fast-epistasis boost`` (Wan et al. 2010, BOOST: a likelihood-ratio
test of the full 3x3 genotype table against the main-effects log-linear model, 4 df;
pairs are screened with the Kirkwood-superposition approximation and the exact
statistic is computed for those passing it). Quantitative traits: ``--epistasis``,
linear regression y ~ b0 + b1 gA + b2 gB + b3 gA gB per pair, 1-df test of b3.

Covariates, and what PLINK 1.9 allows: neither ``--epistasis`` nor ``--fast-epistasis``
reads ``--covar`` (PLINK 1.9 answers "Ignoring --covar since no commands reference the
covariates"), so the scan cannot adjust for PCs, age or sex the way the GWAS does. For
a quantitative trait we therefore scan the trait residualised on the covariates
(least squares on [1, covariates] over the samples used): that removes the covariates'
effect on the trait but not the genotypes' correlation with them (a full adjustment
would residualise every product term too), so population structure can still inflate
pair statistics. For a binary trait there is no residual scale: BOOST runs unadjusted.
The samples are those of the additive GWAS (`gwas.load_samples`).

Outputs used downstream:

* the SNP ranking: each SNP's best pair statistic over all its pairs, read from PLINK's
  ``.summary`` file (BEST_CHISQ, with the partner SNP), which covers every pair tested
  whatever the reporting threshold (for BOOST of unreported pairs it is the screening
  approximation of the statistic);
* the pair list: the reported pairs (p <= ``--epi1``) ranked by statistic, top
  ``top_pairs`` kept, for the pair-recall comparison. ``--epi1`` is set so that about
  ``2 * top_pairs`` pairs pass under the null (never below PLINK's own default), so the
  list is filled without writing M^2/2 lines.

The scan is M^2/2 tests: the workflow runs it only when a dataset has at most
``gwas.epistasis.max_snps`` variants (see workflow/rules/gwas.smk).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import write_tsv
from .cohort.plink2 import find_executable, run_plink_tool, workdir
from .errors import InputError
from .gwas_genotypic import PHENO_NAME, write_plink_inputs
from .plink import Bed

log = logging.getLogger(__name__)

SNP_COLUMNS = ["chromosome", "base_pair_location", "variant_id", "best_statistic", "best_partner", "n_tests",
               "status"]
PAIR_COLUMNS = ["snp1", "snp2", "chromosome1", "chromosome2", "statistic", "p_value", "beta_interaction"]
# PLINK's own --epi1 defaults: the pair list never holds less than what PLINK would report
PLINK_EPI1_DEFAULT = {"binary": 5e-6, "quantitative": 1e-4}


class Plink19Error(RuntimeError):
    pass


def plink19_executable() -> str:
    return find_executable("LIFTGWAS_PLINK19", "plink1.9", "plink 1.9", "plink1.9", Plink19Error)


def _split_line(path: Path, line_no: int, line: str, n_fields: int) -> list[str]:
    fields = line.split()
    if len(fields) != n_fields:
        raise InputError(path, f"expected {n_fields} whitespace-separated fields, found {len(fields)}", line=line_no)
    return fields


def _number(path: Path, line_no: int, text: str, column: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise InputError(path, f"'{text}' is not a number", line=line_no, field=column) from None


def _read_table(path: Path, expected_header: list[list[str]], numeric: set[str]) -> pd.DataFrame:
    """A whitespace-separated PLINK report whose header is one of ``expected_header``."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "PLINK epistasis report not found")
    with open(path) as handle:
        header_line = handle.readline()
        header = header_line.split()
        if header not in expected_header:
            raise InputError(path, f"unexpected header {' '.join(header) or '(empty file)'}; expected "
                             + " or ".join(" ".join(h) for h in expected_header), line=1)
        rows = []
        for line_no, line in enumerate(handle, start=2):
            if not line.strip():
                continue
            fields = _split_line(path, line_no, line, len(header))
            rows.append([_number(path, line_no, v, c) if c in numeric else v for c, v in zip(header, fields)])
    return pd.DataFrame(rows, columns=header)


def read_pairs(path: str | Path) -> pd.DataFrame:
    """A ``.epi.cc`` / ``.epi.qt`` report (``--epistasis`` or ``--fast-epistasis boost``):
    one row per reported pair, ranked by statistic (largest first; ties in file order)."""
    table = _read_table(
        Path(path),
        [["CHR1", "SNP1", "CHR2", "SNP2", "BETA_INT", "STAT", "P"],  # --epistasis (linear)
         ["CHR1", "SNP1", "CHR2", "SNP2", "OR_INT", "STAT", "P"],    # --epistasis (logistic)
         ["CHR1", "SNP1", "CHR2", "SNP2", "STAT", "DF", "P"],       # --fast-epistasis boost
         ["CHR1", "SNP1", "CHR2", "SNP2", "STAT", "P"]],            # --fast-epistasis (default test)
        numeric={"BETA_INT", "OR_INT", "STAT", "DF", "P"},
    )
    interaction = table["BETA_INT"] if "BETA_INT" in table else table.get("OR_INT", pd.Series(np.nan, index=table.index))
    pairs = pd.DataFrame({
        "snp1": table["SNP1"].astype(str), "snp2": table["SNP2"].astype(str),
        "chromosome1": table["CHR1"].astype(str), "chromosome2": table["CHR2"].astype(str),
        "statistic": table["STAT"].astype(float), "p_value": table["P"].astype(float),
        "beta_interaction": interaction.astype(float),
    }, columns=PAIR_COLUMNS)
    return pairs.sort_values("statistic", ascending=False, kind="stable").reset_index(drop=True)


def read_summary(path: str | Path) -> pd.DataFrame:
    """A ``.epi.*.summary`` report: per SNP its best pair statistic and partner."""
    table = _read_table(
        Path(path),
        [["CHR", "SNP", "N_SIG", "N_TOT", "PROP", "BEST_CHISQ", "BEST_CHR", "BEST_SNP"]],
        numeric={"N_SIG", "N_TOT", "PROP", "BEST_CHISQ"},
    )
    dup = table["SNP"].duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(path, f"SNP '{table['SNP'].iloc[i]}' listed twice", line=i + 2, field="SNP")
    return pd.DataFrame({"variant_id": table["SNP"].astype(str), "best_statistic": table["BEST_CHISQ"],
                         "best_partner": table["BEST_SNP"].astype(str), "n_tests": table["N_TOT"].astype(np.int64)})


def snp_ranking(bim: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """Every .bim SNP with its best pair statistic (NaN, status 'not_tested', for SNPs PLINK
    left out, e.g. monomorphic ones)."""
    table = pd.DataFrame({"chromosome": bim["chrom"].astype(str).to_numpy(),
                          "base_pair_location": bim["pos"].to_numpy(),
                          "variant_id": bim["snp"].astype(str).to_numpy()})
    table = table.merge(summary, on="variant_id", how="left", validate="one_to_one")
    table["n_tests"] = table["n_tests"].astype("Int64")
    table["status"] = np.where(table["best_statistic"].notna(), "ok", "not_tested")
    return table[SNP_COLUMNS]


def skipped_ranking(bim: pd.DataFrame, reason: str) -> pd.DataFrame:
    """The SNP table of a scan that did not run (every statistic NA, ``status`` = reason)."""
    table = snp_ranking(bim, pd.DataFrame(columns=["variant_id", "best_statistic", "best_partner", "n_tests"]))
    table["status"] = reason
    return table


def epi1_threshold(n_snps: int, top_pairs: int, kind: str) -> float:
    """The --epi1 reporting threshold: about 2 * top_pairs null pairs, at least PLINK's default."""
    n_pairs = max(n_snps * (n_snps - 1) // 2, 1)
    return float(min(1.0, max(PLINK_EPI1_DEFAULT[kind], 2.0 * top_pairs / n_pairs)))


def residualise(y: np.ndarray, covariates: np.ndarray) -> np.ndarray:
    """y minus its least-squares fit on [1, covariates]."""
    design = np.column_stack([np.ones(len(y)), covariates])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    return y - design @ coefficients


def run_plink19(args: list[str], out: Path, *, what: str, threads: int = 1, memory_mb: int | None = None) -> str:
    return run_plink_tool(plink19_executable(), "plink 1.9", Plink19Error, args, out,
                          what=what, threads=threads, memory_mb=memory_mb)


def run_scan(
    bed_prefix, traits_tsv, covariates_tsv, trait: str, kind: str, snps_out, pairs_out, *,
    top_pairs: int = 1000, max_snps: int | None = None, threads: int = 1, memory_mb: int | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run the pairwise scan of ``trait``; write the SNP ranking and the top pairs.

    With more than ``max_snps`` variants the scan is not run and both tables say so
    (status ``skipped_max_snps``), so a rule that asked for it still completes.
    """
    bed = Bed(bed_prefix)
    if max_snps is not None and bed.n_snps > max_snps:
        log.warning("%d variants > gwas.epistasis.max_snps = %d: pairwise scan skipped", bed.n_snps, max_snps)
        write_tsv(snps_out, skipped_ranking(bed.bim, "skipped_max_snps"))
        write_tsv(pairs_out, pd.DataFrame(columns=PAIR_COLUMNS))
        return skipped_ranking(bed.bim, "skipped_max_snps"), pd.DataFrame(columns=PAIR_COLUMNS)
    with workdir(Path(snps_out)) as tmp:  # removes what a killed scan left
        pheno, covar, n, names = write_plink_inputs(bed, traits_tsv, covariates_tsv, trait, kind, tmp)
        if kind == "quantitative" and covar is not None:
            table = pd.read_csv(pheno, sep="\t", dtype={"FID": str, "IID": str})
            cov = pd.read_csv(covar, sep="\t", dtype={"FID": str, "IID": str})[names].to_numpy(float)
            table[PHENO_NAME] = residualise(table[PHENO_NAME].to_numpy(float), cov)
            table.to_csv(pheno, sep="\t", index=False, float_format="%.17g")
        epi1 = epi1_threshold(bed.n_snps, top_pairs, kind)
        test = ["--fast-epistasis", "boost"] if kind == "binary" else ["--epistasis"]
        log.info("pairwise scan of %s trait '%s': %d samples, %d SNPs (%d pairs), %s; covariates %s; --epi1 %.3g",
                 kind, trait, n, bed.n_snps, bed.n_snps * (bed.n_snps - 1) // 2, " ".join(test),
                 ("residualised out of the trait: " + ", ".join(names)) if kind == "quantitative" and names
                 else "not adjusted for (PLINK 1.9 epistasis has no covariates)", epi1)
        # --allow-no-sex: samples of unknown sex keep their phenotype (PLINK 1.9 would drop them)
        args = ["--bfile", str(bed.prefix), "--pheno", str(pheno), "--pheno-name", PHENO_NAME, "--allow-no-sex",
                "--allow-extra-chr", *test, "--epi1", f"{epi1:.6g}"]
        run_plink19(args, tmp / "scan", what=" ".join(test), threads=threads, memory_mb=memory_mb)
        suffix = "epi.cc" if kind == "binary" else "epi.qt"
        pairs = read_pairs(tmp / f"scan.{suffix}")
        summary = read_summary(tmp / f"scan.{suffix}.summary")
    ranking = snp_ranking(bed.bim, summary)
    pairs = pairs.head(top_pairs)
    log.info("%d pairs reported, top %d kept; best pair %s", len(pairs), top_pairs,
             f"{pairs['snp1'].iloc[0]} x {pairs['snp2'].iloc[0]} (statistic {pairs['statistic'].iloc[0]:.4g})"
             if len(pairs) else "none")
    write_tsv(snps_out, ranking, float_format="%.6g")
    write_tsv(pairs_out, pairs, float_format="%.6g")
    return ranking, pairs


def read_snp_ranking(path: str | Path) -> pd.DataFrame:
    """The scan's SNP table as written by `run_scan` (for the recall and report rules)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype={"variant_id": str, "chromosome": str, "best_partner": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot parse the pairwise-scan SNP table: {error}") from None
    missing = [c for c in SNP_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
    return table


def read_pair_list(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype={"snp1": str, "snp2": str})
    except pd.errors.EmptyDataError:
        return pd.DataFrame(columns=PAIR_COLUMNS)
    except pd.errors.ParserError as error:
        raise InputError(path, f"cannot parse the pairwise-scan pair list: {error}") from None
    missing = [c for c in ("snp1", "snp2", "statistic") if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
    return table
