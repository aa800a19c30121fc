"""Coalescent engine (msprime + stdpopsim): sizes, MAF, LD decay, files, reproducibility."""

import numpy as np
import pandas as pd
import pytest

from liftgwas import plink, simulate
from liftgwas.simulate import coalescent

SAMPLES = {"YRI": 40, "CEU": 40, "CHB": 40}
N_SNPS = 400
MIN_MAF = 0.05
LIABILITIES = {
    "mix": {
        "additive": {"n_causal": 2, "variance_share": 0.1},
        "recessive": {"n_causal": 2, "variance_share": 0.1},
        "epistatic_pairs": {"n_pairs": 2, "variance_share": 0.2},
    }
}
TRAITS = {"t_bin": {"kind": "binary", "liability": "mix"}, "t_qt": {"kind": "quantitative", "liability": "mix"}}


def write(directory, seed=3, **kw):
    return simulate.write_from_params(
        directory / "geno",
        directory / "traits.tsv",
        directory / "truth.tsv",
        engine="coalescent",
        seed=seed,
        n_snps=kw.pop("n_snps", N_SNPS),
        traits=TRAITS,
        liabilities=LIABILITIES,
        coalescent={"samples": SAMPLES, "sequence_length": 1_000_000, "min_maf": MIN_MAF},
        **kw,
    )


@pytest.fixture(scope="module")
def coal(tmp_path_factory):
    directory = tmp_path_factory.mktemp("coal")
    written = write(directory)
    bed = plink.Bed(directory / "geno")
    return written, bed, bed.read(), directory


def test_requested_sizes_and_maf(coal):
    written, bed, genotypes, _ = coal
    assert (bed.n_samples, bed.n_snps) == (sum(SAMPLES.values()), N_SNPS)
    assert genotypes.min() >= 0 and genotypes.max() <= 2
    freq = genotypes.mean(axis=1) / 2
    assert freq.min() >= MIN_MAF and freq.max() <= 0.5  # A1 is the minor allele
    assert written.source.summary["n_qualifying"] >= N_SNPS
    assert written.source.summary["populations"] == SAMPLES


def test_bim_is_one_contig_with_ascending_positions(coal):
    _, bed, _, _ = coal
    bim = bed.bim
    assert (bim["chrom"].astype(str) == "1").all()
    assert np.all(np.diff(bim["pos"].to_numpy()) > 0)
    assert bim["snp"].iloc[0] == "snp00001" and bim["snp"].is_unique
    assert set(bim["a1"]) | set(bim["a2"]) <= set("ACGT") and (bim["a1"] != bim["a2"]).all()


def test_ld_decays_with_distance(coal):
    _, bed, genotypes, _ = coal
    pos = bed.bim["pos"].to_numpy()
    r2 = np.corrcoef(genotypes.astype(float)) ** 2
    i, j = np.triu_indices(len(pos), k=1)
    distance = np.abs(pos[j] - pos[i])
    near = r2[i, j][distance < 10_000].mean()
    far = r2[i, j][distance > 300_000].mean()
    assert near > 2 * far, (near, far)
    assert near > 0.1  # real LD between close SNPs (unlinked SNPs at N = 120: about 1/120)


def test_populations_differ_and_enter_the_liability(coal):
    written, _, genotypes, directory = coal
    population_of = written.source.summary["population_of"]
    freqs = np.stack([genotypes[:, population_of == k].mean(axis=1) / 2 for k in range(3)])
    assert np.abs(freqs[0] - freqs[1]).mean() > 0.05  # YRI vs CEU
    traits = pd.read_csv(directory / "traits.tsv", sep="\t")
    assert traits.columns.tolist() == ["FID", "IID", "t_bin", "t_qt"]
    truth = simulate.read_truth_table(directory / "truth.tsv")
    assert truth["class"].value_counts().to_dict() == {"epistatic": 8, "additive": 4, "recessive": 4}


def test_same_seed_same_bytes_other_seed_differs(coal, tmp_path):
    _, _, _, directory = coal
    write(tmp_path / "again", block_size=7)
    for name in ("geno.bed", "geno.bim", "geno.fam", "traits.tsv", "truth.tsv"):
        assert (tmp_path / "again" / name).read_bytes() == (directory / name).read_bytes()
    write(tmp_path / "other", seed=4)
    assert (tmp_path / "other" / "geno.bed").read_bytes() != (directory / "geno.bed").read_bytes()


def test_too_short_a_contig_names_the_key(tmp_path):
    with pytest.raises(ValueError, match="simulation.coalescent.sequence_length"):
        write(tmp_path, n_snps=50_000)
    assert not any(tmp_path.iterdir())


def test_unknown_model_and_population_name_the_key():
    with pytest.raises(ValueError, match="simulation.coalescent.model.*NoSuchModel"):
        coalescent.resolve_model("HomSap", "NoSuchModel")
    _, model = coalescent.resolve_model("HomSap", "OutOfAfrica_3G09")
    with pytest.raises(ValueError, match="simulation.coalescent.samples"):
        coalescent.check_populations(model, {"YRI": 5, "MARS": 5})
