"""Device-side decoding (liftgwas.device_decode) gives the floats of the numpy decoder it
replaced, bit for bit, on CPU tensors (and on CUDA where present); a resident packed
matrix gives the batches and the training result of streamed batches; the arithmetic of
training.resident: auto, of the DeepLIFT chunk size and the config errors."""

import copy

import numpy as np
import pytest
import torch

from liftgwas import device_decode as dd
from liftgwas.data import load_training_data
from liftgwas.plink import BYTE_TO_DOSAGES, encode_bed_block
from liftgwas.train import TrainSettings, train_model

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def numpy_decode(packed: np.ndarray, mean: np.ndarray, center: bool, impute: bool) -> np.ndarray:
    """The decoder liftgwas used before device_decode (genostore, numpy), verbatim."""
    floats = np.where(BYTE_TO_DOSAGES < 0, np.nan, BYTE_TO_DOSAGES).astype(np.float32)
    words = np.ascontiguousarray(floats).view(np.complex128).reshape(256)
    has_missing = (BYTE_TO_DOSAGES < 0).any(axis=1)
    x = np.take(words, packed).view(np.float32).reshape(len(packed), -1)[:, : len(mean)]
    if impute and has_missing[packed].any():
        missing = np.isnan(x)
        x[missing] = np.broadcast_to(mean, x.shape)[missing]
    if center:
        x -= mean
    return x


