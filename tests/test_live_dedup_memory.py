"""A running receiver's (and poller's) de-dup memory is bounded like the compacted base's:
ids received more than `DEDUP_SECONDS` before the newest, and beyond the newest `DEDUP_MAX`,
are forgotten, by the one mechanism (`live.dedup.Recent`) both use."""

from __future__ import annotations

import json

from lc_analytics.live import spool as S
from lc_analytics.live.receiver import ReceiverConfig, create_app
from lc_analytics.live.spool import Spool, read_records
from lc_analytics.settings import Secret

from .test_live_receiver import HOOK_SECRET, NOTE_SECRET, _AsgiClient
from .test_live_spool import INPUTS, _event, _sample
from .test_live_spool_dedup import _compact, _deliver, _receiver


def _ids(bodies: list[dict], kind: str = "event") -> set[str]:
    return {S.content_id(kind, b) for b in bodies}


def test_the_receivers_memory_is_bounded_by_size_and_age(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "DEDUP_MAX", 4)
    monkeypatch.setattr(S, "DEDUP_SECONDS", 100.0)
    folder = tmp_path / "wh.spool"
    clock = {"at": 1000.0}
    spool = Spool(folder)
    client = _AsgiClient(create_app(spool, ReceiverConfig(Secret(NOTE_SECRET),
                                                          Secret(HOOK_SECRET)),
                                    clock=lambda: clock["at"]))
    events = [_event(INPUTS[0], k, "connected") for k in range(7)]
    for k, body in enumerate(events):  # one a second: the size bound applies
        clock["at"] = 1000.0 + k
        assert _deliver(client, body)
        assert spool.count("event") == min(k + 1, 4)
        assert not _deliver(client, body)  # a redelivery of a remembered one: stored once
    assert set(spool._seen["event"]) == _ids(events[3:])
    # the oldest three were forgotten: a redelivery of one is stored again (as after a
    # compaction that let it go: the same bound)
    assert _deliver(client, events[0])
    assert set(spool._seen["event"]) == _ids(events[4:] + events[:1])
    # 100 s after the newest: the age bound forgets all but the new one
    clock["at"] = 1006.0 + 100.5
    late = _event(INPUTS[1], 0, "connected")
    assert _deliver(client, late)
    assert set(spool._seen["event"]) == _ids([late])
    assert spool.count("event") == 1
    assert len(list(read_records(folder, "event"))) == 9  # every stored record is on disk


def test_memory_after_a_restart_and_after_compaction_is_the_same_bound(tmp_path, monkeypatch):
    monkeypatch.setattr(S, "DEDUP_MAX", 3)
    folder = tmp_path / "wh.spool"
    events = [_event(INPUTS[2], k, "connected") for k in range(6)]
    client = _receiver(folder, 500.0)
    for body in events:
        assert _deliver(client, body)
    running = Spool(folder)  # a restarted receiver reads its memory from the spool
    newest = set(sorted(_ids(events))[3:])  # all received at once: the ties go by id
    assert set(running._seen["event"]) == newest
    _compact(folder)  # compaction keeps the last event and remembers the rest, bounded alike
    assert set(S.remembered(folder, "event")) | {r["id"] for r in read_records(
        folder, "event")} == set(sorted(_ids(events[:5]))[2:]) | _ids(events[5:])
    # a poller's memory of samples (no received_at: its clock) is bounded the same way
    clock = {"at": 0.0}
    poller_spool = Spool(folder, clock=lambda: clock["at"])
    samples = [_sample(INPUTS[0], k, 10 + k) for k in range(5)]
    for k, body in enumerate(samples):
        clock["at"] = float(k)
        assert poller_spool.append("sample", body)[1]
    assert set(poller_spool._seen["sample"]) == _ids(samples[2:], "sample")
    assert json.loads((folder / S.FILES["sample"]).read_text().splitlines()[0])["body"] \
        == samples[0]
