"""Bad input gets one clear line and its documented exit code, and creates or loses nothing.

Each case is tried as a new user would (through `lc-analytics`'s `main`), and the warehouse
file and the reports folder are compared byte for byte before and after.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import nbformat
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from lc_analytics.errors import (
    EXIT_CODES,
    LcAnalyticsError,
    NotSyncedError,
    PlanFileError,
    TransportError,
    UsageError,
    exit_code_table,
)
from lc_analytics.recommend.evidence import NoteEvidence
from lc_analytics.recommend.model import Action, Plan, Recommendation
from lc_analytics.reports import ReportError, run
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED


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


# --- every bad input: one clear line, its exit code, nothing created or changed -------------

@pytest.fixture
def user(tmp_path, monkeypatch, capsys):
    """A new user's shell: an empty working folder, no lc-analytics settings, and a `cli`
    that runs a command and returns (exit code, stderr)."""
    from lc_analytics.cli import main

    monkeypatch.chdir(tmp_path)
    for k in list(os.environ):
        if k.startswith(("CLOUDFLARE_", "R2_", "LC_ANALYTICS_")):
            monkeypatch.delenv(k)

    def cli(*argv: str) -> tuple[int, str]:
        capsys.readouterr()
        code = main(list(argv))
        return code, capsys.readouterr().err

    return cli


@pytest.fixture
def warehouse_copy(synced, tmp_path) -> Path:
    """A private copy of the synced warehouse (a refused command must leave it unchanged)."""
    db = tmp_path / "wh.duckdb"
    shutil.copyfile(synced[1], db)
    return db


def _one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("lc-analytics: error: ")
    return lines[0]


def test_recommend_as_of_before_any_synced_data(user, warehouse_copy, tmp_path):
    before = _tree(tmp_path)
    code, err = user("recommend", "--db", str(warehouse_copy), "--as-of", "2026-01-15")
    first = _first_day(warehouse_copy)
    assert code == NotSyncedError.exit_code == 8
    assert f"holds no data before {first}" in _one_line(err)
    assert _tree(tmp_path) == before  # no plan written, no recommendation stored


def test_recommend_and_report_without_a_warehouse(user, tmp_path):
    missing = tmp_path / "nowhere" / "wh.duckdb"
    for argv in (["recommend", "--db", str(missing)],
                 ["report", "viewers", "--db", str(missing)]):
        code, err = user(*argv)
        assert code == 8
        assert _one_line(err) == (f"lc-analytics: error: no warehouse at {missing}: run "
                                  "`lc-analytics sync` first to create it")
    assert _tree(tmp_path) == {}  # no warehouse, no reports folder, no data folder


def test_report_as_of_before_any_data(user, warehouse_copy, tmp_path):
    before = _tree(tmp_path)
    code, err = user("report", "viewers", "--db", str(warehouse_copy), "--as-of", "2025-12-31")
    assert code == 8 and "holds no data before" in _one_line(err)
    assert _tree(tmp_path) == before and not (tmp_path / "reports").exists()


def test_sync_since_in_the_future(user, tmp_path, monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "0" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok-future")
    monkeypatch.setenv("LC_ANALYTICS_DB", str(tmp_path / "wh.duckdb"))
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    code, err = user("sync", "--since", tomorrow.isoformat(), "--quiet",
                     "--sources", "minutes_viewed")
    assert code == UsageError.exit_code == 2
    assert f"--since {tomorrow} is in the future" in _one_line(err)
    assert _tree(tmp_path) == {}


def test_costs_export_of_a_month_not_fully_covered(user, warehouse_copy, tmp_path,
                                                   monkeypatch):
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "0" * 32)
    first = _first_covered_day(warehouse_copy)
    assert first.day != 1  # the month it starts in is only partly synced
    before = _tree(tmp_path)
    for month in (f"{first:%Y-%m}", "2026-07", "2025-01"):
        code, err = user("costs", "export", "--format", "csv", "--db", str(warehouse_copy),
                         "--month", month, "--out", str(tmp_path / "out.csv"))
        assert code == 8
        line = _one_line(err)
        assert f"{month} not fully covered" in line and f"covers {first} to 2026-06-30" in line
    assert _tree(tmp_path) == before
    # the covered month still exports
    code, _ = user("costs", "export", "--format", "csv", "--db", str(warehouse_copy),
                   "--month", "2026-06", "--out", str(tmp_path / "june.csv"))
    assert code == 0 and (tmp_path / "june.csv").stat().st_size > 0


def test_a_tampered_or_missing_plan_file(user, tmp_path):
    plan = Plan("0" * 32, datetime(2026, 7, 1, tzinfo=UTC), "cloudflare", [Recommendation(
        "r1", "recording_retention", "live_input", "li1", "retain 30 d",
        NoteEvidence(note="by hand"), "rule",
        Decimal("5.00"), "1 block x $5", "none", "high", (Action(
            "a1", "live_input.update", "li1", {"deleteRecordingAfterDays": None},
            {"deleteRecordingAfterDays": 30}, "never watched", "r1"),))])
    path = plan.write(tmp_path / "plan.json")
    path.write_text(path.read_text().replace('"deleteRecordingAfterDays": 30',
                                             '"deleteRecordingAfterDays": 7'))
    before = _tree(tmp_path)
    cases = {path: "was edited after it was made",
             tmp_path / "missing.json": "cannot read plan",
             _write(tmp_path / "list.json", "[1, 2]"): "is not an lc-analytics plan",
             _write(tmp_path / "half.json", '{"version": 1'): "is not JSON (line 1)"}
    before = _tree(tmp_path)
    for plan_file, message in cases.items():
        code, err = user("apply", str(plan_file), "--yes")
        assert code == PlanFileError.exit_code == 9, err
        assert message in _one_line(err) and str(plan_file) in err
    assert _tree(tmp_path) == before


def test_an_api_base_url_that_refuses_connections(user, tmp_path, monkeypatch):
    from lc_analytics.client import http

    sleeps: list[float] = []
    monkeypatch.setattr(http.Clock, "sleep", lambda self, s: sleeps.append(s))  # no waiting
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("CLOUDFLARE_ACCOUNT_ID", "0" * 32)
    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok-refused-Xy7")
    monkeypatch.setenv("CLOUDFLARE_API_BASE_URL", f"http://127.0.0.1:{port}/client/v4")
    monkeypatch.setenv("LC_ANALYTICS_DB", str(tmp_path / "wh.duckdb"))
    code, err = user("sync", "--quiet", "--sources", "stream")
    assert code == TransportError.exit_code == 3
    line = _one_line(err)
    assert "CLOUDFLARE_API_BASE_URL" in line and f"127.0.0.1:{port}" in line
    assert f"after {http.RetryPolicy().max_attempts} attempt(s)" in line
    assert len(sleeps) == http.RetryPolicy().max_attempts - 1  # it did retry
    assert "tok-refused-Xy7" not in err
    # a new warehouse is created only once the API has answered: nothing was created
    assert not (tmp_path / "wh.duckdb").exists()
    assert not list(tmp_path.iterdir())


def test_a_stream_only_warehouse_prices_its_month(tmp_path):
    """A `--sources stream,minutes_viewed` sync holds no R2 rows; pricing it must work."""
    from lc_analytics.costs.engine import price_month
    from lc_analytics.costs.pricebook import load_book
    from lc_analytics.costs.usage import warehouse_usage
    from lc_analytics.sandbox import Sandbox, SimulatedAccount
    from lc_analytics.sync import sync

    acct = SimulatedAccount.build("small", seed=SEED, end=END)
    db = tmp_path / "stream.duckdb"
    with Sandbox(acct) as sb:
        sync(sb.settings(db_path=db), sources=["stream", "minutes_viewed"],
             transport=sb.transport, now=lambda: acct.now.to_pydatetime(), progress="none")
    month = warehouse_usage(Warehouse(db, read_only=True), "2026-06")
    assert month.r2_days_covered == 0 and len(month.usage.frame("r2_storage", ["date"])) == 0
    truth = acct.ground_truth().minutes_viewed_daily
    june = truth[pd.to_datetime(truth["date"]).dt.month == 6]["minutes_viewed"].sum()
    delivered = month.usage.frame("stream_delivery", ["date", "minutes"])["minutes"].sum()
    assert delivered == pytest.approx(june, rel=1e-12)
    bill = price_month(month.usage, month.month, load_book("cloudflare"))
    r2 = [li for li in bill.line_items if li.sku_id.startswith("r2")]
    assert all(li.cost == 0 for li in r2)
    assert bill.total > 0


def test_the_readme_lists_every_exit_code():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert exit_code_table() in readme
    for cls in _all_errors():
        assert cls.exit_code in EXIT_CODES, cls


# --- helpers ----------------------------------------------------------------------------------

def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _first_day(db: Path) -> date:
    from lc_analytics.readmodel import first_days

    return min(first_days(Warehouse(db, read_only=True)))


def _first_covered_day(db: Path) -> date:
    from lc_analytics.readmodel import covered_days

    return covered_days(Warehouse(db, read_only=True))[0]


def _all_errors() -> list[type[LcAnalyticsError]]:
    out, todo = [], [LcAnalyticsError]
    while todo:
        cls = todo.pop()
        out.append(cls)
        todo.extend(cls.__subclasses__())
    return out


def test_an_unexpected_error_is_one_line_without_secrets(user, monkeypatch):
    from lc_analytics import cli

    def broken(args):
        raise ValueError("merge failed near tok-Secret-Q9\nsecond line")

    monkeypatch.setenv("CLOUDFLARE_API_TOKEN", "tok-Secret-Q9")
    monkeypatch.setattr(cli, "_cmd_sandbox_summary", broken)
    code, err = user("sandbox", "summary")
    assert code == 1
    assert err == ("lc-analytics: unexpected error: ValueError: merge failed near ******** "
                   "(a bug: please report it; run with -v for the traceback)\n")
    with pytest.raises(ValueError):
        cli.main(["-v", "sandbox", "summary"])
