"""The GWAS Catalog's GWAS-SSF validator (gwas-sumstats-tools), run on files the tests write.

It lives in its own venv, ``.tools/gwas-ssf`` (``make tools``; ``make test`` builds it),
because it pins pandas 1.5.3 / numpy < 2, which clash with the workflow's stack
(envs/gwas-ssf.lock). If it is missing, the first test that needs it builds it; if that
fails (no network), those tests skip and say why.
"""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL_VENV = ROOT / ".tools" / "gwas-ssf"


def tool_bin() -> Path:
    if not (TOOL_VENV / ".installed").exists():
        build = subprocess.run(["make", "-C", str(ROOT), "tools"], capture_output=True, text=True)
        if build.returncode != 0:
            pytest.skip(f"the GWAS-SSF validator venv could not be built (`make tools`): {build.stderr[-500:]}")
    return TOOL_VENV / "bin"


def validate(path: str | Path, min_rows: int = 1) -> subprocess.CompletedProcess:
    """``gwas-ssf validate`` exactly as a user runs it (all checks, including chromosome coverage)."""
    return subprocess.run([str(tool_bin() / "gwas-ssf"), "validate", "--min-rows", str(min_rows), str(path)],
                          capture_output=True, text=True, env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})


def validate_except_coverage(path: str | Path) -> subprocess.CompletedProcess:
    """The validator's own checks (extension, column order, the data schema on every row), without
    its GWAS Catalog submission rule that all 22 autosomes be present: the simulated studies have
    10 chromosomes by construction. Also checks the -meta.yaml against its metadata model."""
    script = textwrap.dedent(f"""
        import sys, yaml
        from gwas_sumstats_tools.validate import Validator
        from gwas_sumstats_tools.schema.metadata import SumStatsMetadata
        v = Validator({str(path)!r}, minimum_rows=1)
        for name, ok_msg in [("extension", v._validate_file_ext()), ("field order", v._validate_field_order())]:
            if not ok_msg[0]:
                sys.exit(f"{{name}}: {{ok_msg[1]}}")
        ok, msg = v._validate_df(v.as_pd_df())
        if not ok:
            sys.exit(f"data: {{msg}}\\n{{v.errors_table}}")
        SumStatsMetadata.parse_obj(yaml.safe_load(open({str(path) + "-meta.yaml"!r})))
        print("valid")
    """)
    return subprocess.run([str(tool_bin() / "python"), "-c", script], capture_output=True, text=True)


def check_metadata(path: str | Path) -> subprocess.CompletedProcess:
    """The ``-meta.yaml`` of ``path`` parsed by the tool's pydantic metadata model."""
    script = (f"import yaml; from gwas_sumstats_tools.schema.metadata import SumStatsMetadata as M; "
              f"print(M.parse_obj(yaml.safe_load(open({str(path) + '-meta.yaml'!r}))).json())")
    return subprocess.run([str(tool_bin() / "python"), "-c", script], capture_output=True, text=True)
