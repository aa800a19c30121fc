"""Per-job memory and runtime estimates (liftgwas.resources) from the cohort's files.

The estimates feed SLURM's mem_mb/runtime: they must grow with the cohort where the job's
memory or time does, ask for more on a retry, fall back to defaults before upstream files
exist, cover what a training job certainly holds (the first-layer weights, their gradient
and Adam's two moments), and be plain ints (Snakemake/SLURM want integers).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from liftgwas import plink, resources, simulate
from liftgwas.model import GenotypeModel
from liftgwas.train import data_loss

ARCH = "128x256"
BATCH = 128
CHUNK = 512


def write_fam(path, n_samples: int):
    fam = simulate.make_fam(n_samples, np.ones(n_samples, dtype=int))
    plink.write_fam(path, fam)
    return path


def write_mean(path, n_snps: int):
    np.save(path, np.full(n_snps, 0.5, dtype=np.float32))
    return path


@pytest.fixture
def cohort(tmp_path):
    """fam/mean files per size, written once per test on demand."""
    made = {}

    def files(n_samples: int, n_snps: int):
        key = (n_samples, n_snps)
        if key not in made:
            made[key] = (
                write_fam(tmp_path / f"n{n_samples}.fam", n_samples),
                write_mean(tmp_path / f"m{n_snps}.mean.npy", n_snps),
            )
        return made[key]

    return files


def all_estimates(fam, mean, attempt=1):
    return {
        "store_mem_mb": resources.store_mem_mb(fam, attempt=attempt),
        "train_mem_mb": resources.train_mem_mb(fam, mean, ARCH, BATCH, attempt),
        "train_runtime_min": resources.train_runtime_min(fam, mean, ARCH, 100, attempt),
        "deeplift_mem_mb": resources.deeplift_mem_mb(fam, mean, CHUNK, attempt),
        "deeplift_runtime_min": resources.deeplift_runtime_min(fam, mean, ARCH, attempt),
        "gwas_mem_mb": resources.gwas_mem_mb(fam, attempt),
    }


def test_sizes_are_read_from_the_files(cohort, tmp_path):
    fam, mean = cohort(1234, 567)
    assert resources.n_samples(fam) == len(plink.read_fam(fam)) == 1234
    assert resources.n_snps(mean) == len(np.load(mean)) == 567
    # a last line without a newline is still a sample
    no_newline = tmp_path / "no_newline.fam"
    no_newline.write_text("a a 0 0 1 -9\nb b 0 0 2 -9")
    assert resources.n_samples(no_newline) == 2


def test_missing_inputs_fall_back_to_the_defaults(cohort, tmp_path):
    missing_fam, missing_mean = tmp_path / "absent.fam", tmp_path / "absent.mean.npy"
    assert resources.n_samples(missing_fam) == resources.DEFAULT_SAMPLES
    assert resources.n_snps(missing_mean) == resources.DEFAULT_SNPS
    # not a .npy file (e.g. a half-written one): also the default, not an exception
    garbage = tmp_path / "garbage.mean.npy"
    garbage.write_bytes(b"not numpy")
    assert resources.n_snps(garbage) == resources.DEFAULT_SNPS
    # every estimate from missing files equals the estimate from files of the default size
    fam, mean = cohort(resources.DEFAULT_SAMPLES, resources.DEFAULT_SNPS)
    assert all_estimates(missing_fam, missing_mean) == all_estimates(fam, mean)
    assert all_estimates(missing_fam, garbage) == all_estimates(fam, mean)


def test_estimates_are_positive_plain_ints(cohort, tmp_path):
    fam, mean = cohort(1000, 2000)
    values = {
        **all_estimates(fam, mean),
        **{f"{k}_attempt3": v for k, v in all_estimates(fam, mean, attempt=3).items()},
        "missing_files": resources.train_mem_mb(tmp_path / "x.fam", tmp_path / "x.npy", ARCH, BATCH),
        "simulate_mem_mb": resources.simulate_mem_mb(1000),
    }
    for name, value in values.items():
        assert type(value) is int, (name, type(value))
        assert value > 0, name


def test_retries_ask_for_about_half_as_much_again(cohort):
    fam, mean = cohort(1000, 2000)
    first, second, third = (all_estimates(fam, mean, attempt) for attempt in (1, 2, 3))
    # (1 MB/minute of slack: each attempt rounds up on its own)
    for name in first:
        assert second[name] >= 1.5 * first[name] - 1, name
        assert third[name] >= 1.5 * second[name] - 1, name
        assert third[name] > second[name] > first[name], name
    assert resources.simulate_mem_mb(1000, attempt=2) >= 1.5 * resources.simulate_mem_mb(1000) - 1


def test_estimates_grow_with_the_cohort(cohort):
    small_n, large_n = 1_000, 100_000
    small_m, large_m = 1_000, 1_000_000
    base = all_estimates(*cohort(small_n, small_m))
    more_samples = all_estimates(*cohort(large_n, small_m))
    more_snps = all_estimates(*cohort(small_n, large_m))
    # the GWAS keeps per-sample tables: it grows with N; conversion blocks are sized to a
    # fixed budget, so its estimate is flat
    assert more_samples["gwas_mem_mb"] > base["gwas_mem_mb"]
    assert more_samples["store_mem_mb"] == base["store_mem_mb"]
    assert resources.simulate_mem_mb(large_n) > resources.simulate_mem_mb(small_n)
    # training and DeepLIFT hold (batch x M) arrays and M-sized weights: they grow with M
    # and must not shrink with N (streamed: ideally flat in N)
    for name in ("train_mem_mb", "deeplift_mem_mb"):
        assert more_snps[name] > base[name], name
        assert more_samples[name] >= base[name], name
    # an epoch (and an attribution pass) visits every sample through every first-layer weight
    # (compared where the work outweighs the fixed start-up minutes)
    largest = all_estimates(*cohort(large_n, large_m))
    fewer_samples = all_estimates(*cohort(small_n, large_m))
    fewer_snps = all_estimates(*cohort(large_n, small_m))
    for name in ("train_runtime_min", "deeplift_runtime_min"):
        assert largest[name] > fewer_samples[name], name
        assert largest[name] > fewer_snps[name], name
    fam, mean = cohort(large_n, large_m)
    assert resources.train_runtime_min(fam, mean, ARCH, 100) > resources.train_runtime_min(fam, mean, ARCH, 10)
    # the first layer's width drives training memory and time
    assert resources.train_mem_mb(fam, mean, "128x64", BATCH) > resources.train_mem_mb(fam, mean, "32x64", BATCH)
    assert resources.train_runtime_min(fam, mean, "128x64", 100) > resources.train_runtime_min(fam, mean, "32x64", 100)
    assert resources.deeplift_runtime_min(fam, mean, "128x64") > resources.deeplift_runtime_min(fam, mean, "32x64")
    # a larger DeepLIFT chunk holds more
    assert resources.deeplift_mem_mb(fam, mean, 1024) > resources.deeplift_mem_mb(fam, mean, 128)


@pytest.mark.parametrize("arch", ["32x64", "128x256"])
def test_train_memory_covers_the_models_parameters_gradients_and_adam_state(cohort, arch):
    n_snps = 20_000
    fam, mean = cohort(1_000, n_snps)
    # independent reference: the bytes a real model holds after one Adam step
    torch.manual_seed(0)
    model = GenotypeModel(n_snps, 10, arch)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, c = torch.randn(4, n_snps), torch.randn(4, 10)
    data_loss(model, "binary", x, c, torch.tensor([0.0, 1.0, 1.0, 0.0])).backward()
    optimizer.step()
    tensors = [p for p in model.parameters()] + [p.grad for p in model.parameters()]
    tensors += [t for state in optimizer.state.values() for t in state.values() if torch.is_tensor(t)]
    held = sum(t.numel() * t.element_size() for t in tensors)
    first_layer = model.snps.first.weight
    assert held > 4 * first_layer.numel() * first_layer.element_size()  # weights, grad, 2 moments
    # one decoded float32 batch (batch x M) comes on top
    held += BATCH * n_snps * 4
    estimate = resources.train_mem_mb(fam, mean, arch, BATCH)
    assert estimate * 1e6 >= held
    assert estimate * 1e6 >= resources.BASE_MB * 1e6 + held  # and the interpreter itself


def test_deeplift_memory_covers_a_chunk_of_inputs_and_baselines(cohort):
    n_snps = 200_000
    fam, mean = cohort(1_000, n_snps)
    # Captum runs inputs and baselines through the network together and keeps their
    # gradients: at least 4 float32 (chunk x M) arrays
    assert resources.deeplift_mem_mb(fam, mean, CHUNK) * 1e6 >= 4 * 4 * CHUNK * n_snps


BENCH = Path(__file__).resolve().parents[2] / "bench" / "results" / "scale.json"
# stage of bench/scale.py -> the estimate for the workflow job that runs it
BENCH_ESTIMATES = {
    "simulate": lambda fam, mean: resources.simulate_mem_mb(resources.n_samples(fam)),
    "convert": lambda fam, mean: resources.store_mem_mb(fam),
    "train_stream": lambda fam, mean: resources.train_mem_mb(fam, mean, ARCH, BATCH),
    "deeplift": lambda fam, mean: resources.deeplift_mem_mb(fam, mean, CHUNK),
    "gwas": lambda fam, mean: resources.gwas_mem_mb(fam),
}


@pytest.mark.parametrize(
    "stage",
    [
        "simulate",
        "convert",
        "train_stream",
        "deeplift",
        "gwas",
    ],
)
def test_estimates_cover_the_peak_rss_measured_by_the_scaling_benchmark(tmp_path, stage):
    if not BENCH.exists():
        pytest.skip("bench/results/scale.json not written yet (run bench/scale.py)")
    results = json.loads(BENCH.read_text())
    checked = 0
    for cohort in results["cohorts"]:
        measured = cohort.get("stages", {}).get(stage)
        if measured is None:
            continue
        fam = write_fam(tmp_path / f"{cohort['n']}.fam", cohort["n"])
        mean = write_mean(tmp_path / f"{cohort['m']}.mean.npy", cohort["m"])
        estimate = BENCH_ESTIMATES[stage](fam, mean)
        assert estimate >= measured["peak_rss_mb"], (cohort["n"], cohort["m"], estimate, measured["peak_rss_mb"])
        checked += 1
    assert checked


def test_block_estimates_are_the_sum_of_their_cells_plus_one_start_up(cohort):
    fam, mean = cohort(10_000, 10_000)
    archs = ["64x128", "64x256", "128x128", "128x256"] * 4  # the paper's 16 cells of one seed
    one = resources.train_block_mem_mb(fam, mean, archs[:1], BATCH)
    assert one == resources.train_mem_mb(fam, mean, archs[0], BATCH)
    block = resources.train_block_mem_mb(fam, mean, archs, BATCH)
    # every cell's weights, gradient, Adam moments and best copy are held at once
    held = sum(6 * 4 * 10_000 * int(a.split("x")[0]) for a in archs) / 1e6
    assert block >= resources.BASE_MB + held and block < sum(resources.train_mem_mb(fam, mean, a, BATCH) for a in archs)
    # one thread: the cells one after another, one start-up
    runtime = resources.train_block_runtime_min(fam, mean, archs, 100, threads=1)
    cells = [resources.train_runtime_min(fam, mean, a, 100, threads=1) for a in archs]
    assert sum(c - 11 for c in cells) <= runtime < sum(cells)  # (each cell's minutes rounded up)
    # T threads: T cells at a time (cellpool), so about 1/T of it, never less than a cell
    for threads in (2, 4):
        side_by_side = resources.train_block_runtime_min(fam, mean, archs, 100, threads=threads)
        assert (runtime - 10) / threads <= side_by_side - 10 <= (runtime - 10) / threads + max(cells)
    assert resources.train_block_runtime_min(fam, mean, archs[:1], 100, threads=4) == cells[0]
    assert resources.deeplift_block_mem_mb(fam, mean, archs, CHUNK) > resources.deeplift_mem_mb(fam, mean, CHUNK)
    assert resources.deeplift_block_runtime_min(fam, mean, archs, 2) > resources.deeplift_block_runtime_min(fam, mean, archs, 1)


def test_a_selected_model_block_is_sized_for_the_largest_architecture(cohort):
    fam, mean = cohort(10_000, 10_000)
    archs = ["64x128", "128x256", "64x256"]
    mem = resources.selected_block_mem_mb(fam, mean, archs, 5, BATCH)
    assert mem == resources.train_block_mem_mb(fam, mean, ["128x256"] * 5, BATCH)
    assert mem > resources.train_block_mem_mb(fam, mean, ["64x256"] * 5, BATCH)
    train = resources.selected_block_runtime_min(fam, mean, archs, 5, 100, threads=2)
    assert train == resources.train_block_runtime_min(fam, mean, ["128x256"] * 5, 100, threads=2)
    both = resources.selected_block_runtime_min(fam, mean, archs, 5, 100, threads=2, deeplift=True)
    assert both == train + 5 * resources.deeplift_runtime_min(fam, mean, "128x256")


def test_a_resident_packed_matrix_is_charged_to_the_training_job(cohort):
    # training.resident: always holds N x ceil(M/4) bytes (in RAM on a CPU job); auto
    # (resident on a GPU only) and never (streamed) add no host memory
    fam, mean = cohort(100_000, 50_001)
    archs = ["64x128", "128x256"]
    auto = resources.train_block_mem_mb(fam, mean, archs, BATCH)
    assert resources.train_block_mem_mb(fam, mean, archs, BATCH, resident="never") == auto
    always = resources.train_block_mem_mb(fam, mean, archs, BATCH, resident="always")
    packed_mb = 100_000 * 12_501 / 1e6
    assert packed_mb - 1 <= always - auto <= packed_mb + 1
    assert resources.train_mem_mb(fam, mean, "64x128", BATCH, resident="always") > resources.train_mem_mb(
        fam, mean, "64x128", BATCH)
    selected = resources.selected_block_mem_mb(fam, mean, archs, 5, BATCH, resident="always")
    assert selected == resources.train_block_mem_mb(fam, mean, ["128x256"] * 5, BATCH, resident="always")


def test_block_estimates_cover_every_measured_training_and_deeplift_job():
    """bench/results/grid_throughput*.json and grid_blocking*.json: the peak RSS of every
    training and DeepLIFT job measured, one per cell, per architecture or for all cells of
    a dataset x trait, as the benchmark files sampled it and, where the run has it, as the
    job logged it at exit."""
    results = Path(__file__).resolve().parents[2] / "bench/results"
    paths = sorted(results.glob("grid_throughput*.json")) + sorted(results.glob("grid_blocking*.json"))
    if not paths:
        pytest.skip("no grid benchmark written yet")
    import tempfile

    checked = 0
    for path in paths:
        report = json.loads(path.read_text())
        model = report["config"]["model"]
        per_arch = len(model["l1"]) * len(model["seeds"])
        with tempfile.TemporaryDirectory() as tmp:
            fam = write_fam(Path(tmp) / "n.fam", report["config"]["simulation"]["n_samples"])
            mean = write_mean(Path(tmp) / "m.mean.npy", report["config"]["simulation"]["n_snps"])
            for mode in report["modes"].values():
                peaks = {name: job["max_rss_mb"] for name, job in mode["job_benchmarks"].items()}
                peaks.update({f"{name} (logged)": mb for name, mb in mode.get("logged_peak_rss_mb", {}).items()})
                for name, peak in peaks.items():
                    # <rule>/<dataset>/<trait>[/<arch>[/l1_<l1>/seed_<seed>]].tsv or .log
                    rule, _, _, *block = Path(name.split(" ")[0]).with_suffix("").parts
                    if not block:
                        archs = [a for a in model["architectures"] for _ in range(per_arch)]
                    elif len(block) == 1:
                        archs = [block[0]] * per_arch
                    else:
                        archs = [block[0]]
                    if rule == "train":
                        estimate = resources.train_block_mem_mb(fam, mean, archs, report["config"]["training"]["batch_size"])
                    else:
                        estimate = resources.deeplift_block_mem_mb(fam, mean, archs, report["config"]["deeplift"]["chunk_size"])
                    assert estimate >= peak, (path.name, name)
                    checked += 1
    assert checked > sum(len(json.loads(p.read_text())["modes"]) for p in paths)


def test_knockoff_estimates_cover_the_measured_draws_and_stay_bounded_in_m(cohort, tmp_path):
    """bench/results/knockoff_memory.json: one draw's peak RSS and CPU per size and method."""
    from liftgwas.discover import knockoffs as K

    path = Path(__file__).resolve().parents[2] / "bench/results/knockoff_memory.json"
    if not path.exists():
        pytest.skip("bench/results/knockoff_memory.json not written yet")
    runs = json.loads(path.read_text())["runs"]
    for run in runs:
        fam = write_fam(tmp_path / f"{run['n']}.fam", run["n"])
        bim = tmp_path / f"{run['m']}.bim"
        bim.write_text("1\tv\t0\t1\tA\tG\n" * run["m"])
        assert resources.knockoff_mem_mb(fam, bim, run["block"]) >= run["peak_rss_mb"], run
        assert resources.knockoff_runtime_min(fam, bim, run["method"]) * 60 >= run["wall_s"], run
    assert {r["method"] for r in runs} == set(K.METHODS)
    # a window and a packing chunk: 10x the SNPs adds no memory once the chunk is capped
    fam = write_fam(tmp_path / "big.fam", 400_000)
    for m in (300_000, 3_000_000):
        (tmp_path / f"{m}.bim").write_text("x\n" * m)
    small, large = (resources.knockoff_mem_mb(fam, tmp_path / f"{m}.bim", 100) for m in (300_000, 3_000_000))
    assert abs(small - large) <= 5 and large < 4000  # (a chunk is whole rows of at most PACK_BYTES)
    assert resources.knockoff_runtime_min(fam, tmp_path / "3000000.bim", "group_gaussian") > \
        resources.knockoff_runtime_min(fam, tmp_path / "300000.bim", "group_gaussian")
    assert resources.knockoff_mem_mb(fam, tmp_path / "300000.bim", 100, attempt=2) > small
