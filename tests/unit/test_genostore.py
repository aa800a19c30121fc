"""The sample-major store round-trips exactly against independent .bed readers."""

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink
from liftgwas.genostore import GenotypeStore, build_store


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


@pytest.mark.parametrize("n,m", [(101, 57), (16, 9), (37, 203)])
def test_store_matches_pandas_plink_including_missing_calls(tmp_path, n, m):
    from pandas_plink import read_plink1_bin

    prefix = tmp_path / "p"
    write_random_plink(prefix, n, m)
    build_store(prefix, tmp_path / "s")
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


def test_store_is_diploid_on_every_chromosome_and_leaves_no_temporaries(tmp_path):
    """plink2 alone would count male X/Y/MT calls as haploid and refuse a split chromosome."""
    g = write_random_plink(tmp_path / "p", 13, 6, missing=0.2, seed=1)
    bim = plink.read_bim(tmp_path / "p.bim").assign(chrom=["1", "X", "2", "X", "Y", "MT"])
    plink.write_bim(tmp_path / "p.bim", bim)
    fam = plink.read_fam(tmp_path / "p.fam").assign(sex=[1, 2] * 6 + [1])
    plink.write_fam(tmp_path / "p.fam", fam)
    build_store(tmp_path / "p", tmp_path / "out" / "s")
    store = GenotypeStore.open(tmp_path / "out" / "s")
    np.testing.assert_array_equal(store.decode_int8(np.arange(13)), g.T)
    called = np.where(g < 0, np.nan, g)
    np.testing.assert_allclose(store.mean, np.nanmean(called, axis=1), rtol=1e-6)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["s.mean.npy", "s.packed.npy"]
