"""De-duplication survives compaction: after the sync compacted the spool and the receiver
restarted, a redelivered event is acknowledged but neither stored nor counted again; the
memory of let-go ids is bounded by age and size."""

from __future__ import annotations

import json
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from lc_analytics.live import spool as S
from lc_analytics.live.metrics import LiveMetrics
from lc_analytics.live.receiver import ReceiverConfig, create_app
from lc_analytics.live.spool import Spool, read_records
from lc_analytics.settings import Secret

from .test_live_receiver import HOOK_SECRET, NOTE_SECRET, _AsgiClient
from .test_live_spool import INPUTS, _event

DAY = 86_400.0


def _receiver(folder: Path, at: float) -> _AsgiClient:
    """A receiver (a fresh process's: its de-dup memory read from the spool) at clock `at`."""
    config = ReceiverConfig(Secret(NOTE_SECRET), Secret(HOOK_SECRET))
    return _AsgiClient(create_app(Spool(folder), config, clock=lambda: at))


def _deliver(client: _AsgiClient, body: dict) -> bool:
    r = client.post("/notifications", content=json.dumps(body).encode(),
                    headers={"cf-webhook-auth": NOTE_SECRET})
    assert r.status_code == 200
    return bool(r.json()["stored"])


def _events_counter(folder: Path) -> dict[tuple[str, str], float]:
    """`lc_live_input_events_total` as scraped: {(event_type, error_code): n}."""
    registry = CollectorRegistry()
    registry.register(LiveMetrics(Spool(folder), folder.parent / "absent.duckdb"))
    text = generate_latest(registry).decode()
    return {(s.labels["event_type"], s.labels["error_code"]): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == "lc_live_input_events_total"}


def _compact(folder: Path) -> int:
    return S.compact(folder, S.seal(folder))["event"]


def test_a_redelivery_after_compaction_and_restart_is_not_counted_again(tmp_path):
    folder = tmp_path / "wh.spool"
    first = [_event(INPUTS[0], 0, "connected"), _event(INPUTS[0], 3, "disconnected"),
             _event(INPUTS[0], 4, "connected"),
             _event(INPUTS[0], 5, "errored", "ERR_STORAGE_QUOTA_EXHAUSTED"),
             _event(INPUTS[0], 10, "disconnected")]
    client = _receiver(folder, 1000.0)
    assert all(_deliver(client, b) for b in first)
    want = {("live_input.connected", ""): 2.0, ("live_input.disconnected", ""): 2.0,
            ("live_input.errored", "ERR_STORAGE_QUOTA_EXHAUSTED"): 1.0}
    assert _events_counter(folder) == want
    assert _compact(folder) == 4  # the last event is kept for the poller, four let go
    assert len(list(read_records(folder, "event"))) == 1
    assert _events_counter(folder) == want
    # the receiver restarts; the sender redelivers every event (all of them, out of order)
    client = _receiver(folder, 1000.0 + 3600)
    assert not any(_deliver(client, b) for b in reversed(first))
    assert _events_counter(folder) == want
    assert len(list(read_records(folder, "event"))) == 1
    # a second compaction keeps the memory (and a new event is still new)
    assert _deliver(client, _event(INPUTS[1], 20, "connected"))
    _compact(folder)
    client = _receiver(folder, 1000.0 + 7200)
    assert not any(_deliver(client, b) for b in first)
    assert _events_counter(folder) == {**want, ("live_input.connected", ""): 3.0}
    assert set(S.remembered(folder, "event")) == {S.content_id("event", b) for b in first[:4]}


def test_the_memory_is_bounded_by_age_and_size(tmp_path, monkeypatch):
    folder = tmp_path / "wh.spool"
    old = [_event(INPUTS[0], k, "connected") for k in range(3)]
    client = _receiver(folder, 0.0)
    for b in old:
        _deliver(client, b)
    _compact(folder)
    assert len(S.remembered(folder, "event")) == 2  # the latest is kept in the base
    # a week and a second later: the old ids are forgotten, the new ones remembered
    client = _receiver(folder, S.DEDUP_SECONDS + 1.0)
    monkeypatch.setattr(S, "DEDUP_MAX", 3)
    new = [_event(INPUTS[1], k, "connected") for k in range(6)]
    for b in new:
        assert _deliver(client, b)
    _compact(folder)
    gone = sorted(S.content_id("event", b) for b in new[:5])  # the last is kept in the base
    assert sorted(S.remembered(folder, "event")) == gone[2:]  # the newest three (ties: by id)
    assert all(at == S.DEDUP_SECONDS + 1.0 for at in S.remembered(folder, "event").values())
    assert not set(S.remembered(folder, "event")) & {S.content_id("event", b) for b in old}
