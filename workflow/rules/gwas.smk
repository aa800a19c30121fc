# Baseline GWAS: per-SNP logistic/linear regression with covariates, written as GWAS-SSF
# (data file + -meta.yaml, liftgwas.sumstats).


rule gwas:
    input:
        unpack(genotype_input),
        traits="results/{dataset}/traits.tsv",
        covariates="results/{dataset}/covariates.tsv",
    output:
        sumstats="results/{dataset}/{trait}/gwas/sumstats.tsv.gz",
        meta="results/{dataset}/{trait}/gwas/sumstats.tsv.gz-meta.yaml",
    log:
        "logs/gwas/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/gwas/{dataset}/{trait}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.gwas_mem_mb(
            input.fam, attempt, input.bim
        ),
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        genome_assembly=config["gwas"].get("genome_assembly", "NR"),
    script:
        "../scripts/gwas.py"


# Classical baselines beside the additive GWAS, ranked by the same recall code: the 2-df
# genotypic GWAS (dosage + heterozygote, plink2) and the exhaustive pairwise scan
# (plink 1.9). The scan is M^2/2 tests: gwas.epistasis.run_on says on which datasets it is
# planned (default: simulations only) and a dataset above gwas.epistasis.max_snps
# variants (default 10,000: 50 M pairs, a few CPU minutes) is not scanned, its tables say so.


def epistasis_planned(dataset):
    run_on = config["gwas"]["epistasis"]["run_on"]
    return run_on == "all" or (
        run_on == "simulations" and STUDY.datasets[dataset].simulated
    )


def baseline_outputs(dataset, trait):
    """The baseline files of one dataset and trait that this config asks for."""
    files = {}
    if config["gwas"]["genotypic"]:
        files["genotypic"] = f"results/{dataset}/{trait}/gwas_genotypic/sumstats.tsv.gz"
    if epistasis_planned(dataset):
        files["epistasis_snps"] = f"results/{dataset}/{trait}/epistasis/snps.tsv.gz"
        files["epistasis_pairs"] = f"results/{dataset}/{trait}/epistasis/pairs.tsv.gz"
    return files


rule gwas_genotypic:
    input:
        unpack(genotype_input),
        traits="results/{dataset}/traits.tsv",
        covariates="results/{dataset}/covariates.tsv",
    output:
        sumstats="results/{dataset}/{trait}/gwas_genotypic/sumstats.tsv.gz",
    log:
        "logs/gwas_genotypic/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/gwas_genotypic/{dataset}/{trait}.tsv"
    threads: 2
    resources:
        # plink2's --glm streams the variants: its workspace hardly grows with N or M,
        # but plink2 refuses less than 640 MB
        mem_mb=2000,
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
    script:
        "../scripts/gwas_genotypic.py"


rule epistasis_scan:
    input:
        unpack(genotype_input),
        traits="results/{dataset}/traits.tsv",
        covariates="results/{dataset}/covariates.tsv",
    output:
        snps="results/{dataset}/{trait}/epistasis/snps.tsv.gz",
        pairs="results/{dataset}/{trait}/epistasis/pairs.tsv.gz",
    log:
        "logs/epistasis_scan/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/epistasis_scan/{dataset}/{trait}.tsv"
    threads: 2
    resources:
        mem_mb=2000,
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        max_snps=config["gwas"]["epistasis"]["max_snps"],
        top_pairs=config["gwas"]["epistasis"]["top_pairs"],
    script:
        "../scripts/epistasis_scan.py"
