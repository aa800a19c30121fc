"""The 2-df genotypic GWAS: per SNP, the trait on [1, covariates, g, het], tested jointly.

``g`` is the A1 dosage (0/1/2) and ``het`` the heterozygote indicator [g == 1]; the
2-df test of (beta_g, beta_het) = 0 detects additive, dominant and recessive effects
alike (a recessive effect is g/2 - het/2 plus a constant on this basis), where the
additive GWAS sees only the part of a non-additive effect that projects on g.

Why plink2 ``--glm genotypic`` and not a ``genotypic`` model inside liftgwas.gwas: plink2's
genotypic mode is exactly this model (its DOMDEV column is the heterozygote indicator),
it runs the same covariate-adjusted linear/logistic regression as our additive GWAS, and
it is the tool a geneticist would run; on the unit-test cohort it matches statsmodels
(OLS F test and logistic Wald chi-square of both terms) to 1e-4 in -log10 p. A batched
2-df IRLS inside gwas.py would duplicate ~300 lines of numerics that plink2 already
validates, in a file two other changes are editing. plink2 reports the additive beta
(ADD), the dominance deviation (DOMDEV) and the joint test (GENO_2DF) per SNP; the
summary statistics keep ADD's beta/SE and GENO_2DF's p-value. For logistic fits plink2
2.00a3.5 reports the joint Wald statistic W as F = W/2 with a p-value from F(2, n), which
is not the Wald test's chi-square(2) reference (at n = 700 it understates -log10 p = 9.4
as 9.1); we recompute that p-value from chi-square(2) of W = 2F, the asymptotic Wald test
statsmodels reports, so the 2-df GWAS of a binary trait is the textbook test.

Samples and covariates are those of the additive GWAS (`gwas.load_samples`: matched by
IID, complete trait and covariates, constant covariates dropped), written to plink2
phenotype/covariate files. Logistic fits use plink2's default Firth fallback, so SNPs
whose plain logistic fit separates (rare homozygotes make that common for the 2-df model)
still get a p-value; plink2's ERRCODE is kept in ``status``.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from .atomic import write_tsv
from .errors import InputError
from .gwas import SUMSTATS_COLUMNS as ADDITIVE_COLUMNS, format_p_values, load_samples
from .plink import Bed
from .cohort.plink2 import run_plink2, workdir

log = logging.getLogger(__name__)

# the additive GWAS's association table with the dominance deviation after its beta / SE
_AFTER_SE = ADDITIVE_COLUMNS.index("standard_error") + 1
COLUMNS = [*ADDITIVE_COLUMNS[:_AFTER_SE], "beta_dominance_deviation", "standard_error_dominance_deviation",
           *ADDITIVE_COLUMNS[_AFTER_SE:]]
PHENO_NAME = "trait"


def write_plink_inputs(
    bed: Bed, traits_tsv, covariates_tsv, trait: str, kind: str, directory: Path
) -> tuple[Path, Path | None, int, list[str]]:
    """PLINK phenotype (and covariate) files of the samples the additive GWAS uses.

    Binary traits are coded 1 = control, 2 = case (PLINK's default, read the same by
    plink 1.9 and plink2); samples left out of the files are missing to PLINK. Returns
    (pheno path, covariate path or None without covariates, samples, covariate names).
    """
    samples, y, cov, names = load_samples(bed, traits_tsv, covariates_tsv, trait, kind)
    ids = bed.fam.iloc[samples][["fid", "iid"]].to_numpy()
    pheno = pd.DataFrame({"FID": ids[:, 0], "IID": ids[:, 1],
                          PHENO_NAME: (y + 1).astype(int) if kind == "binary" else y})
    pheno_path = directory / "pheno.tsv"
    pheno.to_csv(pheno_path, sep="\t", index=False, float_format="%.17g")
    covar_path = None
    if names:
        covar = pd.DataFrame(cov, columns=names)
        covar.insert(0, "IID", ids[:, 1])
        covar.insert(0, "FID", ids[:, 0])
        covar_path = directory / "covar.tsv"
        covar.to_csv(covar_path, sep="\t", index=False, float_format="%.17g")
    return pheno_path, covar_path, len(samples), names


def read_glm_genotypic(path: str | Path, kind: str = "quantitative") -> pd.DataFrame:
    """plink2 ``--glm genotypic hide-covar log10`` output -> one row per SNP (ADD and
    DOMDEV betas, the GENO_2DF -log10 p); parse errors name the file and line."""
    path = Path(path)
    try:
        table = pd.read_csv(path, sep="\t", dtype={"#CHROM": str, "ID": str}, na_values=["NA", "."],
                            keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(path, f"cannot parse plink2 --glm output: {error}") from None
    # the statistic column is T_OR_F_STAT for linear and Z_OR_F_STAT for logistic fits
    table = table.rename(columns={"T_OR_F_STAT": "STAT", "Z_OR_F_STAT": "STAT"})
    required = ["#CHROM", "POS", "ID", "A1", "A1_FREQ", "TEST", "OBS_CT", "BETA", "SE", "STAT", "LOG10_P", "ERRCODE"]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise InputError(path, f"missing column(s) {', '.join(missing)}", line=1)
    tests = {"ADD", "DOMDEV", "GENO_2DF"}
    bad = ~table["TEST"].isin(tests)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"unexpected TEST '{table['TEST'].iloc[i]}' (expected ADD, DOMDEV, GENO_2DF; "
                         "was the covariate output hidden?)", line=i + 2, field="TEST")
    for column in ("POS", "BETA", "SE", "STAT", "LOG10_P", "A1_FREQ", "OBS_CT"):
        values = pd.to_numeric(table[column], errors="coerce")
        bad = values.isna() & table[column].notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise InputError(path, f"'{table[column].iloc[i]}' is not a number", line=i + 2, field=column)
        table[column] = values
    wide = {test: block.set_index("ID") for test, block in table.groupby("TEST")}
    for test in tests:
        if test not in wide:
            raise InputError(path, f"no {test} rows: not a --glm genotypic output")
    add, dom, joint = wide["ADD"], wide["DOMDEV"], wide["GENO_2DF"]
    order = add.index
    if not (set(dom.index) == set(joint.index) == set(order)):
        raise InputError(path, "the ADD, DOMDEV and GENO_2DF rows do not list the same variants")
    errcode = joint["ERRCODE"].reindex(order).fillna(".").astype(str)
    neg_log10_p = joint["LOG10_P"].reindex(order).to_numpy(dtype=float)
    if kind == "binary":  # W = 2F against chi-square(2) (see the module docstring)
        neg_log10_p = -stats.chi2.logsf(2.0 * joint["STAT"].reindex(order).to_numpy(dtype=float), 2) / np.log(10)
    return pd.DataFrame({
        "chromosome": add["#CHROM"].to_numpy(),
        "base_pair_location": add["POS"].astype(np.int64).to_numpy(),
        "effect_allele": add["A1"].to_numpy(),
        "beta": add["BETA"].to_numpy(),
        "standard_error": add["SE"].to_numpy(),
        "beta_dominance_deviation": dom["BETA"].reindex(order).to_numpy(),
        "standard_error_dominance_deviation": dom["SE"].reindex(order).to_numpy(),
        "effect_allele_frequency": add["A1_FREQ"].to_numpy(),
        "neg_log10_p_value": neg_log10_p,
        "n": joint["OBS_CT"].reindex(order).to_numpy(),
        "variant_id": order.astype(str).to_numpy(),
        "status": np.where(errcode == ".", "ok", errcode.str.lower()),
    })


def run_genotypic_gwas(
    bed_prefix, traits_tsv, covariates_tsv, trait: str, kind: str, out_path, *, threads: int = 1,
    memory_mb: int | None = None,
) -> pd.DataFrame:
    """Run the 2-df genotypic GWAS of ``trait`` with plink2 and write its summary statistics
    (the additive GWAS's columns plus the dominance deviation) to ``out_path``."""
    bed = Bed(bed_prefix)
    with workdir(Path(out_path)) as tmp:  # removes what a killed run left
        pheno, covar, n, names = write_plink_inputs(bed, traits_tsv, covariates_tsv, trait, kind, tmp)
        log.info("2-df genotypic GWAS of %s trait '%s': %d samples, %d SNPs, covariates: %s",
                 kind, trait, n, bed.n_snps, ", ".join(names) or "none")
        args = ["--bfile", str(bed.prefix), "--pheno", str(pheno), "--pheno-name", PHENO_NAME]
        modifiers = ["genotypic", "hide-covar", "omit-ref", "log10"]
        if covar is not None:
            # an affine rescaling of covariates leaves the SNP terms' estimates and tests unchanged;
            # plink2 refuses covariates of very different scales without it
            args += ["--covar", str(covar), "--covar-variance-standardize"]
        else:
            modifiers.append("allow-no-covars")
        args += ["--glm", *modifiers, "cols=chrom,pos,ref,alt,a1freq,test,nobs,beta,se,tz,p,err"]
        run_plink2(args, tmp / "glm", what="--glm genotypic", threads=threads, memory_mb=memory_mb)
        outputs = sorted(tmp.glob(f"glm.{PHENO_NAME}.glm.*"))
        if len(outputs) != 1:
            raise RuntimeError(f"plink2 --glm wrote {[p.name for p in outputs]}, expected one result file")
        table = read_glm_genotypic(outputs[0], kind)
    bim = bed.bim.set_index(bed.bim["snp"].astype(str))
    table = table.set_index("variant_id").reindex(bim.index)  # plink2 skips nothing, but keep .bim order
    table["variant_id"] = bim.index.to_numpy()
    table["chromosome"] = bim["chrom"].to_numpy()
    table["base_pair_location"] = bim["pos"].to_numpy()
    table["effect_allele"] = bim["a1"].to_numpy()
    table["other_allele"] = bim["a2"].to_numpy()
    table["status"] = table["status"].fillna("not_tested")
    table["p_value"] = format_p_values(table["neg_log10_p_value"].to_numpy(dtype=float))
    table["n"] = table["n"].astype("Int64")
    sumstats = table.reset_index(drop=True)[COLUMNS]
    log.info("status counts: %s", sumstats["status"].value_counts().to_dict())
    write_tsv(out_path, sumstats, float_format="%.6g")
    return sumstats
