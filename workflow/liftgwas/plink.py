"""PLINK 1 binary genotypes (.bed/.bim/.fam): validated, block-streamed with positioned reads.

Convention used everywhere in liftgwas: a genotype is the **dosage of allele A1**, the
allele in .bim column 5 (PLINK's A1; plink2 reads it as ALT and ``--glm`` reports it in
its A1 column). Dosages are int8 0/1/2 and missing calls are ``MISSING`` (-1).

Reader choice (issue 16, bench/readers.py -> bench/results/readers.json): streaming a
100,000 x 10,000 .bed in the GWAS's SNP blocks, one thread, took 0.32 CPU-s with this
module's positioned reads + packed-word lookup table, 6.8 with bed-reader 1.1.0 and 11.8
with pandas-plink 2.2.9 + dask. bed-reader is the better library, but its 6.8e-9 s per
genotype would add about 12 % to the logistic GWAS (5.6e-8 s per genotype tested), so the
table decoder stays (README, "Which tool does what"); bed-reader, pandas-plink and plink2
are its references in the tests. The checks below (magic, mode, sizes, IDs) come first.
"""

from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from .atomic import atomic_path
from .errors import InputError

MISSING = -1
BED_MAGIC = bytes([0x6C, 0x1B])
SNP_MAJOR = 0x01
BIM_COLUMNS = ["chrom", "snp", "cm", "pos", "a1", "a2"]
FAM_COLUMNS = ["fid", "iid", "father", "mother", "sex", "phenotype"]

# .bed 2-bit codes (low bits = first sample): 00 hom A1, 01 missing, 10 het, 11 hom A2
_CODE_TO_DOSAGE = np.array([2, MISSING, 1, 0], dtype=np.int8)
_DOSAGE_TO_CODE = np.array([3, 2, 0, 1], dtype=np.uint8)  # index dosage 0,1,2 and -1 (=3)
# byte -> the 4 dosages it holds
BYTE_TO_DOSAGES = _CODE_TO_DOSAGE[(np.arange(256)[:, None] >> np.array([0, 2, 4, 6])) & 3]
# the same table with each row's 4 int8 dosages packed in one uint32: decoding a block is
# one gather of 4-byte words (about 10x faster than gathering (256, 4) rows)
_BYTE_TO_PACKED_DOSAGES = np.ascontiguousarray(BYTE_TO_DOSAGES).view(np.uint32).ravel()


def _read_whitespace_table(path: Path, columns: list[str], kind: str) -> pd.DataFrame:
    if not path.exists():
        raise InputError(path, f"{kind} file not found")
    rows = []
    with open(path) as handle:
        for line_no, line in enumerate(handle, start=1):
            fields = line.split()
            if not fields:
                raise InputError(path, "empty line", line=line_no)
            if len(fields) != len(columns):
                raise InputError(
                    path,
                    f"expected {len(columns)} whitespace-separated columns "
                    f"({' '.join(columns)}), found {len(fields)}",
                    line=line_no,
                )
            rows.append(fields)
    if not rows:
        raise InputError(path, f"{kind} file is empty")
    return pd.DataFrame(rows, columns=columns)


def _check_unique(path: Path, values: pd.Series, what: str, column: str) -> None:
    dup = values.duplicated(keep="first")
    if dup.any():
        first = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            path,
            f"duplicate {what} '{values.iloc[first]}' (first seen on line "
            f"{int(np.flatnonzero((values == values.iloc[first]).to_numpy())[0]) + 1}); "
            f"{what}s must be unique",
            line=first + 1,
            field=column,
        )


def _to_int(path: Path, df: pd.DataFrame, column: str) -> pd.Series:
    values = pd.to_numeric(df[column], errors="coerce")
    bad = values.isna()
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise InputError(path, f"'{df[column].iloc[i]}' is not an integer", line=i + 1, field=column)
    return values.astype(np.int64)


