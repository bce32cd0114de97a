"""Post-show report folders: each broadcast gets its own folder, named by its input and start,
so two shows of one input on one day (or of two inputs) never overwrite each other; the same
broadcast always gets the same folder."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from lc_analytics.errors import UsageError
from lc_analytics.live.report import show_report, show_run
from lc_analytics.reports.html import list_runs
from lc_analytics.reports.runner import run_folder
from lc_analytics.warehouse import Warehouse

DAY = date(2026, 6, 30)
A, B = "a" * 32, "b" * 32
#: (input, start, minutes): two broadcasts of A that day (the evening one longer), one of B
SHOWS = [(A, datetime(2026, 6, 30, 10, 0, 5, tzinfo=UTC), 30),
         (A, datetime(2026, 6, 30, 19, 0, 12, tzinfo=UTC), 60),
         (B, datetime(2026, 6, 30, 19, 0, 12, tzinfo=UTC), 45)]


@pytest.fixture(scope="module")
def wh(tmp_path_factory) -> Warehouse:
    db = tmp_path_factory.mktemp("shows") / "wh.duckdb"
    w = Warehouse(db)
    rows = []
    for uid, start, minutes in SHOWS:
        for at, kind in ((start, "connected"), (start + timedelta(minutes=minutes),
                                                "disconnected")):
            rows.append({"live_input_uid": uid, "event_at": at,
                         "event_type": f"live_input.{kind}", "error_code": None,
                         "error_message": None, "video_uid": None, "source": "notification",
                         "received_at": at})
    with w.transaction() as tx:
        tx.upsert("live_input_events", rows)
    return Warehouse(db, read_only=True)


def test_each_broadcast_has_its_own_stable_folder(wh, tmp_path):
    longest = show_run(wh, A, DAY, as_of=DAY)
    morning = show_run(wh, A, DAY, "10:00", as_of=DAY)
    other = show_run(wh, B, DAY, "19:00:12", as_of=DAY)
    assert longest == ({"live_input": A, "date": "2026-06-30",
                        "start": "2026-06-30T19:00:12+00:00"}, f"{A}-20260630T190012Z")
    assert morning[1] == f"{A}-20260630T100005Z" and morning[0]["start"].startswith(
        "2026-06-30T10:00:05")
    assert other[1] == f"{B}-20260630T190012Z"
    assert show_run(wh, A, DAY, "2026-06-30T19:00:12Z", as_of=DAY) == longest  # stable
    folders = {run_folder(tmp_path, "show", "2026-06-30", k) for _, k in
               (longest, morning, other)}
    assert len(folders) == 3
    # the index lists each of them under its date, linking its own folder
    for folder in folders:
        folder.mkdir(parents=True)
        for name in ("show.ipynb", "show.html", "summary.json"):
            (folder / name).write_text("{}")
    runs = list_runs(tmp_path)
    assert sorted(r.folder for r in runs) == sorted(folders)
    assert {r.date for r in runs} == {"2026-06-30"} and all(r.ok for r in runs)
    # the notebook, given the resolved start, reports that broadcast and not the longest
    rep = show_report(wh, A, DAY, DAY, priced=False, start=morning[0]["start"])
    assert rep.headline["start"] == morning[0]["start"] and rep.headline["duration_minutes"] == 30


def test_a_start_that_matches_no_broadcast_is_refused_naming_the_starts(wh):
    with pytest.raises(UsageError, match=r"--start 12:00: .* started at 10:00:05, 19:00:12 UTC"):
        show_run(wh, A, DAY, "12:00", as_of=DAY)
    with pytest.raises(UsageError, match="--start must be a UTC time"):
        show_run(wh, A, DAY, "25:61", as_of=DAY)
    with pytest.raises(Exception, match="not a report folder key"):
        run_folder(Path("reports"), "show", "2026-06-30", "../x")


def test_report_show_on_the_command_line_runs_in_the_broadcasts_folder(wh, monkeypatch):
    from lc_analytics import reports
    from lc_analytics.cli import main

    calls = []

    class _Done:
        name, date, html = "show", DAY, Path("x.html")

    def fake_run(name, params=None, **kw):
        calls.append((name, params, kw))
        return _Done()

    monkeypatch.setattr(reports, "run", fake_run)
    argv = ["report", "show", "--live-input", A, "--date", "2026-06-30", "--start", "10:00",
            "--as-of", "2026-06-30", "--db", str(wh.path)]
    assert main(argv) == 0
    (name, params, kw), = calls
    assert name == "show" and kw["key"] == f"{A}-20260630T100005Z"
    assert params["start"].startswith("2026-06-30T10:00:05") and params["live_input"] == A
    assert main(["report", "viewers", "--start", "10:00"]) == 2  # not a parameter of viewers
    assert len(calls) == 1
