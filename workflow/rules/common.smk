# Shared set-up: config validation, the datasets of this run, wildcard constraints and
# small input helpers. Rules take everything through params:, never snakemake.config,
# so editing one config value reruns exactly the jobs it affects.
import json
import os
import sys
from pathlib import Path

from snakemake.utils import min_version, validate

min_version("9.0")

# The package with all real logic; scripts import it, in local and cluster jobs alike.
# (snakemake --lint notes that PYTHONPATH is not asserted with envvars: it is set here,
# not required from the user, so there is nothing to assert.)
PACKAGE_DIR = str(Path(workflow.basedir) / "workflow")
sys.path.insert(0, PACKAGE_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (PACKAGE_DIR, os.environ.get("PYTHONPATH")) if p
)

from liftgwas import workflow_config as wc  # noqa: E402


configfile: "config/config.yaml"


validate(config, "../schemas/config.schema.yaml")
STUDY = wc.Study.from_config(
    config, schema_dir=Path(workflow.basedir) / "workflow/schemas"
)


# Small aggregations and plots run on the submitting node, not as cluster jobs: a SLURM job
# costs ~30 s of scheduling, far more than these take.
localrules:
    select_model,
    selected_scores,
    training_summary,
    recall_table,
    top_hits,
    recall_comparison,
    miami,
    qq,
    seed_figure,
    seed_stability,
    report_table1,
    report_model_selection,
    report_training_metrics,


wildcard_constraints:
    dataset=wc.alternation(STUDY.dataset_names()),
    sim_dataset=wc.alternation(STUDY.simulated_names()),
    cohort=wc.alternation(STUDY.cohort_names()),
    group=wc.alternation(STUDY.group_names()),
    trait=r"[A-Za-z][A-Za-z0-9_]*",
    arch=r"[1-9][0-9]*x[1-9][0-9]*",
    l1=r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?",
    seed=r"[0-9]+",


def genotype_input(wildcards):
    """The genotypes every model and GWAS job of a dataset reads (simulated or QC'd)."""
    return {
        ext: f"results/{wildcards.dataset}/genotypes/plink.{ext}"
        for ext in ("bed", "bim", "fam")
    }


def trait_kind(wildcards):
    return STUDY.trait_kind(wildcards.dataset, wildcards.trait)


from liftgwas import resources as resource_model  # noqa: E402
from liftgwas.simulate import dataset_seed  # noqa: E402


def simulated_dataset_seed(dataset):
    # dataset_seed (Hao) or coalescent_dataset_seed, derived in workflow_config
    return STUDY.datasets[dataset].seed


def model_data_input(wildcards):
    """What training and DeepLIFT read: the genotype store and the per-sample tables."""
    base = f"results/{wildcards.dataset}"
    return {
        "packed": f"{base}/genotypes/store.packed.npy",
        "mean": f"{base}/genotypes/store.mean.npy",
        "fam": f"{base}/genotypes/plink.fam",
        "traits": f"{base}/traits.tsv",
        "covariates": f"{base}/covariates.tsv",
        "split": f"{base}/split.tsv",
    }


def run_dir(dataset, trait, arch, l1, seed):
    return f"results/{dataset}/{trait}/{arch}/l1_{l1}/seed_{seed}"


# A training block's cells, in a fixed order: a block job's outputs are these per-cell
# paths, so downstream rules keep reading one cell.
GRID_CELLS = [(arch, l1, seed) for arch, l1 in STUDY.grid() for seed in STUDY.seeds]
GRID_COORDINATES = ("arch", "l1", "seed")  # the order of a cell's tuple and of run_dir
# training.block_by: the grid coordinates that get a job each. [] (default): one training
# and one DeepLIFT job per dataset x trait holds every cell (the paper grid's job count);
# [arch]: one per architecture; [arch, l1, seed]: one job per cell (CPU-only biobank runs,
# where a whole grid is CPU-days in one job). A cell's result does not depend on it.
BLOCK_BY = config["training"].get("block_by", [])
_BLOCK_DIRS = {"arch": "{arch}", "l1": "l1_{l1}", "seed": "seed_{seed}"}
# the grid's own values only: with [arch, l1, seed] a block's path pattern is a cell's,
# which must not claim the retraining seeds' (rule retrain) or an edited-out cell's files
GRID_BLOCK_CONSTRAINTS = {
    "arch": wc.alternation(STUDY.architectures),
    "l1": wc.alternation(STUDY.l1_values),
    "seed": wc.alternation(str(s) for s in STUDY.seeds),
}


def grid_cell_paths(name):
    """A block's per-cell paths: patterns in {dataset}, {trait} and the block_by coordinates."""
    patterns = []
    for cell in GRID_CELLS:
        parts = ("{%s}" % c if c in BLOCK_BY else v for c, v in zip(GRID_COORDINATES, cell))
        patterns.append(os.path.join(run_dir("{dataset}", "{trait}", *parts), name))
    return list(dict.fromkeys(patterns))  # in GRID_CELLS order, as grid_block_cells


def grid_block_name():
    """A grid block's log and benchmark name: {dataset}/{trait} plus its block_by dirs."""
    return os.path.join("{dataset}", "{trait}", *(_BLOCK_DIRS[c] for c in GRID_COORDINATES if c in BLOCK_BY))


def grid_attempts_log(wildcards):
    """Where a grid block's log survives a killed attempt (not an output: Snakemake would
    delete it): results/{dataset}/{trait}/.train[-<arch>][-l1_<l1>][-seed_<seed>].log."""
    suffix = "".join(
        "-" + _BLOCK_DIRS[c].format(**{c: getattr(wildcards, c)}) for c in GRID_COORDINATES if c in BLOCK_BY
    )
    return f"results/{wildcards.dataset}/{wildcards.trait}/.train{suffix}.log"


