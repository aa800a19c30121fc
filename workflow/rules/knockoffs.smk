# Model-X knockoffs (issue 11, liftgwas/discover): knockoff genotypes [X, X~] per dataset and
# draw, the selected model retrained on them for each retrain seed, DeepLIFT on both halves,
# and the q-independent W statistics (the knockoff+ selection at q is in discoveries.smk).
from liftgwas.discover import knockoffs as knockoff_lib  # noqa: E402

KNOCKOFFS = knockoff_lib.KnockoffSettings.from_config(
    (config.get("discoveries") or {}).get("knockoffs")
)


wildcard_constraints:
    draw=r"[1-9][0-9]*",


def knockoff_construction():
    """What a knockoff draw depends on: every setting except run and draws (adding draws
    must not rerun the existing ones)."""
    settings = KNOCKOFFS.describe()
    settings.pop("run")
    settings.pop("draws")
    return settings


def knockoff_method(wildcards):
    # method auto: independent on Hao data (independent SNPs), group_gaussian otherwise
    return knockoff_lib.resolve_method(KNOCKOFFS.method, wildcards.dataset)


def knockoff_dir(wildcards):
    return f"results/{wildcards.dataset}/knockoffs/draw_{wildcards.draw}"


def knockoff_model_input(wildcards):
    """What a knockoff model reads: the [X, X~] store of its draw and the per-sample tables."""
    inputs = model_data_input(wildcards)
    inputs["packed"] = f"{knockoff_dir(wildcards)}/store.packed.npy"
    inputs["mean"] = f"{knockoff_dir(wildcards)}/store.mean.npy"
    return inputs


def selection_file(wildcards):
    group = STUDY.datasets[wildcards.dataset].group
    return checkpoints.select_model.get(
        group=group, trait=wildcards.trait
    ).output.selected


def knockoff_runs(dataset, trait):
    """(draw, seed) of every knockoff model of a dataset and trait."""
    return [
        (draw, seed)
        for draw in range(1, KNOCKOFFS.draws + 1)
        for seed in STUDY.retrain_seeds
    ]


def knockoff_targets():
    if not KNOCKOFFS.run:
        return []
    return [
        f"results/{d}/{t}/knockoffs/statistics.tsv" for d, t in STUDY.dataset_traits()
    ]


rule knockoff_genotypes:
    input:
        unpack(genotype_input),
        packed="results/{dataset}/genotypes/store.packed.npy",
        mean="results/{dataset}/genotypes/store.mean.npy",
        covariates="results/{dataset}/covariates.tsv",
    output:
        packed="results/{dataset}/knockoffs/draw_{draw}/store.packed.npy",
        mean="results/{dataset}/knockoffs/draw_{draw}/store.mean.npy",
        groups="results/{dataset}/knockoffs/draw_{draw}/groups.tsv",
        summary="results/{dataset}/knockoffs/draw_{draw}/summary.json",
    log:
        "logs/knockoff_genotypes/{dataset}/draw_{draw}.log",
    benchmark:
        "benchmarks/knockoff_genotypes/{dataset}/draw_{draw}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.knockoff_mem_mb(
            input.fam,
            input.bim,
            knockoff_lib.block_size(knockoff_method(wc), KNOCKOFFS),
            attempt,
        ),
        runtime=lambda wc, input, attempt: resource_model.knockoff_runtime_min(
            input.fam, input.bim, knockoff_method(wc), attempt
        ),
    params:
        settings=knockoff_construction(),
        dataset=lambda wc: wc.dataset,
        method=knockoff_method,
        # the draw's seed from its path (dataset name, draw index) and the master seed
        seed=lambda wc: knockoff_lib.knockoff_seed(
            wc.dataset, int(wc.draw), KNOCKOFFS.seed
        ),
    script:
        "../scripts/knockoff_genotypes.py"


rule knockoff_train:
    input:
        unpack(knockoff_model_input),
        selected=selection_file,
    output:
        model="results/{dataset}/{trait}/knockoffs/draw_{draw}/seed_{seed}/model.pt",
        metrics="results/{dataset}/{trait}/knockoffs/draw_{draw}/seed_{seed}/metrics.json",
    log:
        "logs/knockoff_train/{dataset}/{trait}/draw_{draw}/seed_{seed}.log",
    benchmark:
        "benchmarks/knockoff_train/{dataset}/{trait}/draw_{draw}/seed_{seed}.tsv"
    threads: 2
    # sized for the grid's largest architecture on the 2M inputs of [X, X~] (the selected
    # one is one of them; a resource function must not read the checkpoint's output)
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.selected_block_mem_mb(
            input.fam,
            input.mean,
            STUDY.architectures,
            1,
            config["training"]["batch_size"],
            attempt,
            resident_param(),
        ),
        runtime=lambda wc, input, threads, attempt: resource_model.selected_block_runtime_min(
            input.fam,
            input.mean,
            STUDY.architectures,
            1,
            config["training"]["max_epochs"],
            attempt,
            threads,
        ),
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        seed=lambda wc: int(wc.seed),
        covariates_as_inputs=config["model"]["covariates_as_inputs"],
        # the grid's settings (common.smk); arch and L1 come from the selection, seed from the path
        training=training_params(),
        resident=resident_param(),
        # not an output: a killed job leaves it behind and the rerun resumes from it
        checkpoint=lambda wc: f"results/{wc.dataset}/{wc.trait}/knockoffs/draw_{wc.draw}/seed_{wc.seed}/checkpoint.pt",
    script:
        "../scripts/knockoff_train.py"


rule knockoff_deeplift:
    input:
        unpack(knockoff_model_input),
        bim="results/{dataset}/genotypes/plink.bim",
        model="results/{dataset}/{trait}/knockoffs/draw_{draw}/seed_{seed}/model.pt",
    output:
        scores="results/{dataset}/{trait}/knockoffs/draw_{draw}/seed_{seed}/deeplift.tsv",
        summary="results/{dataset}/{trait}/knockoffs/draw_{draw}/seed_{seed}/deeplift.json",
    log:
        "logs/knockoff_deeplift/{dataset}/{trait}/draw_{draw}/seed_{seed}.log",
    benchmark:
        "benchmarks/knockoff_deeplift/{dataset}/{trait}/draw_{draw}/seed_{seed}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.deeplift_mem_mb(
            input.fam, input.mean, config["deeplift"]["chunk_size"], attempt
        ),
        runtime=lambda wc, input, attempt: max(
            resource_model.deeplift_runtime_min(input.fam, input.mean, arch, attempt)
            for arch in STUDY.architectures
        ),
    params:
        trait=lambda wc: wc.trait,
        chunk_size=config["deeplift"]["chunk_size"],
        attribution=config.get("attribution", {}),
        seed=lambda wc: int(wc.seed),
    script:
        "../scripts/knockoff_deeplift.py"


rule knockoff_statistics:
    input:
        scores=lambda wc: [
            f"results/{wc.dataset}/{wc.trait}/knockoffs/draw_{d}/seed_{s}/deeplift.tsv"
            for d, s in knockoff_runs(wc.dataset, wc.trait)
        ],
        groups=lambda wc: [
            f"results/{wc.dataset}/knockoffs/draw_{d}/groups.tsv"
            for d in range(1, KNOCKOFFS.draws + 1)
        ],
    output:
        statistics="results/{dataset}/{trait}/knockoffs/statistics.tsv",
    log:
        "logs/knockoff_statistics/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/knockoff_statistics/{dataset}/{trait}.tsv"
    params:
        runs=lambda wc: knockoff_runs(wc.dataset, wc.trait),
    script:
        "../scripts/knockoff_statistics.py"
