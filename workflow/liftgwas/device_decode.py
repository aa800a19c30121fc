"""Packed 2-bit genotypes decoded with torch on the device that holds them, and the GPU
settings around it (resident packed matrix, matmul precision, DeepLIFT chunk size).

Why decode on the device: a float32 batch is 16x the bytes of its packed 2-bit rows
(4 genotypes per byte), and decoding on the CPU was the bottleneck of a GPU job (README,
"Extrapolation to UK Biobank chromosome 10"). So the store's bytes travel to the device
as they are and are expanded there by one gather from a 256-entry table.

The decoder (``decode_packed``) is the only one in liftgwas: the CPU path runs the same
torch code on CPU tensors (GenotypeStore.decode calls it too). On the CPU it is as fast as
the numpy gather it replaced, and faster when calls are missing (bench/decode_device.py ->
bench/results/decode_device.json, 512 x 10,000, one thread: 9.7 vs 9.7 ms without missing
calls, 13 vs 19 ms at 1 %, 16 vs 51 ms at 10 %), so there is no second decoder to keep in step.
Its floats are those of the numpy decoder bit for bit: dosage (exact in float32), minus
the store mean in float32; a missing call is mean-imputed, so centred it is mean - mean
= +0.0, which is what ``nan_to_num_(0.0)`` writes (tests/unit/test_device_decode.py).
"""

from __future__ import annotations

from contextlib import contextmanager, nullcontext

import numpy as np
import torch

from .plink import BYTE_TO_DOSAGES

RESIDENT_MODES = ("auto", "always", "never")
PRECISIONS = ("fp32", "tf32", "bf16")

# byte -> its 4 dosages as float32, NaN for a missing call (code 01); each row's 16 bytes
# viewed as two int64 words, so decoding gathers whole 16-byte rows (index_select of
# (256, 2) words) rather than 4 separate floats: 3-5x faster on the CPU
_BYTE_TO_FLOATS = np.where(BYTE_TO_DOSAGES < 0, np.nan, BYTE_TO_DOSAGES).astype(np.float32)
_BYTE_TO_WORDS = np.ascontiguousarray(_BYTE_TO_FLOATS).view(np.int64).reshape(256, 2)
_tables: dict[torch.device, torch.Tensor] = {}

# Margin kept free on a GPU when sizing what goes there: cuBLAS workspaces, the caching
# allocator's fragmentation and other processes' growth (mem_get_info is a snapshot)
GPU_HEADROOM_BYTES = 1 << 30
GPU_HEADROOM_FRACTION = 0.10
# Captum's DeepLift holds ~12 float32 (chunk x M) arrays at once (inputs, baselines, their
# gradients, multipliers, attributions; resources.deeplift_mem_mb, bench/scale.py), plus
# the decoded chunk and attribute()'s abs/square temporaries: 16 for margin
DEEPLIFT_ARRAYS_PER_SAMPLE = 16
MAX_DEEPLIFT_CHUNK = 65_536  # beyond this the chunk only costs memory, no more speed


def normalize_device(device: torch.device | str) -> torch.device:
    """``cuda`` -> ``cuda:<current>``, so that devices compare equal to tensors' devices."""
    device = torch.device(device)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", torch.cuda.current_device())
    return device


def byte_table(device: torch.device | str) -> torch.Tensor:
    """The (256, 2) int64 lookup table on ``device`` (copied there once per process)."""
    device = normalize_device(device)
    table = _tables.get(device)
    if table is None:
        table = _tables[device] = torch.from_numpy(_BYTE_TO_WORDS.copy()).to(device)
    return table


