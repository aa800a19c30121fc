"""Train / early-stop / validation split: a partition, reproducible, with the requested sizes."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink, split
from liftgwas.errors import InputError

SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"
IDS = [f"p{i:03d}" for i in range(101)]


def test_partition_in_input_order():
    table = split.make_split(IDS, seed=3)
    assert table.columns.tolist() == ["IID", "split"]
    assert table["IID"].tolist() == IDS  # covers everyone, once, in input order
    assert set(table["split"]) == set(split.SPLITS)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 10, 101, 1000])
@pytest.mark.parametrize(
    "fractions", [(0.5, 0.25, 0.25), (0.6, 0.2, 0.2), (0.8, 0.1, 0.1), (1 / 3, 1 / 3, 1 / 3)]
)
def test_sizes_follow_the_fractions(n, fractions):
    table = split.make_split([f"s{i}" for i in range(n)], 1, *fractions)
    counts = table["split"].value_counts().reindex(list(split.SPLITS), fill_value=0)
    assert counts.sum() == n
    for name, fraction in zip(split.SPLITS, fractions):
        assert abs(counts[name] - fraction * n) <= 1, (name, counts.to_dict())
    assert counts["train"] == int(np.floor(fractions[0] * n + 0.5))


def test_deterministic_from_the_seed():
    first = split.make_split(IDS, seed=42)
    pd.testing.assert_frame_equal(first, split.make_split(IDS, seed=42))
    other = split.make_split(IDS, seed=43)
    assert (first["split"] != other["split"]).any()


def test_assignment_looks_random():
    # not a block of the first N/2 samples: train members are spread over the input order
    table = split.make_split([f"s{i}" for i in range(1000)], seed=5)
    positions = np.flatnonzero(table["split"] == "train")
    assert 400 < positions.mean() < 600
    assert positions.min() < 50 and positions.max() > 950


@pytest.mark.parametrize(
    "fractions, named",
    [
        ((0.5, 0.25, 0.3), "sum to 1"),
        ((0.5, 0.25, 0.2), "sum to 1"),
        ((1.2, -0.1, -0.1), "train"),
        ((0.5, 0.75, -0.25), "validation"),
    ],
)
def test_bad_fractions_raise_and_name_them(fractions, named):
    with pytest.raises(ValueError, match=named) as err:
        split.make_split(IDS, 1, *fractions)
    for name in split.SPLITS:
        assert name in str(err.value)


def test_fractions_tolerate_rounding():
    split.make_split(IDS, 1, 0.7, 0.2, 0.1)  # 0.7 + 0.2 + 0.1 != 1 exactly in floating point


def test_duplicate_or_empty_ids_raise():
    with pytest.raises(ValueError, match="'p001' appears twice"):
        split.make_split(IDS + ["p001"], 1)
    with pytest.raises(ValueError, match="empty"):
        split.make_split([], 1)


def write_fam(path, ids):
    bim = pd.DataFrame({"chrom": [1], "snp": ["rs1"], "cm": [0], "pos": [1], "a1": ["A"], "a2": ["G"]})
    fam = pd.DataFrame({"fid": ids, "iid": ids, "father": 0, "mother": 0, "sex": 1, "phenotype": -9})
    plink.write_plink(path, np.zeros((1, len(ids)), dtype=np.int8), bim, fam)


def test_write_split_reads_the_fam(tmp_path):
    ids = IDS[::-1]
    write_fam(tmp_path / "g", ids)
    fractions = {"train": 0.6, "early_stop": 0.2, "validation": 0.2}
    table = split.write_split(tmp_path / "g.fam", tmp_path / "out" / "split.tsv", 9, fractions)
    written = pd.read_csv(tmp_path / "out" / "split.tsv", sep="\t", dtype=str)
    pd.testing.assert_frame_equal(written, table.astype(str))
    pd.testing.assert_frame_equal(table, split.make_split(ids, 9, 0.6, 0.2, 0.2))


def test_write_split_checks_keys_and_input(tmp_path):
    write_fam(tmp_path / "g", IDS)
    with pytest.raises(ValueError, match="missing: validation.*unknown: test"):
        split.write_split(
            tmp_path / "g.fam", tmp_path / "s.tsv", 1, {"train": 0.5, "early_stop": 0.25, "test": 0.25}
        )
    with pytest.raises(InputError, match=r"missing\.fam"):
        split.write_split(
            tmp_path / "missing.fam", tmp_path / "s.tsv", 1, dict(zip(split.SPLITS, (0.5, 0.25, 0.25)))
        )
    assert not (tmp_path / "s.tsv").exists()


def test_snakemake_adapter(tmp_path, restore_logging):
    write_fam(tmp_path / "g", IDS)
    smk = SimpleNamespace(
        input=SimpleNamespace(fam=str(tmp_path / "g.fam")),
        output=SimpleNamespace(split=str(tmp_path / "split.tsv")),
        params=SimpleNamespace(seed=4, train=0.5, early_stop=0.25, validation=0.25),
        log=[str(tmp_path / "split.log")],
    )
    runpy.run_path(str(SCRIPTS / "split.py"), init_globals={"snakemake": smk}, run_name="__main__")
    written = pd.read_csv(tmp_path / "split.tsv", sep="\t", dtype=str)
    pd.testing.assert_frame_equal(written, split.make_split(IDS, 4).astype(str))
    assert "split 101 samples" in (tmp_path / "split.log").read_text()
