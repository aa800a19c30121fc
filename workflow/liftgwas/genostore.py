"""Sample-major 2-bit genotype store: what training and DeepLIFT read mini-batches from.

PLINK's .bed is SNP-major (one record per variant), but a mini-batch needs a few people
across *all* variants. After QC the genotypes are converted once into a sample-major
store with the same 2-bit codes as the .bed (4 genotypes per byte, so 35 GB for UK
Biobank chromosome 10 instead of 556 GB as float32):

* ``<prefix>.packed.npy``: uint8 array (N samples, ceil(M / 4)), a plain .npy file (any
  numpy can open or memory-map it; no zarr dependency). A sample is one contiguous run of
  M/4 bytes, so a random mini-batch is one positioned read per sample and the page
  cache does the rest;
* ``<prefix>.mean.npy``: float32 mean dosage per variant over non-missing calls, used to
  mean-impute missing calls (and as the DeepLIFT reference input by default).

The conversion is plink2's: ``plink2 --export ind-major-bed`` writes exactly this body
(the .bed's 2-bit codes, one row of ceil(M/4) bytes per sample) after a 3-byte header,
in bounded memory (``--memory``), 10x faster than the bit transpose this module used to
do; ``--freq counts`` in the same run gives the per-variant means. The body is copied
behind a .npy header with ``copy_file_range`` (in the kernel, no user-space buffer).
Decoding a batch is one lookup-table gather (no Python loop per genotype), done by
liftgwas.device_decode on whichever device the batch is used on (the CPU or a GPU).
"""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .cohort.plink2 import run_plink2, workdir  # the plink2 runner QC uses
from .plink import BYTE_TO_DOSAGES, Bed, plink2_inputs

log = logging.getLogger(__name__)

PLINK2_MIN_MEMORY_MB = 640  # plink2 refuses a smaller --memory


def store_paths(prefix: str | Path) -> tuple[Path, Path]:
    prefix = str(prefix)
    return Path(prefix + ".packed.npy"), Path(prefix + ".mean.npy")


def _npy_data_offset(path: Path) -> tuple[tuple[int, ...], int]:
    """Shape and byte offset of the data in a C-ordered uint8 .npy file."""
    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if fortran or dtype != np.uint8:
            raise ValueError(f"{path}: expected a C-ordered uint8 array")
        return shape, handle.tell()


def _pread_into(fd: int, out: memoryview, offset: int) -> None:
    done = 0
    while done < len(out):
        got = os.preadv(fd, [out[done:]], offset + done)
        if got == 0:
            raise EOFError(f"genotype store ended early at byte {offset + done}")
        done += got


def _copy_range(src: int, dst: int, count: int, src_offset: int, dst_offset: int) -> None:
    while count:
        copied = os.copy_file_range(src, dst, count, src_offset, dst_offset)
        if copied == 0:
            raise EOFError(f"plink2's ind-major .bed ended {count} bytes early")
        count, src_offset, dst_offset = count - copied, src_offset + copied, dst_offset + copied


