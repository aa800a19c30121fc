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
