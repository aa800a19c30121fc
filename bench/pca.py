"""Benchmark: which PCA computes the simulations' PC covariates (issue 16).

    .venv/bin/python bench/pca.py --old /tmp/old-16/workflow   # old = a checkout of 6cb5743

Cohorts: four populations with Balding-Nichols drifted frequencies (F_ST = 0.05), 2 %
missing calls, written as a .bed under bench/work/pca/ (git-ignored, deleted afterwards).
Candidates, each asked for 10 PCs, one thread:

  streamed-rsvd   the hand-written streamed randomized subspace iteration (liftgwas.pca of
                  the previous commit; 5 passes over the .bed), only with --old
  plink2-approx   plink2 --pca approx (liftgwas.pca now, the default above 5,000 samples)
  plink2-exact    plink2 --pca (liftgwas.pca now, the default up to 5,000 samples)
  sklearn-rsvd    sklearn.utils.extmath.randomized_svd (n_iter 4, oversampling 10) of the
                  standardised matrix held in memory (streaming it would need the
                  hand-written block products again): its time is a lower bound

Agreement: |corr| of each of the top 3 (structured) PCs with the exact SVD of the
variance-standardised matrix (numpy, in memory) where N x M allows it, else with
plink2-exact. CPU seconds include plink2's (RUSAGE_CHILDREN). Writes bench/results/pca.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
N_PCS, N_POP = 10, 4


def write_cohort(prefix: Path, n: int, m: int, seed: int = 0) -> np.ndarray:
    sys.path.insert(0, str(ROOT / "workflow"))
    from liftgwas import plink

    rng = np.random.default_rng(seed)
    population = np.arange(n) % N_POP
    ancestral = rng.uniform(0.05, 0.95, m)
    fst = 0.05
    freq = rng.beta(ancestral[:, None] * (1 - fst) / fst, (1 - ancestral[:, None]) * (1 - fst) / fst, (m, N_POP))
    g = rng.binomial(2, freq[:, population]).astype(np.int8)
    g[rng.random(g.shape) < 0.02] = plink.MISSING
    bim = pd.DataFrame({"chrom": "1", "snp": [f"v{j}" for j in range(m)], "cm": 0.0, "pos": np.arange(m) + 1,
                        "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": [f"s{i}" for i in range(n)], "iid": [f"s{i}" for i in range(n)], "father": 0,
                        "mother": 0, "sex": 0, "phenotype": -9})
    plink.write_plink(prefix, g, bim, fam)
    return g


def standardised(g: np.ndarray) -> np.ndarray:
    x = g.astype(np.float64)
    x[g < 0] = np.nan
    p = np.nanmean(x, axis=1, keepdims=True) / 2
    sd = np.sqrt(2 * p * (1 - p))
    z = np.where(np.isnan(x), 0.0, (x - 2 * p) / np.where(sd > 0, sd, 1.0))
    return z[sd[:, 0] > 0]


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[3])
import numpy as np
from liftgwas import pca
method, prefix = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
if method == "streamed-rsvd":
    frame = pca.compute_pcs(prefix, 10, seed=1, threads=1)
else:
    frame = pca.compute_pcs(prefix, 10, seed=1, approx=method == "plink2-approx", threads=1)
wall = time.perf_counter() - t0
cpu = time.process_time() - c0 + resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime
np.save(prefix + "." + method + ".npy", frame[[f"PC{k + 1}" for k in range(10)]].to_numpy())
print(json.dumps({"wall_s": wall, "cpu_s": cpu}))
"""


def run(method: str, prefix: Path, package: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-c", CHILD, method, str(prefix), package], capture_output=True, text=True,
                         env=env)
    if out.returncode:
        raise RuntimeError(f"{method}: {out.stderr[-2000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["pcs"] = np.load(f"{prefix}.{method}.npy")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000x10000,10000x10000", help="N x M cohorts")
    parser.add_argument("--old", default="", help="workflow/ folder of a checkout of the previous commit")
    parser.add_argument("--svd-max", type=int, default=2_000 * 10_000, help="largest N*M for the numpy SVD reference")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "pca")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "pca.json")
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    args.work.mkdir(parents=True, exist_ok=True)
    started, cohorts = time.perf_counter(), []
    for n, m in (tuple(map(int, size.split("x"))) for size in args.sizes.split(",")):
        prefix = args.work / f"p{n}x{m}"
        g = write_cohort(prefix, n, m)
        results = {}
        methods = (["streamed-rsvd"] if args.old else []) + ["plink2-approx"]
        if n <= 5000:
            methods.append("plink2-exact")
        for method in methods:
            results[method] = run(method, prefix, args.old if method == "streamed-rsvd" else str(ROOT / "workflow"))
            print(n, m, method, {k: v for k, v in results[method].items() if k != "pcs"}, flush=True)
        reference_name = "plink2-exact"
        if n * m <= args.svd_max:
            with threadpool_limits(1):
                z = standardised(g)
                from sklearn.utils.extmath import randomized_svd

                t0, c0 = time.perf_counter(), time.process_time()
                _, _, vt = randomized_svd(z, N_PCS, n_oversamples=10, n_iter=4, random_state=1)
                results["sklearn-rsvd"] = {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0,
                                           "pcs": vt.T, "note": "in memory, standardisation not timed"}
                t0 = time.perf_counter()
                _, _, vt = np.linalg.svd(z, full_matrices=False)
                reference, reference_name = vt[:N_PCS].T, "numpy exact SVD"
                print(n, m, "exact SVD", time.perf_counter() - t0, flush=True)
        else:
            reference = results.get("plink2-exact", results["plink2-approx"])["pcs"]
            if "plink2-exact" not in results:
                reference_name = "plink2-approx (no exact reference at this size)"
        for r in results.values():
            pcs = r.pop("pcs")
            r["abs_corr_top3_with_reference"] = [float(abs(np.corrcoef(pcs[:, k], reference[:, k])[0, 1]))
                                                 for k in range(3)]
        cohorts.append({"n_samples": n, "n_snps": m, "reference": reference_name, "methods": results,
                        "load_average_1min": os.getloadavg()[0]})
        for p in args.work.glob(f"p{n}x{m}*"):
            p.unlink()
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    payload = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "git_commit": commit,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "note": "2-core VM shared with ~7 other agents' jobs: compare CPU seconds, not wall"},
               "seconds": time.perf_counter() - started, "load_average_at_end": os.getloadavg(), "cohorts": cohorts}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1) + "\n")
    for c in cohorts:
        for method, r in c["methods"].items():
            corr = ", ".join(f"{x:.4f}" for x in r["abs_corr_top3_with_reference"])
            print(f"{c['n_samples']:>6} x {c['n_snps']:>6} {method:14s} wall {r['wall_s']:7.1f} s  CPU {r['cpu_s']:7.1f} s"
                  f"  |corr| PC1-3 vs {c['reference']}: {corr}")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
