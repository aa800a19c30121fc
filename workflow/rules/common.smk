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
# paths (patterns in {dataset} and {trait}), so downstream rules keep reading one cell.
GRID_CELLS = [(arch, l1, seed) for arch, l1 in STUDY.grid() for seed in STUDY.seeds]


def grid_cell_paths(name):
    return [
        run_dir("{dataset}", "{trait}", arch, l1, seed) + f"/{name}"
        for arch, l1, seed in GRID_CELLS
    ]


def retrain_cell_paths(name):
    return [
        run_dir("{dataset}", "{trait}", "{arch}", "{l1}", seed) + f"/{name}"
        for seed in STUDY.retrain_seeds
    ]


def grid_archs():
    """The architecture of every cell of a grid block (for its resource estimate)."""
    return [arch for arch, _, _ in GRID_CELLS]


def grid_cells(dataset, trait):
    return [
        {
            "arch": arch,
            "l1": l1,
            "seed": seed,
            "dir": run_dir(dataset, trait, arch, l1, seed),
        }
        for arch, l1, seed in GRID_CELLS
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
