# SNP attribution of every trained model (grid and retrain runs): DeepLIFT by default,
# or the method of config attribution.method (the rule keeps its name and output path).


rule deeplift:
    input:
        unpack(model_data_input),
        bim="results/{dataset}/genotypes/plink.bim",
        model="results/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}/model.pt",
    output:
        scores="results/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}/deeplift.tsv",
        summary="results/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}/deeplift.json",
    log:
        "logs/deeplift/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}.log",
    benchmark:
        "benchmarks/deeplift/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.deeplift_mem_mb(
            input.fam, input.mean, config["deeplift"]["chunk_size"], attempt
        ),
        runtime=lambda wc, input, attempt: resource_model.deeplift_runtime_min(
            input.fam, input.mean, wc.arch, attempt
        ),
    params:
        trait=lambda wc: wc.trait,
        chunk_size=config["deeplift"]["chunk_size"],
        # method and its settings (attribution.py); random draws are seeded from the path
        attribution=config.get("attribution", {}),
        seed=lambda wc: int(wc.seed),
    script:
        "../scripts/deeplift.py"
