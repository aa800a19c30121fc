"""A training job killed mid-run leaves no finished-looking model, and the rerun resumes
from its checkpoint to the same weights as an uninterrupted run (bit-identical on CPU)."""

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from snakemake_runner import REPO, SNAKEMAKE, TINY_CONFIG, snakemake, write_config

pytestmark = pytest.mark.slow

CONFIG = copy.deepcopy(TINY_CONFIG)
CONFIG["simulation"].update(n_samples=2000, n_snps=1500, traits=["binary"])
CONFIG["model"].update(architectures=["64x32"], l1=[1], seeds=[1])
CONFIG["training"].update(max_epochs=12, patience=12, batch_size=32)
RUN = "results/sim-a0.5-r1/binary/64x32/l1_1/seed_1"


def _start(workdir: Path, configfile: Path) -> subprocess.Popen:
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])
    cmd = [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(configfile), "--cores", "2", f"{RUN}/model.pt"]
    return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)


def _epochs_logged(workdir: Path) -> int:
    log = workdir / "logs/train/sim-a0.5-r1/binary.log"
    return log.read_text().count(": objective ") if log.exists() else 0


def test_killed_training_resumes_to_identical_weights(tmp_path):
    killed = tmp_path / "killed"
    killed.mkdir()
    configfile = write_config(killed, CONFIG)
    # the inputs first, so the kill lands inside training
    snakemake(killed, configfile, "results/sim-a0.5-r1/genotypes/store.packed.npy",
              "results/sim-a0.5-r1/split.tsv", "results/sim-a0.5-r1/covariates.tsv")
    proc = _start(killed, configfile)
    deadline = time.time() + 300
    while _epochs_logged(killed) < 3 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "training finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole job: snakemake and the training script
    proc.wait()
    run = killed / RUN
    assert not (run / "model.pt").exists() and not (run / "metrics.json").exists()
    assert (run / "checkpoint.pt").exists()
    epochs_before_kill = torch.load(run / "checkpoint.pt", weights_only=False)["state"]["epoch"]
    assert 3 <= epochs_before_kill < CONFIG["training"]["max_epochs"]

    # what a user does after a crash: release the lock, rerun (incomplete jobs rerun)
    snakemake(killed, configfile, "--unlock")
    snakemake(killed, configfile, "--rerun-incomplete", f"{RUN}/model.pt")
    log = (killed / "logs/train/sim-a0.5-r1/binary.log").read_text()
    assert "resuming from checkpoint" in log
    # the log is appended: the killed attempt's epochs stay above the rerun's
    assert f"resumed from epoch {epochs_before_kill}" in log
    assert log.index("rerun: checkpoint") > log.index(": objective ")
    assert log.count(": objective ") >= epochs_before_kill + (CONFIG["training"]["max_epochs"] - epochs_before_kill)
    assert not (run / "checkpoint.pt").exists() and not (killed / "results/sim-a0.5-r1/binary/.train.log").exists()

    clean = tmp_path / "clean"
    clean.mkdir()
    snakemake(clean, write_config(clean, CONFIG), f"{RUN}/model.pt")
    resumed = torch.load(run / "model.pt", weights_only=False)["state_dict"]
    uninterrupted = torch.load(clean / RUN / "model.pt", weights_only=False)["state_dict"]
    for name, tensor in uninterrupted.items():
        assert torch.equal(resumed[name], tensor), name
