"""Benchmark: which library reads SNP blocks of a .bed for the GWAS, PCA and QC helpers (issue 16).

    .venv/bin/python bench/readers.py                       # 10k x 10k and 100k x 10k
    .venv/bin/python bench/readers.py --sizes 2000x2000 --repeats 1   # smoke run

Each cohort is a random SNP-major .bed (every 2-bit code, missing calls included) under
bench/work/readers/ (git-ignored, deleted afterwards). Every reader streams the whole file
the way the GWAS does: consecutive blocks of ``gwas.default_block_size(N)`` SNPs (about
4 M genotypes each), each block materialised as a numpy array of dosages, one thread:

  liftgwas-lut     the hand-written reader this replaces (positioned reads + a packed-word
                   lookup table, int8, -1 = missing); only when --old names a checkout of it
  bed-reader       ``open_bed(...).read(index=np.s_[:, a:b], dtype="int8", order="F",
                   num_threads=1)``: int8 (samples x SNPs, F order = SNPs x samples in C
                   order without a copy), -127 = missing
  pandas-plink     ``read_plink1_bin`` (xarray over a dask array, float64, NaN = missing) with
                   one dask chunk per block (``Chunk(nsamples=N, nvariants=block)``; the default
                   1024 x 1024 chunks decode 1024 SNPs for every 40-SNP block at N = 100k:
                   over 3 CPU-minutes for 100k x 10k, stopped), ``G[:, a:b].values`` per block,
                   dask's synchronous scheduler (one thread)

Each (reader, cohort, repeat) runs in a child process of its own, so its peak RSS (VmHWM of
that child; ru_maxrss would include the forked parent's image before exec) is its own; the
imports' RSS (VmRSS in the child before reading) is reported beside it. Repeats alternate the readers (A B C A B C ...), so a load
change hits all of them alike. Wall and CPU seconds (``time.process_time``, all threads) of
the read, the 1-minute load average and the machine are recorded. Every reader's first
block is checked against bed-reader's (same dosages, same missing calls).
Writes bench/results/readers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = ("bed-reader", "pandas-plink", "liftgwas-lut")

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
reader, prefix, n, m, block, old = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
def rss_mb(field="VmRSS"):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field)) / 1024
if reader == "bed-reader":
    from bed_reader import open_bed
    bed = open_bed(prefix + ".bed", iid_count=n, sid_count=m, count_A1=True, num_threads=1)
    def block_of(a, b):
        x = bed.read(index=np.s_[:, a:b], dtype="int8", order="F", num_threads=1).T
        x[x == -127] = -1
        return x
elif reader == "pandas-plink":
    import dask
    dask.config.set(scheduler="synchronous")
    from pandas_plink import Chunk, read_plink1_bin
    import warnings; warnings.simplefilter("ignore")
    # one dask chunk per block: the default 1024 x 1024 chunks would decode 1024 SNPs for each block
    g = read_plink1_bin(prefix + ".bed", ref="a0", verbose=False, chunk=Chunk(nsamples=n, nvariants=block))
    def block_of(a, b):
        return g[:, a:b].values.T
else:
    sys.path.insert(0, old)
    from liftgwas.plink import Bed
    bed = Bed(prefix)
    def block_of(a, b):
        return bed.read(a, b)
base = rss_mb()
t0, c0 = time.perf_counter(), time.process_time()
checksum = 0.0
for a in range(0, m, block):
    x = block_of(a, min(a + block, m))
    if a == 0:
        first = np.where(np.isnan(x), -1, x).astype(np.int8) if x.dtype.kind == "f" else x
        np.save(prefix + f".{reader}.first.npy", first)
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "import_rss_mb": base, "peak_rss_mb": rss_mb("VmHWM"), "load_average_1min": os.getloadavg()[0]}))
"""


