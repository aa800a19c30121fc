# snakemake --lint: 'Mixed rules and functions' is accepted here: the input and title
# functions below serve only this stage's rules and read best beside them.
# GWAS versus DeepLIFT: Miami and QQ plots, top-hit tables, the seed figure and the recall
# comparison over every simulation setting. Every figure and table goes into the HTML report.


def comparison_input(wildcards):
    """The GWAS, the selected model's seed-averaged scores and, on simulations, the truth."""
    files = {
        "sumstats": f"results/{wildcards.dataset}/{wildcards.trait}/gwas/sumstats.tsv.gz",
        "scores": f"results/{wildcards.dataset}/{wildcards.trait}/selected/scores.tsv",
    }
    if STUDY.datasets[wildcards.dataset].simulated:
        files["truth"] = f"results/{wildcards.dataset}/truth.tsv"
    return files


def figure_title(wildcards):
    dataset = wildcards.get("dataset") or wildcards.get("sim_dataset")
    kind = STUDY.trait_kind(dataset, wildcards.trait)
    if kind == wildcards.trait:  # simulated traits are named by their kind
        return f"{dataset}, {kind} trait"
    return f"{dataset}, {wildcards.trait} ({kind} trait)"


def score_unit(wildcards):
    """What a DeepLIFT score is measured in: the attributed output is the logit for binary
    traits and the trait itself for quantitative ones."""
    dataset = wildcards.get("dataset") or wildcards.get("sim_dataset")
    kind = STUDY.trait_kind(dataset, wildcards.trait)
    return "logit units" if kind == "binary" else "trait units"


def seed_figure_runs(wildcards):
    """The first two retrain runs of the selected model (known after select_model ran)."""
    return retrain_runs(wildcards.sim_dataset, wildcards.trait)[:2]


def stability_runs(wildcards):
    """Every retrain run of the selected model (known after select_model ran)."""
    return retrain_runs(wildcards.dataset, wildcards.trait)


def seed_figure_title(wildcards):
    run = seed_figure_runs(wildcards)[0]
    return f"{figure_title(wildcards)}, selected model {run['arch']}, L1 = {run['l1']}"


def compare_targets():
    """Every comparison output; rule all picks this up through common.smk's extra_targets()."""
    targets = []
    for dataset, trait in STUDY.dataset_traits():
        figures = f"results/figures/{dataset}/{trait}"
        targets += [f"{figures}/miami.png", f"{figures}/miami.pdf"]
        targets += [f"{figures}/qq.png", f"{figures}/qq.pdf"]
        targets += [f"results/compare/{dataset}/{trait}/top_hits.tsv"]
        targets += [f"{figures}/seed_stability.png"]
        if STUDY.datasets[dataset].simulated:
            targets += [f"{figures}/seeds.png", f"{figures}/seeds.pdf"]
    if STUDY.simulated_names():
        targets += [
            f"results/compare/recall_gwas_vs_deeplift.{ext}" for ext in ("tsv", "md")
        ]
        targets += [f"results/compare/recall_by_class.{ext}" for ext in ("tsv", "md")]
    # the baselines of cohorts too (simulations get them through the recall table)
    for dataset, trait in STUDY.dataset_traits():
        targets += list(baseline_outputs(dataset, trait).values())
    return targets


def method_recall_input(wildcards):
    """Every method's ranking of one simulated dataset and trait, its truth and genotypes
    (r^2 for locus recall)."""
    d, t = wildcards.sim_dataset, wildcards.trait
    files = {
        "truth": f"results/{d}/truth.tsv",
        "sumstats": f"results/{d}/{t}/gwas/sumstats.tsv.gz",
        "scores": f"results/{d}/{t}/selected/scores.tsv",
        **{ext: f"results/{d}/genotypes/plink.{ext}" for ext in ("bed", "bim", "fam")},
    }
    files.update(baseline_outputs(d, t))
    return files


