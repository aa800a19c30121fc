"""Benchmark: cost of the classical baselines of issue 10 at the size the workflow gates on.

    .venv/bin/python bench/baselines.py                      # N = M = 5,000 (gwas.epistasis.max_snps)
    .venv/bin/python bench/baselines.py --samples 2000 --snps 2000 --threads 2

Writes bench/results/baselines.json: wall and CPU seconds (children included: plink runs
as a child process) of

* the exhaustive pairwise scan (liftgwas.epistasis.run_scan: plink 1.9 --fast-epistasis
  boost for the binary trait, --epistasis for the quantitative one), M (M - 1) / 2 pairs;
* the 2-df genotypic GWAS (liftgwas.gwas_genotypic.run_genotypic_gwas, plink2);
* the additive GWAS (liftgwas.gwas.run_gwas) for scale;

on one planted dataset (binomial genotypes, MAF 0.05-0.5, 10 covariates; one pure-epistatic
pair, so the scan's top pair is checked) with os.getloadavg() before and after each
step: the machine this ran on was shared, so wall times are upper bounds.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import epistasis, gwas, gwas_genotypic, plink  # noqa: E402


def cpu_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def timed(label, fn, results):
    load_before = os.getloadavg()
    wall, cpu = time.perf_counter(), cpu_seconds()
    value = fn()
    results[label] = {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(cpu_seconds() - cpu, 2),
                      "loadavg_before": [round(x, 2) for x in load_before],
                      "loadavg_after": [round(x, 2) for x in os.getloadavg()]}
    print(label, results[label], flush=True)
    return value


def make_study(directory: Path, n: int, m: int, seed: int) -> tuple[str, str]:
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, m)
    g = rng.binomial(2, freq[:, None], (m, n)).astype(np.int8)
    a_idx, b_idx = 100, m - 100
    a, b = g[a_idx].astype(float), g[b_idx].astype(float)
    liability = 0.5 * (a - a.mean()) * (b - b.mean())
    covariates = rng.standard_normal((n, 10))
    quantitative = liability + rng.standard_normal(n)
    binary = (rng.random(n) < 1 / (1 + np.exp(-liability))).astype(int)
    iids = [f"s{i}" for i in range(n)]
    bim = pd.DataFrame({"chrom": np.repeat(np.arange(1, 11), -(-m // 10))[:m].astype(str),
                        "snp": [f"rs{i}" for i in range(m)], "cm": 0.0,
                        "pos": np.tile(np.arange(1, -(-m // 10) + 1) * 1000, 10)[:m], "a1": "A", "a2": "G"})
    fam = pd.DataFrame({"fid": iids, "iid": iids, "father": "0", "mother": "0", "sex": 0, "phenotype": "-9"})
    plink.write_plink(directory / "geno", g, bim, fam)
    pd.DataFrame({"FID": iids, "IID": iids, "binary": binary, "quantitative": quantitative}).to_csv(
        directory / "traits.tsv", sep="\t", index=False)
    covar = pd.DataFrame(covariates, columns=[f"PC{k + 1}" for k in range(10)])
    covar.insert(0, "IID", iids)
    covar.insert(0, "FID", iids)
    covar.to_csv(directory / "covariates.tsv", sep="\t", index=False)
    return f"rs{a_idx}", f"rs{b_idx}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=5000)
    parser.add_argument("--snps", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "baselines.json"))
    args = parser.parse_args()
    work = ROOT / "bench" / "work" / "baselines"
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {}
    planted = timed("simulate", lambda: make_study(work, args.samples, args.snps, args.seed), results)
    files = dict(bed_prefix=work / "geno", traits_tsv=work / "traits.tsv", covariates_tsv=work / "covariates.tsv")
    for kind in ("binary", "quantitative"):
        _, pairs = timed(f"epistasis_scan_{kind}", lambda: epistasis.run_scan(
            **files, trait=kind, kind=kind, snps_out=work / f"{kind}.snps.tsv.gz",
            pairs_out=work / f"{kind}.pairs.tsv.gz", threads=args.threads), results)
        results[f"epistasis_scan_{kind}"]["top_pair"] = [pairs.at[0, "snp1"], pairs.at[0, "snp2"]]
        results[f"epistasis_scan_{kind}"]["planted_pair_is_top"] = {pairs.at[0, "snp1"], pairs.at[0, "snp2"]} == set(planted)
        results[f"epistasis_scan_{kind}"]["pairs_reported"] = int(len(pairs))
        timed(f"gwas_genotypic_{kind}", lambda: gwas_genotypic.run_genotypic_gwas(
            **files, trait=kind, kind=kind, out_path=work / f"{kind}.genotypic.tsv.gz", threads=args.threads), results)
        timed(f"gwas_additive_{kind}", lambda: gwas.run_gwas(
            **{"bed_prefix": files["bed_prefix"], "traits_tsv": files["traits_tsv"],
               "covariates_tsv": files["covariates_tsv"]}, trait=kind, kind=kind,
            out_path=work / f"{kind}.additive.tsv.gz", threads=args.threads), results)
    record = {
        "what": "cost of the issue-10 baselines (pairwise scan, 2-df GWAS) beside the additive GWAS",
        "command": "python bench/baselines.py " + " ".join(sys.argv[1:]),
        "n_samples": args.samples, "n_snps": args.snps, "n_pairs": args.snps * (args.snps - 1) // 2,
        "threads": args.threads, "covariates": 10, "cpu_count": os.cpu_count(),
        "machine_note": "shared machine (several agents on 2 cores): wall times are upper bounds; see loadavg",
        "planted_pair": list(planted), "results": results,
    }
    Path(args.out).write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
