"""Write a simulated study with named traits and variance-share liabilities, for either engine.

An engine supplies a ``GenotypeSource`` (its .bim/.fam, the people's non-genetic term and a
stream of genotype chunks in SNP order); this module draws each liability's causal SNPs,
streams the genotypes to PLINK (memory bounded by the block size), keeps only the causal
SNPs' rows, and builds the liabilities, traits.tsv and truth.tsv from them (effects.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd

from ..atomic import write_tsv
from ..plink import write_plink
from . import effects
from .hao import BLOCK_GENOTYPES, reblock

log = logging.getLogger(__name__)


@dataclass
class GenotypeSource:
    engine: str
    bim: pd.DataFrame
    fam: pd.DataFrame
    environment: np.ndarray  # (N,) non-genetic liability term before scaling (lambda + eps)
    chunks: Callable[[], Iterator[np.ndarray]]  # int8 (rows, N) chunks, in SNP order, once
    summary: dict = field(default_factory=dict)

    @property
    def n_snps(self) -> int:
        return len(self.bim)

    @property
    def n_samples(self) -> int:
        return len(self.fam)


@dataclass
class WrittenStudy:
    source: GenotypeSource
    liabilities: dict[str, effects.Liability]
    traits: pd.DataFrame
    truth: pd.DataFrame
    causal_genotypes: dict[int, np.ndarray]


def check_specs(traits: Sequence[effects.TraitSpec], liabilities: Mapping[str, effects.LiabilitySpec], n_snps: int | None):
    """The run-time twin of the config checks (workflow_config), for direct Python callers."""
    problems = []
    if not traits:
        problems.append("no traits")
    for t in traits:
        if t.kind not in ("binary", "quantitative"):
            problems.append(f"trait {t.name}: kind must be binary or quantitative, got {t.kind!r}")
        if t.liability not in liabilities:
            problems.append(f"trait {t.name}: unknown liability {t.liability!r}")
        if not 0 < t.prevalence < 1:
            problems.append(f"trait {t.name}: prevalence must lie in (0, 1), got {t.prevalence}")
    for name, spec in liabilities.items():
        if not spec.total_share < 1:
            problems.append(f"liability {name}: variance shares sum to {spec.total_share:g} (must be < 1)")
        if not spec.classes and not spec.paper_causal:
            problems.append(f"liability {name}: no effect class")
        if any(not c.variance_share > 0 or c.count < 1 for c in spec.classes):
            problems.append(f"liability {name}: every class needs count >= 1 and variance_share > 0")
        if n_snps is not None and spec.n_snps > n_snps:
            problems.append(f"liability {name}: {spec.n_snps} causal SNPs but only {n_snps} variants")
    if problems:
        raise ValueError("invalid simulation parameters: " + "; ".join(problems))


def write_study(
    prefix: str | Path,
    traits_path: str | Path,
    truth_path: str | Path,
    source: GenotypeSource,
    *,
    traits: Sequence[effects.TraitSpec],
    liabilities: Mapping[str, effects.LiabilitySpec],
    seed: int,
    block_size: int | None = None,
) -> WrittenStudy:
    check_specs(traits, liabilities, source.n_snps)
    n_samples, n_snps = source.n_samples, source.n_snps
    if block_size is None:
        block_size = max(1, BLOCK_GENOTYPES // n_samples)
    used = sorted({t.liability for t in traits})
    draws = {name: effects.draw_causal(liabilities[name], n_snps, seed) for name in used}
    needed = np.unique(np.concatenate([d.all_indices() for d in draws.values()]).astype(np.int64))
    causal_genotypes: dict[int, np.ndarray] = {}

    def keeping_causal() -> Iterator[np.ndarray]:
        start, next_report = 0, 0
        for chunk in source.chunks():
            stop = start + len(chunk)
            lo, hi = np.searchsorted(needed, [start, stop])
            for index in needed[lo:hi]:
                causal_genotypes[int(index)] = chunk[index - start].copy()
            if stop >= next_report:
                log.info("genotypes: %d / %d SNPs", stop, n_snps)
                next_report += max(1, n_snps // 10)
            start = stop
            yield chunk

    write_plink(prefix, reblock(keeping_causal(), block_size), source.bim, source.fam)

    variant_ids = source.bim["snp"].tolist()
    built = {
        name: effects.build_paper_liability(draws[name], causal_genotypes, source.environment, variant_ids, seed)
        if liabilities[name].paper_causal
        else effects.build_liability(draws[name], causal_genotypes, source.environment, variant_ids)
        for name in used
    }
    table = pd.DataFrame({"FID": source.fam["fid"], "IID": source.fam["iid"]})
    truth_parts = []
    for t in traits:
        table[t.name] = effects.trait_values(built[t.liability], t)
        truth_parts.append(built[t.liability].truth.assign(trait=t.name))
    truth = pd.concat(truth_parts, ignore_index=True)[effects.TRUTH_COLUMNS]
    write_tsv(traits_path, table)
    write_tsv(truth_path, truth)
    for name, liability in built.items():
        log.info(
            "liability %s: realised variance shares %s",
            name,
            {k: round(v, 4) for k, v in liability.realised_shares.items()},
        )
    for t in traits:
        if t.kind == "binary":
            log.info("trait %s: case fraction %.3f", t.name, float(table[t.name].mean()))
        if liabilities[t.liability].paper_causal:
            # the legacy message the workflow's log readers look for
            log.info("trait %s (paper's additive model): case fraction of the centred model %s", t.name,
                     f"{table[t.name].mean():.3f}" if t.kind == "binary" else "n/a (quantitative)")
    return WrittenStudy(source, built, table, truth, causal_genotypes)
