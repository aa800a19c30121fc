"""The tiny study through a real (local, one-node) SLURM cluster with `--profile profiles/slurm`.

Checks what a cluster user relies on: every training and DeepLIFT job goes through sbatch
with a GPU request and runs with a GPU, every output is made, and a training job cancelled
with scancel while it runs is resubmitted and the workflow still completes.
The profile tests at the top need no cluster: they check how the profile resolves.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = str(VENV_BIN / "snakemake")
PROFILE = REPO / "profiles" / "slurm"
GPU_RULES = {"train", "deeplift", "retrain", "deeplift_retrain"}

# 1 sparsity value x 1 replicate, 300 samples x 200 SNPs, one architecture and L1 value,
# one grid seed and one retraining seed, a few epochs: 2 training + 2 DeepLIFT block jobs.
TINY_STUDY = {
    "simulation": {
        "n_samples": 300,
        "n_snps": 200,
        "n_causal": 5,
        "sparsity": [0.5],
        "replicates": 1,
        "traits": ["binary"],
        "seed": 7,
    },
    "cohorts": {},
    "split": {"seed": 1, "train": 0.5, "early_stop": 0.25, "validation": 0.25},
    "model": {
        "architectures": ["8x8"],
        "l1": [0.1],
        "l1_scaling": "sum_over_n_train",
        "seeds": [1],
        "retrain_seeds": [11],
        "covariates_as_inputs": True,
    },
    "training": {"batch_size": 64, "learning_rate": 0.003, "max_epochs": 4, "patience": 2},
    "deeplift": {"chunk_size": 64},
    "gwas": {"n_pcs": 3},
    "recall": {"top_k": 5},
}


def expected_gpu_jobs(study: dict) -> set[tuple[str, frozenset]]:
    """(rule, wildcards) of every training/DeepLIFT job the study must run, from its config.

    One grid block job (train, deeplift) per dataset x trait; with one architecture and
    one L1 value the selected model is known in advance, so its retraining block job
    (retrain, deeplift_retrain) is too.
    """
    sim, model = study["simulation"], study["model"]
    jobs = set()
    for a in sim["sparsity"]:
        for replicate in range(1, sim["replicates"] + 1):
            for trait in sim["traits"]:
                block = {"dataset": f"sim-a{a}-r{replicate}", "trait": trait}
                jobs |= {(rule, frozenset(block.items())) for rule in ("train", "deeplift")}
                for arch in model["architectures"]:
                    for l1 in model["l1"]:
                        retrain = {**block, "arch": arch, "l1": str(l1)}
                        jobs |= {(rule, frozenset(retrain.items())) for rule in ("retrain", "deeplift_retrain")}
    return jobs


def expected_cells(study: dict):
    """Every (dataset, trait, arch, l1, seed) run directory the study trains and attributes."""
    sim, model = study["simulation"], study["model"]
    return [
        (f"sim-a{a}-r{replicate}", trait, arch, str(l1), seed)
        for a in sim["sparsity"]
        for replicate in range(1, sim["replicates"] + 1)
        for trait in sim["traits"]
        for arch in model["architectures"]
        for l1 in model["l1"]
        for seed in model["seeds"] + model["retrain_seeds"]
    ]


def snakemake_env(extra_env: dict | None = None) -> dict:
    """The environment of the test's snakemake: the venv first on PATH, because each SLURM
    job re-runs snakemake (and the job step's srun drops nothing from PATH)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
    env.pop("LIFTGWAS_GPU_PARTITION", None)
    # SLURM sets it for GPU jobs; a value from the test's own shell would leak into every job.
    env.pop("CUDA_VISIBLE_DEVICES", None)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", ""), "/usr/sbin", "/sbin"])
    env.update(extra_env or {})
    return env


def write_study(workdir: Path, study: dict) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "config.yaml"
    path.write_text(yaml.safe_dump(study, sort_keys=False))
    return path


def snakemake_cmd(workdir: Path, configfile: Path, *args: str) -> list[str]:
    return [
        SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
        "--configfile", str(configfile), "--profile", str(PROFILE), *args,
    ]


# ----------------------------------------------------------- parsing the verbose output
_SBATCH = re.compile(r"sbatch call: (sbatch .*)$", re.MULTILINE)
_TARGETS = re.compile(r"--target-jobs ((?:'[^']*'\s*)+)")
_ATTEMPT = re.compile(r"--attempt (\d+)")
_RESOURCES = re.compile(r"^\s*resources: (.*)$", re.MULTILINE)


def parse_target(spec: str) -> tuple[str, frozenset]:
    """'train:dataset=d,trait=t' -> ('train', {dataset: d, trait: t})."""
    rule, _, wildcards = spec.partition(":")
    return rule, frozenset(tuple(item.split("=", 1)) for item in wildcards.split(",") if item)


def sbatch_calls(output: str) -> list[dict]:
    """Every sbatch command line snakemake logged with --verbose: its jobs, GPUs, attempt."""
    calls = []
    for match in _SBATCH.finditer(output):
        line = match.group(1)
        options = line.split(" --wrap=", 1)[0]
        targets = _TARGETS.search(line)
        assert targets, f"no --target-jobs in sbatch call: {line[:300]}"
        gpus = re.search(r"--gpus=(\S+)", options)
        calls.append({
            "jobs": {parse_target(t) for t in shlex.split(targets.group(1))},
            "gpus": gpus.group(1) if gpus else None,
            "attempt": int(_ATTEMPT.search(line).group(1)),
            "options": options,
        })
    return calls


# ------------------------------------------------------------ the scancel "fault"
class CancelFirstRunningJob(threading.Thread):
    """Cancels (scancel) the first SLURM job that has started running the given rule.

    "Started" means the job's log shows snakemake inside the job began the rule's job,
    so the cancel lands mid-run, after SLURM allocated the GPU and the job step launched.
    """

    def __init__(self, cluster, workdir: Path, rule: str, timeout_s: float):
        super().__init__(daemon=True)
        self.cluster, self.workdir, self.rule, self.timeout_s = cluster, workdir, rule, timeout_s
        self.cancelled_job: str | None = None
        self.cancelled_targets: set = set()
        self.error: str | None = None
        self._stop_event = threading.Event()

    def stop(self) -> None:
        self._stop_event.set()

    def _job_log(self, job_id: str) -> str:
        for path in (self.workdir / ".snakemake" / "slurm_logs").rglob(f"{job_id}.log"):
            return path.read_text(errors="replace")
        return ""

    def run(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self._stop_event.is_set() and time.monotonic() < deadline:
            out = self.cluster.run("squeue", "--noheader", "--format=%i|%T", check=False).stdout
            for line in out.splitlines():
                job_id, _, state = line.strip().partition("|")
                if state != "RUNNING":
                    continue
                log = self._job_log(job_id)
                if f"rule {self.rule}:" in log:
                    self.cluster.run("scancel", job_id)
                    self.cancelled_job = job_id
                    # the job log's "Command:" line names the snakemake jobs the SLURM job runs
                    targets = re.search(r"--target-jobs (.+?) --allowed-rules", log)
                    self.cancelled_targets = {parse_target(t) for t in targets.group(1).split()} if targets else set()
                    return
            time.sleep(0.2)
        if self.cancelled_job is None:
            self.error = f"no running `{self.rule}` job seen within {self.timeout_s} s"


# ------------------------------------------------------------------ profile tests
def _dry_run_resources(tmp_path: Path, extra_env: dict) -> dict[str, str]:
    configfile = write_study(tmp_path, TINY_STUDY)
    result = subprocess.run(
        snakemake_cmd(tmp_path, configfile, "--dry-run"),
        capture_output=True, text=True, timeout=300, env=snakemake_env(extra_env), cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    text = result.stdout + result.stderr
    by_rule = {}
    # grouped jobs are printed indented under "Group job ..."
    for block in re.split(r"\n(?=\s*(?:local)?(?:rule|checkpoint) \w+:)", text):
        rule = re.match(r"\s*(?:local)?(?:rule|checkpoint) (\w+):", block)
        resources = _RESOURCES.search(block)
        if rule and resources:
            by_rule.setdefault(rule.group(1), resources.group(1))
    return by_rule


def _as_dict(resources: str) -> dict[str, str]:
    return dict(item.split("=", 1) for item in resources.split(", "))


@pytest.mark.timeout(300)
def test_profile_gives_gpu_rules_a_gpu_and_keeps_the_rules_own_sizes(tmp_path):
    resources = _dry_run_resources(tmp_path, {
        "SBATCH_ACCOUNT": "lab42", "SBATCH_PARTITION": "cpu_q", "LIFTGWAS_GPU_PARTITION": "gpu_q",
    })
    # a dry run plans the grid's block jobs; the retraining ones come after the selection checkpoint
    assert {"train", "deeplift"} <= set(resources), resources
    for rule, text in resources.items():
        values = _as_dict(text)
        assert values["slurm_account"] == "lab42", (rule, values)
        if rule in GPU_RULES:
            assert values["gpu"] == "1" and values["cpus_per_gpu"] == "2", (rule, values)
            assert values["slurm_partition"] == "gpu_q", (rule, values)
        else:
            assert "gpu" not in values, (rule, values)
            assert values["slurm_partition"] == "cpu_q", (rule, values)
    # the rules size training from the data (N x M), the profile's 2000 MB default is not used
    train = _as_dict(resources["train"])
    assert train["mem_mb"] != "2000" and train["runtime"] != "60", train


@pytest.mark.timeout(300)
def test_profile_without_account_variables_leaves_account_and_partition_to_slurm(tmp_path):
    resources = _dry_run_resources(tmp_path, {})
    for rule, text in resources.items():
        values = _as_dict(text)
        assert "slurm_account" not in values and "slurm_partition" not in values, (rule, values)


# --------------------------------------------------------- the study through SLURM
@pytest.mark.slurm
@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_tiny_study_runs_through_slurm_with_gpu_jobs_and_survives_scancel(slurm_cluster, tmp_path):
    workdir = tmp_path / "study"
    configfile = write_study(workdir, TINY_STUDY)
    log_path = tmp_path / "snakemake.log"
    cmd = [
        "timeout", "-s", "INT", "900",
        *snakemake_cmd(
            workdir, configfile, "--verbose",
            # test-only speed-ups, harmless for the run itself: first status check after 2 s
            # (the cluster's MinJobAge of 300 s is far above 3x that), keep every job's log
            "--slurm-init-seconds-before-status-checks", "2",
            "--slurm-keep-successful-logs",
        ),
    ]
    canceller = CancelFirstRunningJob(slurm_cluster, workdir, "train", timeout_s=600)
    canceller.start()
    started = time.monotonic()
    with open(log_path, "w") as log:
        result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=snakemake_env(), cwd=workdir)
    wall_s = time.monotonic() - started
    canceller.stop()
    canceller.join(timeout=10)
    output = log_path.read_text(errors="replace")
    print(f"\ntiny study through SLURM: {wall_s:.0f} s wall time (exit code {result.returncode})")

    assert result.returncode == 0, (
        f"snakemake failed with exit code {result.returncode}; last output:\n{output[-6000:]}\n"
        f"{slurm_cluster.log_tails(15)}"
    )

    # every training/DeepLIFT job went through sbatch with a GPU request; nothing else did
    calls = sbatch_calls(output)
    assert calls, output[-3000:]
    submitted_with_gpu = {job for call in calls if call["gpus"] == "1" for job in call["jobs"]}
    expected = expected_gpu_jobs(TINY_STUDY)
    assert expected <= submitted_with_gpu, sorted(expected - submitted_with_gpu)
    for call in calls:
        rules = {rule for rule, _ in call["jobs"]}
        if rules & GPU_RULES:
            assert call["gpus"] == "1", call["options"]
        else:
            assert call["gpus"] is None, call["options"]

    # ... and ran with the GPU SLURM gave it (the job step logs its environment with --verbose)
    logs_dir = workdir / ".snakemake" / "slurm_logs"
    gpu_logs = [p for p in logs_dir.rglob("*.log") if p.relative_to(logs_dir).parts[0] in {f"rule_{r}" for r in GPU_RULES}]
    assert gpu_logs, list(logs_dir.rglob("*"))
    finished_gpu_logs = [p for p in gpu_logs if "steps (100%) done" in p.read_text(errors="replace")]
    assert finished_gpu_logs, gpu_logs
    for path in finished_gpu_logs:
        assert "'CUDA_VISIBLE_DEVICES': '0'" in path.read_text(errors="replace"), path

    # the cancelled training job was resubmitted (attempt 2) and the run completed
    assert canceller.error is None, canceller.error
    cancelled = canceller.cancelled_targets
    assert cancelled and {rule for rule, _ in cancelled} & {"train", "retrain"}, canceller.cancelled_job
    resubmitted = [call for call in calls if call["attempt"] >= 2 and cancelled & call["jobs"]]
    assert resubmitted, f"SLURM job {canceller.cancelled_job} ({cancelled}) was not resubmitted"
    assert all(call["gpus"] == "1" for call in resubmitted)

    # every output exists: a dry run of the same study plans nothing (mtime trigger only,
    # so an edit of the workflow code during the test run does not count as missing output)
    dry = subprocess.run(
        snakemake_cmd(workdir, configfile, "--dry-run", "--rerun-triggers", "mtime"),
        capture_output=True, text=True, timeout=300, env=snakemake_env(), cwd=workdir,
    )
    assert dry.returncode == 0 and "Nothing to be done" in dry.stdout + dry.stderr, dry.stdout[-3000:]
    for dataset, trait, arch, l1, seed in expected_cells(TINY_STUDY):
        run_dir = workdir / "results" / dataset / trait / arch / f"l1_{l1}" / f"seed_{seed}"
        for output, record_file in (("model.pt", "metrics.json"), ("deeplift.tsv", "deeplift.json")):
            assert (run_dir / output).is_file(), run_dir
            # the training/DeepLIFT code itself saw the GPU SLURM allocated (it records it)
            record = json.loads((run_dir / record_file).read_text())
            assert record.get("cuda_visible_devices") == "0", (run_dir, record_file, record.get("cuda_visible_devices"))
    assert (workdir / "results" / "recall" / "table1.md").is_file()