def decode_packed(packed: torch.Tensor, mean: torch.Tensor, *, center: bool = True, impute: bool = True) -> torch.Tensor:
    """float32 dosages (B, M) of packed rows (B, ceil(M / 4)) uint8, on their device.

    ``mean`` (M,) float32 on the same device is the store mean: missing calls are imputed
    with it (``impute``), and ``center`` subtracts it (the network's input, in which an
    imputed call is exactly 0). ``impute=False`` leaves missing calls NaN.
    """
    if packed.dtype != torch.uint8 or packed.dim() != 2:
        raise ValueError(f"packed rows must be a 2-D uint8 tensor, got {packed.dtype} {tuple(packed.shape)}")
    n, m = packed.shape[0], mean.shape[0]
    if packed.shape[1] != (m + 3) // 4:
        raise ValueError(f"{packed.shape[1]} bytes per row do not hold {m} variants")
    # int32 indices: a quarter of int64's traffic, and index_select takes them on CPU and CUDA
    words = byte_table(packed.device).index_select(0, packed.reshape(-1).to(torch.int32))
    x = words.view(torch.float32).reshape(n, -1)[:, :m]
    if center:
        x.sub_(mean)  # NaN - mean stays NaN
        if impute:
            x.nan_to_num_(0.0)  # imputed then centred: mean - mean = +0.0 exactly
        return x
    if impute:
        x = torch.where(torch.isnan(x), mean, x)
    return x


# --- training.resident: the packed matrix in device memory ------------------------------------

