# Calibrated discoveries (issue 11): the selected model retrained on null traits (the
# null-trait method), and discoveries.tsv of every method at its stated error rate.
# Knockoff genotypes, models and the W statistic are workflow/rules/knockoffs.smk's.
# Only rule discoveries takes q / alpha as params, so editing them reruns it and what
# reads its table (Miami plot, report), never a training.


localrules:
    null_summary,
    discoveries,
    discoveries_report,


def null_indices():
    return list(range(1, STUDY.null_count() + 1))


def selected_json(wildcards):
    """The checkpoint's choice for the dataset's group (an input: a new choice reruns the nulls)."""
    return checkpoints.select_model.get(
        group=STUDY.datasets[wildcards.dataset].group, trait=wildcards.trait
    ).output.selected


def selected_choice(wildcards):
    return selected_model(STUDY.datasets[wildcards.dataset].group, wildcards.trait)


def null_dir(dataset, trait, k):
    return f"results/{dataset}/{trait}/null/null_{k}"


def discoveries_input(wildcards):
    d, t = wildcards.dataset, wildcards.trait
    files = {"sumstats": f"results/{d}/{t}/gwas/sumstats.tsv.gz"}
    if STUDY.null_count():
        files["null_summary"] = f"results/{d}/{t}/null/summary.tsv"
        files["null_maxima"] = f"results/{d}/{t}/null/max_statistics.tsv"
    if STUDY.knockoffs_on():
        files["knockoff_statistics"] = f"results/{d}/{t}/knockoffs/statistics.tsv"
    if STUDY.datasets[d].simulated:
        files["truth"] = f"results/{d}/truth.tsv"
        files.update(
            {ext: f"results/{d}/genotypes/plink.{ext}" for ext in ("bed", "bim", "fam")}
        )
    return files


def discovery_targets():
    """discoveries.tsv of every dataset and trait and the report's tables; rule all picks
    this up through common.smk's extra_targets()."""
    targets = [f"results/{d}/{t}/discoveries.tsv" for d, t in STUDY.dataset_traits()]
    targets += [f"results/compare/discoveries.{ext}" for ext in ("tsv", "html")] + [
        "results/compare/discoveries_list.html"
    ]
    return targets


# One job per null index k: draw null trait k, train the selected architecture x L1 with
# every retrain seed, DeepLIFT each, seed-average (liftgwas.discover.null_models says why
# the observed statistic's construction). No K in params: adding nulls runs only new jobs.
rule null_train:
    input:
        unpack(model_data_input),
        bim="results/{dataset}/genotypes/plink.bim",
        selected=selected_json,
    output:
        scores="results/{dataset}/{trait}/null/null_{null}/scores.tsv",
        metrics="results/{dataset}/{trait}/null/null_{null}/metrics.json",
        trait="results/{dataset}/{trait}/null/null_{null}/trait.tsv",
    log:
        "logs/null_train/{dataset}/{trait}/null_{null}.log",
    benchmark:
        "benchmarks/null_train/{dataset}/{trait}/null_{null}.tsv"
    wildcard_constraints:
        null=r"[1-9][0-9]*",
    threads: 2
    # sized for the grid's largest architecture (the selected one is one of them): a
    # resource function must not read the checkpoint, which a dry run has not run yet
    resources:
        # the retrain seeds are trained as one block (null_models.retrain_and_score)
        mem_mb=lambda wc, input, attempt: resource_model.selected_block_mem_mb(
            input.fam,
            input.mean,
            STUDY.architectures,
            len(config["model"]["retrain_seeds"]),
            config["training"]["batch_size"],
            attempt,
            resident_param(),
        ),
        runtime=lambda wc, input, threads, attempt: resource_model.selected_block_runtime_min(
            input.fam,
            input.mean,
            STUDY.architectures,
            len(config["model"]["retrain_seeds"]),
            config["training"]["max_epochs"],
            attempt,
            threads,
            deeplift=True,
        ),
    params:
        dataset=lambda wc: wc.dataset,
        trait=lambda wc: wc.trait,
        null=lambda wc: int(wc.null),
        kind=trait_kind,
        arch=lambda wc: selected_choice(wc)["arch"],
        l1=lambda wc: float(selected_choice(wc)["l1"]),
        seeds=config["model"]["retrain_seeds"],
        covariates_as_inputs=config["model"]["covariates_as_inputs"],
        training=training_params(),
        resident=resident_param(),
        chunk_size=config["deeplift"]["chunk_size"],
        attribution=config.get("attribution", {}),
        # not an output: a killed job resumes the seed it was training
        checkpoint_dir=lambda wc: null_dir(wc.dataset, wc.trait, wc.null),
    script:
        "../scripts/null_train.py"


rule null_summary:
    input:
        observed="results/{dataset}/{trait}/selected/scores.tsv",
        nulls=lambda wc: [
            f"{null_dir(wc.dataset, wc.trait, k)}/scores.tsv" for k in null_indices()
        ],
    output:
        summary="results/{dataset}/{trait}/null/summary.tsv",
        maxima="results/{dataset}/{trait}/null/max_statistics.tsv",
    log:
        "logs/null_summary/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/null_summary/{dataset}/{trait}.tsv"
    script:
        "../scripts/null_summary.py"


rule discoveries:
    input:
        unpack(discoveries_input),
    output:
        table="results/{dataset}/{trait}/discoveries.tsv",
        summary="results/{dataset}/{trait}/discoveries_summary.tsv",
    log:
        "logs/discoveries/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/discoveries/{dataset}/{trait}.tsv"
    params:
        q=STUDY.discoveries["q"],
        alpha=STUDY.discoveries["alpha"],
        fwer=STUDY.discoveries["null_traits"]["fwer"],
        trait=lambda wc: wc.trait,
        engine=lambda wc: dataset_engine(wc.dataset),
        window_bp=config["recall"].get("locus_window_kb", 100) * 1000,
        r2=config["recall"].get("locus_r2", 0.5),
    script:
        "../scripts/discoveries.py"


rule discoveries_report:
    input:
        tables=[f"results/{d}/{t}/discoveries.tsv" for d, t in STUDY.dataset_traits()],
        summaries=[
            f"results/{d}/{t}/discoveries_summary.tsv"
            for d, t in STUDY.dataset_traits()
        ],
    output:
        tsv=report(
            "results/compare/discoveries.tsv",
            caption="../report/discoveries.rst",
            category="Discoveries",
            subcategory="Per method",
            labels={"table": "Discoveries per method (TSV)"},
        ),
        html=report(
            "results/compare/discoveries.html",
            caption="../report/discoveries.rst",
            category="Discoveries",
            subcategory="Per method",
            labels={"table": "Discoveries per method"},
        ),
        listing=report(
            "results/compare/discoveries_list.html",
            caption="../report/discoveries_list.rst",
            category="Discoveries",
            subcategory="Discovered SNPs",
            labels={"table": "Discovered SNPs, DeepLIFT beside the GWAS"},
        ),
    log:
        "logs/discoveries_report.log",
    benchmark:
        "benchmarks/discoveries_report.tsv"
    params:
        datasets_traits=[{"dataset": d, "trait": t} for d, t in STUDY.dataset_traits()],
    script:
        "../scripts/discoveries_report.py"
