"""Snakemake adapter: recall by effect class and method.

rule method_recall: every method's ranking of one simulated dataset and trait, scored
against its truth (exact, locus and pair recall; liftgwas.recall / liftgwas.compare).
rule recall_by_class_table: mean ± sd over the datasets of each setting.
"""

import pandas as pd

from liftgwas import compare, epistasis
from liftgwas.atomic import write_text, write_tsv
from liftgwas.recall import GenotypeLD
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
params = sm.params


def method_recall():
    truth = compare.read_truth_rows(sm.input.truth, params.trait)
    ld = GenotypeLD(str(sm.input.bed).removesuffix(".bed"))
    bim = ld.bed.bim
    positions = pd.DataFrame({"variant_id": bim["snp"].astype(str), "chromosome": bim["chrom"].astype(str),
                              "base_pair_location": bim["pos"]})
    rankings = {
        "deeplift": compare.deeplift_strength(compare.read_scores(sm.input.scores)),
        "gwas": compare.gwas_strength(compare.read_sumstats(sm.input.sumstats)),
    }
    pair_lists = {}
    if "genotypic" in sm.input.keys():
        rankings["gwas_genotypic"] = compare.gwas_strength(compare.read_sumstats(sm.input.genotypic))
    if "epistasis_snps" in sm.input.keys():
        snps = epistasis.read_snp_ranking(sm.input.epistasis_snps)
        if (snps["status"] == "skipped_max_snps").all():
            log.info("pairwise scan skipped for this dataset (more than gwas.epistasis.max_snps variants)")
        else:
            rankings["epistasis"] = pd.Series(snps["best_statistic"].to_numpy(float),
                                              index=snps["variant_id"].astype(str).to_numpy())
            pair_lists["epistasis"] = epistasis.read_pair_list(sm.input.epistasis_pairs)
    table = compare.recall_by_method(rankings, positions, truth, params.k, window=int(params.window_bp),
                                     r2_threshold=params.r2, ld=ld, pair_lists=pair_lists)
    for column, value in (("trait", params.trait), ("dataset", params.dataset), ("engine", params.engine),
                          ("sparsity", params.sparsity), ("group", params.group)):
        table.insert(0, column, value)
    write_tsv(sm.output.table, table)
    log.info("\n%s", table.to_string(index=False))


def recall_by_class_table():
    per_dataset = pd.concat([pd.read_csv(p, sep="\t", dtype={"group": str, "trait": str, "dataset": str,
                                                            "engine": str, "method": str, "class": str})
                             for p in sm.input.tables], ignore_index=True)
    summary = compare.recall_by_class_summary(per_dataset)
    write_tsv(sm.output.tsv, summary)
    markdown = compare.recall_by_class_markdown(summary, params.k)
    write_text(sm.output.md, markdown)
    write_text(sm.output.html, compare.table_html(
        summary, f"Top-{params.k} recall by effect class and method",
        "headline = exact-SNP recall on Hao genotypes, locus recall on coalescent ones; sd over datasets"))
    log.info("\n%s", markdown)


{"method_recall": method_recall, "recall_by_class_table": recall_by_class_table}[sm.rule]()
