# snakemake --lint: 'Mixed rules and functions' is accepted here: the input functions below
# serve only this stage's rules and read best beside them.
# Interacting SNP pairs read out of the selected model's retrained networks (issue 13):
# pair scores (pairs.method), the top pairs.top_pairs tested on the validation split, a
# figure, and on simulations pair recall beside the exhaustive plink 1.9 scan.
# pairs.run_on says on which datasets (default: all).


localrules:
    pairs_figure,
    pair_recall,
    report_pair_recall,


from liftgwas.pairs import PairSettings  # noqa: E402

# checked before any job runs, errors naming the key (simulations: T and P against n_snps;
# cohorts are checked by the job, against the .bim)
if config["pairs"]["run_on"] != "none":
    PairSettings.from_config(config["pairs"]).validate(
        n_snps=(config.get("simulation") or {}).get("n_snps")
    )


def pairs_planned(dataset):
    run_on = config["pairs"]["run_on"]
    return run_on == "all" or (
        run_on == "simulations" and STUDY.datasets[dataset].simulated
    )


def pairs_input(wildcards):
    """The retrained models of the selected architecture (known after select_model ran) and
    the data they were trained on (the rule reads model.pt only: training stays rule train's).
    """
    files = model_data_input(wildcards)
    files["bim"] = f"results/{wildcards.dataset}/genotypes/plink.bim"
    files["models"] = [
        os.path.join(os.path.dirname(run["scores"]), "model.pt")
        for run in retrain_runs(wildcards.dataset, wildcards.trait)
    ]
    return files


def pairs_figure_input(wildcards):
    files = {
        "pairs": f"results/{wildcards.dataset}/{wildcards.trait}/pairs.tsv",
        "bim": f"results/{wildcards.dataset}/genotypes/plink.bim",
    }
    if STUDY.datasets[wildcards.dataset].simulated:
        files["truth"] = f"results/{wildcards.dataset}/truth.tsv"
    return files


def pair_recall_entries():
    """Every simulated dataset x trait with pairs: its files, the scan's pair list if planned."""
    entries = []
    for d, t in STUDY.dataset_traits():
        if not (STUDY.datasets[d].simulated and pairs_planned(d)):
            continue
        entry = {"dataset": d, "trait": t, "truth": f"results/{d}/truth.tsv"}
        scan = baseline_outputs(d, t).get("epistasis_pairs")
        if scan:
            entry["scan_pairs"] = scan
        entry["pairs"] = f"results/{d}/{t}/pairs.tsv"
        entry["summary"] = f"results/{d}/{t}/pairs.json"
        entries.append(entry)
    return entries


def pairs_targets():
    """Every pair output; rule all picks this up through common.smk's extra_targets()."""
    targets = []
    for d, t in STUDY.dataset_traits():
        if pairs_planned(d):
            targets += [f"results/{d}/{t}/pairs.tsv", f"results/{d}/{t}/pairs.json"]
            targets += [
                f"results/figures/{d}/{t}/pairs.{ext}" for ext in ("png", "pdf")
            ]
    if pair_recall_entries():
        targets += [
            "results/compare/pair_recall.tsv",
            "results/compare/pair_recall.html",
        ]
    return targets


rule pairs:
    input:
        unpack(pairs_input),
    output:
        pairs=report(
            "results/{dataset}/{trait}/pairs.tsv",
            caption="../report/pairs.rst",
            category="Interacting pairs",
            subcategory="{dataset} {trait}",
            labels={
                "table": "Tested pairs (TSV)",
                "dataset": "{dataset}",
                "trait": "{trait}",
            },
        ),
        summary="results/{dataset}/{trait}/pairs.json",
    log:
        "logs/pairs/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/pairs/{dataset}/{trait}.tsv"
    threads: 2
    resources:
        # the inputs are known only after select_model ran (the resource function would see
        # the checkpoint's placeholder), so a flat figure: nid holds weights only, and
        # deeplift_interaction one chunk_size x M block per Captum call, as rule deeplift
        mem_mb=lambda wc, attempt: 2000 * attempt,
    params:
        trait=lambda wc: wc.trait,
        kind=trait_kind,
        settings=config["pairs"],
        chunk_size=config["deeplift"]["chunk_size"],
    script:
        "../scripts/pairs.py"


rule pairs_figure:
    input:
        unpack(pairs_figure_input),
    output:
        png=report(
            "results/figures/{dataset}/{trait}/pairs.png",
            caption="../report/pairs.rst",
            category="Interacting pairs",
            subcategory="{dataset} {trait}",
            labels={"figure": "Pair arcs", "dataset": "{dataset}", "trait": "{trait}"},
        ),
        pdf="results/figures/{dataset}/{trait}/pairs.pdf",
    log:
        "logs/pairs_figure/{dataset}/{trait}.log",
    benchmark:
        "benchmarks/pairs_figure/{dataset}/{trait}.tsv"
    params:
        title=lambda wc: f"{figure_title(wc)}: network pairs, held-out test",
        trait=lambda wc: wc.trait,
        alpha=config["pairs"]["alpha"],
    script:
        "../scripts/plot_pairs.py"


rule pair_recall:
    input:
        pairs=[e["pairs"] for e in pair_recall_entries()],
        summaries=[e["summary"] for e in pair_recall_entries()],
        truths=[e["truth"] for e in pair_recall_entries()],
        scans=[e["scan_pairs"] for e in pair_recall_entries() if "scan_pairs" in e],
    output:
        tsv=report(
            "results/compare/pair_recall.tsv",
            caption="../report/pair_recall.rst",
            category="Interacting pairs",
            subcategory="Pair recall",
            labels={"table": "Pair recall: network vs exhaustive scan (TSV)"},
        ),
    log:
        "logs/pair_recall.log",
    benchmark:
        "benchmarks/pair_recall.tsv"
    params:
        entries=pair_recall_entries(),
    script:
        "../scripts/pair_recall.py"


rule report_pair_recall:
    input:
        tsv="results/compare/pair_recall.tsv",
    output:
        html=report(
            "results/compare/pair_recall.html",
            caption="../report/pair_recall.rst",
            category="Interacting pairs",
            subcategory="Pair recall",
            labels={"table": "Pair recall: network vs exhaustive scan"},
        ),
    log:
        "logs/report_tables/pair_recall.log",
    benchmark:
        "benchmarks/report_tables/pair_recall.tsv"
    params:
        title="Pair recall: the network's tested pairs vs the exhaustive plink 1.9 scan",
        note="recall at k = the number of pairs the network tested (pairs.top_pairs), both lists; tests = statistical tests each performed.",
    script:
        "../scripts/report_table.py"