def build_store(bed_prefix: str | Path, out_prefix: str | Path, *, threads: int = 1,
                memory_mb: int | None = None) -> None:
    """Convert a PLINK fileset to the sample-major store with plink2, atomically.

    ``memory_mb`` is plink2's workspace (``--memory``, at least 640): plink2 transposes in
    as many passes as it needs, so memory is bounded whatever N and M are.
    """
    bed = Bed(bed_prefix)  # validated before plink2 sees it: errors name the file
    n, m = bed.n_samples, bed.n_snps
    packed_path, mean_path = store_paths(out_prefix)
    row_bytes = (m + 3) // 4
    with workdir(packed_path) as tmp:  # next to the store; a killed run's leftovers are removed
        memory_mb = max(PLINK2_MIN_MEMORY_MB, int(memory_mb or PLINK2_MIN_MEMORY_MB))
        run_plink2([*plink2_inputs(bed, tmp), "--export", "ind-major-bed", "--freq", "counts"], tmp / "store",
                   what="sample-major store", threads=threads, memory_mb=memory_mb)
        counts = pd.read_csv(tmp / "store.acount", sep="\t", usecols=["ID", "ALT_CTS", "OBS_CT"])
        if len(counts) != m or not (counts["ID"].astype(str).to_numpy() == bed.bim["snp"].astype(str).to_numpy()).all():
            raise RuntimeError(f"plink2 --freq returned {len(counts)} variants in another order than {bed.prefix}.bim")
        with atomic_path(packed_path) as tmp_packed:
            with open(tmp_packed, "wb") as out, open(tmp / "store.bed", "rb") as src:
                np.lib.format.write_array_header_1_0(
                    out, {"descr": "|u1", "fortran_order": False, "shape": (n, row_bytes)})
                out.flush()
                # plink2's ind-major .bed: 3 header bytes, then N rows of ceil(M/4) bytes
                _copy_range(src.fileno(), out.fileno(), n * row_bytes, 3, out.tell())
                os.fsync(out.fileno())
    called = counts["OBS_CT"].to_numpy(np.float64) / 2  # allele observations -> called genotypes
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(called > 0, counts["ALT_CTS"].to_numpy(np.float64) / np.maximum(called, 1), 0.0)
    log.info("store: %d samples x %d variants", n, m)
    with atomic_path(mean_path) as tmp_mean:
        with open(tmp_mean, "wb") as handle:
            np.save(handle, mean.astype(np.float32))


class GenotypeStore:
    """Read access to a sample-major store; rows are samples in .fam order.

    Rows are fetched with positioned reads, so resident memory is the batch being decoded,
    not the part of the file touched so far (as it would be with a memory map).
    """

    def __init__(self, packed_path: Path, mean: np.ndarray):
        (n, row_bytes), self._offset = _npy_data_offset(packed_path)
        if row_bytes != (len(mean) + 3) // 4:
            raise ValueError(f"{packed_path}: {row_bytes} bytes per sample do not fit {len(mean)} variants")
        self.path = packed_path
        self.mean = mean
        self.n_snps = len(mean)
        self.n_samples = n
        self.row_bytes = row_bytes
        self._fd = os.open(packed_path, os.O_RDONLY)
        self._closer = weakref.finalize(self, os.close, self._fd)

    @classmethod
    def open(cls, prefix: str | Path) -> "GenotypeStore":
        packed_path, mean_path = store_paths(prefix)
        return cls(packed_path, np.load(mean_path))

    def read_rows(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Packed bytes of the given rows (in the given order), shape (len(rows), M/4).

        ``out`` is an optional C-contiguous uint8 buffer of that shape to read into (e.g.
        pinned host memory, from which a copy to the GPU runs asynchronously).
        """
        rows = np.asarray(rows, dtype=np.int64)
        if out is None:
            out = np.empty((len(rows), self.row_bytes), dtype=np.uint8)
        elif out.shape != (len(rows), self.row_bytes) or out.dtype != np.uint8 or not out.flags.c_contiguous:
            raise ValueError(f"read_rows: out must be C-contiguous uint8 of shape {(len(rows), self.row_bytes)}")
        view = memoryview(out).cast("B")
        order = np.argsort(rows, kind="stable")  # read the file front to back
        for i in order:
            _pread_into(self._fd, view[i * self.row_bytes : (i + 1) * self.row_bytes], self._offset + int(rows[i]) * self.row_bytes)
        return out

    def decode(self, rows: np.ndarray, impute: bool = True, center: bool = False) -> np.ndarray:
        """float32 dosages (len(rows), M); missing calls mean-imputed (or NaN).

        ``center`` subtracts the store mean in place (the network's input), so an imputed
        call becomes exactly 0.
        """
        # the one decoder (torch, on CPU tensors here); imported here so that building the
        # store (a numpy-only job, resources.store_mem_mb) does not load torch
        import torch

        from .device_decode import decode_packed

        packed = torch.from_numpy(self.read_rows(rows))
        return decode_packed(packed, torch.from_numpy(self.mean), center=center, impute=impute).numpy()

    def decode_int8(self, rows: np.ndarray) -> np.ndarray:
        """int8 dosages (len(rows), M) with -1 for missing (exact, for tests and tools)."""
        return BYTE_TO_DOSAGES[self.read_rows(rows)].reshape(len(rows), -1)[:, : self.n_snps]
