"""Effect classes and variance-share liabilities, shared by both genotype engines.

A genotype g is the dosage of A1 (0, 1, 2; liftgwas.plink's convention). Class codings:

* ``additive``:  x = g
* ``dominant``:  x = [g >= 1]   (carrying at least one copy of A1)
* ``recessive``: x = [g == 2]   (two copies of A1)
* ``epistatic_pairs``: a pair term for two SNPs with **no marginal effect**:
  p = h1(g1) h2(g2) with h_i = g_i - mean(g_i) (centred over the sample's own genotypes),
  then residualised, by least squares in the sample, on the full two-way main-effect design
  [1, [g1 = 1], [g1 = 2], [g2 = 1], [g2 = 2]] -- and on the same indicator columns of every
  other SNP planted in an epistatic pair of the liability. A genotype has three levels, so
  those columns span every function of each of those SNPs: each pair term, and so the whole
  epistatic class term, has mean exactly zero within each genotype class of any planted
  epistatic SNP (to floating-point precision). Hence the class term's sample covariance with
  g and with any coding of g (dominant, recessive, ...) of every planted epistatic SNP is
  exactly zero, in the sample that is written, whatever population structure does to the
  joint distribution of the SNPs (centring alone leaves a marginal association when the SNPs
  are correlated through ancestry). This is the in-sample analogue of a GAMETES "pure,
  strict" model: the two-way ANOVA interaction component of h1 h2. What is NOT zero: the
  covariance of an epistatic SNP with the other parts of the liability (other classes'
  SNPs, ancestry), which, as for any null SNP, comes only through population structure.

Variance shares. Each class c has n_c causal SNPs (pairs) and a share v_c of the liability
variance. Every SNP's (pair's) coded term is standardised in the sample, given a random sign
and summed; the class sum is then scaled so its sample variance is exactly v_c. The
non-genetic part (the engine's population effect lambda + eps, i.e. ancestry plus noise) is
standardised and scaled to variance 1 - sum_c v_c (so shares must sum to < 1). The liability
is the centred sum of the parts; its variance is 1 up to the sample covariances between the
parts (logged as the realised shares). All SNPs of a class get the same share v_c / n_c: recall
per class then does not depend on a lucky draw of effect sizes.

Traits. The quantitative trait is the liability; the binary trait is the liability-threshold
model: case when the liability is above its (1 - prevalence) sample quantile. Traits naming
the same liability share it exactly (same SNPs, same values), as the legacy binary and
quantitative traits share one linear predictor.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Mapping

import numpy as np
import pandas as pd

CLASSES = ("additive", "dominant", "recessive", "epistatic_pairs")
# The paper's additive model as a liability (beta ~ N(0, 1) on dosages, plus the engine's
# unscaled lambda + eps, centred; binary = Bernoulli(sigmoid)): exactly hao.write_simulated_study's
# trait, so a study can put it beside variance-share liabilities. Alone in its liability.
PAPER = "paper_additive"
# The truth table's `class` value for each config class.
TRUTH_CLASS = {"additive": "additive", "dominant": "dominant", "recessive": "recessive", "epistatic_pairs": "epistatic"}
TRUTH_COLUMNS = ["trait", "variant_id", "class", "pair", "beta", "variance_share"]

_STREAM_LIABILITY = 6  # (6, crc32(name)): causal positions and signs of one liability


def liability_rng(seed: int, name: str) -> np.random.Generator:
    """The liability's own stream: adding or renaming another liability does not change it."""
    key = (_STREAM_LIABILITY, zlib.crc32(name.encode()))
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def coding(genotypes: np.ndarray, klass: str) -> np.ndarray:
    """The class coding of A1 dosages (float64); epistatic SNPs enter through pair_term."""
    g = np.asarray(genotypes)
    if klass == "additive":
        return g.astype(np.float64)
    if klass == "dominant":
        return (g >= 1).astype(np.float64)
    if klass == "recessive":
        return (g == 2).astype(np.float64)
    raise ValueError(f"no single-SNP coding for class {klass!r}")


def _levels(g: np.ndarray) -> np.ndarray:
    """Indicator columns [g = 1], [g = 2] (the main-effect design of one SNP, without 1)."""
    return np.column_stack([(g == 1), (g == 2)]).astype(np.float64)


def pair_term(g1: np.ndarray, g2: np.ndarray, others=()) -> np.ndarray:
    """(g1 - mean)(g2 - mean), residualised on the full genotype main effects of g1, g2 and
    of every SNP in ``others`` (the other planted pairs' SNPs)."""
    g1 = np.asarray(g1, dtype=np.float64)
    g2 = np.asarray(g2, dtype=np.float64)
    product = (g1 - g1.mean()) * (g2 - g2.mean())
    columns = [np.ones_like(g1), _levels(g1), _levels(g2)]
    columns += [_levels(np.asarray(g)) for g in others]
    design = np.column_stack(columns)
    coef, *_ = np.linalg.lstsq(design, product, rcond=None)
    return product - design @ coef


