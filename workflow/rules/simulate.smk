# Simulated studies: PLINK genotypes, traits, truth, covariates. Engines: Hao, Song & Storey
# (2016) or msprime + stdpopsim (coalescent, real LD); see liftgwas/simulate/.


rule simulate_dataset:
    output:
        bed="results/{sim_dataset}/genotypes/plink.bed",
        bim="results/{sim_dataset}/genotypes/plink.bim",
        fam="results/{sim_dataset}/genotypes/plink.fam",
        traits="results/{sim_dataset}/traits.tsv",
        truth="results/{sim_dataset}/truth.tsv",
    log:
        "logs/simulate_dataset/{sim_dataset}.log",
    benchmark:
        "benchmarks/simulate_dataset/{sim_dataset}.tsv"
    resources:
        mem_mb=lambda w, attempt: resource_model.simulate_mem_mb(
            wc.simulated_n_samples(
                config["simulation"], STUDY.datasets[w.sim_dataset]
            ),
            attempt,
        ),
    params:
        # engine, seed (the dataset's own), sizes, traits and liabilities of this dataset
        spec=lambda w: wc.simulation_params(
            config["simulation"], STUDY.datasets[w.sim_dataset]
        ),
    script:
        "../scripts/simulate.py"


rule simulated_covariates:
    input:
        bed="results/{sim_dataset}/genotypes/plink.bed",
        bim="results/{sim_dataset}/genotypes/plink.bim",
        fam="results/{sim_dataset}/genotypes/plink.fam",
    output:
        covariates="results/{sim_dataset}/covariates.tsv",
    log:
        "logs/simulated_covariates/{sim_dataset}.log",
    benchmark:
        "benchmarks/simulated_covariates/{sim_dataset}.tsv"
    params:
        n_pcs=config["gwas"]["n_pcs"],
        seed=lambda wc: simulated_dataset_seed(wc.sim_dataset),
    script:
        "../scripts/pca.py"
