"""Snakemake adapter: simulate one structured-population study (liftgwas.simulate).

params.seed is the dataset's own seed (simulate.dataset_seed(master, a, replicate)).
"""

import logging

from liftgwas import simulate


def main(smk) -> None:
    logging.basicConfig(
        filename=smk.log[0],
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    bed = str(smk.output.bed)
    if not bed.endswith(".bed"):
        raise ValueError(f"output.bed must end in .bed, got {bed}")
    params = smk.params
    simulate.write_simulated_study(
        bed[: -len(".bed")],
        smk.output.traits,
        smk.output.truth,
        n_samples=int(params.n_samples),
        n_snps=int(params.n_snps),
        n_causal=int(params.n_causal),
        sparsity=float(params.sparsity),
        seed=int(params.seed),
        traits=tuple(params.traits),
    )


if __name__ == "__main__":
    try:
        main(snakemake)  # noqa: F821 (injected by Snakemake)
    except Exception:
        logging.getLogger("liftgwas").exception("simulation failed")
        raise
