"""Snakemake adapter: discoveries.tsv of every method and, on simulations, their realised
FDR and power against the truth (liftgwas.discover.discoveries)."""

import pandas as pd

from liftgwas import compare
from liftgwas.atomic import write_tsv
from liftgwas.discover import discoveries as dc
from liftgwas.recall import GenotypeLD
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])  # noqa: F821
sm = snakemake  # noqa: F821
p = sm.params
inputs = sm.input.keys()
parts = [dc.gwas_rows(compare.read_sumstats(sm.input.sumstats), p.q)]
if "null_summary" in inputs:
    summary = pd.read_csv(sm.input.null_summary, sep="\t", dtype={"variant_id": str})
    maxima = pd.read_csv(sm.input.null_maxima, sep="\t")["max_score"].to_numpy(float)
    parts.append(dc.null_rows(summary, maxima, p.alpha, fwer=p.fwer))
if "knockoff_statistics" in inputs:
    from liftgwas.discover.knockoff_filter import knockoff_selection

    statistics = pd.read_csv(sm.input.knockoff_statistics, sep="\t", dtype={"group": str, "variant_ids": str})
    parts.append(dc.knockoff_rows(statistics, p.q, knockoff_selection))
table = dc.discoveries_table(parts)
write_tsv(sm.output.table, table)
summary = dc.summary_table(table)
if "truth" in inputs:
    causal = compare.read_truth(sm.input.truth, p.trait)
    exact = p.engine == "hao"  # unlinked SNPs: only the causal SNP itself is a true discovery
    ld = None if exact else GenotypeLD(str(sm.input.bed).removesuffix(".bed"))
    positions = None
    if not exact:
        bim = ld.bed.bim
        positions = pd.DataFrame({"variant_id": bim["snp"].astype(str), "chromosome": bim["chrom"].astype(str),
                                  "base_pair_location": bim["pos"]})
    error = dc.realised_error(table, causal, positions, window=int(p.window_bp), r2_threshold=p.r2, ld=ld,
                              exact=exact)
    summary = summary.merge(error.drop(columns=["error_rate", "discoveries"]), on="method", how="left")
    summary["truth_matching"] = "exact" if exact else "locus (LD)"
write_tsv(sm.output.summary, summary)
log.info("\n%s", summary.to_string(index=False))