def packed_bytes(n_samples: int, n_snps: int) -> int:
    """Bytes of the packed rows of ``n_samples`` samples (4 genotypes per byte)."""
    return int(n_samples) * ((int(n_snps) + 3) // 4)


def training_reserve_bytes(n_snps: int, hidden1: int, batch_size: int, n_cells: int = 1) -> int:
    """Device memory training needs besides the resident matrix (an upper estimate).

    Per cell, the first layer (M x h1 float32) dominates the model: weights, gradient,
    Adam's two moments and a bf16 autocast copy (~5 copies). Activations: the evaluation
    batches are the largest (4 x batch_size samples): the decoded batch and its scaled
    copy, float32, shared by all cells of a batched job.
    """
    model = 5 * 4 * int(n_snps) * int(hidden1) * int(n_cells)
    activations = 2 * 4 * (4 * int(batch_size)) * int(n_snps)
    return model + activations


def usable_bytes(free_bytes: int) -> int:
    """What may be planned on a device with ``free_bytes`` free (after the headroom)."""
    return max(int(free_bytes * (1 - GPU_HEADROOM_FRACTION)) - GPU_HEADROOM_BYTES, 0)


def device_free_bytes(device: torch.device | str) -> int | None:
    """Free memory of a CUDA device (torch.cuda.mem_get_info); None for the CPU."""
    device = torch.device(device)
    if device.type != "cuda":
        return None
    free, _total = torch.cuda.mem_get_info(device)
    return int(free)


def resident_fits(n_samples: int, n_snps: int, device: torch.device | str, *, reserve_bytes: int = 0,
                  free_bytes: int | None = None) -> bool:
    """Whether the packed rows of ``n_samples`` samples fit in ``device``'s memory next to
    ``reserve_bytes`` (model, activations: training_reserve_bytes) with the headroom.

    ``free_bytes`` defaults to the device's free memory now; on the CPU (free_bytes None)
    the answer is True: host memory is the job's own, sized by resources.py.
    """
    if free_bytes is None:
        free_bytes = device_free_bytes(device)
        if free_bytes is None:
            return True
    return packed_bytes(n_samples, n_snps) + int(reserve_bytes) <= usable_bytes(free_bytes)


def check_resident_mode(mode: str) -> str:
    if mode not in RESIDENT_MODES:
        raise ValueError(f"config key training.resident: {mode!r} is not one of {list(RESIDENT_MODES)}")
    return mode


def resolve_resident(mode: str, n_samples: int, n_snps: int, device: torch.device | str, *,
                     reserve_bytes: int = 0, free_bytes: int | None = None) -> bool:
    """Whether to hold the packed matrix in device memory for ``training.resident``.

    * ``never``: stream batches from the store (positioned reads) as before;
    * ``always``: resident, and a ValueError naming the key when it does not fit on a GPU;
    * ``auto``: resident on a GPU when it fits; streamed on the CPU, where the page cache
      already holds the store's pages and a resident copy would only add N x M/4 bytes to
      the job's memory (resources.train_mem_mb sizes it for the batches) to save one
      positioned read per sample (bench/results/decode_device.json: 1.0 ms of reads vs
      0.13 ms of gathering per 512 x 10,000 batch, next to 13 ms of decoding).
    """
    check_resident_mode(mode)
    device = torch.device(device)
    if mode == "never":
        return False
    if device.type != "cuda":
        return mode == "always"
    if free_bytes is None:
        free_bytes = device_free_bytes(device)
    fits = resident_fits(n_samples, n_snps, device, reserve_bytes=reserve_bytes, free_bytes=free_bytes)
    if mode == "always" and not fits:
        need = packed_bytes(n_samples, n_snps) + int(reserve_bytes)
        raise ValueError(
            f"config key training.resident: 'always' asked, but {n_samples} samples x {n_snps} variants "
            f"packed ({packed_bytes(n_samples, n_snps) / 2**30:.2f} GiB) plus model and activations "
            f"({int(reserve_bytes) / 2**30:.2f} GiB) need {need / 2**30:.2f} GiB and {device} has "
            f"{usable_bytes(free_bytes) / 2**30:.2f} GiB usable ({free_bytes / 2**30:.2f} GiB free); "
            "use auto or never"
        )
    return fits


# --- training.precision ------------------------------------------------------------------------

def check_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ValueError(f"config key training.precision: {precision!r} is not one of {list(PRECISIONS)}")
    return precision


@contextmanager
def _tf32():
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


def autocast(device: torch.device | str, precision: str = "fp32"):
    """Context manager for the forward pass (and loss) under ``training.precision``.

    * ``fp32``: nothing changes (the default; bit-identical CPU runs);
    * ``tf32``: CUDA matmuls use TensorFloat-32 (10-bit mantissa products, fp32 sums);
      the CPU has no TF32, so there it is fp32;
    * ``bf16``: torch.autocast to bfloat16 on either device (weights stay fp32, so no
      GradScaler: bf16 has fp32's exponent range). On the CPU it runs, so the same config
      gives the same kind of result everywhere. Its CPU speed depends on the CPU: with
      avx512_bf16 (this project's test machine) a 128x256 training step took 0.66x the fp32
      time (bench/results/decode_device.json); CPUs without bf16 units emulate it (slower).

    Run ``backward()`` outside the context, as torch.autocast asks.
    """
    check_precision(precision)
    device = torch.device(device)
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "tf32" and device.type == "cuda":
        return _tf32()
    return nullcontext()


# --- DeepLIFT chunks ---------------------------------------------------------------------------

def attribution_chunk_size(configured: int, n_snps: int, device: torch.device | str, *, expansion: int = 1,
                           n_samples: int | None = None, free_bytes: int | None = None) -> int:
    """Samples per DeepLIFT chunk: ``deeplift.chunk_size`` on the CPU (unchanged, so CPU
    runs repeat bit for bit); on a GPU as many as fit in its free memory, which keeps the
    device busy with a few large passes instead of many small ones.

    A sample costs DEEPLIFT_ARRAYS_PER_SAMPLE float32 rows of M per evaluation Captum
    expands it into (``expansion``: SHAP references, SmoothGrad copies). The chunk is
    rounded down to a power of two, so that small changes in free memory between runs do
    not change it (the seeded methods draw per chunk), capped at MAX_DEEPLIFT_CHUNK and at
    ``n_samples`` (the split's size), and is at least 1.
    """
    device = torch.device(device)
    if device.type != "cuda":
        return int(configured)
    if free_bytes is None:
        free_bytes = device_free_bytes(device)
    per_sample = DEEPLIFT_ARRAYS_PER_SAMPLE * 4 * int(n_snps) * max(int(expansion), 1)
    fitting = usable_bytes(free_bytes) // per_sample
    chunk = 1 << (int(fitting).bit_length() - 1) if fitting >= 1 else 1
    cap = MAX_DEEPLIFT_CHUNK if n_samples is None else min(MAX_DEEPLIFT_CHUNK, max(int(n_samples), 1))
    return int(min(chunk, cap))
