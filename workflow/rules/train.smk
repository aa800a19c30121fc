# Grid training, model selection (a checkpoint), retraining and the recall table.


rule split:
    input:
        fam="results/{dataset}/genotypes/plink.fam",
    output:
        split="results/{dataset}/split.tsv",
    log:
        "logs/split/{dataset}.log",
    benchmark:
        "benchmarks/split/{dataset}.tsv"
    params:
        seed=config["split"]["seed"],
        train=config["split"]["train"],
        early_stop=config["split"]["early_stop"],
        validation=config["split"]["validation"],
    script:
        "../scripts/split.py"


rule genotype_store:
    input:
        unpack(genotype_input),
    output:
        packed="results/{dataset}/genotypes/store.packed.npy",
        mean="results/{dataset}/genotypes/store.mean.npy",
    log:
        "logs/genotype_store/{dataset}.log",
    benchmark:
        "benchmarks/genotype_store/{dataset}.tsv"
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.store_mem_mb(
            input.fam, attempt
        ),
    params:
        # plink2's --memory workspace: the job's memory less the Python process that runs it
        plink2_memory_mb=lambda wc, resources: resources.mem_mb
        - resource_model.NUMPY_BASE_MB,
    script:
        "../scripts/build_store.py"


# One job trains every grid cell (architecture x L1 x seed) of a dataset x trait
# (liftgwas/gridblock.py says why this blocking): 20 training jobs on the paper grid
# instead of 1,600; training.block_by splits it further (one job per architecture, ...,
# per cell). Its outputs are its cells' model.pt and metrics.json, so downstream rules
# read the same per-cell paths whatever the blocking. A rerun (e.g. a seed added)
# restores the cells whose kept result matches and trains only the new ones.
rule train:
    input:
        unpack(model_data_input),
    output:
        models=grid_cell_paths("model.pt"),
        metrics=grid_cell_paths("metrics.json"),
    log:
        f"logs/train/{grid_block_name()}.log",
    benchmark:
        f"benchmarks/train/{grid_block_name()}.tsv"
    wildcard_constraints:
        **GRID_BLOCK_CONSTRAINTS,
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.train_block_mem_mb(
            input.fam,
            input.mean,
            grid_archs(wc),
            config["training"]["batch_size"],
            attempt,
            resident_param(),
        ),
        runtime=lambda wc, input, threads, attempt: resource_model.train_block_runtime_min(
            input.fam,
            input.mean,
            grid_archs(wc),
            config["training"]["max_epochs"],
            attempt,
            threads,
        ),
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        covariates_as_inputs=config["model"]["covariates_as_inputs"],
        training=training_params(),
        resident=resident_param(),
        cells=grid_cells,
        # not an output: a killed job's log is continued from it by the rerun
        attempts_log=grid_attempts_log,
    script:
        "../scripts/train.py"


# The selected model's retraining seeds of one dataset x trait: one block job, as above.
rule retrain:
    input:
        unpack(model_data_input),
    output:
        models=retrain_cell_paths("model.pt"),
        metrics=retrain_cell_paths("metrics.json"),
    log:
        "logs/retrain/{dataset}/{trait}/{arch}/l1_{l1}.log",
    benchmark:
        "benchmarks/retrain/{dataset}/{trait}/{arch}/l1_{l1}.tsv"
    threads: 2
    resources:
        mem_mb=lambda wc, input, attempt: resource_model.train_block_mem_mb(
            input.fam,
            input.mean,
            [wc.arch] * len(STUDY.retrain_seeds),
            config["training"]["batch_size"],
            attempt,
            resident_param(),
        ),
        runtime=lambda wc, input, threads, attempt: resource_model.train_block_runtime_min(
            input.fam,
            input.mean,
            [wc.arch] * len(STUDY.retrain_seeds),
            config["training"]["max_epochs"],
            attempt,
            threads,
        ),
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        covariates_as_inputs=config["model"]["covariates_as_inputs"],
        training=training_params(),
        resident=resident_param(),
        cells=lambda wc: retrain_cells(wc.dataset, wc.trait, wc.arch, wc.l1),
        attempts_log=lambda wc: f"results/{wc.dataset}/{wc.trait}/.retrain-{wc.arch}-l1_{wc.l1}.log",
    script:
        "../scripts/train.py"


checkpoint select_model:
    input:
        metrics=lambda wc: [run["metrics"] for run in grid_runs(wc.group, wc.trait)],
    output:
        grid="results/selection/{group}/{trait}/grid.tsv",
        selected="results/selection/{group}/{trait}/selected.json",
    log:
        "logs/select_model/{group}/{trait}.log",
    benchmark:
        "benchmarks/select_model/{group}/{trait}.tsv"
    params:
        grid_keys=lambda wc: [run["key"] for run in grid_runs(wc.group, wc.trait)],
        retrain_seeds=config["model"]["retrain_seeds"],
    script:
        "../scripts/select_model.py"


rule selected_scores:
    input:
        scores=lambda wc: [run["scores"] for run in retrain_runs(wc.dataset, wc.trait)],
    output:
        scores="results/{dataset}/{trait}/selected/scores.tsv",
    log:
        "logs/selected_scores/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/selected_scores/{dataset}/{trait}.tsv"
    script:
        "../scripts/selected_scores.py"


rule recall_table:
    input:
        lambda wc: [
            path for run in recall_runs() for path in (run["scores"], run["truth"])
        ],
    output:
        runs="results/recall/deeplift_recall.tsv",
        table=report(
            "results/recall/table1.tsv",
            caption="../report/recall.rst",
            category="Recall",
            subcategory="Table 1",
            labels={"table": "Table 1 (TSV)"},
        ),
        markdown="results/recall/table1.md",
    log:
        "logs/recall_table.log",
    benchmark:
        "benchmarks/recall_table.tsv"
    params:
        runs=lambda wc: recall_runs(),
        top_k=config["recall"]["top_k"],
    script:
        "../scripts/recall_table.py"


# Checkpoint outputs do not reach the HTML report (snakemake issue #3301), so the grid
# and every run's training metrics are gathered here by an ordinary rule.
rule training_summary:
    input:
        metrics=lambda wc: [
            run["metrics"]
            for group, trait in STUDY.group_traits_pairs()
            for run in grid_runs(group, trait)
        ],
        grids=expand_group_traits("results/selection/{group}/{trait}/grid.tsv"),
    output:
        runs=report(
            "results/selection/training_metrics.tsv",
            caption="../report/training.rst",
            category="Model selection",
            subcategory="Training metrics",
            labels={"table": "Training metrics (TSV)"},
        ),
        grids=report(
            "results/selection/model_selection.tsv",
            caption="../report/grid.rst",
            category="Model selection",
            subcategory="Selection grid",
            labels={"table": "Model-selection grid (TSV)"},
        ),
    log:
        "logs/training_summary/training_summary.log",
    benchmark:
        "benchmarks/training_summary/training_summary.tsv"
    params:
        runs=lambda wc: [
            {**run["key"], "group": group, "trait": trait}
            for group, trait in STUDY.group_traits_pairs()
            for run in grid_runs(group, trait)
        ],
        groups=lambda wc: [
            {"group": group, "trait": trait}
            for group, trait in STUDY.group_traits_pairs()
        ],
    script:
        "../scripts/training_summary.py"