def grid_block_cells(wildcards):
    """The (arch, l1, seed) cells of one grid block job."""
    return [
        cell
        for cell in GRID_CELLS
        if all(str(v) == getattr(wildcards, c) for c, v in zip(GRID_COORDINATES, cell) if c in BLOCK_BY)
    ]


def grid_archs(wildcards):
    """The architecture of every cell of a grid block (for its resource estimate)."""
    return [arch for arch, _, _ in grid_block_cells(wildcards)]


def grid_cells(wildcards):
    return [
        {
            "arch": arch,
            "l1": l1,
            "seed": seed,
            "dir": run_dir(wildcards.dataset, wildcards.trait, arch, l1, seed),
        }
        for arch, l1, seed in grid_block_cells(wildcards)
    ]


def retrain_cell_paths(name):
    return [
        os.path.join(run_dir("{dataset}", "{trait}", "{arch}", "{l1}", seed), name)
        for seed in STUDY.retrain_seeds
    ]


def retrain_cells(dataset, trait, arch, l1):
    return [
        {
            "arch": arch,
            "l1": l1,
            "seed": seed,
            "dir": run_dir(dataset, trait, arch, l1, seed),
        }
        for seed in STUDY.retrain_seeds
    ]


def training_params():
    """The training settings every cell of a block shares (TrainSettings less arch, l1, seed)."""
    return {
        "l1_scaling": config["model"]["l1_scaling"],
        "batch_size": config["training"]["batch_size"],
        "learning_rate": config["training"]["learning_rate"],
        "max_epochs": config["training"]["max_epochs"],
        "patience": config["training"]["patience"],
        "input_scaling": config["model"].get("input_scaling", "centred"),
        "class_balance": config["training"].get("class_balance", "none"),
        "oversample_ratio": config["training"].get("oversample_ratio", 1.0),
        "lr_schedule": config["training"].get("lr_schedule", "constant"),
        "warm_start": config["training"].get("warm_start", "none"),
        "pairwise": config["model"].get("pairwise", "none"),
        "fm_rank": config["model"].get("fm_rank", 8),
        "precision": config["training"].get("precision", "fp32"),
    }


def resident_param():
    # where the packed matrix lives (device memory or streamed); changes no result, so it is
    # not a TrainSettings field (not in a cell's fingerprint) and not in training_params()
    return config["training"].get("resident", "auto")


def grid_runs(group, trait):
    """Every grid job of a selection group: its coordinates and metrics file."""
    return [
        {
            "key": {"dataset": d, "arch": arch, "l1": l1, "seed": seed},
            "metrics": os.path.join(run_dir(d, trait, arch, l1, seed), "metrics.json"),
        }
        for d in STUDY.members(group)
        for arch, l1 in STUDY.grid()
        for seed in STUDY.seeds
    ]


def selected_model(group, trait):
    """The checkpoint's choice (arch, l1) for a group and trait."""
    path = checkpoints.select_model.get(group=group, trait=trait).output.selected
    with open(path) as handle:
        return json.load(handle)


def retrain_runs(dataset, trait):
    selected = selected_model(STUDY.datasets[dataset].group, trait)
    return [
        {
            "seed": seed,
            "arch": selected["arch"],
            "l1": selected["l1"],
            "scores": os.path.join(
                run_dir(dataset, trait, selected["arch"], selected["l1"], seed),
                "deeplift.tsv",
            ),
        }
        for seed in STUDY.retrain_seeds
    ]


def recall_runs():
    """Every retrain run (and seed-averaged score) of every simulated dataset."""
    runs = []
    for name in STUDY.simulated_names():
        d = STUDY.datasets[name]
        for trait in STUDY.traits(name):
            common = {
                "group": d.group,
                "sparsity": d.sparsity,
                "trait": trait,
                "dataset": name,
            }
            truth = f"results/{name}/truth.tsv"
            for run in retrain_runs(name, trait):
                runs.append({**common, **run, "truth": truth})
            runs.append(
                {
                    **common,
                    "arch": runs[-1]["arch"],
                    "l1": runs[-1]["l1"],
                    "seed": "ensemble",
                    "scores": f"results/{name}/{trait}/selected/scores.tsv",
                    "truth": truth,
                }
            )
    return runs


def expand_group_traits(pattern):
    return [pattern.format(group=g, trait=t) for g, t in STUDY.group_traits_pairs()]


def grid_targets():
    return [
        os.path.join(run_dir(d, t, arch, l1, seed), "deeplift.tsv")
        for d, t in STUDY.dataset_traits()
        for arch, l1 in STUDY.grid()
        for seed in STUDY.seeds
    ]


def final_targets():
    targets = grid_targets()
    targets += [
        f"results/{d}/{t}/selected/scores.tsv" for d, t in STUDY.dataset_traits()
    ]
    targets += [
        f"results/{d}/{t}/gwas/sumstats.tsv.gz" for d, t in STUDY.dataset_traits()
    ]
    targets.append("results/selection/training_metrics.tsv")
    if STUDY.simulated_names():
        targets.append("results/recall/table1.md")
    return targets


def extra_targets():
    """Targets of stages included after this file (comparison plots, QC summaries)."""
    return [
        target
        for name in (
            "compare_targets",
            "qc_targets",
            "report_targets",
            "knockoff_targets",
            "pairs_targets",
            "discovery_targets",
        )
        if name in globals()
        for target in globals()[name]()
    ]
