# The HTML report. After a run: snakemake --report results/report.html
# Every figure and table marked with report(...) in the rules appears there, with the
# caption from workflow/report/<name>.rst; workflow/report/workflow.rst is its (short)
# front page. The report offers TSV files for download only, so the tables a reader
# needs to see (Table 1, model selection, training metrics) get an HTML rendering here,
# shown beside the TSV in the same category.


report: "../report/workflow.rst"


def report_targets():
    """The HTML tables; rule all picks this up through common.smk's extra_targets()."""
    targets = [
        "results/report_tables/model_selection.html",
        "results/report_tables/training_metrics.html",
    ]
    if STUDY.simulated_names():
        targets.append("results/report_tables/table1.html")
    return targets


rule report_table1:
    input:
        tsv="results/recall/table1.tsv",
    output:
        html=report(
            "results/report_tables/table1.html",
            caption="../report/recall.rst",
            category="Recall",
            subcategory="Table 1",
            labels={"table": "Table 1"},
        ),
    log:
        "logs/report_tables/table1.log",
    benchmark:
        "benchmarks/report_tables/table1.tsv"
    params:
        title="Table 1: top-k recall of the selected models",
        note="recall = fraction of the causal SNPs among the top k; mean ± sd over the retrain runs.",
    script:
        "../scripts/report_table.py"


rule report_model_selection:
    input:
        tsv="results/selection/model_selection.tsv",
    output:
        html=report(
            "results/report_tables/model_selection.html",
            caption="../report/grid.rst",
            category="Model selection",
            subcategory="Selection grid",
            labels={"table": "Model-selection grid"},
        ),
    log:
        "logs/report_tables/model_selection.log",
    benchmark:
        "benchmarks/report_tables/model_selection.tsv"
    params:
        title="Model selection: every architecture × L1 of each setting, ranked",
        note="selected = rank 1 (best mean validation log-likelihood over the grid seeds).",
    script:
        "../scripts/report_table.py"


rule report_training_metrics:
    input:
        tsv="results/selection/training_metrics.tsv",
    output:
        html=report(
            "results/report_tables/training_metrics.html",
            caption="../report/training.rst",
            category="Model selection",
            subcategory="Training metrics",
            labels={"table": "Training metrics"},
        ),
    log:
        "logs/report_tables/training_metrics.log",
    benchmark:
        "benchmarks/report_tables/training_metrics.tsv"
    params:
        title="Training metrics of every grid run",
        note="validation_loglik is per sample; AUC for binary traits, R² for quantitative ones.",
    script:
        "../scripts/report_table.py"