def dataset_engine(dataset):
    return getattr(STUDY.datasets[dataset], "engine", None) or "hao"


rule miami:
    input:
        unpack(comparison_input),
        # the thresholds drawn on both panels (BH at q, the null-trait max statistic)
        discoveries="results/{dataset}/{trait}/discoveries.tsv",
    output:
        png=report(
            "results/figures/{dataset}/{trait}/miami.png",
            caption="../report/miami.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{dataset} {trait}",
            labels={
                "figure": "Miami plot",
                "dataset": "{dataset}",
                "trait": "{trait}",
            },
        ),
        pdf="results/figures/{dataset}/{trait}/miami.pdf",
    log:
        "logs/miami/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/miami/{dataset}/{trait}.tsv"
    params:
        title=figure_title,
        trait=lambda wc: wc.trait,
        top_n_labels=5,
        score_unit=score_unit,
    script:
        "../scripts/plot_miami.py"


rule qq:
    input:
        sumstats="results/{dataset}/{trait}/gwas/sumstats.tsv.gz",
    output:
        png=report(
            "results/figures/{dataset}/{trait}/qq.png",
            caption="../report/qq.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{dataset} {trait}",
            labels={"figure": "QQ plot", "dataset": "{dataset}", "trait": "{trait}"},
        ),
        pdf="results/figures/{dataset}/{trait}/qq.pdf",
    log:
        "logs/qq/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/qq/{dataset}/{trait}.tsv"
    params:
        title=figure_title,
    script:
        "../scripts/plot_qq.py"


rule top_hits:
    input:
        unpack(comparison_input),
    output:
        top_hits=report(
            "results/compare/{dataset}/{trait}/top_hits.tsv",
            caption="../report/top_hits.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{dataset} {trait}",
            labels={
                "figure": "Top hits (TSV)",
                "dataset": "{dataset}",
                "trait": "{trait}",
            },
        ),
        html=report(
            "results/compare/{dataset}/{trait}/top_hits.html",
            caption="../report/top_hits.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{dataset} {trait}",
            labels={"figure": "Top hits", "dataset": "{dataset}", "trait": "{trait}"},
        ),
        agreement="results/compare/{dataset}/{trait}/agreement.tsv",
    log:
        "logs/top_hits/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/top_hits/{dataset}/{trait}.tsv"
    params:
        k=config["recall"]["top_k"],
        dataset=lambda wc: wc.dataset,
        trait=lambda wc: wc.trait,
        group=lambda wc: STUDY.datasets[wc.dataset].group,
        sparsity=lambda wc: STUDY.datasets[wc.dataset].sparsity,
    script:
        "../scripts/compare.py"


rule seed_figure:
    input:
        scores=lambda wc: [run["scores"] for run in seed_figure_runs(wc)],
        truth="results/{sim_dataset}/truth.tsv",
    output:
        png=report(
            "results/figures/{sim_dataset}/{trait}/seeds.png",
            caption="../report/seeds.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{sim_dataset} {trait}",
            labels={
                "figure": "DeepLIFT scores of two seeds",
                "dataset": "{sim_dataset}",
                "trait": "{trait}",
            },
        ),
        pdf="results/figures/{sim_dataset}/{trait}/seeds.pdf",
    log:
        "logs/seed_figure/{sim_dataset}/{trait}.log",
    benchmark:
        "benchmarks/seed_figure/{sim_dataset}/{trait}.tsv"
    params:
        seeds=lambda wc: [run["seed"] for run in seed_figure_runs(wc)],
        trait=lambda wc: wc.trait,
        k=config["recall"]["top_k"],
        title=seed_figure_title,
        score_unit=score_unit,
    script:
        "../scripts/plot_seeds.py"


