"""Profiles: the workflow profile (profiles/default) must not cap cluster jobs' threads.

Snakemake caps every rule's threads at `cores`, remote jobs included. `cores: all` in the
workflow profile (loaded for every run) made a controller started in a 1-CPU allocation
submit each 2-thread job with 1 CPU. The controller here runs under `taskset -c 0` (1 CPU)
with the SLURM profile, as a dry run (nothing is submitted).
"""

import re
import shutil
import subprocess

import pytest
import yaml

from snakemake_runner import REPO, SNAKEMAKE, TINY_CONFIG, write_config

pytestmark = pytest.mark.skipif(shutil.which("taskset") is None, reason="needs taskset (util-linux)")


def dry_run_threads(tmp_path, *extra):
    configfile = write_config(tmp_path, TINY_CONFIG)
    cmd = ["taskset", "-c", "0", SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(configfile), "--profile", str(REPO / "profiles" / "slurm"), "--dry-run", *extra]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    threads = {}
    for block in re.split(r"\n(?=\[[^\]]+\]\n(?:local)?(?:rule|checkpoint) )", result.stdout + result.stderr):
        rule = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):", block, re.M)
        if rule:
            found = re.search(r"^\s+threads: (\d+)$", block, re.M)
            threads.setdefault(rule.group(1), []).append(int(found.group(1)) if found else 1)
    return threads


def test_slurm_jobs_keep_their_threads_when_the_controller_has_one_cpu(tmp_path):
    threads = dry_run_threads(tmp_path)
    assert threads["train"] and set(threads["train"]) == {2}
    assert set(threads["gwas"]) == {2}


def test_a_cores_all_setting_would_cap_them(tmp_path):
    """What profiles/default used to set (`cores: all`): the same dry run then caps at 1 CPU,
    so the test above fails if the workflow profile sets it again."""
    threads = dry_run_threads(tmp_path, "--cores", "all")
    assert set(threads["train"]) == {1}


def test_only_profiles_local_sets_local_cores():
    default = yaml.safe_load((REPO / "profiles" / "default" / "profile.yaml").read_text())
    local = yaml.safe_load((REPO / "profiles" / "local" / "profile.yaml").read_text())
    assert "cores" not in default and local["cores"] == "all"
    assert "profiles/local" in (REPO / "Makefile").read_text()


def test_no_conda_directive_names_a_missing_environment():
    """The conda env the rules named could not be created (README); a directive that comes
    back must name an environment file that exists."""
    for path in sorted((REPO / "workflow" / "rules").glob("*.smk")):
        for env in re.findall(r'^\s+conda:\s*\n\s+"([^"]+)"', path.read_text(), re.M):
            assert (path.parent / env).resolve().exists(), f"{path.name}: conda env {env} does not exist"
