"""What a config asks for: datasets, traits, selection groups and the model grid.

Pure Python so it is unit-tested without Snakemake; workflow/rules/common.smk builds one
``Study`` from the validated config and the rules ask it for wildcard values.

Naming: a simulated dataset is ``sim-a{a}-r{replicate}``; its selection group (the
paper's "simulation setting", over which model selection averages) is ``sim-a{a}``.
A real cohort is its own dataset and its own group.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path


TRAIT_KINDS = ("binary", "quantitative")


def format_number(value: float) -> str:
    """Canonical text of a number in paths: 1.0 -> '1', 0.10 -> '0.1', 1e-05 -> '1e-05'."""
    return f"{float(value):g}"


def alternation(names) -> str:
    """A wildcard constraint matching exactly these names (or nothing, if none)."""
    names = sorted(set(names))
    if not names:
        return r"(?!x)x"  # matches nothing
    return "|".join(re.escape(n) for n in names)


@dataclass
class Dataset:
    name: str
    group: str
    traits: dict[str, str]  # trait -> kind
    simulated: bool
    sparsity: float | None = None
    replicate: int | None = None


@dataclass
class Study:
    datasets: dict[str, Dataset]
    architectures: list[str]
    l1_values: list[str]
    seeds: list[int]
    retrain_seeds: list[int]
    cohorts: dict[str, dict] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict, schema_dir: str | Path | None = None) -> "Study":
        check_split(config.get("split"))
        model = config["model"]
        overlap = sorted(set(model["seeds"]) & set(model["retrain_seeds"]))
        if overlap:
            raise ValueError(
                f"config key model.retrain_seeds: seeds {overlap} are also grid seeds (model.seeds); "
                "retraining must use fresh seeds"
            )
        datasets: dict[str, Dataset] = {}
        sim = config.get("simulation") or {}
        for a in sim.get("sparsity", []) if sim else []:
            for r in range(1, sim["replicates"] + 1):
                name = f"sim-a{format_number(a)}-r{r}"
                datasets[name] = Dataset(
                    name=name,
                    group=f"sim-a{format_number(a)}",
                    traits={t: t for t in sim["traits"]},  # sim traits are named by their kind
                    simulated=True,
                    sparsity=float(a),
                    replicate=r,
                )
        cohorts = config.get("cohorts") or {}
        for name, cohort in cohorts.items():
            if name.startswith("sim-"):
                raise ValueError(f"config key cohorts.{name}: cohort names must not start with 'sim-'")
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", name):
                raise ValueError(f"config key cohorts.{name}: use letters, digits, '_', '-', '.' only")
            if schema_dir is not None:
                _validate_cohort(name, cohort, Path(schema_dir))
            traits = {t: d["kind"] for t, d in cohort["traits"].items()}
            datasets[name] = Dataset(name=name, group=name, traits=traits, simulated=False)
        if not datasets:
            raise ValueError("config: no datasets; set simulation.replicates >= 1 or add cohorts")
        top_k = (config.get("recall") or {}).get("top_k")
        if sim and sim.get("replicates") and top_k is not None and top_k > sim["n_snps"]:
            raise ValueError(f"config key recall.top_k: {top_k} is more than the {sim['n_snps']} simulated SNPs (simulation.n_snps)")
        return cls(
            datasets=datasets,
            architectures=list(model["architectures"]),
            l1_values=[format_number(v) for v in model["l1"]],
            seeds=list(model["seeds"]),
            retrain_seeds=list(model["retrain_seeds"]),
            cohorts=dict(cohorts),
        )

    def dataset_names(self) -> list[str]:
        return list(self.datasets)

    def simulated_names(self) -> list[str]:
        return [d.name for d in self.datasets.values() if d.simulated]

    def cohort_names(self) -> list[str]:
        return [d.name for d in self.datasets.values() if not d.simulated]

    def group_names(self) -> list[str]:
        return sorted({d.group for d in self.datasets.values()})

    def members(self, group: str) -> list[str]:
        return [d.name for d in self.datasets.values() if d.group == group]

    def traits(self, dataset: str) -> list[str]:
        return list(self.datasets[dataset].traits)

    def group_traits(self, group: str) -> list[str]:
        return self.traits(self.members(group)[0])

    def trait_kind(self, dataset: str, trait: str) -> str:
        try:
            return self.datasets[dataset].traits[trait]
        except KeyError:
            raise ValueError(f"dataset {dataset} has no trait {trait!r}") from None

    def grid(self):
        """(arch, l1) pairs of the model grid."""
        return [(arch, l1) for arch in self.architectures for l1 in self.l1_values]

    def dataset_traits(self):
        """(dataset, trait) pairs of the run."""
        return [(d, t) for d in self.datasets for t in self.traits(d)]

    def group_traits_pairs(self):
        return [(g, t) for g in self.group_names() for t in self.group_traits(g)]


def check_split(split: dict | None) -> None:
    """The split fractions must sum to 1 (JSON Schema cannot add numbers, so this completes
    config.schema.yaml's split section; called right after it, before any job runs)."""
    if not split:
        return
    parts = {k: split[k] for k in ("train", "early_stop", "validation") if k in split}
    total = sum(parts.values())
    if abs(total - 1) > 1e-9:
        shown = " + ".join(f"{k} {v:g}" for k, v in parts.items())
        raise ValueError(f"config key split: the fractions must sum to 1, {shown} = {total:g}")


def _validate_cohort(name: str, cohort: dict, schema_dir: Path) -> None:
    from . import schema

    schema_path = schema_dir / "cohort.schema.yaml"
    if not schema_path.exists():
        return
    schema.validate(cohort, schema.load(schema_path), ["cohorts", name])