def packed_rows(n: int, m: int, missing: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample-major packed rows (the store's bytes) of random dosages, and their int8 dosages."""
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, (n, m)).astype(np.int8)
    g[rng.random((n, m)) < missing] = -1
    # a sample-major row is packed exactly like a SNP-major .bed record
    packed = np.frombuffer(encode_bed_block(g), dtype=np.uint8).reshape(n, (m + 3) // 4).copy()
    return packed, g


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("m", [1, 6, 13, 64])  # n_snps not divisible by 4, and divisible
@pytest.mark.parametrize("center,impute", [(True, True), (False, True), (False, False), (True, False)])
def test_device_decoding_equals_the_numpy_decoder_bit_for_bit(device, m, center, impute):
    packed, g = packed_rows(23, m, missing=0.15, seed=m)
    assert (g < 0).any() and (g >= 0).any()
    mean = np.random.default_rng(1).uniform(0, 2, m).astype(np.float32)
    expected = numpy_decode(packed, mean, center, impute)
    got = dd.decode_packed(torch.from_numpy(packed).to(device), torch.from_numpy(mean).to(device),
                           center=center, impute=impute)
    assert got.device.type == device and got.dtype == torch.float32 and got.shape == (23, m)
    got = got.cpu().numpy()
    # bit patterns, so that -0.0 vs +0.0 and NaN payloads count too
    np.testing.assert_array_equal(got.view(np.uint32), expected.view(np.uint32))
    # and the dosages themselves: independent of both table decoders
    called = g >= 0
    np.testing.assert_array_equal(got[called], (g.astype(np.float32) - (mean if center else 0))[called])


def test_decoding_rejects_rows_of_the_wrong_width():
    with pytest.raises(ValueError, match="bytes per row"):
        dd.decode_packed(torch.zeros((2, 3), dtype=torch.uint8), torch.zeros(13))
    with pytest.raises(ValueError, match="uint8"):
        dd.decode_packed(torch.zeros((2, 4), dtype=torch.int64), torch.zeros(13))


def load(cohort):
    return load_training_data(cohort["store"], cohort["fam"], cohort["traits"], cohort["covariates"],
                              cohort["split"], cohort["kind"], cohort["kind"], True)


@pytest.fixture
def missing_cohort(tmp_path):
    from toydata import write_toy_cohort

    return write_toy_cohort(tmp_path / "c", n_samples=120, n_snps=37, missing_rate=0.1)


def test_store_decode_and_batches_equal_the_numpy_decoder(missing_cohort):
    data = load(missing_cohort)
    rows = data.splits["train"].rows[[5, 0, 17, 17, 3]]
    expected = numpy_decode(data.store.read_rows(rows), data.store.mean, center=True, impute=True)
    np.testing.assert_array_equal(data.store.decode(rows, center=True).view(np.uint32), expected.view(np.uint32))
    order = np.random.default_rng(0).permutation(len(data.splits["train"].rows))
    x = torch.cat([b[0] for b in data.batches("train", 16, order)]).numpy()
    expected = numpy_decode(data.store.read_rows(data.splits["train"].rows[order]), data.store.mean, True, True)
    np.testing.assert_array_equal(x.view(np.uint32), expected.view(np.uint32))


@pytest.mark.parametrize("device", DEVICES)
def test_resident_batches_equal_streamed_batches(missing_cohort, device):
    data = load(missing_cohort)
    order = np.random.default_rng(2).permutation(len(data.splits["early_stop"].rows))
    streamed = [[t.cpu() for t in b] for b in data.batches("early_stop", 7, order, device=device)]
    streamed_split = data.decode_split("validation", np.array([3, 1, 4]), device=device).cpu()
    assert data.make_resident(device, "always")
    assert data.resident.packed.device.type == device and data.resident.nbytes == data.packed_bytes
    resident = [[t.cpu() for t in b] for b in data.batches("early_stop", 7, order, device=device)]
    assert len(resident) == len(streamed) == -(-len(order) // 7)
    for a, b in zip(streamed, resident):
        for ta, tb in zip(a, b):
            assert torch.equal(ta, tb)
    assert torch.equal(data.decode_split("validation", np.array([3, 1, 4]), device=device).cpu(), streamed_split)
    assert not data.make_resident(device, "never") and data.resident is None


def test_training_on_a_resident_matrix_equals_streamed_training(missing_cohort):
    settings = TrainSettings(arch="8x4", l1=1.0, l1_scaling="sum_over_n_train", seed=5, batch_size=16,
                             learning_rate=1e-3, max_epochs=3, patience=3)
    streamed, m_streamed = train_model(load(missing_cohort), settings, device=torch.device("cpu"))
    data = load(missing_cohort)
    assert data.make_resident("cpu", "always")
    resident, m_resident = train_model(data, settings, device=torch.device("cpu"))
    for (name, a), b in zip(streamed.state_dict().items(), resident.state_dict().values()):
        assert torch.equal(a, b), name
    assert m_streamed["history"] == m_resident["history"]
    assert m_streamed["validation_loglik"] == m_resident["validation_loglik"]


# ------------------------------------------------------------- training.resident arithmetic

GIB = 2**30


def test_auto_keeps_the_matrix_resident_only_when_it_fits_with_headroom():
    cuda = torch.device("cuda", 0)  # sizes are given, so no GPU is asked
    free = 100 * GIB
    usable = dd.usable_bytes(free)
    assert usable == int(free * (1 - dd.GPU_HEADROOM_FRACTION)) - dd.GPU_HEADROOM_BYTES
    n, m = 400_000, 40_000  # 4 GB packed: fits
    assert dd.packed_bytes(n, m) == n * 10_000
    reserve = dd.training_reserve_bytes(m, hidden1=128, batch_size=256)
    assert dd.resolve_resident("auto", n, m, cuda, reserve_bytes=reserve, free_bytes=free)
    # exactly at the usable limit still fits, one byte more does not
    room = usable - dd.packed_bytes(n, m)
    assert dd.resident_fits(n, m, cuda, reserve_bytes=room, free_bytes=free)
    assert not dd.resident_fits(n, m, cuda, reserve_bytes=room + 1, free_bytes=free)
    assert not dd.resolve_resident("auto", n, m, cuda, reserve_bytes=room + 1, free_bytes=free)
    # UK Biobank chromosome 10 (413k x 337k, ~35 GB packed) fits an H200 (~139 GiB free), not a 24 GiB card
    ukb = dict(n_samples=413_173, n_snps=337_005)
    ukb_reserve = dd.training_reserve_bytes(ukb["n_snps"], 128, 256)
    assert dd.resident_fits(**ukb, device=cuda, reserve_bytes=ukb_reserve, free_bytes=139 * GIB)
    assert not dd.resident_fits(**ukb, device=cuda, reserve_bytes=ukb_reserve, free_bytes=24 * GIB)
    # more cells in one job reserve more model memory
    assert dd.training_reserve_bytes(m, 128, 256, n_cells=16) > dd.training_reserve_bytes(m, 128, 256)


def test_resident_modes_on_the_cpu_and_config_errors():
    cuda = torch.device("cuda", 0)
    assert not dd.resolve_resident("auto", 10, 10, "cpu")  # streamed: the page cache holds the store
    assert dd.resolve_resident("always", 10, 10, "cpu")
    assert not dd.resolve_resident("never", 10, 10, cuda, free_bytes=100 * GIB)
    with pytest.raises(ValueError, match="config key training.resident: 'always' asked"):
        dd.resolve_resident("always", 400_000, 400_000, cuda, free_bytes=24 * GIB)
    with pytest.raises(ValueError, match="config key training.resident:"):
        dd.resolve_resident("yes", 10, 10, "cpu")
    with pytest.raises(ValueError, match="config key training.precision:"):
        dd.autocast("cpu", "fp16")


def test_schema_has_the_gpu_keys_with_defaults_and_names_them_in_errors():
    import yaml
    from snakemake.exceptions import WorkflowError
    from snakemake.utils import validate

    from toydata import REPO

    schema = str(REPO / "workflow/schemas/config.schema.yaml")
    base = yaml.safe_load((REPO / "config/config.yaml").read_text())
    filled = copy.deepcopy(base)
    validate(filled, schema)
    assert filled["training"]["resident"] == "auto" and filled["training"]["precision"] == "fp32"
    for key, value in [("resident", "yes"), ("precision", "fp16")]:
        bad = copy.deepcopy(base)
        bad["training"][key] = value
        with pytest.raises(WorkflowError, match=key):
            validate(bad, schema)


# ------------------------------------------------------------------------- precision

def test_autocast_fp32_changes_nothing_tf32_is_fp32_on_the_cpu_and_bf16_autocasts():
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    with dd.autocast("cpu", "fp32"):
        fp32 = a @ b
    with dd.autocast("cpu", "tf32"):
        tf32 = a @ b
    assert fp32.dtype == tf32.dtype == torch.float32 and torch.equal(fp32, tf32)
    with dd.autocast("cpu", "bf16"):
        bf16 = a @ b
    assert bf16.dtype == torch.bfloat16
    assert torch.allclose(bf16.float(), fp32, rtol=5e-2, atol=5e-2)
    # the flags a tf32 context sets are restored after it
    before = torch.backends.cuda.matmul.allow_tf32
    with dd._tf32():
        assert torch.backends.cuda.matmul.allow_tf32
    assert torch.backends.cuda.matmul.allow_tf32 == before


# ------------------------------------------------------------------- DeepLIFT chunk size

def test_attribution_chunk_is_the_configured_one_on_the_cpu_and_fills_the_gpu():
    assert dd.attribution_chunk_size(512, 10_000, "cpu") == 512
    cuda = torch.device("cuda", 0)
    free, m = 40 * GIB, 100_000
    chunk = dd.attribution_chunk_size(512, m, cuda, free_bytes=free)
    per_sample = dd.DEEPLIFT_ARRAYS_PER_SAMPLE * 4 * m
    # the largest power of two of samples whose arrays fit in the usable memory
    assert chunk & (chunk - 1) == 0
    assert chunk * per_sample <= dd.usable_bytes(free) < 2 * chunk * per_sample
    assert chunk > 512
    # expanded methods (e.g. 32 SHAP references) take proportionally fewer samples
    assert dd.attribution_chunk_size(512, m, cuda, expansion=32, free_bytes=free) == chunk // 32
    # never more than the split, never below one sample
    assert dd.attribution_chunk_size(512, 1000, cuda, n_samples=300, free_bytes=free) == 300
    assert dd.attribution_chunk_size(512, m, cuda, free_bytes=dd.GPU_HEADROOM_BYTES) == 1


@pytest.mark.parametrize("device", DEVICES)
def test_training_mean_and_sd_are_those_of_the_decoded_dosages_on_any_device(missing_cohort, device):
    data = load(missing_cohort)
    x = data.store.decode(data.splits["train"].rows).astype(np.float64)  # mean-imputed dosages
    np.testing.assert_allclose(data.mean_genotype("train", chunk=17, device=device), x.mean(0), rtol=1e-6)
    np.testing.assert_allclose(data.genotype_sd("train", chunk=17, device=device), x.std(0), rtol=1e-5, atol=1e-6)
    assert data.make_resident(device, "always")
    np.testing.assert_allclose(data.mean_genotype("train", device=device), x.mean(0), rtol=1e-6)