rule seed_stability:
    input:
        scores=lambda wc: [run["scores"] for run in stability_runs(wc)],
    output:
        png=report(
            "results/figures/{dataset}/{trait}/seed_stability.png",
            caption="../report/seed_stability.rst",
            category="GWAS vs DeepLIFT",
            subcategory="{dataset} {trait}",
            labels={
                "figure": "Seed stability (all retrain seeds)",
                "dataset": "{dataset}",
                "trait": "{trait}",
            },
        ),
        pdf="results/figures/{dataset}/{trait}/seed_stability.pdf",
        tsv="results/compare/{dataset}/{trait}/seed_stability.tsv",
    log:
        "logs/seed_stability/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/seed_stability/{dataset}/{trait}.tsv"
    params:
        seeds=lambda wc: [run["seed"] for run in stability_runs(wc)],
        k=config["recall"]["top_k"],
        title=lambda wc: f"{figure_title(wc)}: agreement of the retrain seeds",
    script:
        "../scripts/plot_seed_stability.py"


rule recall_comparison:
    input:
        agreement=[
            f"results/compare/{d}/{t}/agreement.tsv"
            for d, t in STUDY.dataset_traits()
            if STUDY.datasets[d].simulated
        ],
        deeplift_recall="results/recall/deeplift_recall.tsv",
    output:
        tsv=report(
            "results/compare/recall_gwas_vs_deeplift.tsv",
            caption="../report/recall_comparison.rst",
            category="Recall",
            subcategory="GWAS vs DeepLIFT",
            labels={"table": "GWAS vs DeepLIFT recall (TSV)"},
        ),
        md="results/compare/recall_gwas_vs_deeplift.md",
        html=report(
            "results/compare/recall_gwas_vs_deeplift.html",
            caption="../report/recall_comparison.rst",
            category="Recall",
            subcategory="GWAS vs DeepLIFT",
            labels={"table": "GWAS vs DeepLIFT recall"},
        ),
    log:
        "logs/recall_comparison.log",
    benchmark:
        "benchmarks/recall_comparison.tsv"
    params:
        k=config["recall"]["top_k"],
    script:
        "../scripts/compare.py"


# the recall tables are small aggregations, like top_hits: no cluster job
localrules:
    method_recall,
    recall_by_class_table,


rule method_recall:
    input:
        unpack(method_recall_input),
    output:
        table="results/compare/{sim_dataset}/{trait}/recall_by_class.tsv",
    log:
        "logs/method_recall/{sim_dataset}/{trait}.log",
    benchmark:
        "benchmarks/method_recall/{sim_dataset}/{trait}.tsv"
    params:
        k=config["recall"]["top_k"],
        window_bp=config["recall"]["locus_window_kb"] * 1000,
        r2=config["recall"]["locus_r2"],
        dataset=lambda wc: wc.sim_dataset,
        trait=lambda wc: wc.trait,
        group=lambda wc: STUDY.datasets[wc.sim_dataset].group,
        sparsity=lambda wc: STUDY.datasets[wc.sim_dataset].sparsity,
        engine=lambda wc: dataset_engine(wc.sim_dataset),
    script:
        "../scripts/recall_by_class.py"


rule recall_by_class_table:
    input:
        tables=[
            f"results/compare/{d}/{t}/recall_by_class.tsv"
            for d, t in STUDY.dataset_traits()
            if STUDY.datasets[d].simulated
        ],
    output:
        tsv=report(
            "results/compare/recall_by_class.tsv",
            caption="../report/recall_by_class.rst",
            category="Recall",
            subcategory="By effect class and method",
            labels={"table": "Recall by effect class and method (TSV)"},
        ),
        md="results/compare/recall_by_class.md",
        html=report(
            "results/compare/recall_by_class.html",
            caption="../report/recall_by_class.rst",
            category="Recall",
            subcategory="By effect class and method",
            labels={"table": "Recall by effect class and method"},
        ),
    log:
        "logs/recall_by_class_table.log",
    benchmark:
        "benchmarks/recall_by_class_table.tsv"
    params:
        k=config["recall"]["top_k"],
    script:
        "../scripts/recall_by_class.py"
