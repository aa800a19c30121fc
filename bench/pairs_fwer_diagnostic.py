"""Diagnostic of the interaction test's FWER on pair-free data (issue 13), the test alone.

    .venv/bin/python bench/pairs_fwer_diagnostic.py      # after bench/pairs.py (reuses its pair-free datasets)

bench/pairs.py found a family-wise error rate of 0.10 (10 / 100 pair-free replicates) for the
network's 20 pairs, which are pairs of SNPs with strong marginal effects. This runs the
validation-split interaction test (liftgwas.pairs.interaction_test, no network) on the same
pair-free datasets (bench/work/pairs/n2000_m1000/pairfree-r*), per replicate on
  * every pair of the 15 marginal causal SNPs (5 additive, 5 dominant, 5 recessive): 105 tests,
    with dosage main effects (the workflow's default) and with genotypic main effects;
  * 105 random pairs of non-causal SNPs (seeded), dosage main effects: the control;
FWER = fraction of replicates with any Bonferroni (over the 105) p < 0.05, per family. No
threshold or simulation is changed; the first three families were fixed before the first run.
The second run (``--families null_snps_dosage_lrt null_snps_dosage_permuted_y --output
bench/results/pairs_fwer_diagnostic_2.json``) separates the two suspected causes on the null
SNP pairs: the likelihood-ratio test instead of Wald, and Wald on a permuted trait (which
breaks the trait's link with ancestry: if the inflation stays, it is the test's approximation).
The third run (``--families null_snps_residualised_product causal_residualised_product
--output bench/results/pairs_fwer_diagnostic_3.json``) tests the product of the
covariate-residualised dosages (``pairs.product: residualised``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import pairs as lp  # noqa: E402
from liftgwas import simulate  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.data import load_training_data  # noqa: E402
from liftgwas.plink import Bed  # noqa: E402

WORK = ROOT / "bench/work/pairs/n2000_m1000"
OUTPUT = ROOT / "bench/results/pairs_fwer_diagnostic.json"


def FAMILIES(causal_pairs, null_pairs, y, y_perm):
    return [("causal_dosage", causal_pairs, "dosage", "wald", y),
            ("causal_genotypic", causal_pairs, "genotypic", "wald", y),
            ("null_snps_dosage", null_pairs, "dosage", "wald", y),
            # second run (families fixed after the first): is it the Wald approximation or structure?
            ("null_snps_dosage_lrt", null_pairs, "dosage", "lrt", y),
            ("null_snps_dosage_permuted_y", null_pairs, "dosage", "wald", y_perm),
            # third run: the product of covariate-residualised dosages (the structure fix)
            ("null_snps_residualised_product", null_pairs, "dosage", "wald", y),
            ("causal_residualised_product", causal_pairs, "dosage", "wald", y)]


FAMILY_NAMES = [f[0] for f in FAMILIES(None, None, None, None)]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--families", nargs="+", default=FAMILY_NAMES[:3], choices=FAMILY_NAMES)
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args()
    load_before, wall, cpu = os.getloadavg(), time.perf_counter(), time.process_time()
    rows = []
    for directory in sorted(WORK.glob("pairfree-r*"), key=lambda p: int(p.name.split("-r")[1])):
        data = load_training_data(directory / "store", directory / "plink.fam", directory / "traits.tsv",
                                  directory / "covariates.tsv", directory / "split.tsv", trait="mixed_bin",
                                  kind="binary")
        ids = Bed(directory / "plink").bim["snp"].astype(str).tolist()
        index = {v: k for k, v in enumerate(ids)}
        truth = simulate.read_truth_table(directory / "truth.tsv")
        truth = truth[truth["trait"] == "mixed_bin"]
        causal = sorted(index[v] for v in truth["variant_id"].astype(str))
        causal_pairs = list(combinations(causal, 2))
        rng = np.random.default_rng(int(directory.name.split("-r")[1]))
        others = np.setdiff1d(np.arange(len(ids)), causal)
        null_pairs = [tuple(sorted(rng.choice(others, 2, replace=False))) for _ in causal_pairs]
        part = data.splits["validation"]
        g = data.store.decode(part.rows)
        entry = {"dataset": directory.name}
        y_perm = np.random.default_rng(10_000 + int(directory.name.split("-r")[1])).permutation(part.y)
        for family, family_pairs, coding, test, y in FAMILIES(causal_pairs, null_pairs, part.y, y_perm):
            if family not in args.families:
                continue
            product = "residualised" if family.endswith("_residualised_product") else "dosage"
            p = np.array([lp.interaction_test(y, g[:, i], g[:, j], part.covariates, "binary", coding, test,
                                              product)["p"] for i, j in family_pairs])
            bonf, _ = lp.adjust(p)
            entry[family] = {"n_tests": len(p), "min_p": float(np.nanmin(p)), "n_failed": int(np.isnan(p).sum()),
                             "any_bonferroni": bool(np.nanmin(bonf) < 0.05),
                             "fraction_p_below_0.05": float(np.mean(p[np.isfinite(p)] < 0.05))}
        rows.append(entry)
        print(directory.name, {k: (v["any_bonferroni"], round(v["min_p"], 5)) for k, v in entry.items()
                               if isinstance(v, dict)}, flush=True)
    summary = {family: {"fwer": float(np.mean([r[family]["any_bonferroni"] for r in rows])),
                        "n_replicates": len(rows),
                        "mean_fraction_p_below_0.05": float(np.mean([r[family]["fraction_p_below_0.05"]
                                                                     for r in rows]))}
               for family in args.families}
    write_json(args.output, {"command": "bench/pairs_fwer_diagnostic.py " + " ".join(sys.argv[1:]),
                             "summary": summary,
                        "machine": {"cpus": os.cpu_count(), "shared": True, "loadavg_before": load_before,
                                    "loadavg_after": os.getloadavg(),
                                    "wall_s": round(time.perf_counter() - wall, 1),
                                    "cpu_s": round(time.process_time() - cpu, 1)},
                        "replicates": rows})
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
