"""Bad input gets one clear line and its documented exit code, and creates or loses nothing.

Each case is tried as a new user would (through `lc-analytics`'s `main`), and the warehouse
file and the reports folder are compared byte for byte before and after.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lc_analytics.reports import ReportError, run


def _tree(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with a hash of its bytes ('' for a folder)."""
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): "" if p.is_dir() else
            hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.rglob("*"))}


# --- a failed report never destroys a good one ---------------------------------------------

def _notebook(folder: Path, name: str) -> None:
    params = new_code_cell("db = None\nas_of = None\nboom = False")
    params.metadata["tags"] = ["parameters"]
    work = new_code_cell("from lc_analytics.reports import publish_summary\n"
                         "if boom:\n    raise RuntimeError('injected failure')\n"
                         "publish_summary({'as_of': as_of, 'answer': 42})")
    work.metadata["tags"] = ["summary"]
    nb = new_notebook(cells=[params, work], metadata={"kernelspec": {
        "name": "lc-analytics", "language": "python", "display_name": "lc-analytics"}})
    nbformat.write(nb, folder / f"{name}.ipynb")


def test_a_failing_rerun_keeps_the_good_report_and_the_failed_one_beside_it(
        synced, tmp_path, monkeypatch):
    monkeypatch.setenv("LC_ANALYTICS_DB", str(synced[1]))
    nbs, out = tmp_path / "notebooks", tmp_path / "reports"
    nbs.mkdir()
    _notebook(nbs, "tiny")
    good = run("tiny", out_root=out, notebooks_dir=nbs, as_of="2026-06-30")
    assert good.headline == {"as_of": "2026-06-30", "answer": 42}
    published = _tree(good.folder)
    assert sorted(published) == ["summary.json", "tiny.html", "tiny.ipynb"]

    with pytest.raises(ReportError, match="injected failure") as info:
        run("tiny", {"boom": True}, out_root=out, notebooks_dir=nbs, as_of="2026-06-30")
    assert _tree(good.folder) == published  # byte-identical
    failed = sorted((out / "tiny").glob("2026-06-30.failed-*"))
    assert len(failed) == 1 and sorted(_tree(failed[0])) == ["tiny.ipynb"]
    assert Path(info.value.context["notebook"]) == failed[0] / "tiny.ipynb"
    partial = nbformat.read(failed[0] / "tiny.ipynb", as_version=4)
    errors = [o for c in partial.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert [e.evalue for e in errors] == ["injected failure"]
    assert sorted(p.name for p in (out / "tiny").iterdir()) == ["2026-06-30", failed[0].name]

    index = (out / "index.html").read_text()
    assert 'href="tiny/2026-06-30/tiny.html"' in index
    assert f'href="tiny/{failed[0].name}/tiny.ipynb"' in index
    assert index.count("<tr><td>tiny</td><td>2026-06-30</td>") == 2
    assert f"failed</span> at {failed[0].name.split('.failed-')[1]}" in index

    # a later good run replaces the good one whole and leaves the failed run listed
    again = run("tiny", out_root=out, notebooks_dir=nbs, as_of="2026-06-30")
    assert sorted(_tree(again.folder)) == sorted(published)
    assert failed[0].exists()
    assert not [p for p in (out / "tiny").iterdir() if p.name.startswith(".")]
