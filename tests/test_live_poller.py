"""The viewer poller: polls only live inputs, spools counts, records failures as gaps (never
zeros) and backs off; the `live watch` command's bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from lc_analytics.cli import main
from lc_analytics.live.poller import Poller, live_from_events
from lc_analytics.live.spool import Spool, read_records

A, B = "a" * 32, "b" * 32


def _event(uid, kind, at):
    return {"data": {"input_id": uid, "event_type": kind, "updated_at": at}}


def test_live_inputs_follow_the_last_event_by_time_not_by_arrival(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.append("event", _event(A, "live_input.disconnected", "2026-07-01T19:00:00.000000Z"))
    spool.append("event", _event(A, "live_input.connected", "2026-07-01T18:00:00.000000Z"))
    spool.append("event", _event(B, "live_input.connected", "2026-07-01T18:00:00.000000Z"))
    spool.append("event", _event(B, "live_input.errored", "2026-07-01T18:10:00.000000Z"))
    assert live_from_events(spool) == {B}  # A's disconnect came first but happened later


def test_failed_polls_are_gaps_and_back_off(tmp_path):
    spool = Spool(tmp_path / "s")
    spool.append("event", _event(A, "live_input.connected", "2026-07-01T18:00:00.000000Z"))
    spool.append("event", _event(B, "live_input.connected", "2026-07-01T18:00:00.000000Z"))
    calls = {A: 0, B: 0}
    failing = {B: 3}  # B's first three polls fail

    def answer(request: httpx.Request) -> httpx.Response:
        uid = request.url.path.split("/")[1]
        calls[uid] += 1
        if calls[uid] <= failing.get(uid, 0):
            return httpx.Response(503)
        return httpx.Response(200, json={"liveViewers": 40 + calls[uid]})

    clock = {"t": datetime(2026, 7, 1, 18, 1, tzinfo=UTC)}
    with httpx.Client(transport=httpx.MockTransport(answer)) as http:
        poller = Poller(spool, "https://customer-x.cloudflarestream.com", http,
                        now=lambda: clock["t"])
        for _ in range(8):
            poller.poll_once()
            clock["t"] += timedelta(seconds=1)
    samples = [r["body"] for r in read_records(spool.folder, "sample")]
    a = [s["viewers"] for s in samples if s["live_input_uid"] == A]
    b = [(s["at"][17:19], s["status"], s["viewers"]) for s in samples if s["live_input_uid"] == B]
    assert a == [41, 42, 43, 44, 45, 46, 47, 48]
    # B fails at 0 s (retry after 1 s), 1 s (after 2 s), 3 s (after 4 s), then answers at 7 s
    assert b == [("00", "gap", None), ("01", "gap", None), ("03", "gap", None),
                 ("07", "ok", 44)]


def test_with_no_events_the_api_status_says_what_is_live(tmp_path):
    spool = Spool(tmp_path / "s")
    with httpx.Client(transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={}))) as http:
        poller = Poller(spool, "https://h", http, status=lambda: {A})
        assert [(s["live_input_uid"], s["status"]) for s in poller.poll_once()] == \
            [(A, "hidden")]


@pytest.mark.parametrize("interval", ["0s", "fast", "-5", "inf"])
def test_live_watch_refuses_a_bad_interval(interval, capsys):
    assert main(["live", "watch", "--interval", interval]) == 2
    assert "--interval must be a duration of at least 1s" in capsys.readouterr().err
