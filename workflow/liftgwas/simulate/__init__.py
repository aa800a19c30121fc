"""Simulated studies: two genotype engines, effect classes, variance-share liabilities.

* ``hao``: the paper's structured-population model (Hao, Song & Storey 2016), unlinked SNPs;
  ``write_simulated_study`` is the paper's additive study (traits named by kind), unchanged.
* ``coalescent``: msprime + stdpopsim, one contig with real LD, several populations.
* ``effects``: additive / dominant / recessive codings, pure epistatic pairs with no
  marginal effect, liabilities built from variance shares, the truth table.
* ``study``: writes PLINK + traits.tsv + truth.tsv for named traits from either engine.

``write_from_params`` is what the Snakemake rule calls: the legacy list of trait kinds
(the paper) goes to ``write_simulated_study``; named traits go to ``study.write_study``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from .effects import (  # noqa: F401
    CLASSES,
    LiabilitySpec,
    TraitSpec,
    coding,
    pair_term,
    read_truth_table,
)
from .hao import (  # noqa: F401
    BLOCK_GENOTYPES,
    CACHE_GENOTYPES,
    GAMMA_FLOOR,
    GAMMA_SCALE,
    GENOTYPE_CHUNK_SNPS,
    N_CHROMOSOMES,
    N_CLUSTERS,
    TRAIT_KINDS,
    Population,
    SimulatedStudy,
    choose_causal,
    dataset_seed,
    draw_genotypes,
    genotype_chunks,
    hao_source,
    log,
    make_bim,
    make_fam,
    reblock,
    simulate_population,
    write_simulated_study,
)

ENGINES = ("hao", "coalescent")


def coalescent_dataset_seed(master_seed: int, replicate: int) -> int:
    """The coalescent twin of ``dataset_seed``: distinct from every Hao dataset's stream."""
    if master_seed < 0 or replicate < 0:
        raise ValueError(f"need master_seed >= 0 and replicate >= 0, got {master_seed}, {replicate}")
    entropy = [int(master_seed), int(replicate), 0, 1]  # 4 words: never a Hao entropy list
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint32)[0])


def parse_traits(traits: Mapping, liabilities: Mapping) -> tuple[list[TraitSpec], dict[str, LiabilitySpec]]:
    """Config mappings (simulation.traits, simulation.liabilities) as specs."""
    specs = [
        TraitSpec(name, d["kind"], d["liability"], float(d.get("prevalence", 0.5))) for name, d in traits.items()
    ]
    return specs, {name: LiabilitySpec.from_config(name, d) for name, d in liabilities.items()}


def write_from_params(
    prefix,
    traits_path,
    truth_path,
    *,
    engine: str,
    seed: int,
    n_snps: int,
    traits: Sequence[str] | Mapping,
    n_samples: int | None = None,
    sparsity: float | None = None,
    n_causal: int | None = None,
    liabilities: Mapping | None = None,
    coalescent: Mapping | None = None,
    block_size: int | None = None,
):
    """Simulate one dataset of a study from the rule's params (see the config schema)."""
    from . import study

    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, got {engine!r}")
    if not isinstance(traits, Mapping):
        if engine != "hao":
            raise ValueError("the legacy list of trait kinds needs the hao engine; name the traits instead")
        return write_simulated_study(
            prefix,
            traits_path,
            truth_path,
            n_samples=int(n_samples),
            n_snps=int(n_snps),
            n_causal=int(n_causal),
            sparsity=float(sparsity),
            seed=int(seed),
            traits=tuple(traits),
            block_size=block_size,
        )
    trait_specs, liability_specs = parse_traits(traits, liabilities or {})
    if engine == "hao":
        source = hao_source(int(n_samples), int(n_snps), float(sparsity), int(seed))
    else:
        from .coalescent import DEFAULTS, coalescent_source

        c = {**DEFAULTS, **(coalescent or {})}
        source = coalescent_source(
            n_snps=int(n_snps),
            samples={k: int(v) for k, v in c["samples"].items()},
            sequence_length=float(c["sequence_length"]),
            seed=int(seed),
            species=c["species"],
            model=c["model"],
            min_maf=float(c["min_maf"]),
        )
    return study.write_study(
        prefix,
        traits_path,
        truth_path,
        source,
        traits=trait_specs,
        liabilities=liability_specs,
        seed=int(seed),
        block_size=block_size,
    )
