"""The sample-major store round-trips exactly against independent .bed readers."""

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.genostore import GenotypeStore, build_store, default_block_size


def write_random_plink(path, n, m, missing=0.03, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, (m, n)).astype(np.int8)
    g[rng.random((m, n)) < missing] = -1
    bim = pd.DataFrame({"chrom": "1", "snp": [f"v{i}" for i in range(m)], "cm": 0,
                        "pos": np.arange(m) + 1, "a1": "A", "a2": "G"})
    ids = [f"s{i}" for i in range(n)]
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": 0, "mother": 0, "sex": 1, "phenotype": -9})
    plink.write_plink(path, g, bim, fam)
    return g


@pytest.mark.parametrize("n,m,block", [(101, 57, 8), (16, 9, 4), (37, 203, None)])
def test_store_matches_pandas_plink_including_missing_calls(tmp_path, n, m, block):
    from pandas_plink import read_plink1_bin

    prefix = tmp_path / "p"
    write_random_plink(prefix, n, m)
    build_store(prefix, tmp_path / "s", block_size=block)
    store = GenotypeStore.open(tmp_path / "s")
    # pandas-plink's ref="a0" counts the .bim column-5 allele (our A1); NaN = missing
    reference = read_plink1_bin(f"{prefix}.bed", f"{prefix}.bim", f"{prefix}.fam", ref="a0", verbose=False)
    expected = reference.values  # (samples, variants) float
    got = store.decode_int8(np.arange(n)).astype(float)
    got[got < 0] = np.nan
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_allclose(store.mean, np.nanmean(expected, axis=0), rtol=1e-6)


def test_decode_mean_imputes_and_keeps_row_order(tmp_path):
    g = write_random_plink(tmp_path / "p", 50, 30, missing=0.1, seed=3)
    build_store(tmp_path / "p", tmp_path / "s")
    store = GenotypeStore.open(tmp_path / "s")
    rows = np.array([49, 0, 17, 17, 3])
    x = store.decode(rows)
    expected = g[:, rows].T.astype(np.float32)
    missing = expected < 0
    assert missing.any()
    expected[missing] = np.broadcast_to(store.mean, expected.shape)[missing]
    np.testing.assert_allclose(x, expected)


def test_block_size_keeps_conversion_memory_bounded():
    assert default_block_size(10_000) > default_block_size(100_000) >= 4
    for n in (1_000, 100_000, 413_173):
        assert default_block_size(n) * n <= 256 * 2**20
        assert default_block_size(n) % 4 == 0


@pytest.mark.parametrize("n", [1, 13, 16, 1001])
def test_bit_transpose_equals_unpacking_and_repacking(n):
    from liftgwas.genostore import bed_block_to_sample_major

    rng = np.random.default_rng(n)
    raw = rng.integers(0, 256, (24, (n + 3) // 4), dtype=np.uint8)
    codes = (raw[:, :, None] >> np.array([0, 2, 4, 6])) & 3  # (variants, bytes, 4 samples)
    codes = codes.reshape(24, -1)[:, :n].T  # (samples, variants)
    expected = (codes[:, 0::4] | codes[:, 1::4] << 2 | codes[:, 2::4] << 4 | codes[:, 3::4] << 6).astype(np.uint8)
    np.testing.assert_array_equal(bed_block_to_sample_major(raw, n), expected)
