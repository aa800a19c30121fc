# Baseline GWAS: per-SNP logistic/linear regression with covariates.


rule gwas:
    input:
        unpack(genotype_input),
        traits="results/{dataset}/traits.tsv",
        covariates="results/{dataset}/covariates.tsv",
    output:
        sumstats="results/{dataset}/{trait}/gwas/sumstats.tsv.gz",
    log:
        "logs/gwas/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/gwas/{dataset}/{trait}.tsv"
    conda:
        "../../envs/liftgwas.yaml"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.gwas_mem_mb(
            input.fam, attempt, input.bim
        ),
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
    script:
        "../scripts/gwas.py"
