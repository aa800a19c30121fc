"""Coalescent genotype engine with real LD: msprime through the stdpopsim catalogue.

One generic contig of ``sequence_length`` bp of a stdpopsim species (HomSap by default),
with the demographic model's mutation rate and the species' mean recombination rate (the
catalogue's values; a real chromosome would be far too large for the study sizes the
workflow targets), sampled under a multi-population demographic model
(OutOfAfrica_3G09 by default: YRI, CEU, CHB) with ``samples`` diploid people per
population. Biallelic sites with sample MAF >= ``min_maf`` are kept; if there are more
than ``n_snps`` of them, a seeded random subset of exactly ``n_snps`` (in position order)
is written, so a study asks for N and M like the Hao engine does. Fewer is an error naming
``simulation.coalescent.sequence_length``.

Files: PLINK 1 exactly as the Hao engine writes them (liftgwas.plink.write_plink, SNP ids
snp00001..., people s00001...), one chromosome (1) with the sites' bp positions (1-based),
A1 = the sample's minor allele (the dosage is its count), A2 = the major one.

The non-genetic liability term is the analogue of Hao's lambda + eps: lambda_n = the
index (1, 2, ...) of person n's population in the config's order, eps_n ~ N(0, tau2_k)
with tau2_k ~ InverseGamma(3, 1) per population, so ancestry confounds the trait and the
GWAS needs its PCs, as on Hao data.

Memory: the tree sequence (small) is held; genotypes are decoded site by site from it
(``ts.variants``) and written in blocks, so memory does not grow with M beyond the tree
sequence. Reproducible: msprime's seed, the subset and the noise all come from the
dataset seed. KING relatedness on a single region is meaningless: do not feed these data
to relatedness QC.
"""

from __future__ import annotations

import logging
from typing import Iterator, Mapping

import numpy as np

from .hao import GENOTYPE_CHUNK_SNPS, _rng, _zero_padded, make_fam

log = logging.getLogger(__name__)

DEFAULTS = {
    "species": "HomSap",
    "model": "OutOfAfrica_3G09",
    "min_maf": 0.05,
}

_STREAM_MSPRIME = 7
_STREAM_SUBSET = 8
_STREAM_PEOPLE = 9  # sex, tau2, eps


def resolve_model(species_id: str, model_id: str):
    """(species, model) from the catalogue; ValueError naming the config key if unknown."""
    import stdpopsim

    try:
        species = stdpopsim.get_species(species_id)
    except (ValueError, KeyError) as exc:
        raise ValueError(f"config key simulation.coalescent.species: unknown stdpopsim species {species_id!r}") from exc
    try:
        model = species.get_demographic_model(model_id)
    except (ValueError, KeyError) as exc:
        known = ", ".join(sorted(m.id for m in species.demographic_models))
        raise ValueError(
            f"config key simulation.coalescent.model: unknown stdpopsim model {model_id!r} for "
            f"{species_id} (known: {known})"
        ) from exc
    return species, model


def check_populations(model, samples: Mapping[str, int]) -> None:
    allowed = [p.name for p in model.populations if getattr(p, "allow_samples", True)]
    unknown = [p for p in samples if p not in allowed]
    if unknown:
        raise ValueError(
            f"config key simulation.coalescent.samples: populations {unknown} are not sampled in "
            f"{model.id} (allowed: {allowed})"
        )


def simulate_tree_sequence(
    *, species: str, model: str, samples: Mapping[str, int], sequence_length: float, seed: int
):
    import stdpopsim

    species_obj, model_obj = resolve_model(species, model)
    check_populations(model_obj, samples)
    contig = species_obj.get_contig(length=float(sequence_length), mutation_rate=model_obj.mutation_rate)
    msprime_seed = int(_rng(seed, _STREAM_MSPRIME).integers(1, 2**31 - 1))
    log.info(
        "msprime via stdpopsim %s: %s/%s, %g bp, mutation rate %g, recombination rate %g, samples %s, seed %d",
        stdpopsim.__version__,
        species,
        model,
        sequence_length,
        contig.mutation_rate,
        contig.recombination_map.mean_rate,
        dict(samples),
        msprime_seed,
    )
    engine = stdpopsim.get_engine("msprime")
    return engine.simulate(model_obj, contig, dict(samples), seed=msprime_seed)


def _dosages(variant, nodes: np.ndarray) -> np.ndarray:
    haplotypes = variant.genotypes
    return (haplotypes[nodes[:, 0]] + haplotypes[nodes[:, 1]]).astype(np.int8)


