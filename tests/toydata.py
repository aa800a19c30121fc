"""Tiny cohorts for the tests, written as real PLINK files + trait/covariate/split tables.

(A module of its own, not conftest.py: several conftest modules exist, so importing
"conftest" by name is ambiguous.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def write_toy_cohort(
    directory: Path,
    n_samples: int = 400,
    n_snps: int = 150,
    n_causal: int = 5,
    kind: str = "binary",
    seed: int = 0,
    missing_rate: float = 0.0,
    effect: float = 1.2,
) -> dict:
    """A small cohort with a known genetic signal, in the workflow's file layout.

    Returns the paths and the causal variant ids. Genotypes are i.i.d. binomial, the
    trait is logistic/linear in the causal dosages; covariates are two noise columns.
    """
    from liftgwas import plink
    from liftgwas.genostore import build_store

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    freq = rng.uniform(0.1, 0.5, n_snps)
    g = rng.binomial(2, freq[:, None], (n_snps, n_samples)).astype(np.int8)
    causal = np.sort(rng.choice(n_snps, n_causal, replace=False))
    beta = rng.choice([-1.0, 1.0], n_causal) * effect
    lin = (beta[:, None] * (g[causal] - 2 * freq[causal, None])).sum(0)
    if kind == "binary":
        y = rng.binomial(1, 1 / (1 + np.exp(-lin))).astype(float)
    else:
        y = lin + rng.normal(0, 1, n_samples)
    if missing_rate:
        g[rng.random(g.shape) < missing_rate] = -1
    ids = [f"s{i:04d}" for i in range(n_samples)]
    bim = pd.DataFrame(
        {"chrom": np.repeat([1, 2, 3], -(-n_snps // 3))[:n_snps], "snp": [f"v{j:04d}" for j in range(n_snps)],
         "cm": 0, "pos": np.arange(n_snps) * 100 + 1, "a1": "A", "a2": "G"}
    )
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": 0, "mother": 0, "sex": 1, "phenotype": -9})
    prefix = directory / "plink"
    plink.write_plink(prefix, g, bim, fam)
    build_store(prefix, directory / "store")
    pd.DataFrame({"FID": ids, "IID": ids, kind: y}).to_csv(directory / "traits.tsv", sep="\t", index=False)
    pd.DataFrame({"FID": ids, "IID": ids, "PC1": rng.normal(size=n_samples), "PC2": rng.normal(size=n_samples)}).to_csv(
        directory / "covariates.tsv", sep="\t", index=False
    )
    parts = np.array(["train"] * (n_samples // 2) + ["early_stop"] * (n_samples // 4))
    parts = np.concatenate([parts, ["validation"] * (n_samples - len(parts))])
    pd.DataFrame({"IID": ids, "split": rng.permutation(parts)}).to_csv(directory / "split.tsv", sep="\t", index=False)
    return {
        "prefix": prefix,
        "store": directory / "store",
        "traits": directory / "traits.tsv",
        "covariates": directory / "covariates.tsv",
        "split": directory / "split.tsv",
        "fam": directory / "plink.fam",
        "causal": [f"v{j:04d}" for j in causal],
        "genotypes": g,
        "kind": kind,
    }