def write_random_bed(prefix: Path, n: int, m: int, seed: int = 0) -> None:
    import numpy as np

    rng = np.random.default_rng(seed)
    row = (n + 3) // 4
    with open(f"{prefix}.bed", "wb") as out:
        out.write(bytes([0x6C, 0x1B, 0x01]))
        for a in range(0, m, 1000):
            b = min(a + 1000, m)
            codes = rng.integers(0, 4, (b - a, row * 4), dtype=np.uint8)
            codes[:, n:] = 0  # PLINK pads with zero bits
            codes = codes.reshape(b - a, row, 4)
            out.write((codes[..., 0] | codes[..., 1] << 2 | codes[..., 2] << 4 | codes[..., 3] << 6).astype(np.uint8).tobytes())
    with open(f"{prefix}.bim", "w") as out:
        out.writelines(f"1\tv{j}\t0\t{j + 1}\tA\tG\n" for j in range(m))
    with open(f"{prefix}.fam", "w") as out:
        out.writelines(f"s{i} s{i} 0 0 0 -9\n" for i in range(n))


def run_child(reader: str, prefix: Path, n: int, m: int, block: int, old: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONPATH=str(ROOT / "workflow"))
    proc = subprocess.Popen([sys.executable, "-c", CHILD, reader, str(prefix), str(n), str(m), str(block), old],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, _ = os.wait4(proc.pid, 0)
    out, err = proc.stdout.read(), proc.stderr.read()
    if status != 0:
        raise RuntimeError(f"{reader} failed on {n}x{m}: {err[-2000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000x10000,100000x10000", help="N x M cohorts")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--old", default="", help="a checkout of the previous commit (adds liftgwas-lut)")
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work" / "readers")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "readers.json")
    args = parser.parse_args()
    import numpy as np

    sys.path.insert(0, str(ROOT / "workflow"))
    from liftgwas.gwas import default_block_size

    readers = [r for r in READERS if r != "liftgwas-lut" or args.old]
    started = time.perf_counter()
    cohorts = []
    for size in args.sizes.split(","):
        n, m = map(int, size.split("x"))
        args.work.mkdir(parents=True, exist_ok=True)
        prefix = args.work / f"r{n}x{m}"
        write_random_bed(prefix, n, m)
        block = default_block_size(n)
        runs = {r: [] for r in readers}
        try:
            for rep in range(args.repeats):
                for reader in readers if rep % 2 == 0 else readers[::-1]:
                    runs[reader].append(run_child(reader, prefix, n, m, block, args.old))
                    print(f"{n}x{m} {reader} #{rep}: {runs[reader][-1]}", flush=True)
            reference = np.load(f"{prefix}.bed-reader.first.npy")
            agree = {r: bool(np.array_equal(np.load(f"{prefix}.{r}.first.npy"), reference)) for r in readers}
        finally:
            for p in args.work.glob(f"r{n}x{m}.*"):
                p.unlink()
        summary = {}
        for reader, rs in runs.items():
            best = min(rs, key=lambda r: r["cpu_s"])
            summary[reader] = {
                "wall_s_min": min(r["wall_s"] for r in rs), "cpu_s_min": best["cpu_s"],
                "genotypes_per_cpu_s": n * m / best["cpu_s"],
                "peak_rss_mb_max": max(r["peak_rss_mb"] for r in rs),
                "import_rss_mb": best["import_rss_mb"], "same_dosages_as_bed_reader": agree[reader],
            }
        cohorts.append({"n_samples": n, "n_snps": m, "block_snps": block, "runs": runs, "summary": summary})
    payload = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "note": "2-core VM shared with ~7 other agents' jobs: compare CPU seconds, not wall"},
        "git_commit": subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                                     text=True).stdout.strip(),
        "seconds": time.perf_counter() - started,
        "load_average_at_end": os.getloadavg(),
        "cohorts": cohorts,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1) + "\n")
    for c in cohorts:
        for reader, s in c["summary"].items():
            print(f"{c['n_samples']:>7} x {c['n_snps']:>6}  {reader:13s} wall {s['wall_s_min']:7.2f} s  "
                  f"CPU {s['cpu_s_min']:7.2f} s  {s['genotypes_per_cpu_s']:.2e} genotypes/CPU-s  "
                  f"peak RSS {s['peak_rss_mb_max']:6.0f} MB (imports {s['import_rss_mb']:.0f})  "
                  f"same: {s['same_dosages_as_bed_reader']}")
    shutil.rmtree(args.work, ignore_errors=True)


if __name__ == "__main__":
    main()
