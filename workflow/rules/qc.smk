# snakemake --lint: 'Mixed rules and functions' is accepted here: the cohort helpers below
# serve only the QC and phenotype rules and read best beside them.
# QC of real cohorts (config key cohorts): sample QC steps, variant QC, the QC summary, and
# the synthetic UK Biobank-like cohort of config/ukb-example.yaml. Logic: liftgwas/cohort/.
# Each step gets only its own settings as params, so editing one threshold reruns that step
# and what follows it, nothing else.
import functools

from liftgwas.cohort import checks as cohort_checks
from liftgwas.cohort import settings as cohort_lib


@functools.lru_cache(maxsize=None)
def _cohort_settings(name):
    return cohort_lib.cohort_settings(STUDY.cohorts[name], name)


# Before any job runs: headers and ID columns of each cohort's inputs (ID overlap with the
# .fam, every needed column, recall.top_k), so a bad table fails the dry run, not hours of QC.
# Jobs re-reading this file (cluster jobs) skip it: the main process has checked; a check
# that passed is remembered until the files or settings change.
if workflow.is_main_process:
    for _name in STUDY.cohort_names():
        cohort_checks.check_cohort_cached(
            _cohort_settings(_name),
            _name,
            top_k=config["recall"]["top_k"],
            cache_dir=".snakemake/liftgwas-input-checks",
        )


def cohort_settings(wildcards):
    """A cohort's validated config with defaults filled in."""
    return _cohort_settings(wildcards.cohort)


def cohort_part(*keys):
    """Param function: {key: settings[key]} for dotted keys, e.g. "qc.sex", "chromosomes"."""

    def part(wildcards):
        settings = cohort_settings(wildcards)
        chosen = {}
        for key in keys:
            source, target = settings, chosen
            *parents, last = key.split(".")
            for p in parents:
                source = source[p]
                target = target.setdefault(p, {})
            if last in source:
                target[last] = source[last]
        return chosen

    return part


def cohort_genotype_prefix(wildcards):
    return cohort_lib.genotype_source(cohort_settings(wildcards), wildcards.cohort)[
        "prefix"
    ]


def cohort_genotypes(wildcards):
    """The cohort's input PLINK fileset (as given, or imported from BGEN)."""
    prefix = cohort_genotype_prefix(wildcards)
    return {"bed": f"{prefix}.bed", "bim": f"{prefix}.bim", "fam": f"{prefix}.fam"}


def cohort_table(wildcards):
    return cohort_lib.phenotype_table(cohort_settings(wildcards))["path"]


def cohort_covariate_table(wildcards):
    """The PLINK covariate file, when the covariates come from one."""
    path = cohort_lib.covariate_table(cohort_settings(wildcards))
    return [path] if path else []


def cohort_relatedness(wildcards):
    return cohort_settings(wildcards).get("relatedness")


def cohort_relatedness_inputs(wildcards):
    """Genotypes, plus the relatedness file when the cohort has one."""
    files = cohort_genotypes(wildcards)
    if cohort_relatedness(wildcards):
        files["relatedness"] = cohort_relatedness(wildcards)
    return files


def cohort_inputs(wildcards):
    return {**cohort_relatedness_inputs(wildcards), "table": cohort_table(wildcards)}


def qc_targets():
    """Every cohort's QC summary, traits and covariates (rule all, via extra_targets)."""
    return expand(
        [
            "results/{cohort}/qc/summary.tsv",
            "results/{cohort}/traits.tsv",
            "results/{cohort}/covariates.tsv",
        ],
        cohort=STUDY.cohort_names(),
    )


def qc_mem_mb(wildcards, input, attempt):
    """plink2 workspace (--memory) and job memory: 2 GB + 20 kB per sample (a rough
    allowance for KING and PCA on UK Biobank-sized cohorts), 1.5x more on each retry."""
    fam = input.get("fam") or input.get("qc_fam")
    samples = resource_model.n_samples(fam) if fam else 10_000
    return int((2000 + 0.02 * samples) * 1.5 ** (attempt - 1))


def genotype_probability_note(wildcards):
    settings = cohort_settings(wildcards)
    step = settings["qc"]["genotype_probability"]
    if cohort_lib.genotype_source(settings, wildcards.cohort)["bgen"] is None:
        return "not applicable: a PLINK .bed holds hard calls, no probabilities"
    if not step["enabled"]:
        return "disabled"
    return f"plink2 --import-dosage-certainty {step['min']:g} at BGEN import"


rule synthetic_ukb_cohort:
    output:
        multiext(
            "results/example-input/ukb_synth",
            ".bed",
            ".bim",
            ".fam",
            ".tsv",
            ".related.dat",
            ".truth.json",
        ),
    log:
        "logs/synthetic_ukb_cohort/ukb_synth.log",
    benchmark:
        "benchmarks/synthetic_ukb_cohort/ukb_synth.tsv"
    params:
        prefix=lambda w, output: output[0][: -len(".bed")],
        spec={"seed": 2024},
    script:
        "../scripts/synthetic_cohort.py"


