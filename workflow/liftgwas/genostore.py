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

Conversion streams over variant blocks of the .bed, so memory is O(N x block).
Decoding a batch is one lookup-table gather (no Python loop per genotype).
"""

from __future__ import annotations

import logging
import os
import weakref
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .plink import BYTE_TO_DOSAGES, Bed

log = logging.getLogger(__name__)

# byte -> 4 float dosages with NaN for missing, for batch decoding; viewed as one 16-byte
# value per byte so that decoding is a single gather (np.take) of 16-byte words
_BYTE_TO_FLOATS = np.where(BYTE_TO_DOSAGES < 0, np.nan, BYTE_TO_DOSAGES).astype(np.float32)
_BYTE_TO_FLOAT_WORDS = np.ascontiguousarray(_BYTE_TO_FLOATS).view(np.complex128).reshape(256)
# bytes that hold at least one missing call (code 01)
_BYTE_HAS_MISSING = (BYTE_TO_DOSAGES < 0).any(axis=1)


def store_paths(prefix: str | Path) -> tuple[Path, Path]:
    prefix = str(prefix)
    return Path(prefix + ".packed.npy"), Path(prefix + ".mean.npy")


def _delta_swap(words: np.ndarray, mask: int, shift: int) -> np.ndarray:
    t = (words ^ (words >> np.uint32(shift))) & np.uint32(mask)
    return words ^ t ^ (t << np.uint32(shift))


def bed_block_to_sample_major(raw: np.ndarray, n_samples: int) -> np.ndarray:
    """Transpose a block of .bed bytes (B variants, ceil(N/4)), B a multiple of 4, into
    sample-major bytes (N, B/4) with the same 2-bit codes, without unpacking them.

    Four variants x four samples fill one 32-bit word (byte = variant, 2 bits = sample);
    two delta swaps transpose that 4 x 4 matrix of 2-bit codes in place (byte = sample,
    2 bits = variant). About 10x faster than unpacking to one byte per genotype.
    """
    b, nb = raw.shape
    words = np.ascontiguousarray(raw.reshape(b // 4, 4, nb).transpose(2, 0, 1)).view(np.uint32)[..., 0]
    words = _delta_swap(words, 0x00CC00CC, 6)  # swap the off-diagonal codes of each 2 x 2 block
    words = _delta_swap(words, 0x0000F0F0, 12)  # swap the off-diagonal 2 x 2 blocks
    out = words.view(np.uint8).reshape(nb, b // 4, 4).transpose(0, 2, 1).reshape(nb * 4, b // 4)
    return np.ascontiguousarray(out[:n_samples])


def _byte_sums(valid_codes: int) -> tuple[np.ndarray, np.ndarray]:
    """Per byte value: dosage sum and number of called genotypes among its first codes."""
    dosages = BYTE_TO_DOSAGES[:, :valid_codes]
    return np.where(dosages < 0, 0, dosages).sum(1).astype(np.uint16), (dosages >= 0).sum(1).astype(np.uint16)


_FULL_BYTE_SUMS = _byte_sums(4)
_MISSING_BYTE = 0x55  # four missing codes (01)


def _variant_sums(raw: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Dosage sum and called count per variant of a .bed block; the unused codes at the end
    of each variant are ignored whatever bits a writer left there."""
    full = n_samples // 4
    dosage_lut, called_lut = _FULL_BYTE_SUMS
    total = dosage_lut[raw[:, :full]].sum(axis=1, dtype=np.int64)
    called = called_lut[raw[:, :full]].sum(axis=1, dtype=np.int64)
    if n_samples % 4:
        last_dosage, last_called = _byte_sums(n_samples % 4)
        total += last_dosage[raw[:, full]]
        called += last_called[raw[:, full]]
    return total, called


def _npy_data_offset(path: Path) -> tuple[tuple[int, ...], int]:
    """Shape and byte offset of the data in a C-ordered uint8 .npy file."""
    with open(path, "rb") as handle:
        major, _ = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
        if fortran or dtype != np.uint8:
            raise ValueError(f"{path}: expected a C-ordered uint8 array")
        return shape, handle.tell()


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while len(data):
        written = os.pwrite(fd, data, offset)
        data, offset = data[written:], offset + written