def read_bim(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    bim = _read_whitespace_table(path, BIM_COLUMNS, ".bim")
    bim["pos"] = _to_int(path, bim, "pos")
    bim["cm"] = pd.to_numeric(bim["cm"], errors="coerce").fillna(0.0)
    _check_unique(path, bim["snp"], "variant ID", "snp")
    return bim


def read_fam(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    fam = _read_whitespace_table(path, FAM_COLUMNS, ".fam")
    fam["sex"] = _to_int(path, fam, "sex")
    _check_unique(path, fam["iid"], "sample ID", "iid")
    return fam


def bed_size(n_snps: int, n_samples: int) -> int:
    """Exact size in bytes of a SNP-major .bed: 3 + M * ceil(N / 4)."""
    return 3 + n_snps * ((n_samples + 3) // 4)


@dataclass
class Bed:
    """A validated PLINK fileset opened for block-wise reading.

    ``Bed("data/cohort")`` opens data/cohort.{bed,bim,fam}. Construction checks that all
    three files exist, that the .bed has the magic number, is SNP-major and has exactly
    the size implied by the .bim and .fam, and that sample and variant IDs are unique.
    """

    prefix: Path
    bim: pd.DataFrame = field(init=False, repr=False)
    fam: pd.DataFrame = field(init=False, repr=False)

    def __post_init__(self):
        self.prefix = Path(self.prefix)
        paths = {ext: self.prefix.with_name(self.prefix.name + "." + ext) for ext in ("bed", "bim", "fam")}
        for ext, p in paths.items():
            if not p.exists():
                raise InputError(p, f"PLINK .{ext} file not found (prefix {self.prefix})")
        self.bed_path = paths["bed"]
        self.bim = read_bim(paths["bim"])
        self.fam = read_fam(paths["fam"])
        with open(self.bed_path, "rb") as handle:
            header = handle.read(3)
        if len(header) < 3 or header[:2] != BED_MAGIC:
            raise InputError(
                self.bed_path,
                f"not a PLINK 1 .bed file: bad magic number {header[:2].hex() or '(empty)'} "
                f"(expected {BED_MAGIC.hex()})",
            )
        if header[2] != SNP_MAJOR:
            raise InputError(
                self.bed_path,
                f"mode byte {header[2]:#04x}: only SNP-major .bed files (0x01) are supported; "
                "re-write it with `plink2 --make-bed`",
            )
        self._check_size(paths)
        self.bytes_per_snp = (self.n_samples + 3) // 4
        # positioned reads (os.pread), not a memory map: mapped pages count towards the
        # job's resident memory, so a pass over a 35 GB .bed would look like 35 GB of RSS
        self._fd = os.open(self.bed_path, os.O_RDONLY)
        self._closer = weakref.finalize(self, os.close, self._fd)

    def _check_size(self, paths: dict[str, Path]) -> None:
        """The .bed must hold exactly .bim-lines variants of ceil(.fam-lines / 4) bytes. When
        it does not, blame the file whose line count explains the size, else the .bed."""
        n, m = self.n_samples, self.n_snps
        expected, actual = bed_size(m, n), self.bed_path.stat().st_size
        if actual == expected:
            return
        body, row = actual - 3, (n + 3) // 4
        # lines each file would be off by if it alone were wrong (None: cannot explain the size)
        bim_off = abs(body // row - m) if body > 0 and body % row == 0 else None
        width = body // m if body > 0 and m and body % m == 0 else 0
        fam_off = max(4 * width - 3 - n, n - 4 * width, 0) if width else None
        if bim_off is not None and (fam_off is None or bim_off <= fam_off):
            held = body // row
            raise InputError(
                paths["bim"],
                f"has {m} variant lines but {self.bed_path.name} holds {held} variants of ceil({n} samples / 4) = "
                f"{row} bytes ({actual} bytes); the .bim is {bim_off} line(s) "
                f"{'short' if held > m else 'too long'}, or the .bed was {'padded' if held > m else 'truncated'} "
                "by whole variants",
            )
        if fam_off is not None:
            raise InputError(
                paths["fam"],
                f"has {n} sample lines ({row} bytes per variant) but {self.bed_path.name} holds {m} variants of "
                f"{width} bytes, i.e. {4 * width - 3}-{4 * width} samples ({actual} bytes)",
            )
        state = "truncated" if actual < expected else "padded (too long)"
        raise InputError(
            self.bed_path,
            f"file is {state}: {actual} bytes, expected exactly 3 + {m} variants "
            f"x ceil({n} samples / 4) = {expected} bytes from the .bim and .fam",
        )

    @property
    def n_samples(self) -> int:
        return len(self.fam)

    @property
    def n_snps(self) -> int:
        return len(self.bim)

    def read(self, start: int = 0, stop: int | None = None, samples: np.ndarray | None = None) -> np.ndarray:
        """Dosages of variants ``start:stop`` as int8, shape (n_variants, n_samples).

        ``samples`` optionally selects sample rows (integer indices into the .fam).
        """
        stop = self.n_snps if stop is None else stop
        block = _BYTE_TO_PACKED_DOSAGES.take(self.read_raw(start, stop)).view(np.int8)[:, : self.n_samples]
        if samples is not None:
            block = block[:, samples]
        return np.ascontiguousarray(block)

    def read_raw(self, start: int, stop: int) -> np.ndarray:
        """The .bed bytes of variants ``start:stop``, shape (n_variants, ceil(N / 4))."""
        size = (stop - start) * self.bytes_per_snp
        buffer = bytearray(size)
        view, done = memoryview(buffer), 0
        offset = 3 + start * self.bytes_per_snp
        while done < size:  # pread may return less than asked for
            got = os.preadv(self._fd, [view[done:]], offset + done)
            if got == 0:
                raise InputError(self.bed_path, f"unexpected end of file reading variants {start}-{stop}")
            done += got
        return np.frombuffer(buffer, dtype=np.uint8).reshape(stop - start, self.bytes_per_snp)

    def iter_blocks(self, block_size: int, samples: np.ndarray | None = None) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (first variant index, dosages) for consecutive variant blocks."""
        for start in range(0, self.n_snps, block_size):
            yield start, self.read(start, min(start + block_size, self.n_snps), samples)


def plink2_inputs(bed: Bed, directory: Path) -> list:
    """plink2 arguments reading ``bed`` as plain diploid genotypes, in .bim and .fam order.

    plink2 counts male X, Y and MT calls as haploid, refuses a .bim whose chromosomes are
    not contiguous and leaves non-founders out of allele frequencies; liftgwas treats every
    call as a diploid A1 dosage. So plink2 reads the .bed with a .bim copy that puts every
    variant on chromosome 1 at position 1 (plink1 reads a negative position as "exclude")
    and a .fam copy of founders of unknown sex.
    """
    bim, fam = Path(directory) / "diploid.bim", Path(directory) / "diploid.fam"
    bed.bim.assign(chrom="1", pos=1)[BIM_COLUMNS].to_csv(bim, sep="\t", header=False, index=False)
    bed.fam[["fid", "iid"]].assign(father=0, mother=0, sex=0, phenotype=-9).to_csv(fam, sep=" ", header=False, index=False)
    return ["--bed", bed.bed_path, "--bim", bim, "--fam", fam]


def encode_bed_block(dosages: np.ndarray) -> bytes:
    """Pack int8 dosages of shape (n_variants, n_samples) into SNP-major .bed bytes."""
    dosages = np.asarray(dosages)
    n_var, n = dosages.shape
    # PLINK pads the last byte of each variant with zero bits (index 2 encodes as 00);
    # plink2 2.00a3.5 does not mask the padding and miscounts alleles when it is nonzero.
    padded = np.full((n_var, (n + 3) // 4 * 4), 2, dtype=np.uint8)
    idx = dosages.astype(np.int16)
    idx[idx < 0] = 3
    padded[:, :n] = idx
    codes = _DOSAGE_TO_CODE[padded].reshape(n_var, -1, 4)
    packed = codes[..., 0] | (codes[..., 1] << 2) | (codes[..., 2] << 4) | (codes[..., 3] << 6)
    return packed.astype(np.uint8).tobytes()


def write_bim(path: str | Path, bim: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        bim[BIM_COLUMNS].to_csv(tmp, sep="\t", header=False, index=False)


def write_fam(path: str | Path, fam: pd.DataFrame) -> None:
    with atomic_path(path) as tmp:
        fam[FAM_COLUMNS].to_csv(tmp, sep=" ", header=False, index=False)


def write_plink(
    prefix: str | Path,
    blocks: Iterable[np.ndarray] | np.ndarray,
    bim: pd.DataFrame,
    fam: pd.DataFrame,
) -> None:
    """Write a PLINK fileset atomically.

    ``blocks`` is an int8 dosage array of shape (n_variants, n_samples) or an iterable of
    such blocks (streamed, so memory stays bounded). The .bed is checked against the
    .bim/.fam sizes before it is renamed into place.
    """
    prefix = Path(prefix)
    if isinstance(blocks, np.ndarray):
        blocks = [blocks]
    bed_path = prefix.with_name(prefix.name + ".bed")
    with atomic_path(bed_path) as tmp:
        written = 0
        with open(tmp, "wb") as handle:
            handle.write(BED_MAGIC + bytes([SNP_MAJOR]))
            for block in blocks:
                if block.shape[1] != len(fam):
                    raise ValueError(f"block has {block.shape[1]} samples, .fam has {len(fam)}")
                handle.write(encode_bed_block(block))
                written += block.shape[0]
        if written != len(bim):
            raise ValueError(f"wrote {written} variants but the .bim has {len(bim)}")
    write_bim(prefix.with_name(prefix.name + ".bim"), bim)
    write_fam(prefix.with_name(prefix.name + ".fam"), fam)
