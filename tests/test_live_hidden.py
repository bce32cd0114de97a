"""`recording.hideLiveViewerCount`: the sandbox honours it (PUT, GET, `/views` answers no
number), and the poller records such a poll as a gap with its reason, never a zero, as it
does a failed poll; the warehouse and the sessions keep both apart from good samples."""

from __future__ import annotations

import json
from types import SimpleNamespace

import httpx
import pandas as pd

from lc_analytics.live.ingest import sync_live
from lc_analytics.live.poller import HIDDEN_REASON, Poller
from lc_analytics.live.spool import Spool, spool_dir
from lc_analytics.readmodel import live_sessions, viewer_samples
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sandbox.apis import live_views
from lc_analytics.sandbox.emulator import Emulator
from lc_analytics.sync_report import Progress, SyncReport
from lc_analytics.warehouse import Warehouse


def _put(em: Emulator, uid: str, recording: dict):
    path = f"/client/v4/accounts/{em.account.account_id}/stream/live_inputs/{uid}"
    return em.handle("PUT", path, "", {"Authorization": f"Bearer {em.token}"},
                     json.dumps({"recording": recording}).encode())


def _get(em: Emulator, uid: str) -> dict:
    path = f"/client/v4/accounts/{em.account.account_id}/stream/live_inputs/{uid}"
    return em.handle("GET", path, "", {"Authorization": f"Bearer {em.token}"}, b"").json()


def _views_transport(em: Emulator, fail: set[int]) -> httpx.MockTransport:
    """`/views` served by the emulator; the polls numbered in `fail` answer 503."""
    calls = {"n": 0}

    def answer(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] in fail:
            return httpx.Response(503)
        got = em.handle("GET", request.url.path, "", {}, b"")
        return httpx.Response(got.status, content=got.body)
    return httpx.MockTransport(answer)


def test_a_hidden_count_is_a_gap_with_its_reason_not_a_zero(account, tmp_path):
    em = Emulator(account)
    live = L.truth(account)
    calm = live["sessions"][(live["sessions"]["reconnects"] == 0)
                            & (live["sessions"]["live_minutes"] > 0)].iloc[-1]
    uid = calm["live_input_uid"]
    curve = live["curve"][live["curve"]["show_uid"] == calm["show_uid"]].reset_index(drop=True)
    minutes = curve.iloc[2:6]  # four minutes of the show, all watched
    assert (minutes["viewers"] > 0).all()
    # the setting: refused unless a boolean, then stored and shown
    bad = _put(em, uid, {"hideLiveViewerCount": "yes"})
    assert bad.status == 400 and "recording.hideLiveViewerCount must be true or false" \
        in bad.json()["errors"][0]["message"]
    assert _get(em, uid)["result"]["recording"]["hideLiveViewerCount"] is False
    assert _put(em, uid, {"hideLiveViewerCount": True}).status == 200
    assert _get(em, uid)["result"]["recording"]["hideLiveViewerCount"] is True
    db = tmp_path / "wh.duckdb"
    spool = Spool(spool_dir(db))
    clock = {"at": minutes["minute"].iloc[0]}
    with httpx.Client(transport=_views_transport(em, fail={3})) as http:
        poller = Poller(spool, "https://customer-x.cloudflarestream.com", http,
                        status=lambda: {uid}, now=lambda: clock["at"].to_pydatetime())
        polled = []
        for i, minute in enumerate(minutes["minute"]):
            if i == 2:  # the broadcaster shows the count again
                assert _put(em, uid, {"hideLiveViewerCount": False}).status == 200
            clock["at"] = minute + pd.Timedelta(seconds=30)
            live_views.set_live_clock(em, clock["at"])
            if i == 1:
                assert em.handle("GET", f"/{uid}/views", "", {}, b"").json() == {}
            polled += poller.poll_once()
    assert [(s["status"], s["viewers"], s.get("reason")) for s in polled] == [
        ("hidden", None, HIDDEN_REASON), ("hidden", None, HIDDEN_REASON),
        ("gap", None, "HTTP 503"), ("ok", int(minutes["viewers"].iloc[3]), None)]
    # into the warehouse: NULL with the reason, never 0; the session counts both as gaps
    for kind, minute in (("connected", 0), ("disconnected", 10)):
        spool.append("event", {"data": {
            "input_id": uid, "event_type": f"live_input.{kind}",
            "updated_at": (minutes["minute"].iloc[0] + pd.Timedelta(minutes=minute - 1))
            .strftime("%Y-%m-%dT%H:%M:%SZ")}}, source="notification")
    wh = Warehouse(db)
    sync_live(SimpleNamespace(settings=SimpleNamespace(db_path=db), warehouse=wh,
                              now=account.now.to_pydatetime(), client=None,
                              report=SyncReport(""), progress=Progress("none")), "live_events")
    got = viewer_samples(wh, uid)
    assert got["status"].tolist() == ["hidden", "hidden", "gap", "ok"]
    assert got["viewers"].isna().tolist() == [True, True, True, False]
    assert got["reason"].tolist()[:3] == [HIDDEN_REASON, HIDDEN_REASON, "HTTP 503"]
    (s,) = live_sessions(wh).itertuples()
    assert (s.samples, s.gaps, s.hidden) == (1, 3, 2)
    assert s.peak_viewers == minutes["viewers"].iloc[3]