def _pread_into(fd: int, out: memoryview, offset: int) -> None:
    done = 0
    while done < len(out):
        got = os.preadv(fd, [out[done:]], offset + done)
        if got == 0:
            raise EOFError(f"genotype store ended early at byte {offset + done}")
        done += got


def default_block_size(n_samples: int, budget_bytes: int = 256 * 2**20) -> int:
    """Variants per conversion block so that the block's arrays (the .bed bytes and three
    transposed copies, N x B / 4 bytes each) stay within the budget."""
    return int(max(4, min(65536, budget_bytes // max(n_samples, 1))) // 4 * 4)


def build_store(bed_prefix: str | Path, out_prefix: str | Path, block_size: int | None = None) -> None:
    """Convert a PLINK fileset to the sample-major store, streaming over variant blocks.

    Memory is O(N x block_size) whatever M is; the default block size keeps it near
    256 MB. Output is written with positioned writes (not a memory map, whose dirty pages
    would count towards the job's resident memory).
    """
    bed = Bed(bed_prefix)
    n, m = bed.n_samples, bed.n_snps
    block_size = default_block_size(n) if block_size is None else block_size
    block_size = max(4, block_size - block_size % 4)  # blocks must start on a byte boundary
    packed_path, mean_path = store_paths(out_prefix)
    row_bytes = (m + 3) // 4
    total = np.zeros(m, dtype=np.float64)
    count = np.zeros(m, dtype=np.int64)
    with atomic_path(packed_path) as tmp_packed:
        header = np.lib.format.open_memmap(tmp_packed, mode="w+", dtype=np.uint8, shape=(n, row_bytes))
        del header  # only used to write a valid .npy header and size the file
        _, data_offset = _npy_data_offset(tmp_packed)
        fd = os.open(tmp_packed, os.O_WRONLY)
        try:
            for start in range(0, m, block_size):
                stop = min(start + block_size, m)
                raw = bed.read_raw(start, stop)  # (B, ceil(N/4)) .bed bytes
                total[start:stop], count[start:stop] = _variant_sums(raw, n)
                if raw.shape[0] % 4:  # the last block: pad with missing variants
                    pad = np.full((4 - raw.shape[0] % 4, raw.shape[1]), _MISSING_BYTE, dtype=np.uint8)
                    raw = np.concatenate([raw, pad])
                packed = bed_block_to_sample_major(raw, n)  # (N, B/4)
                view = memoryview(packed).cast("B")
                width = packed.shape[1]
                column = data_offset + start // 4
                for row in range(n):
                    _pwrite_all(fd, view[row * width : (row + 1) * width], column + row * row_bytes)
                log.info("store: %d / %d variants", stop, m)
            os.fsync(fd)
        finally:
            os.close(fd)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), 0.0).astype(np.float32)
    with atomic_path(mean_path) as tmp_mean:
        with open(tmp_mean, "wb") as handle:
            np.save(handle, mean)


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

    def read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Packed bytes of the given rows (in the given order), shape (len(rows), M/4)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), self.row_bytes), dtype=np.uint8)
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
        packed = self.read_rows(rows)
        x = np.take(_BYTE_TO_FLOAT_WORDS, packed).view(np.float32).reshape(len(rows), -1)[:, : self.n_snps]
        if impute and _BYTE_HAS_MISSING[packed].any():
            missing = np.isnan(x)
            x[missing] = np.broadcast_to(self.mean, x.shape)[missing]
        if center:
            x -= self.mean
        return x

    def decode_int8(self, rows: np.ndarray) -> np.ndarray:
        """int8 dosages (len(rows), M) with -1 for missing (exact, for tests and tools)."""
        return BYTE_TO_DOSAGES[self.read_rows(rows)].reshape(len(rows), -1)[:, : self.n_snps]
