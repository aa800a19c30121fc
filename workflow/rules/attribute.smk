# SNP attribution of every trained model (grid and retrain runs): DeepLIFT by default,
# or the method of config attribution.method (the rules keep the name and output paths).
# One job attributes every model of a training block in one pass over the validation
# samples; kept results (liftgwas/gridblock.py) make a rerun attribute only new models.


rule deeplift:
    input:
        unpack(model_data_input),
        bim="results/{dataset}/genotypes/plink.bim",
        models=grid_cell_paths("model.pt"),
    output:
        scores=grid_cell_paths("deeplift.tsv"),
        summary=grid_cell_paths("deeplift.json"),
    log:
        f"logs/deeplift/{grid_block_name()}.log",
    benchmark:
        f"benchmarks/deeplift/{grid_block_name()}.tsv"
    wildcard_constraints:
        **GRID_BLOCK_CONSTRAINTS,
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.deeplift_block_mem_mb(
            input.fam,
            input.mean,
            grid_archs(wc),
            config["deeplift"]["chunk_size"],
            attempt,
        ),
        runtime=lambda wc, input, attempt: resource_model.deeplift_block_runtime_min(
            input.fam, input.mean, grid_archs(wc), attempt
        ),
    params:
        trait=lambda wc: wc.trait,
        chunk_size=config["deeplift"]["chunk_size"],
        # method and its settings (attribution.py); random draws are seeded from the path
        attribution=config.get("attribution", {}),
        seeds=lambda wc: [seed for _, _, seed in grid_block_cells(wc)],
    script:
        "../scripts/deeplift.py"


rule deeplift_retrain:
    input:
        unpack(model_data_input),
        bim="results/{dataset}/genotypes/plink.bim",
        models=retrain_cell_paths("model.pt"),
    output:
        scores=retrain_cell_paths("deeplift.tsv"),
        summary=retrain_cell_paths("deeplift.json"),
    log:
        "logs/deeplift_retrain/{dataset}/{trait}/{arch}/l1_{l1}.log",
    benchmark:
        "benchmarks/deeplift_retrain/{dataset}/{trait}/{arch}/l1_{l1}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.deeplift_block_mem_mb(
            input.fam,
            input.mean,
            [wc.arch] * len(STUDY.retrain_seeds),
            config["deeplift"]["chunk_size"],
            attempt,
        ),
        runtime=lambda wc, input, attempt: resource_model.deeplift_block_runtime_min(
            input.fam, input.mean, [wc.arch] * len(STUDY.retrain_seeds), attempt
        ),
    params:
        trait=lambda wc: wc.trait,
        chunk_size=config["deeplift"]["chunk_size"],
        attribution=config.get("attribution", {}),
        seeds=STUDY.retrain_seeds,
    script:
        "../scripts/deeplift.py"
