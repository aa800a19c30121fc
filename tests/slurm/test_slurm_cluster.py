"""The local SLURM cluster the workflow tests rely on: it schedules GPU jobs and cancels."""

import time

import pytest

pytestmark = [pytest.mark.slurm, pytest.mark.timeout(180)]


def _submit(cluster, tmp_path, *args):
    out = cluster.run("sbatch", "--parsable", f"--chdir={tmp_path}", f"--output={tmp_path}/slurm-%j.log", *args)
    return out.stdout.strip().split(";")[0]


def test_node_is_idle_with_one_gpu(slurm_cluster):
    info = slurm_cluster.run("sinfo", "--noheader", "--Node", "--format=%N|%T|%G|%c").stdout.split()
    assert info == [f"{slurm_cluster.node}|idle|gpu:1|{slurm_cluster.cpus}"]


def test_gpu_job_sees_its_gpu(slurm_cluster, tmp_path):
    job = _submit(slurm_cluster, tmp_path, "--gpus=1", "--mem=100", "--wrap", "echo $CUDA_VISIBLE_DEVICES > out")
    assert slurm_cluster.wait_for_job(job) == "COMPLETED", (tmp_path / f"slurm-{job}.log").read_text()
    assert (tmp_path / "out").read_text().strip() == "0"


def test_cpu_job_has_no_gpu(slurm_cluster, tmp_path):
    job = _submit(slurm_cluster, tmp_path, "--mem=100", "--wrap", 'echo "gpu=${CUDA_VISIBLE_DEVICES-none}" > out')
    assert slurm_cluster.wait_for_job(job) == "COMPLETED"
    assert (tmp_path / "out").read_text().strip() == "gpu=none"


def test_scancel_ends_a_running_job(slurm_cluster, tmp_path):
    job = _submit(slurm_cluster, tmp_path, "--mem=100", "--wrap", "touch started; sleep 300; touch finished")
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, slurm_cluster.log_tails()
        time.sleep(0.2)
    slurm_cluster.run("scancel", job)
    assert slurm_cluster.wait_for_job(job, timeout_s=30) == "CANCELLED"
    assert not (tmp_path / "finished").exists()


def test_scancel_leaves_no_process_behind(slurm_cluster, tmp_path):
    # The shell dies on SIGTERM; its child ignores SIGTERM and loses its parent, the way a
    # job's snakemake can when its job step is cancelled. SLURM's SIGKILL must still reach it.
    stubborn = "import pathlib, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); pathlib.Path('started').touch(); time.sleep(300)"
    job = _submit(slurm_cluster, tmp_path, "--mem=100", "--wrap", f'python3 -c "{stubborn}" & wait')
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, slurm_cluster.log_tails()
        time.sleep(0.2)
    assert slurm_cluster.job_processes(job), "the job's processes are not found by the cluster"
    slurm_cluster.run("scancel", job)
    assert slurm_cluster.wait_for_job(job, timeout_s=30) == "CANCELLED"
    deadline = time.monotonic() + 30
    while slurm_cluster.job_processes(job):
        assert time.monotonic() < deadline, f"processes of cancelled job {job} still alive: {slurm_cluster.job_processes(job)}"
        time.sleep(0.5)