def pair_terms(pairs) -> list[np.ndarray]:
    """The pair terms of a class, each residualised on the main effects of ALL its SNPs.

    Residualising a pair on its own two SNPs is not enough for the class as a whole: under
    population structure the SNPs of one pair correlate with those of another, and so with
    the other pair's term. Residualising on every planted epistatic SNP makes the class
    term's sample covariance with any coding of any of them exactly zero.
    """
    snps = [g for pair in pairs for g in pair]
    return [pair_term(g1, g2, snps) for g1, g2 in pairs]


@dataclass
class ClassSpec:
    klass: str
    count: int  # SNPs (pairs for epistatic_pairs)
    variance_share: float

    @property
    def n_snps(self) -> int:
        return 2 * self.count if self.klass == "epistatic_pairs" else self.count


@dataclass
class LiabilitySpec:
    name: str
    classes: list[ClassSpec]
    paper_causal: int | None = None  # the paper's model with this many causal SNPs

    @classmethod
    def from_config(cls, name: str, definition: Mapping) -> "LiabilitySpec":
        if PAPER in definition:
            return cls(name, [], int(definition[PAPER]["n_causal"]))
        classes = []
        for klass in CLASSES:
            if klass in definition:
                d = definition[klass]
                count = d["n_pairs"] if klass == "epistatic_pairs" else d["n_causal"]
                classes.append(ClassSpec(klass, int(count), float(d["variance_share"])))
        return cls(name, classes)

    @property
    def n_snps(self) -> int:
        return self.paper_causal or sum(c.n_snps for c in self.classes)

    @property
    def total_share(self) -> float:
        return sum(c.variance_share for c in self.classes)


@dataclass
class TraitSpec:
    name: str
    kind: str  # binary | quantitative
    liability: str
    prevalence: float = 0.5


@dataclass
class CausalDraw:
    """Where one liability's causal SNPs sit (0-based SNP indices) and their signs."""

    spec: LiabilitySpec
    indices: dict[str, np.ndarray]  # class -> (n,) or (n_pairs, 2) indices
    signs: dict[str, np.ndarray]  # class -> (n,) or (n_pairs,) +-1

    def all_indices(self) -> np.ndarray:
        return np.concatenate([v.ravel() for v in self.indices.values()]) if self.indices else np.array([], int)


def draw_causal(spec: LiabilitySpec, n_snps: int, seed: int) -> CausalDraw:
    """Distinct causal SNPs for the liability's classes, at random positions, random signs.

    The paper's liability draws them as hao.choose_causal does (same SNPs, same beta)."""
    if spec.n_snps > n_snps:
        raise ValueError(
            f"liability {spec.name}: {spec.n_snps} causal SNPs requested but only {n_snps} variants"
        )
    if spec.paper_causal:
        from .hao import choose_causal

        indices, beta = choose_causal(n_snps, spec.paper_causal, seed)
        return CausalDraw(spec, {PAPER: indices}, {PAPER: beta})
    rng = liability_rng(seed, spec.name)
    chosen = rng.choice(n_snps, size=spec.n_snps, replace=False)
    indices, signs, start = {}, {}, 0
    for c in spec.classes:
        block = chosen[start : start + c.n_snps]
        start += c.n_snps
        if c.klass == "epistatic_pairs":
            indices[c.klass] = np.sort(block.reshape(c.count, 2), axis=1)
        else:
            indices[c.klass] = block
        signs[c.klass] = rng.choice([-1.0, 1.0], size=c.count)
    return CausalDraw(spec, indices, signs)


