"""Structured-population simulator: model properties, file contracts, reproducibility."""

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from liftgwas import plink, simulate

N_SAMPLES, N_SNPS, N_CAUSAL = 300, 200, 10
FILES = ("geno.bed", "geno.bim", "geno.fam", "traits.tsv", "truth.tsv")
SCRIPTS = Path(__file__).resolve().parents[2] / "workflow" / "scripts"


def run(
    directory,
    *,
    seed=7,
    sparsity=0.1,
    traits=("binary", "quantitative"),
    n_samples=N_SAMPLES,
    n_snps=N_SNPS,
    **kw,
):
    directory = Path(directory)
    study = simulate.write_simulated_study(
        directory / "geno",
        directory / "traits.tsv",
        directory / "truth.tsv",
        n_samples=n_samples,
        n_snps=n_snps,
        n_causal=N_CAUSAL,
        sparsity=sparsity,
        seed=seed,
        traits=traits,
        **kw,
    )
    return study, plink.Bed(directory / "geno")


def file_bytes(directory):
    return {name: (Path(directory) / name).read_bytes() for name in FILES}


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    directory = tmp_path_factory.mktemp("sim")
    study, bed = run(directory)
    return SimpleNamespace(dir=directory, study=study, bed=bed, genotypes=bed.read())


def read_tsv(path):
    return pd.read_csv(path, sep="\t", dtype={"FID": str, "IID": str, "variant_id": str})


