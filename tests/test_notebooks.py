"""Every notebook in lc_analytics/notebooks/ is committed clean and runs top to bottom (nbval,
lax mode)."""

from __future__ import annotations

import ast
import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

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


# -- notebooks call only public names ---------------------------------------------------------

def _lc_names_not_public(source: str) -> list[str]:
    """Every lc_analytics name the code imports or reads off an imported module that is not
    in its module's `__all__` (a submodule counts as public when it declares `__all__`)."""
    tree = ast.parse(source)
    modules: dict[str, ModuleType] = {}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            bad += [f"import {a.name}" for a in node.names
                    if a.name.split(".")[0] == "lc_analytics"]  # use `from ... import`
        if not (isinstance(node, ast.ImportFrom) and node.module
                and node.module.split(".")[0] == "lc_analytics"):
            continue
        try:
            mod = importlib.import_module(node.module)
        except ImportError:
            bad.append(node.module)
            continue
        for alias in node.names:
            sub = _submodule(f"{node.module}.{alias.name}")
            if sub is not None and hasattr(sub, "__all__"):
                modules[alias.asname or alias.name] = sub
            elif alias.name not in getattr(mod, "__all__", ()):
                bad.append(f"{node.module}.{alias.name}")
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in modules:
            mod = modules[node.value.id]
            if node.attr not in mod.__all__:
                bad.append(f"{mod.__name__}.{node.attr}")
    return sorted(set(bad))


def _submodule(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def test_the_public_name_check_catches_private_and_unlisted_names():
    old = ("from lc_analytics.recommend import explanation as cd\n"
           "from lc_analytics.reports import data, publish_summary\n"
           "from lc_analytics.costs.engine import _line\n"
           "import lc_analytics.notebook\n"
           "cd.resolve_month(wh)\ncd._saving_text(r)\ncd.ranked(recs)\n")
    assert _lc_names_not_public(old) == [
        "import lc_analytics.notebook", "lc_analytics.costs.engine._line",
        "lc_analytics.recommend.explanation._saving_text",
        "lc_analytics.recommend.explanation.resolve_month", "lc_analytics.reports.data"]
    ok = ("from lc_analytics import analyses\nfrom lc_analytics.reports import money_table\n"
          "analyses.minutes_by_day(wh, a, b)\n")
    assert _lc_names_not_public(ok) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_calls_only_names_in_a_packages_all(path):
    code = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code")
    assert _lc_names_not_public(code) == []
