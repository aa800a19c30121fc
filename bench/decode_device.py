"""Benchmark (CPU): the torch lookup-table decoder of liftgwas.device_decode against the numpy
decoder it replaced, resident vs streamed row fetches, and bf16 autocast on the CPU (issue 17).

    .venv/bin/python bench/decode_device.py                       # 512 x 10,000 batches, 10k-sample store
    .venv/bin/python bench/decode_device.py --snps 2000 --repeats 3 --output /tmp/x.json   # smoke run

One thread (torch.set_num_threads(1); numpy is single-threaded), as a 2-core training job
decodes in its prefetch thread. Measured, each as the median and minimum of ``--repeats``
alternating runs (A B A B ..., so a load change on the shared machine hits both alike):

  decode         packed rows (B, M/4) -> centred float32 (B, M), mean-imputed; "numpy" is the
                 decoder genostore used before (np.take of 16-byte words + masked imputation),
                 "torch" is device_decode.decode_packed on CPU tensors; at 0 %, 1 % and 10 %
                 missing calls; the outputs are checked bit-equal
  fetch          B random rows of a 10k-sample store: positioned reads (GenotypeStore.read_rows,
                 the streamed path, file in the page cache) vs index_select from a resident
                 uint8 tensor (training.resident: always on the CPU)
  step           forward + backward + Adam step of one GenotypeModel (M -> 128 -> 256) on a
                 decoded batch of 256, fp32 vs device_decode.autocast("cpu", "bf16")

Wall and CPU seconds (time.process_time) of the whole run and the 1-minute load average
before and after are recorded: the machine is shared by several agents, so figures are
indicative, and ratios (measured alternately) are more robust than absolute times.
No GPU figures: this runs on the CPU only (bench/gpu_check.py is the GPU check).
Writes bench/results/decode_device.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from liftgwas import device_decode as dd  # noqa: E402
from liftgwas.genostore import GenotypeStore  # noqa: E402
from liftgwas.model import GenotypeModel  # noqa: E402
from liftgwas.plink import BYTE_TO_DOSAGES, encode_bed_block  # noqa: E402

_FLOATS = np.where(BYTE_TO_DOSAGES < 0, np.nan, BYTE_TO_DOSAGES).astype(np.float32)
_WORDS = np.ascontiguousarray(_FLOATS).view(np.complex128).reshape(256)
_HAS_MISSING = (BYTE_TO_DOSAGES < 0).any(axis=1)


def numpy_decode(packed: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """genostore.GenotypeStore.decode(center=True) before issue 17."""
    x = np.take(_WORDS, packed).view(np.float32).reshape(len(packed), -1)[:, : len(mean)]
    if _HAS_MISSING[packed].any():
        missing = np.isnan(x)
        x[missing] = np.broadcast_to(mean, x.shape)[missing]
    x -= mean
    return x


def random_packed(n: int, m: int, missing: float, rng) -> np.ndarray:
    freq = rng.uniform(0.05, 0.5, m)
    g = rng.binomial(2, freq, (n, m)).astype(np.int8)
    g[rng.random((n, m)) < missing] = -1
    return np.frombuffer(encode_bed_block(g), dtype=np.uint8).reshape(n, (m + 3) // 4).copy()


def alternate(funcs: dict, repeats: int) -> dict:
    times = {name: [] for name in funcs}
    for _ in range(repeats):
        for name, f in funcs.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    return {name: {"median_ms": 1e3 * float(np.median(v)), "min_ms": 1e3 * float(np.min(v))} for name, v in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=512)
    parser.add_argument("--snps", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=10_000, help="rows of the store for the fetch test")
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results" / "decode_device.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    load_before, wall0, cpu0 = os.getloadavg(), time.perf_counter(), time.process_time()
    b, m = args.batch, args.snps
    mean = rng.uniform(0.1, 1.9, m).astype(np.float32)
    mean_t = torch.from_numpy(mean)

    decode = {}
    for missing in (0.0, 0.01, 0.10):
        packed = random_packed(b, m, missing, rng)
        packed_t = torch.from_numpy(packed)
        reference = numpy_decode(packed, mean)
        got = dd.decode_packed(packed_t, mean_t).numpy()
        equal = bool(np.array_equal(got.view(np.uint32), reference.view(np.uint32)))
        timing = alternate({"numpy": lambda: numpy_decode(packed, mean),
                            "torch": lambda: dd.decode_packed(packed_t, mean_t)}, args.repeats)
        decode[f"missing_{missing:g}"] = {
            **timing, "bit_equal": equal,
            "torch_over_numpy_median": timing["torch"]["median_ms"] / timing["numpy"]["median_ms"],
            "ns_per_genotype_torch": 1e6 * timing["torch"]["median_ms"] / (b * m),
        }

    with tempfile.TemporaryDirectory(dir=ROOT / "bench") as tmp:
        store_packed = random_packed(args.samples, m, 0.01, rng)
        np.save(Path(tmp) / "s.packed.npy", store_packed)
        store = GenotypeStore(Path(tmp) / "s.packed.npy", mean)
        resident = torch.from_numpy(store_packed)
        rows = np.sort(rng.choice(args.samples, b, replace=False))
        rows_t = torch.from_numpy(rows)
        store.read_rows(rows)  # page cache warm, as after the first epoch
        assert torch.equal(torch.from_numpy(store.read_rows(rows)), resident.index_select(0, rows_t))
        fetch = alternate({"pread": lambda: store.read_rows(rows),
                           "resident": lambda: resident.index_select(0, rows_t)}, args.repeats)
        fetch["streamed_fetch_over_decode"] = fetch["pread"]["median_ms"] / decode["missing_0.01"]["torch"]["median_ms"]

    torch.manual_seed(0)
    model = GenotypeModel(m, 0, "128x256")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = dd.decode_packed(torch.from_numpy(random_packed(256, m, 0.0, rng)), mean_t).contiguous()
    y = torch.randint(0, 2, (256,)).float()
    c = torch.zeros(256, 0)

    def step(precision):
        with dd.autocast("cpu", precision):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x, c).float(), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    step("fp32"), step("bf16")  # warm-up
    steps = alternate({"fp32": lambda: step("fp32"), "bf16": lambda: step("bf16")}, max(args.repeats // 3, 2))
    steps["bf16_over_fp32_median"] = steps["bf16"]["median_ms"] / steps["fp32"]["median_ms"]

    payload = {
        "what": "issue 17: torch LUT decoder (device_decode) vs the numpy decoder it replaced, on the CPU; "
                "resident vs streamed row fetch; bf16 autocast on the CPU. CPU only: no GPU figures here.",
        "command": "python bench/decode_device.py " + " ".join(sys.argv[1:]),
        "batch": b, "snps": m, "store_samples": args.samples, "repeats": args.repeats, "threads": 1,
        "decode": decode, "fetch": fetch, "train_step_128x256_batch256": steps,
        "wall_s": time.perf_counter() - wall0, "cpu_s": time.process_time() - cpu0,
        "load_average_before": load_before, "load_average_after": os.getloadavg(),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, shared by several agents (figures indicative)",
        "torch": torch.__version__, "numpy": np.__version__,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(payload, indent=1) + "\n")
    print(json.dumps(payload, indent=1))


if __name__ == "__main__":
    main()
