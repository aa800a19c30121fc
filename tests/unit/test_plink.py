"""PLINK I/O: exact round trips, agreement with independent readers, clear input errors."""

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.errors import InputError


def make_tables(n_snps, n_samples):
    bim = pd.DataFrame(
        {
            "chrom": np.repeat([1, 2], [n_snps // 2, n_snps - n_snps // 2]),
            "snp": [f"rs{i}" for i in range(n_snps)],
            "cm": 0,
            "pos": 100 * np.arange(1, n_snps + 1),
            "a1": "C",
            "a2": "T",
        }
    )
    ids = [f"id{i}" for i in range(n_samples)]
    fam = pd.DataFrame(
        {
            "fid": ids,
            "iid": ids,
            "father": 0,
            "mother": 0,
            "sex": 1 + np.arange(n_samples) % 2,
            "phenotype": -9,
        }
    )
    return bim, fam


def random_dosages(n_snps, n_samples, seed=0, missing_rate=0.1):
    rng = np.random.default_rng(seed)
    dosages = rng.integers(0, 3, size=(n_snps, n_samples)).astype(np.int8)
    dosages[rng.random(dosages.shape) < missing_rate] = plink.MISSING
    return dosages


@pytest.fixture(params=[13, 16, 17, 18, 19], ids=lambda n: f"N{n}")
def fileset(request, tmp_path):
    """A written fileset with missing calls; N covers every remainder modulo 4."""
    n_samples = request.param
    dosages = random_dosages(11, n_samples, seed=n_samples)
    bim, fam = make_tables(11, n_samples)
    prefix = tmp_path / "geno"
    plink.write_plink(prefix, dosages, bim, fam)
    return prefix, dosages, bim, fam


def test_round_trip_is_exact(fileset):
    prefix, dosages, bim, fam = fileset
    bed = plink.Bed(prefix)
    assert (bed.n_snps, bed.n_samples) == dosages.shape
    assert bed.read().dtype == np.int8
    np.testing.assert_array_equal(bed.read(), dosages)
    assert (bed.read() == plink.MISSING).any()
    np.testing.assert_array_equal(bed.read(3, 7), dosages[3:7])
    samples = np.array([4, 0, 2])
    np.testing.assert_array_equal(bed.read(2, 5, samples=samples), dosages[2:5][:, samples])
    blocks = list(bed.iter_blocks(4))
    assert [start for start, _ in blocks] == [0, 4, 8]
    np.testing.assert_array_equal(np.vstack([block for _, block in blocks]), dosages)
    assert bed.bim["snp"].tolist() == bim["snp"].tolist()
    assert bed.bim["pos"].tolist() == bim["pos"].tolist()
    assert bed.fam["iid"].tolist() == fam["iid"].tolist()
    assert bed.fam["sex"].tolist() == fam["sex"].tolist()
    assert (prefix.parent / "geno.bed").stat().st_size == plink.bed_size(*dosages.shape)


def test_streamed_blocks_equal_one_array(tmp_path):
    dosages = random_dosages(10, 9)
    bim, fam = make_tables(10, 9)
    plink.write_plink(tmp_path / "whole", dosages, bim, fam)
    plink.write_plink(tmp_path / "blocks", (dosages[i : i + 3] for i in range(0, 10, 3)), bim, fam)
    assert (tmp_path / "whole.bed").read_bytes() == (tmp_path / "blocks.bed").read_bytes()


def test_write_refuses_wrong_variant_count_and_leaves_no_bed(tmp_path):
    bim, fam = make_tables(5, 8)
    with pytest.raises(ValueError, match="wrote 4 variants"):
        plink.write_plink(tmp_path / "g", random_dosages(4, 8), bim, fam)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.filterwarnings("ignore:The 'delim_whitespace' keyword:FutureWarning")  # inside pandas-plink
def test_agrees_with_pandas_plink(fileset):
    from pandas_plink import read_plink1_bin

    prefix, dosages, _, _ = fileset
    # pandas-plink names .bim column 5 "a0": ref="a0" counts it, i.e. our A1
    data = read_plink1_bin(str(prefix) + ".bed", ref="a0", verbose=False).values.T
    expected = dosages.astype(float)
    expected[dosages == plink.MISSING] = np.nan
    np.testing.assert_array_equal(data, expected)


def test_agrees_with_bed_reader(fileset):
    from bed_reader import open_bed

    prefix, dosages, _, _ = fileset
    with open_bed(str(prefix) + ".bed", count_A1=True) as bed:
        data = bed.read(dtype="float64").T
        assert list(bed.sid) == [f"rs{i}" for i in range(dosages.shape[0])]
    expected = dosages.astype(float)
    expected[dosages == plink.MISSING] = np.nan
    np.testing.assert_array_equal(data, expected)


@pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")
def test_agrees_with_plink2_allele_counts(fileset, tmp_path):
    prefix, dosages, _, _ = fileset
    out = tmp_path / "counts"
    subprocess.run(
        ["plink2", "--bfile", str(prefix), "--freq", "counts", "--out", str(out), "--threads", "1"],
        check=True,
        capture_output=True,
    )
    counts = pd.read_csv(str(out) + ".acount", sep="\t")
    observed = np.where(dosages == plink.MISSING, 0, dosages)
    # plink2 reads .bim column 5 (our A1) as ALT
    assert (counts["ALT"] == "C").all()
    np.testing.assert_array_equal(counts["ALT_CTS"], observed.sum(axis=1))
    np.testing.assert_array_equal(counts["OBS_CT"], 2 * (dosages != plink.MISSING).sum(axis=1))


@pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")
def test_bed_bytes_identical_to_plink2_make_bed(fileset, tmp_path):
    """Byte-identical to plink2's own writer, padding bits included (plink2 miscounts nonzero padding)."""
    prefix, _, _, _ = fileset
    out = tmp_path / "rewritten"
    subprocess.run(
        ["plink2", "--bfile", str(prefix), "--make-bed", "--out", str(out), "--threads", "1"],
        check=True,
        capture_output=True,
    )
    assert (tmp_path / "rewritten.bed").read_bytes() == path_of(prefix, "bed").read_bytes()


# ---- bad input: every error names the file (and line / field where it applies) ----


@pytest.fixture
def good(tmp_path):
    bim, fam = make_tables(6, 10)
    prefix = tmp_path / "good"
    plink.write_plink(prefix, random_dosages(6, 10), bim, fam)
    return prefix


def path_of(prefix, ext):
    return prefix.with_name(prefix.name + "." + ext)


@pytest.mark.parametrize("ext", ["bed", "bim", "fam"])
def test_missing_file(good, ext):
    path_of(good, ext).unlink()
    with pytest.raises(InputError, match=rf"good\.{ext}.*not found"):
        plink.Bed(good)


def test_truncated_bed(good):
    bed = path_of(good, "bed")
    bed.write_bytes(bed.read_bytes()[:-1])
    with pytest.raises(InputError, match=r"good\.bed.*truncated"):
        plink.Bed(good)


def test_padded_bed(good):
    bed = path_of(good, "bed")
    bed.write_bytes(bed.read_bytes() + b"\x00")
    with pytest.raises(InputError, match=r"good\.bed.*padded"):
        plink.Bed(good)


@pytest.mark.parametrize("change, state", [(-1, "short"), (+1, "too long")])
def test_bim_line_count_mismatch_blames_the_bim(good, change, state):
    bim = path_of(good, "bim")
    lines = bim.read_text().splitlines()
    lines = lines[:change] if change < 0 else lines + [lines[-1].replace("rs5", "rs99")]
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"good\.bim: has {6 + change} variant lines but good\.bed holds 6 .*1 line\(s\) {state}") as err:
        plink.Bed(good)
    assert err.value.path.endswith("good.bim")


def test_fam_line_count_mismatch_blames_the_fam(good):
    fam = path_of(good, "fam")
    lines = fam.read_text().splitlines()  # 10 samples = 3 bytes per variant; 8 need 2
    fam.write_text("\n".join(lines[:8]) + "\n")
    with pytest.raises(InputError, match=r"good\.fam: has 8 sample lines .* 6 variants of 3 bytes, i\.e\. 9-12 samples") as err:
        plink.Bed(good)
    assert err.value.path.endswith("good.fam")


def test_bad_magic(good):
    bed = path_of(good, "bed")
    bed.write_bytes(b"\x00\x00" + bed.read_bytes()[2:])
    with pytest.raises(InputError, match=r"good\.bed.*magic"):
        plink.Bed(good)


def test_individual_major_mode_refused(good):
    bed = path_of(good, "bed")
    data = bytearray(bed.read_bytes())
    data[2] = 0x00
    bed.write_bytes(bytes(data))
    with pytest.raises(InputError, match=r"good\.bed.*SNP-major"):
        plink.Bed(good)


def test_duplicate_sample_id_names_line(good):
    fam = path_of(good, "fam")
    lines = fam.read_text().splitlines()
    lines[6] = lines[6].replace("id6 id6", "id6 id2")
    fam.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"good\.fam, line 7, field 'iid'.*duplicate sample ID 'id2'") as err:
        plink.Bed(good)
    assert err.value.line == 7


def test_duplicate_variant_id_names_line(good):
    bim = path_of(good, "bim")
    lines = bim.read_text().splitlines()
    lines[4] = lines[4].replace("rs4", "rs1")
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"good\.bim, line 5, field 'snp'.*duplicate variant ID 'rs1'"):
        plink.Bed(good)


@pytest.mark.parametrize("ext", ["bim", "fam"])
def test_wrong_column_count_names_line(good, ext):
    path = path_of(good, ext)
    lines = path.read_text().splitlines()
    lines[2] += " extra"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=rf"good\.{ext}, line 3: expected 6 .*found 7"):
        plink.Bed(good)


def test_non_integer_position_names_field(good):
    bim = path_of(good, "bim")
    lines = bim.read_text().splitlines()
    fields = lines[1].split("\t")
    fields[3] = "12x"
    lines[1] = "\t".join(fields)
    bim.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"good\.bim, line 2, field 'pos': '12x' is not an integer"):
        plink.Bed(good)
