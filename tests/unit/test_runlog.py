"""Scripts log to the rule's log file, including the traceback of a failure."""

import subprocess
import sys
import textwrap

from toydata import REPO


def test_log_file_gets_records_warnings_and_the_failure(tmp_path):
    log = tmp_path / "job.log"
    script = textwrap.dedent(f"""
        import warnings
        from liftgwas.runlog import log_to
        log = log_to({str(log)!r})
        log.info("progress 1 / 2")
        warnings.warn("a user warning")
        raise ValueError("bad input in traits.tsv, line 3")
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env={"PYTHONPATH": str(REPO / "workflow")})
    assert result.returncode != 0
    text = log.read_text()
    assert "progress 1 / 2" in text
    assert "a user warning" in text
    assert "job failed" in text and "ValueError: bad input in traits.tsv, line 3" in text


def test_append_keeps_the_killed_attempts_log(tmp_path):
    log = tmp_path / "train.log"
    for attempt in ("first attempt: epoch 3", "resumed from epoch 3"):
        script = f"from liftgwas.runlog import log_to\nlog_to({str(log)!r}, append={log.exists()}).info({attempt!r})\n"
        subprocess.run([sys.executable, "-c", script], check=True, env={"PYTHONPATH": str(REPO / "workflow")})
    lines = [line for line in log.read_text().splitlines() if "job resources:" not in line]
    assert [line.split(": ", 1)[1] for line in lines] == ["first attempt: epoch 3", "resumed from epoch 3"]
    subprocess.run([sys.executable, "-c", f"from liftgwas.runlog import log_to\nlog_to({str(log)!r}).info('fresh')\n"],
                   check=True, env={"PYTHONPATH": str(REPO / "workflow")})  # fmt: skip
    # a fresh job (no checkpoint) still starts a new log: its record and its usage line
    assert log.read_text().count("\n") == 2 and "fresh" in log.read_text().splitlines()[0]


def test_the_last_log_line_is_the_jobs_cpu_time_and_peak_memory(tmp_path):
    log = tmp_path / "job.log"
    script = textwrap.dedent(f"""
        import time
        from liftgwas.runlog import log_to
        log_to({str(log)!r})
        log_to({str(log)!r})  # a second call must not log the usage twice
        start = time.process_time()
        while time.process_time() - start < 0.4:
            pass
        block = bytearray(300 * 2**20)  # 300 MB, touched
        block[::4096] = b"x" * len(block[::4096])
    """)
    subprocess.run([sys.executable, "-c", script], check=True, env={"PYTHONPATH": str(REPO / "workflow")})
    lines = [line for line in log.read_text().splitlines() if "job resources:" in line]
    assert len(lines) == 1
    cpu = float(lines[0].split("CPU ")[1].split(" s")[0])
    rss = float(lines[0].split("peak RSS ")[1].split(" MB")[0])
    assert cpu >= 0.4 and rss >= 300