def bgen_inputs(wildcards):
    genotypes = cohort_settings(wildcards)["genotypes"]
    return {k: genotypes[k] for k in ("bgen", "sample", "extract") if k in genotypes}


rule qc_import_genotypes:
    input:
        unpack(bgen_inputs),
    output:
        multiext("results/{cohort}/qc/imported", ".bed", ".bim", ".fam"),
    log:
        "logs/qc_import_genotypes/{cohort}.log",
    benchmark:
        "benchmarks/qc_import_genotypes/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        out_prefix=lambda w, output: output[0][: -len(".bed")],
        settings=cohort_part("qc.genotype_probability", "chromosomes"),
        ref_allele=lambda w: cohort_settings(w)["genotypes"].get(
            "ref_allele", "ref-first"
        ),
    script:
        "../scripts/qc_import.py"


rule qc_sample_missingness:
    input:
        unpack(cohort_genotypes),
        table=cohort_table,
    output:
        "results/{cohort}/qc/sample_missingness.tsv",
    log:
        "logs/qc_sample_missingness/{cohort}.log",
    benchmark:
        "benchmarks/qc_sample_missingness/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=cohort_genotype_prefix,
        settings=cohort_part("qc.sample_missingness", "qc.warn_removed_fraction"),
        config_key=lambda w: f"cohorts.{w.cohort}.qc.sample_missingness",
    script:
        "../scripts/qc_sample_missingness.py"


rule qc_sex:
    input:
        unpack(cohort_genotypes),
        table=cohort_table,
        previous="results/{cohort}/qc/sample_missingness.tsv",
    output:
        "results/{cohort}/qc/sex.tsv",
    log:
        "logs/qc_sex/{cohort}.log",
    benchmark:
        "benchmarks/qc_sex/{cohort}.tsv"
    params:
        prefix=cohort_genotype_prefix,
        settings=cohort_part("qc.sex", "qc.warn_removed_fraction"),
        config_key=lambda w: f"cohorts.{w.cohort}.qc.sex",
    script:
        "../scripts/qc_sex.py"


rule qc_ancestry:
    input:
        unpack(cohort_inputs),
        previous="results/{cohort}/qc/sex.tsv",
    output:
        "results/{cohort}/qc/ancestry.tsv",
    log:
        "logs/qc_ancestry/{cohort}.log",
    benchmark:
        "benchmarks/qc_ancestry/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=cohort_genotype_prefix,
        # relatedness settings choose the unrelated samples the PCs are fitted on
        settings=cohort_part(
            "qc.ancestry", "qc.relatedness", "qc.pca", "qc.warn_removed_fraction"
        ),
        relatedness_file=cohort_relatedness,
        config_key=lambda w: f"cohorts.{w.cohort}.qc.ancestry",
    script:
        "../scripts/qc_ancestry.py"


rule qc_relatedness:
    input:
        unpack(cohort_relatedness_inputs),
        previous="results/{cohort}/qc/ancestry.tsv",
    output:
        "results/{cohort}/qc/relatedness.tsv",
    log:
        "logs/qc_relatedness/{cohort}.log",
    benchmark:
        "benchmarks/qc_relatedness/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=cohort_genotype_prefix,
        settings=cohort_part("qc.relatedness", "qc.warn_removed_fraction"),
        relatedness_file=cohort_relatedness,
    script:
        "../scripts/qc_relatedness.py"


rule qc_variants:
    input:
        unpack(cohort_genotypes),
        samples="results/{cohort}/qc/relatedness.tsv",
    output:
        multiext("results/{cohort}/genotypes/plink", ".bed", ".bim", ".fam"),
        variants="results/{cohort}/qc/variants.tsv",
        removed="results/{cohort}/qc/variants_removed.tsv",
    log:
        "logs/qc_variants/{cohort}.log",
    benchmark:
        "benchmarks/qc_variants/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=cohort_genotype_prefix,
        out_prefix=lambda w, output: output[0][: -len(".bed")],
        settings=cohort_part("qc.variant_call_rate", "qc.maf", "chromosomes"),
    script:
        "../scripts/qc_variants.py"


rule qc_summary:
    input:
        unpack(cohort_genotypes),
        table=cohort_table,
        sample_missingness="results/{cohort}/qc/sample_missingness.tsv",
        sex="results/{cohort}/qc/sex.tsv",
        ancestry="results/{cohort}/qc/ancestry.tsv",
        relatedness="results/{cohort}/qc/relatedness.tsv",
        variants="results/{cohort}/qc/variants.tsv",
    output:
        report(
            "results/{cohort}/qc/summary.tsv",
            caption="../report/qc_summary.rst",
            category="QC",
            subcategory="{cohort}",
        ),
    log:
        "logs/qc_summary/{cohort}.log",
    benchmark:
        "benchmarks/qc_summary/{cohort}.tsv"
    params:
        prefix=cohort_genotype_prefix,
        traits=lambda w: cohort_settings(w)["traits"],
        genotype_probability_note=genotype_probability_note,
        config_key=lambda w: f"cohorts.{w.cohort}.traits",
        settings=cohort_part("qc.warn_removed_fraction", "qc.relatedness.min_variants"),
    script:
        "../scripts/qc_summary.py"
