"""Snakemake adapter: simulate one structured-population study (liftgwas.simulate).

params.seed is the dataset's own seed (simulate.dataset_seed(master, a, replicate)).
"""

from liftgwas import simulate
from liftgwas.runlog import log_to

sm = snakemake  # noqa: F821
log_to(sm.log[0])
simulate.write_simulated_study(
    str(sm.output.bed).removesuffix(".bed"),
    sm.output.traits,
    sm.output.truth,
    n_samples=int(sm.params.n_samples),
    n_snps=int(sm.params.n_snps),
    n_causal=int(sm.params.n_causal),
    sparsity=float(sm.params.sparsity),
    seed=int(sm.params.seed),
    traits=tuple(sm.params.traits),
)
