"""A throw-away one-node SLURM cluster for the tests, built from Debian's slurm-wlm and munge.

Runs without systemd: munged, `slurmctld -D` and `slurmd -D` are started as background
processes, each in its own process group, and stopped again by their own PIDs (SIGTERM,
then SIGKILL after a grace period). The node has the machine's real CPU count, most of
its memory and one fake GPU (gres `gpu` backed by /dev/null), so `--gpus=1` jobs are
scheduled like on a GPU cluster and see CUDA_VISIBLE_DEVICES=0.

slurm.conf and gres.conf must sit in /etc/slurm: the snakemake job step drops SLURM_CONF
from the environment of the srun it starts, so a private config path would not reach it.
Any file that was there before is backed up and put back on exit. Everything else (munge
key and socket, spool and state directories, daemon logs) lives in a private state
directory, so /etc/munge and /run/munge are left alone.

Job processes are tracked by process group (proctrack/pgid), not by parent links
(proctrack/linuxproc): a job process that ignores SIGTERM and loses its parent, as a job's
snakemake can when its job step is cancelled, escaped linuxproc's SIGKILL here and ran on.
stop() also ends, by PID, any process still carrying this cluster's unique name.

Usage:
    reason = skip_reason()          # None when the cluster can run here
    with LocalSlurmCluster() as cluster:
        subprocess.run(["sbatch", ...], env=cluster.env())
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

SLURM_CONF_DIR = Path("/etc/slurm")
DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "scancel", "srun")
# Marks the config files this module writes, so a leftover from a killed test run is
# recognised as ours (replaced, never "restored").
MARKER = "# written by liftgwas tests/slurm/cluster.py"
LOCK_PATH = Path(tempfile.gettempdir()) / "liftgwas-slurm-cluster.lock"


def _which(name: str) -> str | None:
    # The daemons live in /usr/sbin, which a non-login PATH may lack.
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _running_daemons() -> dict[str, int]:
    """PIDs of SLURM daemons already running on this machine (read from /proc)."""
    found = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            comm = (proc / "comm").read_text().strip()
        except OSError:
            continue
        if comm in ("slurmctld", "slurmd"):
            found[comm] = int(proc.name)
    return found


def skip_reason() -> str | None:
    """Why a local SLURM cluster cannot run on this machine, or None when it can."""
    if os.name != "posix" or not hasattr(os, "geteuid"):
        return "local SLURM cluster needs Linux"
    if os.geteuid() != 0:
        return "local SLURM cluster needs root (it writes /etc/slurm/slurm.conf and starts slurmd)"
    if not Path("/etc/debian_version").exists():
        return "local SLURM cluster needs Debian's slurm-wlm and munge packages (not a Debian system)"
    missing = [name for name in DAEMONS + CLIENTS if _which(name) is None]
    if missing:
        return (
            "local SLURM cluster needs Debian packages slurm-wlm and munge "
            f"(`make system-deps` installs them); missing: {', '.join(missing)}"
        )
    return None


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"  ({path} not readable)"
    return "\n".join("  " + line for line in text[-lines:]) or "  (empty)"


def _real_memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024
    raise RuntimeError("MemTotal missing from /proc/meminfo")


class LocalSlurmCluster:
    """Context manager running a one-node SLURM cluster (root, Debian) for the tests.

    Attributes after start: node (node name), partition, cpus, memory_mb (the node's
    RealMemory), state_dir (logs, spool, munge key), pids (daemon name -> PID).
    """

    def __init__(
        self,
        *,
        min_job_age_s: int = 300,
        def_mem_per_cpu_mb: int = 1000,
        start_timeout_s: float = 60.0,
        stop_grace_s: float = 10.0,
        lock_timeout_s: float = 900.0,
        keep_state_dir: bool = False,
    ):
        # MinJobAge: finished jobs stay visible to squeue this long; the snakemake plugin
        # needs at least 3x its first status-check delay (40 s by default) to use squeue.
        self.min_job_age_s = min_job_age_s
        self.def_mem_per_cpu_mb = def_mem_per_cpu_mb
        self.start_timeout_s = start_timeout_s
        self.stop_grace_s = stop_grace_s
        self.lock_timeout_s = lock_timeout_s
        self.keep_state_dir = keep_state_dir
        self.node = socket.gethostname().split(".")[0]
        # Unique per cluster: every job process carries it (SLURM_CLUSTER_NAME), which is
        # how stop() finds job processes that outlived their job.
        self.cluster_name = f"liftgwas-test-{os.urandom(3).hex()}"
        self.partition = "debug"
        self.cpus = os.cpu_count() or 1
        # Below the real memory: slurmd drains a node that reports less than configured.
        self.memory_mb = max(1000, int(_real_memory_mb() * 0.9))
        self.state_dir: Path | None = None
        self.pids: dict[str, int] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._written: list[Path] = []
        self._backups: dict[Path, Path] = {}
        self._created_conf_dir = False
        self._lock_file = None

    # ----------------------------------------------------------------- public API
    def __enter__(self) -> "LocalSlurmCluster":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def env(self, **extra: str) -> dict[str, str]:
        """Environment for SLURM clients and snakemake: daemons' dirs on PATH, no SLURM_CONF."""
        env = {k: v for k, v in os.environ.items() if k != "SLURM_CONF"}
        # A test run inside a SLURM job must not leak that job's settings into sbatch.
        env = {k: v for k, v in env.items() if not k.startswith(("SLURM_", "SBATCH_", "SRUN_"))}
        env["PATH"] = os.pathsep.join([env.get("PATH", ""), "/usr/sbin", "/sbin"]).strip(os.pathsep)
        env.update(extra)
        return env

    def run(self, *args: str, timeout: float = 30, check: bool = True) -> subprocess.CompletedProcess:
        """Run a SLURM client command (sbatch, squeue, ...) against this cluster."""
        return subprocess.run(
            list(args), env=self.env(), capture_output=True, text=True, timeout=timeout, check=check
        )

    def job_ids(self) -> list[str]:
        out = self.run("squeue", "--noheader", "--format=%i").stdout
        return [line.strip() for line in out.splitlines() if line.strip()]

    def wait_for_job(self, job_id: str, timeout_s: float = 60) -> str:
        """Wait until a job leaves the queue's active states; returns its final state."""
        deadline = time.monotonic() + timeout_s
        state = ""
        while time.monotonic() < deadline:
            out = self.run("squeue", "--noheader", "--states=all", "--format=%T", "--jobs", job_id, check=False)
            state = out.stdout.strip()
            if state and state not in ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED"):
                return state
            time.sleep(0.5)
        raise TimeoutError(f"SLURM job {job_id} still {state or 'unknown'} after {timeout_s} s\n{self.log_tails()}")

    def log_tails(self, lines: int = 30) -> str:
        if self.state_dir is None:
            return "(cluster not started)"
        parts = []
        for name in DAEMONS:
            for suffix in (".log", ".out"):
                path = self.state_dir / "log" / f"{name}{suffix}"
                if path.exists():
                    parts.append(f"--- {path} (last {lines} lines):\n{_tail(path, lines)}")
        return "\n".join(parts)

    def start(self) -> None:
        reason = skip_reason()
        if reason:
            raise RuntimeError(reason)
        self._acquire_lock()
        try:
            running = _running_daemons()
            if running:
                raise RuntimeError(
                    "SLURM daemons already run on this machine "
                    f"({', '.join(f'{k} pid {v}' for k, v in running.items())}); "
                    "refusing to replace their configuration. Stop them first."
                )
            self.state_dir = Path(tempfile.mkdtemp(prefix="liftgwas-slurm-"))
            self._prepare_state_dir()
            self._write_config()
            self._start_munged()
            self._start_daemon("slurmctld", ["-D", "-f", str(SLURM_CONF_DIR / "slurm.conf")])
            self._start_daemon("slurmd", ["-D", "-N", self.node, "-f", str(SLURM_CONF_DIR / "slurm.conf")])
            self._wait_until_idle()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Cancel this cluster's jobs, stop the daemons by PID, restore /etc/slurm."""
        try:
            if "slurmctld" in self._procs and self._procs["slurmctld"].poll() is None:
                self._cancel_all_jobs()
            # Reverse start order: slurmd before slurmctld before munged.
            for name in reversed(list(self._procs)):
                self._stop_process(name, self._procs[name])
            self._procs.clear()
            self._end_leftover_job_processes()
        finally:
            self._restore_config()
            if self.state_dir is not None and not self.keep_state_dir:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            self._release_lock()

    # ---------------------------------------------------------------- internals
    def _acquire_lock(self) -> None:
        # Two test sessions on one machine would fight over /etc/slurm and the ports.
        self._lock_file = open(LOCK_PATH, "w")
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                fcntl.flock(self._lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self._lock_file.close()
                    self._lock_file = None
                    raise RuntimeError(
                        f"another local SLURM test cluster holds {LOCK_PATH} for over {self.lock_timeout_s} s"
                    )
                time.sleep(1)

    def _release_lock(self) -> None:
        if self._lock_file is not None:
            fcntl.flock(self._lock_file, fcntl.LOCK_UN)
            self._lock_file.close()
            self._lock_file = None

    def _prepare_state_dir(self) -> None:
        assert self.state_dir is not None
        self.state_dir.chmod(0o755)
        for sub in ("log", "ctld", "spool", "run"):
            (self.state_dir / sub).mkdir()
        # munged checks permissions: key dir private, socket dir world-readable.
        key_dir = self.state_dir / "munge-key"
        key_dir.mkdir(mode=0o700)
        key_dir.chmod(0o700)
        socket_dir = self.state_dir / "munge-run"
        socket_dir.mkdir(mode=0o755)
        socket_dir.chmod(0o755)
        key = key_dir / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o400)

    @property
    def munge_socket(self) -> Path:
        assert self.state_dir is not None
        return self.state_dir / "munge-run" / "munge.socket.2"

    def slurm_conf_text(self) -> str:
        assert self.state_dir is not None
        state = self.state_dir
        return f"""{MARKER} (state dir {state}); restored on exit
ClusterName={self.cluster_name}
SlurmctldHost={self.node}(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={state}/ctld
SlurmdSpoolDir={state}/spool
SlurmctldPidFile={state}/run/slurmctld.pid
SlurmdPidFile={state}/run/slurmd.pid
SlurmctldLogFile={state}/log/slurmctld.log
SlurmdLogFile={state}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU={self.def_mem_per_cpu_mb}
GresTypes=gpu
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge={self.min_job_age_s}
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=60
NodeName={self.node} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory={self.memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP
"""

    @staticmethod
    def gres_conf_text() -> str:
        # A GPU line needs a device File; /dev/null makes a fake GPU SLURM can hand out.
        return f"{MARKER}\nName=gpu File=/dev/null\n"

    def _write_config(self) -> None:
        assert self.state_dir is not None
        if not SLURM_CONF_DIR.exists():
            SLURM_CONF_DIR.mkdir(parents=True)
            self._created_conf_dir = True
        for name, text in (("slurm.conf", self.slurm_conf_text()), ("gres.conf", self.gres_conf_text())):
            path = SLURM_CONF_DIR / name
            if path.exists() and MARKER not in path.read_text(errors="replace"):
                backup = self.state_dir / f"{name}.orig"
                shutil.copy2(path, backup)
                self._backups[path] = backup
            tmp = path.with_name(f".{name}.liftgwas-tmp")
            tmp.write_text(text)
            tmp.chmod(0o644)
            os.replace(tmp, path)
            self._written.append(path)

    def _restore_config(self) -> None:
        for path in self._written:
            backup = self._backups.get(path)
            try:
                if backup is not None:
                    shutil.copy2(backup, path)
                else:
                    path.unlink(missing_ok=True)
            except OSError:
                pass
        self._written.clear()
        self._backups.clear()
        if self._created_conf_dir:
            try:
                SLURM_CONF_DIR.rmdir()
            except OSError:
                pass
            self._created_conf_dir = False

    def _popen(self, name: str, argv: list[str]) -> None:
        assert self.state_dir is not None
        out = open(self.state_dir / "log" / f"{name}.out", "wb")
        # Own session and process group: a Ctrl-C in the test terminal does not reach
        # the daemons, and stopping them never needs a name-based kill.
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True, env=self.env(),
        )
        out.close()
        self._procs[name] = proc
        self.pids[name] = proc.pid

    def _start_munged(self) -> None:
        assert self.state_dir is not None
        state = self.state_dir
        self._popen("munged", [
            _which("munged"), "--foreground", "--force",
            f"--socket={self.munge_socket}",
            f"--key-file={state}/munge-key/munge.key",
            f"--log-file={state}/log/munged.log",
            f"--pid-file={state}/munge-run/munged.pid",
            f"--seed-file={state}/munge-key/munged.seed",
        ])
        self._wait_for(lambda: self.munge_socket.exists(), "munged socket", "munged")

    def _start_daemon(self, name: str, args: list[str]) -> None:
        self._popen(name, [_which(name), *args])

    def _wait_for(self, condition, what: str, daemon: str) -> None:
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if condition():
                return
            proc = self._procs.get(daemon)
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{daemon} exited with code {proc.returncode} while waiting for {what}\n{self.log_tails()}")
            time.sleep(0.2)
        raise TimeoutError(f"timed out after {self.start_timeout_s} s waiting for {what}\n{self.log_tails()}")

    def _node_state(self) -> str:
        try:
            out = self.run("sinfo", "--noheader", "--Node", "--format=%N %T", timeout=10, check=False)
        except subprocess.TimeoutExpired:
            return ""
        for line in out.stdout.splitlines():
            fields = line.split()
            if len(fields) == 2 and fields[0] == self.node:
                return fields[1]
        return ""

    def _wait_until_idle(self) -> None:
        def idle() -> bool:
            for name in ("slurmctld", "slurmd"):
                proc = self._procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with code {proc.returncode} during start-up\n{self.log_tails()}")
            return self._node_state() == "idle"

        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if idle():
                return
            time.sleep(0.3)
        raise TimeoutError(
            f"SLURM node {self.node} not idle after {self.start_timeout_s} s "
            f"(sinfo state: {self._node_state() or 'none'})\n{self.log_tails()}"
        )

    def _cancel_all_jobs(self) -> None:
        # Every job in this cluster belongs to the tests; cancel them so no slurmstepd
        # outlives the daemons.
        try:
            ids = self.job_ids()
            if ids:
                self.run("scancel", *ids, check=False, timeout=15)
                deadline = time.monotonic() + self.stop_grace_s
                while self.job_ids() and time.monotonic() < deadline:
                    time.sleep(0.5)
        except (subprocess.SubprocessError, OSError):
            pass

    def job_processes(self, job_id: str | None = None) -> list[int]:
        """PIDs of live processes started by this cluster's jobs (all, or one job's)."""
        marker = f"SLURM_CLUSTER_NAME={self.cluster_name}".encode()
        job_marker = f"SLURM_JOB_ID={job_id}".encode()
        pids = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit() or int(proc.name) == os.getpid():
                continue
            try:
                environ = (proc / "environ").read_bytes().split(b"\0")
                state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except (OSError, IndexError):
                continue
            if state != "Z" and marker in environ and (job_id is None or job_marker in environ):
                pids.append(int(proc.name))
        return pids

    def _end_leftover_job_processes(self) -> None:
        # A job process that outlived its job (e.g. one that ignored SIGTERM and lost its
        # parent) was still started by this cluster: end it by PID, TERM then KILL.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.job_processes()
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + self.stop_grace_s
            while pids and self.job_processes() and time.monotonic() < deadline:
                time.sleep(0.2)

    def _stop_process(self, name: str, proc: subprocess.Popen) -> None:
        if proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.stop_grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=self.stop_grace_s)