def _standardise(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    mean, sd = float(values.mean()), float(values.std())
    if not sd > 1e-12:
        return np.zeros_like(values), mean, 0.0
    return (values - mean) / sd, mean, sd


@dataclass
class Liability:
    name: str
    values: np.ndarray  # (N,) centred liability
    components: dict[str, np.ndarray]  # class -> (N,) class term; "environment" -> (N,)
    truth: pd.DataFrame  # variant_id, class, pair, beta, variance_share (no trait column)
    realised_shares: dict[str, float] = field(default_factory=dict)
    paper_seed: int | None = None  # set for the paper's liability: its binary trait's Bernoulli stream


def build_paper_liability(draw: CausalDraw, genotype_of, environment, variant_ids, seed: int) -> Liability:
    """hao.write_simulated_study's centred predictor: sum beta x (in SNP order) + lambda + eps."""
    indices, beta = draw.indices[PAPER], draw.signs[PAPER]
    genetic = np.zeros(len(environment))
    for index, effect in zip(indices, beta):  # SNP order, as the legacy writer sums
        genetic[:] += effect * genotype_of[int(index)]
    predictor = genetic + environment
    truth = pd.DataFrame({"variant_id": [variant_ids[i] for i in indices], "class": "additive", "pair": pd.NA,
                          "beta": beta, "variance_share": np.nan})
    truth["pair"] = truth["pair"].astype("Int64")
    return Liability(draw.spec.name, predictor - predictor.mean(), {"additive": genetic}, truth, {}, paper_seed=seed)


def build_liability(
    draw: CausalDraw,
    genotype_of: Mapping[int, np.ndarray],
    environment: np.ndarray,
    variant_ids,
) -> Liability:
    """Sum the class terms (each scaled to its variance share) and the scaled environment.

    ``genotype_of`` maps a causal SNP index to its (N,) A1 dosages; ``environment`` is the
    engine's non-genetic term (lambda + eps) before scaling.
    """
    spec = draw.spec
    n = len(environment)
    components: dict[str, np.ndarray] = {}
    rows = []
    pair_id = 0
    for c in spec.classes:
        idx, signs = draw.indices[c.klass], draw.signs[c.klass]
        if c.klass == "epistatic_pairs":
            raw = pair_terms([(genotype_of[i], genotype_of[j]) for i, j in idx])
        else:
            raw = [coding(genotype_of[i], c.klass) for i in idx]
        standardised = [_standardise(t) for t in raw]
        total = np.zeros(n)
        for (z, _, _), s in zip(standardised, signs):
            total += s * z
        sd_total = float(total.std())
        scale = np.sqrt(c.variance_share) / sd_total if sd_total > 1e-12 else 0.0
        components[c.klass] = total * scale
        for k, ((_, _, sd), s) in enumerate(zip(standardised, signs)):
            # effect per unit of the coding (pair: per unit of the residualised product)
            beta = s * scale / sd if sd > 0 else 0.0
            share = c.variance_share / c.count
            if c.klass == "epistatic_pairs":
                pair_id += 1
                for snp in idx[k]:
                    rows.append((variant_ids[snp], TRUTH_CLASS[c.klass], pair_id, beta, share))
            else:
                rows.append((variant_ids[idx[k]], TRUTH_CLASS[c.klass], pd.NA, beta, share))
    env, _, _ = _standardise(np.asarray(environment, dtype=np.float64))
    components["environment"] = env * np.sqrt(max(0.0, 1.0 - spec.total_share))
    values = np.sum(list(components.values()), axis=0)
    values = values - values.mean()
    var = float(values.var())
    realised = {k: float(v.var() / var) for k, v in components.items()} if var > 0 else {}
    truth = pd.DataFrame(rows, columns=TRUTH_COLUMNS[1:])
    truth["pair"] = truth["pair"].astype("Int64")
    return Liability(spec.name, values, components, truth, realised)


def trait_values(liability: Liability, trait: TraitSpec) -> np.ndarray:
    """Quantitative: the liability. Binary: 1 above the (1 - prevalence) sample quantile
    (the paper's liability: Bernoulli(sigmoid(liability)), as hao.write_simulated_study)."""
    if trait.kind == "quantitative":
        return liability.values
    if liability.paper_seed is not None:
        from scipy.special import expit

        from .hao import _STREAM_BINARY, _rng

        uniform = _rng(liability.paper_seed, _STREAM_BINARY).random(len(liability.values))
        return (uniform < expit(liability.values)).astype(np.int8)
    order = np.argsort(liability.values, kind="stable")
    n_cases = int(round(trait.prevalence * len(order)))
    cases = np.zeros(len(order), dtype=np.int8)
    cases[order[len(order) - n_cases :]] = 1
    return cases


def read_truth_table(path) -> pd.DataFrame:
    """A truth.tsv in either format as the new columns.

    The legacy file (``variant_id, beta``; additive traits of the paper) gets trait = NA,
    meaning every trait of the dataset, class = additive, pair = NA, variance_share = NA.
    """
    truth = pd.read_csv(path, sep="\t", dtype={"variant_id": str, "trait": str, "class": str})
    if "trait" not in truth.columns:
        truth.insert(0, "trait", pd.NA)
    if "class" not in truth.columns:
        truth["class"] = "additive"
    if "pair" not in truth.columns:
        truth["pair"] = pd.NA
    if "variance_share" not in truth.columns:
        truth["variance_share"] = np.nan
    truth["pair"] = truth["pair"].astype("Int64")
    return truth[TRUTH_COLUMNS]
