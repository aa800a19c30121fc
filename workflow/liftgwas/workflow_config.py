"""What a config asks for: datasets, traits, selection groups and the model grid.

Pure Python so it is unit-tested without Snakemake; workflow/rules/common.smk builds one
``Study`` from the validated config and the rules ask it for wildcard values.

Naming: a simulated dataset of the Hao engine is ``sim-a{a}-r{replicate}``; its selection
group (the paper's "simulation setting", over which model selection averages) is ``sim-a{a}``.
The coalescent engine's datasets are ``sim-coal-r{replicate}``, group ``sim-coal``.
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
    engine: str | None = None  # hao | coalescent (simulated datasets)
    seed: int | None = None  # the simulated dataset's own seed


@dataclass
class Study:
    datasets: dict[str, Dataset]
    architectures: list[str]
    l1_values: list[str]
    seeds: list[int]
    retrain_seeds: list[int]
    cohorts: dict[str, dict] = field(default_factory=dict)
    discoveries: dict = field(default_factory=dict)  # the validated `discoveries:` section

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
        if sim and sim.get("replicates", 0) > 0:
            for d in simulated_datasets(sim):
                datasets[d.name] = d
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
        from .discover.config import check_discoveries

        # simulations' sample counts are known now (cohorts' only after QC: their knockoff
        # jobs check them); the knockoff method's sample-size rule uses them
        sample_counts = {d.name: simulated_n_samples(sim, d) for d in datasets.values() if d.simulated}
        return cls(
            datasets=datasets,
            architectures=list(model["architectures"]),
            l1_values=[format_number(v) for v in model["l1"]],
            seeds=list(model["seeds"]),
            retrain_seeds=list(model["retrain_seeds"]),
            cohorts=dict(cohorts),
            discoveries=check_discoveries(config, sample_counts),
        )

    def null_count(self) -> int:
        """K null traits per dataset and trait (0 = the null-trait method is off)."""
        return int(self.discoveries["null_traits"]["count"])

    def knockoffs_on(self) -> bool:
        return bool(self.discoveries["knockoffs"]["run"])

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


def simulation_engines(sim: dict) -> list[str]:
    engines = sim.get("genotypes", "hao")
    return [engines] if isinstance(engines, str) else list(engines)


def simulated_trait_kinds(sim: dict) -> dict[str, str]:
    """trait -> kind: list-form traits are named by their kind (the paper)."""
    traits = sim["traits"]
    if isinstance(traits, dict):
        return {name: d["kind"] for name, d in traits.items()}
    return {t: t for t in traits}


def check_simulation(sim: dict) -> None:
    """What the schema cannot say; every error names the config key."""
    engines = simulation_engines(sim)
    n_snps = sim["n_snps"]
    if "hao" in engines:
        for key in ("n_samples", "sparsity"):
            if key not in sim:
                raise ValueError(f"config key simulation.{key}: required by the hao engine")
    traits = sim["traits"]
    if isinstance(traits, dict):
        liabilities = sim.get("liabilities") or {}
        if not liabilities:
            raise ValueError("config key simulation.liabilities: named traits need liabilities")
        for name, d in traits.items():
            if d["liability"] not in liabilities:
                raise ValueError(
                    f"config key simulation.traits.{name}.liability: unknown liability {d['liability']!r} "
                    f"(defined: {sorted(liabilities)})"
                )
            if "prevalence" in d and d["kind"] != "binary":
                raise ValueError(f"config key simulation.traits.{name}.prevalence: only binary traits have one")
        for name, classes in liabilities.items():
            if "paper_additive" in classes and len(classes) > 1:
                raise ValueError(
                    f"config key simulation.liabilities.{name}.paper_additive: the paper's model must be alone "
                    "in its liability (it has no variance share)"
                )
            total = sum(c.get("variance_share", 0.0) for c in classes.values())
            if not total < 1:
                raise ValueError(
                    f"config key simulation.liabilities.{name}: variance shares sum to {total:g}; "
                    "they must sum to < 1 (the rest is ancestry + noise)"
                )
            n_causal = sum(
                2 * c["n_pairs"] if klass == "epistatic_pairs" else c["n_causal"] for klass, c in classes.items()
            )
            if n_causal > n_snps:
                raise ValueError(
                    f"config key simulation.liabilities.{name}: {n_causal} causal SNPs but simulation.n_snps "
                    f"is {n_snps}"
                )
    else:
        if "n_causal" not in sim:
            raise ValueError("config key simulation.n_causal: required by list-form traits")
        if sim["n_causal"] > n_snps:
            raise ValueError(
                f"config key simulation.n_causal: {sim['n_causal']} causal SNPs but simulation.n_snps is {n_snps}"
            )
        if "coalescent" in engines:
            raise ValueError(
                "config key simulation.traits: the coalescent engine needs named traits with liabilities "
                "(the list form is the paper's Hao study)"
            )
    if "coalescent" in engines:
        coal = sim.get("coalescent")
        if not coal:
            raise ValueError("config key simulation.coalescent: required by the coalescent engine")
        from .simulate.coalescent import DEFAULTS, check_populations, resolve_model

        _, model = resolve_model(coal.get("species", DEFAULTS["species"]), coal.get("model", DEFAULTS["model"]))
        check_populations(model, coal["samples"])


def simulated_datasets(sim: dict) -> list[Dataset]:
    from .simulate import coalescent_dataset_seed, dataset_seed

    check_simulation(sim)
    kinds = simulated_trait_kinds(sim)
    datasets = []
    for engine in simulation_engines(sim):
        for r in range(1, sim["replicates"] + 1):
            if engine == "coalescent":
                datasets.append(
                    Dataset(
                        name=f"sim-coal-r{r}",
                        group="sim-coal",
                        traits=dict(kinds),
                        simulated=True,
                        replicate=r,
                        engine=engine,
                        seed=coalescent_dataset_seed(sim["seed"], r),
                    )
                )
        if engine == "hao":
            for a in sim["sparsity"]:
                for r in range(1, sim["replicates"] + 1):
                    datasets.append(
                        Dataset(
                            name=f"sim-a{format_number(a)}-r{r}",
                            group=f"sim-a{format_number(a)}",
                            traits=dict(kinds),
                            simulated=True,
                            sparsity=float(a),
                            replicate=r,
                            engine=engine,
                            seed=dataset_seed(sim["seed"], float(a), r),
                        )
                    )
    return datasets


def simulation_params(sim: dict, dataset: Dataset) -> dict:
    """What rule simulate_dataset passes to simulate.write_from_params for one dataset."""
    params = {
        "engine": dataset.engine,
        "seed": dataset.seed,
        "n_snps": sim["n_snps"],
        "traits": sim["traits"],
    }
    if dataset.engine == "hao":
        params.update(n_samples=sim["n_samples"], sparsity=dataset.sparsity)
    if isinstance(sim["traits"], dict):
        params["liabilities"] = sim["liabilities"]
    else:
        params["n_causal"] = sim["n_causal"]
    if dataset.engine == "coalescent":
        params["coalescent"] = sim["coalescent"]
    return params


def simulated_n_samples(sim: dict, dataset: Dataset) -> int:
    if dataset.engine == "coalescent":
        return int(sum(sim["coalescent"]["samples"].values()))
    return int(sim["n_samples"])
