"""Snakemake adapter: QQ plot of the GWAS p-values with lambda_GC."""

from liftgwas import compare, plots
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
sumstats = compare.read_sumstats(snakemake.input.sumstats)
neg_log10_p = sumstats["neg_log10_p_value"] if "neg_log10_p_value" in sumstats.columns else None
lam = plots.qq_plot(
    sumstats["p_value"].to_numpy(float),
    snakemake.output.png,
    snakemake.output.pdf,
    title=snakemake.params.title,
    neg_log10_p=neg_log10_p,
)
log.info("lambda_GC = %.4f over %d SNPs with a p-value", lam, int(sumstats["p_value"].notna().sum()))
