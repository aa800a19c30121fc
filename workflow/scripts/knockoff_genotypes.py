"""Snakemake adapter: one knockoff draw [X, X~] of a dataset (liftgwas.discover.knockoffs)."""

from liftgwas.atomic import write_json
from liftgwas.discover.knockoffs import KnockoffSettings, build_knockoff_store
from liftgwas.runlog import log_to

log = log_to(snakemake.log[0])
p = snakemake.params
settings = KnockoffSettings(run=True, **p.settings)
out_prefix = str(snakemake.output.packed).removesuffix(".packed.npy")
log.info("knockoffs of %s: %s, seed %d, %s", p.dataset, p.method, p.seed, settings)
summary = build_knockoff_store(
    str(snakemake.input.bed).removesuffix(".bed"),
    str(snakemake.input.packed).removesuffix(".packed.npy"),
    snakemake.input.covariates,
    out_prefix,
    snakemake.output.groups,
    settings,
    p.method,
    p.seed,
    dataset=p.dataset,
)
write_json(snakemake.output.summary, summary)
