# Traits and covariates of real cohorts, for the samples passing QC (liftgwas/cohort/phenotypes.py).
# Trait definitions are rules in the config (cohorts.<name>.traits), so adding a trait needs
# no code; helpers (cohort_settings, cohort_table ...) come from qc.smk.


rule phenotypes:
    input:
        table=cohort_table,
        qc_fam="results/{cohort}/genotypes/plink.fam",
        input_fam=lambda w: cohort_genotypes(w)["fam"],
    output:
        "results/{cohort}/traits.tsv",
    log:
        "logs/phenotypes/{cohort}.log",
    benchmark:
        "benchmarks/phenotypes/{cohort}.tsv"
    params:
        traits=lambda w: cohort_settings(w)["traits"],
        config_key=lambda w: f"cohorts.{w.cohort}.traits",
    script:
        "../scripts/phenotypes.py"


rule covariates:
    input:
        unpack(cohort_genotypes),
        table=cohort_table,
        covariate_table=cohort_covariate_table,
        qc_fam="results/{cohort}/genotypes/plink.fam",
    output:
        "results/{cohort}/covariates.tsv",
    log:
        "logs/covariates/{cohort}.log",
    benchmark:
        "benchmarks/covariates/{cohort}.tsv"
    threads: 2
    resources:
        mem_mb=qc_mem_mb,
    params:
        prefix=cohort_genotype_prefix,
        settings=cohort_part("covariates", "qc.pca"),
        config_key=lambda w: f"cohorts.{w.cohort}.covariates",
    script:
        "../scripts/covariates.py"