def test_plink_files_follow_the_contract(sim):
    bim, fam = sim.bed.bim, sim.bed.fam
    chrom = bim["chrom"].astype(int).to_numpy()
    assert np.all(np.diff(chrom) >= 0)
    assert np.bincount(chrom, minlength=11)[1:].tolist() == [N_SNPS // 10] * 10
    for _, positions in bim.groupby(chrom)["pos"]:
        assert positions.tolist() == [1000 * (i + 1) for i in range(len(positions))]
    assert bim["snp"].iloc[0] == "snp00001" and bim["snp"].iloc[-1] == f"snp{N_SNPS:05d}"
    assert (bim["a1"] == "A").all() and (bim["a2"] == "G").all()
    assert (fam["fid"] == fam["iid"]).all() and fam["iid"].iloc[0] == "s00001"
    assert set(fam["sex"]) == {1, 2}
    assert (fam["phenotype"].astype(int) == -9).all()
    assert sim.genotypes.min() >= 0 and sim.genotypes.max() == 2  # no missing calls


def test_traits_file(sim):
    traits = read_tsv(sim.dir / "traits.tsv")
    assert traits.columns.tolist() == ["FID", "IID", "binary", "quantitative"]
    assert traits["IID"].tolist() == sim.bed.fam["iid"].tolist()
    assert set(traits["binary"]) == {0, 1}
    assert traits["quantitative"].dtype == float
    # cases have the larger linear predictor: the binary trait is drawn from the quantitative one
    by_status = traits.groupby("binary")["quantitative"].mean()
    assert by_status[1] > by_status[0]


def test_allele_frequencies_lie_in_the_valid_range(sim):
    freq = sim.genotypes.mean(axis=1) / 2
    noise = 4 * np.sqrt(0.25 / (2 * N_SAMPLES))
    assert freq.min() >= simulate.GAMMA_FLOOR - noise
    assert freq.max() <= simulate.GAMMA_FLOOR + 2 * simulate.GAMMA_SCALE + noise
    # E[pi_mn] = 0.45 * E[U] * (S_1n + S_2n) + 0.05 with E[U] = 1/2
    s_matrix = sim.study.population.s_matrix
    expected = simulate.GAMMA_SCALE * 0.5 * (s_matrix[0] + s_matrix[1]).mean() + simulate.GAMMA_FLOOR
    assert freq.mean() == pytest.approx(expected, abs=0.03)


def test_draw_genotypes_is_binomial():
    n_draws = 200_000
    probs = np.array([0.05, 0.3, 0.5, 0.95])
    genotypes = simulate.draw_genotypes(np.random.default_rng(0), np.repeat(probs[:, None], n_draws, axis=1))
    assert genotypes.dtype == np.int8
    for p, row in zip(probs, genotypes):
        expected = np.array([(1 - p) ** 2, 2 * p * (1 - p), p**2])
        observed = np.bincount(row, minlength=3) / n_draws
        assert np.all(np.abs(observed - expected) < 5 * np.sqrt(expected * (1 - expected) / n_draws))


def test_kmeans_gives_three_clusters_and_lambda(sim):
    population = sim.study.population
    coords = population.s_matrix[:2].T
    assert np.array_equal(population.s_matrix[2], np.ones(N_SAMPLES))
    assert sorted(np.unique(population.clusters)) == [0, 1, 2]
    np.testing.assert_array_equal(population.lambda_, population.clusters + 1)
    # a K-means fixed point: everyone is nearest to their own cluster's mean
    means = np.array([coords[population.clusters == k].mean(axis=0) for k in range(3)])
    nearest = np.argmin(((coords[:, None, :] - means[None]) ** 2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(nearest, population.clusters)
    np.testing.assert_allclose(population.tau2 > 0, True)


def test_noise_variance_follows_the_cluster():
    population = simulate.simulate_population(6_000, 0.5, seed=3)
    for k in range(3):
        in_cluster = population.eps[population.clusters == k]
        assert in_cluster.var() == pytest.approx(population.tau2[k], rel=0.15)


def test_causal_snps_in_truth(sim):
    truth = read_tsv(sim.dir / "truth.tsv")
    assert truth.columns.tolist() == ["variant_id", "beta"]
    assert len(truth) == N_CAUSAL and truth["variant_id"].is_unique
    assert (truth["beta"] != 0).all()
    snp_index = pd.Series(np.arange(sim.bed.n_snps), index=sim.bed.bim["snp"])
    assert truth["variant_id"].isin(snp_index.index).all()
    # not the paper's "first 10": positions are drawn from the seed
    assert snp_index[truth["variant_id"]].to_numpy().max() >= N_CAUSAL
    # the trait is built from exactly these SNPs: recompute it from the written files
    causal = sim.genotypes[snp_index[truth["variant_id"]].to_numpy()]
    score = truth["beta"].to_numpy() @ causal
    np.testing.assert_allclose(sim.study.genetic_score, score, rtol=1e-12, atol=1e-12)
    population = sim.study.population
    literal = score + population.lambda_ + population.eps
    traits = read_tsv(sim.dir / "traits.tsv")
    np.testing.assert_allclose(traits["quantitative"], literal - literal.mean(), atol=1e-12)


def test_centring_fixes_the_skewed_case_fraction(tmp_path):
    literal, centred = [], []
    for seed in range(8):
        study, _ = run(tmp_path / str(seed), seed=seed, traits=("binary",), n_snps=100)
        population = study.population
        predictor = study.genetic_score + population.lambda_ + population.eps
        literal.append(expit(predictor).mean())  # expected case fraction, literal model
        centred.append(read_tsv(tmp_path / str(seed) / "traits.tsv")["binary"].mean())
    literal, centred = np.array(literal), np.array(centred)
    assert literal.mean() > 0.7, literal  # lambda in {1, 2, 3} alone pushes sigmoid towards 1
    assert np.all((centred > 0.2) & (centred < 0.8)), centred
    assert np.abs(centred - 0.5).mean() < np.abs(literal - 0.5).mean() / 3


def fst(genotypes, clusters):
    """Between-cluster share of allele-frequency variance, ratio of averages over SNPs."""
    freq = genotypes.mean(axis=1) / 2
    weights = np.bincount(clusters) / len(clusters)
    cluster_freq = np.stack(
        [genotypes[:, clusters == k].mean(axis=1) / 2 for k in range(len(weights))], axis=1
    )
    between = ((cluster_freq - freq[:, None]) ** 2 * weights).sum(axis=1)
    return between.sum() / (freq * (1 - freq)).sum()


def test_small_sparsity_gives_stronger_structure(tmp_path):
    strong, strong_bed = run(tmp_path / "strong", sparsity=0.01, traits=("binary",))
    weak, weak_bed = run(tmp_path / "weak", sparsity=1.0, traits=("binary",))
    assert strong.population.s_matrix[:2].var(axis=1).min() > weak.population.s_matrix[:2].var(axis=1).max()
    fst_strong = fst(strong_bed.read(), strong.population.clusters)
    fst_weak = fst(weak_bed.read(), weak.population.clusters)
    assert fst_strong > 1.5 * fst_weak, (fst_strong, fst_weak)


def test_reproducible_bit_for_bit_and_seed_dependent(sim, tmp_path):
    run(tmp_path / "again")
    assert file_bytes(tmp_path / "again") == file_bytes(sim.dir)
    run(tmp_path / "other", seed=8)
    other = file_bytes(tmp_path / "other")
    for name in ("geno.bed", "traits.tsv", "truth.tsv"):
        assert other[name] != file_bytes(sim.dir)[name]


@pytest.mark.parametrize("block_size", [1, 7, 64, 1000])
def test_output_does_not_depend_on_block_size(sim, tmp_path, block_size):
    run(tmp_path, block_size=block_size)
    assert file_bytes(tmp_path) == file_bytes(sim.dir)


def test_output_does_not_depend_on_the_cache_batching(sim, tmp_path, monkeypatch):
    monkeypatch.setattr(simulate.hao, "CACHE_GENOTYPES", 1)  # one SNP row at a time
    run(tmp_path)
    assert file_bytes(tmp_path) == file_bytes(sim.dir)


def test_trait_columns_do_not_depend_on_which_traits_are_requested(sim, tmp_path):
    both = read_tsv(sim.dir / "traits.tsv")
    run(tmp_path / "binary", traits=("binary",))
    run(tmp_path / "quantitative", traits=("quantitative",))
    binary = read_tsv(tmp_path / "binary" / "traits.tsv")
    quantitative = read_tsv(tmp_path / "quantitative" / "traits.tsv")
    assert binary.columns.tolist() == ["FID", "IID", "binary"]
    assert quantitative.columns.tolist() == ["FID", "IID", "quantitative"]
    pd.testing.assert_series_equal(binary["binary"], both["binary"])
    pd.testing.assert_series_equal(quantitative["quantitative"], both["quantitative"])
    assert (tmp_path / "binary" / "geno.bed").read_bytes() == (sim.dir / "geno.bed").read_bytes()


def test_reblock_regroups_rows_exactly():
    rng = np.random.default_rng(1)
    chunks = [rng.integers(0, 3, size=(size, 5)) for size in (3, 64, 1, 10, 64, 2)]
    for block_size in (1, 4, 7, 64, 200):
        blocks = list(simulate.reblock(iter(chunks), block_size))
        assert all(len(b) == block_size for b in blocks[:-1]) and 0 < len(blocks[-1]) <= block_size
        np.testing.assert_array_equal(np.vstack(blocks), np.vstack(chunks))


def test_dataset_seed_is_stable_and_distinct():
    grid = [(m, a, r) for m in (0, 2020) for a in (0.01, 0.1, 0.5, 1.0) for r in range(1, 6)]
    seeds = [simulate.dataset_seed(*key) for key in grid]
    assert seeds == [simulate.dataset_seed(*key) for key in grid]
    assert len(set(seeds)) == len(grid)
    assert all(isinstance(s, int) and 0 <= s < 2**32 for s in seeds)
    assert simulate.dataset_seed(2020, 0.1, 1) == simulate.dataset_seed(2020, 0.1 + 1e-12, 1)
    with pytest.raises(ValueError):
        simulate.dataset_seed(-1, 0.1, 1)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"n_snps": 5}, "n_causal"),
        ({"traits": ("binary", "height")}, "traits"),
        ({"sparsity": 0.0}, "sparsity"),
        ({"block_size": 0}, "block_size"),
    ],
)
def test_bad_parameters_raise(tmp_path, change, message):
    with pytest.raises(ValueError, match=message):
        run(tmp_path, **change)
    assert not any(tmp_path.iterdir())


def test_snakemake_adapter(tmp_path, restore_logging):
    out = tmp_path / "results"
    smk = SimpleNamespace(
        output=SimpleNamespace(
            bed=str(out / "plink.bed"), traits=str(out / "traits.tsv"), truth=str(out / "truth.tsv")
        ),
        params=SimpleNamespace(
            spec=dict(
                engine="hao",
                n_samples=60,
                n_snps=40,
                n_causal=3,
                sparsity=0.5,
                seed=11,
                traits=["binary", "quantitative"],
            )
        ),
        log=[str(tmp_path / "simulate.log")],
    )
    runpy.run_path(str(SCRIPTS / "simulate.py"), init_globals={"snakemake": smk}, run_name="__main__")
    bed = plink.Bed(out / "plink")
    assert (bed.n_snps, bed.n_samples) == (40, 60)
    assert len(read_tsv(out / "truth.tsv")) == 3
    assert read_tsv(out / "traits.tsv").columns.tolist() == ["FID", "IID", "binary", "quantitative"]
    log = (tmp_path / "simulate.log").read_text()
    assert "genotypes: 40 / 40 SNPs" in log and "case fraction" in log
