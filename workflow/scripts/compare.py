"""Snakemake adapter for the comparison tables.

rule top_hits: the top-k SNPs of each method with their rank in the other, and one
agreement row (Spearman, top-k overlap, recall on simulations) per dataset and trait.
rule recall_comparison: GWAS versus DeepLIFT recall over every simulation setting.
"""

import pandas as pd

from liftgwas import compare
from liftgwas.atomic import write_text, write_tsv
from liftgwas.errors import InputError
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
params = snakemake.params


def top_hits():
    sumstats = compare.read_sumstats(snakemake.input.sumstats)
    scores = compare.read_scores(snakemake.input.scores)
    truth = getattr(snakemake.input, "truth", None)
    causal = compare.read_truth(truth, params.trait) if truth else None
    table = compare.top_hits_table(sumstats, scores, params.k, causal_ids=causal)
    agreement = compare.ranking_agreement(sumstats, scores, params.k, causal_ids=causal)
    row = {
        "dataset": params.dataset,
        "trait": params.trait,
        "group": params.group,
        "sparsity": params.sparsity,
        **agreement,
    }
    write_tsv(snakemake.output.top_hits, table)
    write_tsv(snakemake.output.agreement, pd.DataFrame([row]))
    note = (
        f"Spearman rho = {agreement['spearman_rho']:.3f} over {agreement['n_shared']} SNPs; "
        f"top-{params.k} overlap = {agreement['topk_overlap']} SNPs"
    )
    if causal is not None:
        note += (
            f"; top-{params.k} recall: GWAS {agreement['gwas_recall']:.2f}, "
            f"DeepLIFT (seed-averaged) {agreement['deeplift_recall']:.2f}"
        )
    write_text(
        snakemake.output.html,
        compare.table_html(table, f"Top {params.k} SNPs of each method: {params.dataset}, {params.trait}", note),
    )
    log.info("%s %s: %s", params.dataset, params.trait, note)


def recall_comparison():
    agreement = pd.concat(
        [pd.read_csv(path, sep="\t", dtype={"group": str, "trait": str, "dataset": str}) for path in snakemake.input.agreement],
        ignore_index=True,
    )
    runs = compare.read_deeplift_recall(snakemake.input.deeplift_recall)
    try:
        summary = compare.recall_summary(agreement, runs, params.k)
    except ValueError as error:
        raise InputError(snakemake.input.deeplift_recall, str(error), field="k") from None
    write_tsv(snakemake.output.tsv, summary)
    markdown = compare.recall_summary_markdown(summary)
    write_text(snakemake.output.md, markdown)
    write_text(
        snakemake.output.html,
        compare.table_html(summary, f"Top-{params.k} recall: GWAS versus DeepLIFT", "sd = sample standard deviation; NA with one value."),
    )
    log.info("\n%s", markdown)


{"top_hits": top_hits, "recall_comparison": recall_comparison}[snakemake.rule]()
