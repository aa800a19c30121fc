# Simulated studies (Hao, Song & Storey 2016): PLINK genotypes, traits, truth, covariates.


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
    conda:
        "../../envs/liftgwas.yaml"
    resources:
        mem_mb=lambda wc, attempt: resource_model.simulate_mem_mb(
            config["simulation"]["n_samples"], attempt
        ),
    params:
        n_samples=config.get("simulation", {}).get("n_samples"),
        n_snps=config.get("simulation", {}).get("n_snps"),
        n_causal=config.get("simulation", {}).get("n_causal"),
        traits=config.get("simulation", {}).get("traits"),
        sparsity=lambda wc: STUDY.datasets[wc.sim_dataset].sparsity,
        seed=lambda wc: simulated_dataset_seed(wc.sim_dataset),
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
    conda:
        "../../envs/liftgwas.yaml"
    params:
        n_pcs=config["gwas"]["n_pcs"],
        seed=lambda wc: simulated_dataset_seed(wc.sim_dataset),
    script:
        "../scripts/pca.py"
