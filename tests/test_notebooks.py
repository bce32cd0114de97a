"""Every notebook in lc_analytics/notebooks/ is committed clean and runs top to bottom (nbval,
lax mode)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "lc_analytics" / "notebooks").glob("*.ipynb"))
SANITIZE = ROOT / "tests" / "fixtures" / "nbval_sanitize.cfg"
FORBIDDEN_SOURCE = ("duckdb.connect", "TOKEN", "SECRET", "getenv", "os.environ")


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def test_there_are_notebooks():
    assert {p.stem for p in NOTEBOOKS} >= {"viewers", "bandwidth", "costs", "cost_review"}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_clean_and_thin(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert nb["metadata"]["kernelspec"]["name"] == "lc-analytics"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(c["outputs"] == [] and c["execution_count"] is None for c in code), \
        f"{path.name} has outputs: clear them before committing"
    tags = [t for c in code for t in c.get("metadata", {}).get("tags", [])]
    assert tags.count("parameters") == 1 and tags.count("summary") == 1
    params = next(c for c in code if "parameters" in c["metadata"].get("tags", []))
    names = {line.split("=")[0].strip() for line in "".join(params["source"]).splitlines()
             if "=" in line and not line.startswith("#")}
    # a period (first and last day), or a billing month for the cost notebooks
    assert {"db", "as_of"} <= names
    assert {"period_start", "period_end"} <= names or "period" in names
    source = "".join("".join(c["source"]) for c in code)
    # The warehouse is read through lc_analytics only, and nothing reads secrets.
    assert not [s for s in FORBIDDEN_SOURCE if s in source]
    assert "lcnb.warehouse(db)" in source and "lcnb.setup()" in source
    # Each section says what its charts answer.
    assert sum(c["cell_type"] == "markdown" for c in nb["cells"]) >= 4


def test_nbval_runs_every_notebook_against_the_synced_warehouse(synced):
    _, db, _ = synced
    env = {**os.environ, "LC_ANALYTICS_DB": str(db)}
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider",
           "--nbval-kernel-name", "lc-analytics", "--nbval-sanitize-with", str(SANITIZE),
           "-q", "--no-header", *map(str, NOTEBOOKS)]
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300, check=False)
    tail = proc.stdout[-6000:] + proc.stderr[-2000:]
    assert proc.returncode == 0, tail
    n_code = sum(c["cell_type"] == "code" for p in NOTEBOOKS for c in _cells(p))
    assert f"{n_code} passed" in proc.stdout, tail
