"""Spool compaction: once the sync has committed the spooled records, the sealed segments are
compacted (each input's last events and sample kept, the rest let go and tallied), and a kill
at any point of the sync loses nothing acknowledged and duplicates nothing."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from lc_analytics.live import ingest
from lc_analytics.live import spool as S
from lc_analytics.live.ingest import sync_live
from lc_analytics.live.poller import live_from_events
from lc_analytics.live.spool import Spool, read_records, spool_dir
from lc_analytics.readmodel import live_events, viewer_samples
from lc_analytics.sync_report import Progress, SyncReport
from lc_analytics.warehouse import Warehouse

T0 = datetime(2026, 6, 30, 18, 0, tzinfo=UTC)
INPUTS = ["a" * 32, "b" * 32, "c" * 32]


def _event(uid: str, minute: int, kind: str, code: str | None = None) -> dict:
    data: dict = {"notification_name": "Stream Live Input", "input_id": uid,
                  "event_type": f"live_input.{kind}",
                  "updated_at": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if code:
        data["live_input_errored"] = {"error": {"code": code, "message": code}}
    return {"name": "live", "text": kind, "data": data, "ts": 1}


def _sample(uid: str, minute: int, viewers: int) -> dict:
    at = (T0 + timedelta(minutes=minute, seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {"live_input_uid": uid, "at": at, "viewers": viewers, "status": "ok"}


def _show(spool: Spool, start: int, *, live_at_end: str | None = None) -> list[dict]:
    """A show per input from minute `start` (10 minutes, a drop, an error on the first
    input; `live_at_end` stays connected), spooled. Returns its event bodies."""
    bodies = []
    for i, uid in enumerate(INPUTS):
        kinds = [(start, "connected", None), (start + 3, "disconnected", None),
                 (start + 4, "connected", None)]
        if i == 0:
            kinds.append((start + 5, "errored", "ERR_GOP_OUT_OF_RANGE"))
        if uid != live_at_end:
            kinds.append((start + 10, "disconnected", None))
        for minute, kind, code in kinds:
            body = _event(uid, minute, kind, code)
            assert spool.append("event", body, source="notification", received_at=1.0)[1]
            bodies.append(body)
        new = spool.append_many("sample", [_sample(uid, start + k, 10 * i + k)
                                           for k in range(10)])
        assert all(n for _, n in new)
    return bodies


def _tally(bodies: list[dict]) -> Counter:
    return Counter(S.event_key({"body": b}) for b in bodies)


@pytest.fixture(scope="module")
def fresh_db(tmp_path_factory) -> Path:
    """An empty, migrated warehouse, created once: each test syncs into a copy of it."""
    db = tmp_path_factory.mktemp("empty") / "wh.duckdb"
    Warehouse(db)  # migrates; each query opens and closes its own connection
    return db


@pytest.fixture
def db(fresh_db, tmp_path) -> Path:
    from .conftest import copy_warehouse

    return copy_warehouse(fresh_db, tmp_path / "wh")


def _ctx(db: Path, now: datetime = T0 + timedelta(days=1)) -> SimpleNamespace:
    return SimpleNamespace(settings=SimpleNamespace(db_path=db), warehouse=Warehouse(db),
                           now=now, client=None, since=None, report=SyncReport(""),
                           progress=Progress("none"))


def _counts(folder: Path) -> Counter:
    """Events received by type|code as the metrics count them: the spool plus the tally of
    what compaction let go."""
    c = Counter(S.event_key(r) for r in read_records(folder, "event"))
    c.update(S.dropped_events(folder))
    return c


def _held(db: Path) -> tuple[set, set]:
    wh = Warehouse(db, read_only=True)
    ev, s = live_events(wh), viewer_samples(wh)
    return (set(zip(ev["live_input_uid"], ev["at"], ev["event_type"], strict=True)),
            set(zip(s["live_input_uid"], s["at"], strict=True)))


def _keys(folder: Path) -> tuple[set, set]:
    """The natural keys of everything the spool has ever acknowledged (as rows)."""
    events, samples = ingest.spool_rows(folder)
    return ({(e["live_input_uid"], e["event_at"], e["event_type"]) for e in events},
            {(s["live_input_uid"], s["sampled_at"]) for s in samples})


def test_the_sync_compacts_what_it_committed_and_keeps_what_the_poller_needs(db):
    folder = spool_dir(db)
    spool = Spool(folder)
    bodies = _show(spool, 0, live_at_end=INPUTS[2])
    want_ev, want_s = _keys(folder)
    assert (len(want_ev), len(want_s)) == (len(bodies), 30) == (12, 30)
    live, counts = live_from_events(spool), _counts(folder)
    assert live == {INPUTS[2]} and counts == _tally(bodies)
    ctx = _ctx(db)
    sync_live(ctx, "live_events")
    held_ev, held_s = _held(db)
    assert {(u, pd_ts.to_pydatetime(), k) for u, pd_ts, k in held_ev} == want_ev
    assert {(u, at.to_pydatetime()) for u, at in held_s} == want_s
    # compacted: no segment left, the active files empty, the base keeps one sample per input
    # and each input's last events; the poller and the metrics see what they saw before
    assert not S.segments(folder, "event") and not S.segments(folder, "sample")
    assert (folder / "events.jsonl").stat().st_size == 0
    kept = list(read_records(folder, "sample"))
    assert sorted(r["body"]["live_input_uid"] for r in kept) == INPUTS
    assert [r["body"]["viewers"] for r in kept if r["body"]["live_input_uid"] == INPUTS[1]] \
        == [19]
    assert len(list(read_records(folder, "event"))) == 3
    assert live_from_events(spool) == live and _counts(folder) == counts
    assert ctx.report.notes["live_events"].endswith(
        "spool compacted (9 events, 27 samples already in the warehouse let go)")
    # a second show (the receiver kept its Spool open) and a second sync: all of it lands,
    # and the tally of what was let go accumulates
    bodies += _show(spool, 60)
    sync_live(_ctx(db), "live_events")
    held_ev, held_s = _held(db)
    assert len(held_ev) == len(bodies) == 25 and len(held_s) == 60
    assert _counts(folder) == _tally(bodies)
    assert live_from_events(spool) == set()
    assert len(list(read_records(folder, "sample"))) == 3


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after it runs (no cleanup in the sync)."""


