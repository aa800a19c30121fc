"""Benchmark: peak memory of one knockoff draw (rule knockoff_genotypes), for its resources.

    .venv/bin/python bench/knockoff_memory.py                  # 4k x 2k, 16k x 2k, 4k x 6k, 12k x 6k; both methods
    .venv/bin/python bench/knockoff_memory.py --sizes 2000x1000 --output /tmp/k.json   # smoke run

For each N x M it writes a random PLINK fileset (two populations, 2 % missing calls) and its
genotype store, then runs ``knockoffs.build_knockoff_store`` (default settings: window 100,
10 factors) for each method **in a child process of its own**: the child's VmHWM is the
draw's peak RSS and nothing else's (not ``ru_maxrss``, which Linux starts from the parent's
RSS at the spawn), and its CPU seconds come from ``os.wait4``. The
construction holds one window of N x block float64 (block = 100 SNPs for group_gaussian,
1,000 for independent) and, while packing, 4,096 rows x 2M; resources.knockoff_mem_mb is
fitted to these peaks and tests/unit/test_resources.py checks that it covers each of them.
Output: bench/results/knockoff_memory.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
from liftgwas import plink  # noqa: E402
from liftgwas.atomic import write_json  # noqa: E402
from liftgwas.discover import knockoffs as K  # noqa: E402
from liftgwas.genostore import build_store  # noqa: E402

OUTPUT = ROOT / "bench/results/knockoff_memory.json"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {workflow!r})
from liftgwas.discover import knockoffs as K
d = {d!r}
t = time.monotonic()
K.build_knockoff_store(d + "/plink", d + "/store", d + "/covariates.tsv", d + "/{method}/store",
                       d + "/{method}/groups.tsv", K.KnockoffSettings(run=True), {method!r}, 1, dataset="bench")
from liftgwas.runlog import peak_rss_kb
print(json.dumps({{"wall_s": time.monotonic() - t, "peak_rss_mb": peak_rss_kb() / 1024}}))
"""


def make_cohort(directory: Path, n: int, m: int) -> None:
    rng = np.random.default_rng(n * 7 + m)
    pop = rng.integers(0, 2, n)
    freq = rng.uniform(0.05, 0.5, m)
    g = rng.binomial(2, np.where(pop[:, None] == 0, freq, np.clip(freq + 0.1, 0, 0.95))).astype(np.int8)
    g[rng.random((n, m)) < 0.02] = -1
    bim = pd.DataFrame({"chrom": "1", "snp": [f"v{i}" for i in range(m)], "cm": 0, "pos": np.arange(m) + 1,
                        "a1": "A", "a2": "G"})
    ids = [f"s{i}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": 0, "mother": 0, "sex": 1, "phenotype": -9})
    directory.mkdir(parents=True, exist_ok=True)
    plink.write_plink(directory / "plink", g.T, bim, fam)
    build_store(directory / "plink", directory / "store")
    cov = pd.DataFrame({"FID": ids, "IID": ids, **{f"PC{i}": rng.standard_normal(n) for i in range(1, 11)}})
    cov.to_csv(directory / "covariates.tsv", sep="\t", index=False)


def run_child(directory: Path, method: str) -> dict:
    code = CHILD.format(workflow=str(ROOT / "workflow"), d=str(directory), method=method)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise RuntimeError(f"{method} at {directory}: {err[-3000:]}")
    # the child's own VmHWM, not wait4's ru_maxrss: that starts from this process's RSS at the
    # spawn (runlog.peak_rss_kb), and this process has just simulated the cohort
    return {**json.loads(out.strip().splitlines()[-1]), "cpu_s": usage.ru_utime + usage.ru_stime}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="4000x2000,16000x2000,4000x6000,12000x6000")
    p.add_argument("--methods", default=",".join(K.METHODS))
    p.add_argument("--workdir", type=Path, default=ROOT / "bench/work/knockoff_memory")
    p.add_argument("--output", type=Path, default=OUTPUT)
    args = p.parse_args(argv)
    report = {"machine": f"{platform.node()}: {os.cpu_count()} cores", "settings": K.KnockoffSettings(run=True).describe(),
              "load_before": os.getloadavg(), "runs": []}
    for size in args.sizes.split(","):
        n, m = map(int, size.split("x"))
        directory = args.workdir / size
        t = time.monotonic()
        make_cohort(directory, n, m)
        print(f"{size}: cohort written in {time.monotonic() - t:.1f} s", flush=True)
        for method in args.methods.split(","):
            run = {"n": n, "m": m, "method": method, "block": K.block_size(method, K.KnockoffSettings(run=True)),
                   **run_child(directory, method)}
            report["runs"].append(run)
            print(run, flush=True)
    report["load_after"] = os.getloadavg()
    write_json(args.output, report)


if __name__ == "__main__":
    main()