def coalescent_source(
    *,
    n_snps: int,
    samples: Mapping[str, int],
    sequence_length: float,
    seed: int,
    species: str = DEFAULTS["species"],
    model: str = DEFAULTS["model"],
    min_maf: float = DEFAULTS["min_maf"],
):
    """Simulate the tree sequence and return a ``study.GenotypeSource`` streaming its SNPs."""
    import pandas as pd

    from .study import GenotypeSource

    if n_snps < 1 or not samples or min(samples.values()) < 1 or not 0 <= min_maf < 0.5:
        raise ValueError(
            f"invalid coalescent parameters: n_snps {n_snps}, samples {dict(samples)}, min_maf {min_maf}"
        )
    ts = simulate_tree_sequence(
        species=species, model=model, samples=samples, sequence_length=sequence_length, seed=seed
    )
    nodes = ts.individuals_nodes
    n_people = len(nodes)
    # pass 1: which sites qualify (biallelic, MAF >= min_maf), and which allele is minor
    qualifying, flip = [], []
    for variant in ts.variants():
        if len(variant.alleles) != 2 or len(variant.site.mutations) != 1:
            continue
        freq = float(_dosages(variant, nodes).sum()) / (2 * n_people)
        maf = min(freq, 1 - freq)
        if maf >= min_maf and maf > 0:
            qualifying.append(variant.site.id)
            flip.append(freq > 0.5)
    log.info(
        "tree sequence: %d sites, %d biallelic with MAF >= %g, %d people",
        ts.num_sites,
        len(qualifying),
        min_maf,
        n_people,
    )
    if len(qualifying) < n_snps:
        raise ValueError(
            f"config key simulation.coalescent.sequence_length: {sequence_length:g} bp gave only "
            f"{len(qualifying)} variants with MAF >= {min_maf} (simulation.n_snps = {n_snps}); "
            "use a longer sequence"
        )
    keep = np.sort(_rng(seed, _STREAM_SUBSET).choice(len(qualifying), size=n_snps, replace=False))
    site_ids = np.asarray(qualifying)[keep]
    flips = np.asarray(flip)[keep]
    positions, a1, a2 = [], [], []
    for site_id, flipped in zip(site_ids, flips):
        site = ts.site(int(site_id))
        derived = site.mutations[0].derived_state
        positions.append(int(site.position) + 1)
        a1.append(site.ancestral_state if flipped else derived)
        a2.append(derived if flipped else site.ancestral_state)
    bim = pd.DataFrame(
        {"chrom": 1, "snp": _zero_padded("snp", n_snps), "cm": 0, "pos": positions, "a1": a1, "a2": a2}
    )

    population_names = list(samples)
    population_of = np.array(
        [population_names.index(ts.population(ts.node(int(pair[0])).population).metadata["name"]) for pair in nodes]
    )
    rng = _rng(seed, _STREAM_PEOPLE)
    sex = rng.integers(1, 3, size=n_people)
    tau2 = 1.0 / rng.gamma(shape=3.0, scale=1.0, size=len(population_names))
    eps = rng.standard_normal(n_people) * np.sqrt(tau2[population_of])
    fam = make_fam(n_people, sex)

    def chunks() -> Iterator[np.ndarray]:
        wanted = set(site_ids.tolist())
        flip_of = dict(zip(site_ids.tolist(), flips.tolist()))
        block = np.empty((GENOTYPE_CHUNK_SNPS, n_people), dtype=np.int8)
        filled = 0
        for variant in ts.variants():
            sid = variant.site.id
            if sid not in wanted:
                continue
            dosage = _dosages(variant, nodes)
            block[filled] = 2 - dosage if flip_of[sid] else dosage
            filled += 1
            if filled == GENOTYPE_CHUNK_SNPS:
                yield block.copy()
                filled = 0
        if filled:
            yield block[:filled].copy()

    return GenotypeSource(
        engine="coalescent",
        bim=bim,
        fam=fam,
        environment=population_of + 1.0 + eps,
        chunks=chunks,
        summary={
            "populations": {p: int((population_of == k).sum()) for k, p in enumerate(population_names)},
            "population_of": population_of,
            "tau2": tau2.tolist(),
            "n_sites": int(ts.num_sites),
            "n_qualifying": len(qualifying),
            "sequence_length": float(sequence_length),
        },
    )