def _kill_at(point: str, monkeypatch) -> None:
    if point == "after_seal":  # sealed, nothing read or committed
        monkeypatch.setattr(ingest, "spool_rows", _raise)
    elif point == "after_commit":  # committed, not compacted
        monkeypatch.setattr(ingest, "compact", _raise)
    elif point == "before_base_rename":  # the new base written aside, not in place
        monkeypatch.setattr(S.os, "replace", _raise)
    elif point == "before_segment_deletes":  # the new base in place, segments still there
        real = Path.unlink

        def unlink(self, missing_ok=False):
            if S.segments(self.parent, "event") and self.name.startswith("events.0"):
                raise _Killed
            return real(self, missing_ok=missing_ok)
        monkeypatch.setattr(Path, "unlink", unlink)


def _raise(*_a, **_k):
    raise _Killed


@pytest.mark.parametrize("point", ["after_seal", "after_commit", "before_base_rename",
                                   "before_segment_deletes"])
def test_a_sync_killed_at_any_point_loses_nothing_and_duplicates_nothing(db, point, monkeypatch):
    folder = spool_dir(db)
    spool = Spool(folder)
    bodies = _show(spool, 0)
    sync_live(_ctx(db), "live_events")  # a first, clean round: there is a base already
    bodies += _show(spool, 30, live_at_end=INPUTS[1])
    all_ev, all_s = _held(db)
    acked_ev, acked_s = _keys(folder)
    with monkeypatch.context() as m:
        _kill_at(point, m)
        with pytest.raises(_Killed):
            sync_live(_ctx(db), "live_events")
    # while the sync is dead the receiver goes on, and the spool reads back each record once
    # (a base, the segments it did not absorb, the new file)
    bodies += _show(spool, 90)
    ids = [r["id"] for r in read_records(folder, "event")]
    assert len(ids) == len(set(ids))
    assert _counts(folder) == _tally(bodies)
    more_ev, more_s = _keys(folder)
    sync_live(_ctx(db), "live_events")  # the next run, clean
    held_ev, held_s = _held(db)
    want_ev = {(u, t, k) for u, t, k in all_ev} | {(u, _ts(t), k) for u, t, k in acked_ev} \
        | {(u, _ts(t), k) for u, t, k in more_ev}
    want_s = set(all_s) | {(u, _ts(t)) for u, t in acked_s | more_s}
    assert held_ev == want_ev and len(held_ev) == len(bodies) == 38
    assert held_s == want_s and len(held_s) == 90
    assert not S.segments(folder, "event") and not S.segments(folder, "sample")
    assert _counts(folder) == _tally(bodies)  # every event counted once, by the metrics


def _ts(t: datetime):
    import pandas as pd

    return pd.Timestamp(t)


def test_a_writer_appending_during_compactions_loses_nothing(db):
    folder = spool_dir(db)
    spool = Spool(folder)
    acked: list[dict] = []
    stop = threading.Event()

    def receive() -> None:
        k = 0
        while not stop.is_set() and k < 240:
            body = _event(INPUTS[k % 3], k, "connected" if k % 2 == 0 else "disconnected")
            if spool.append("event", body, source="notification")[1]:
                acked.append(body)
            k += 1

    writer = threading.Thread(target=receive)
    writer.start()
    rounds = 0
    while writer.is_alive() or rounds < 2:  # seal and compact while the writer appends
        sync_live(_ctx(db), "live_events")
        rounds += 1
    writer.join()
    sync_live(_ctx(db), "live_events")
    held_ev, _ = _held(db)
    want = {(b["data"]["input_id"], _ts(datetime.fromisoformat(
        b["data"]["updated_at"].replace("Z", "+00:00"))), b["data"]["event_type"])
        for b in acked}
    assert held_ev == want and len(want) == 240
    assert _counts(folder) == _tally(acked)
