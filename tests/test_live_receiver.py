"""The webhook receiver: secrets checked (in constant time), replays refused, duplicates and
disorder absorbed, every acknowledged event durable, even through SIGKILL."""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pandas as pd
import pytest

from lc_analytics.live.receiver import ReceiverConfig, create_app
from lc_analytics.live.spool import Spool, read_records
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sandbox.apis import live_delivery, stream_webhook
from lc_analytics.sandbox.emulator import Emulator
from lc_analytics.settings import Secret

NOTE_SECRET, HOOK_SECRET = "note-s3cret-value", "hook-s3cret-value"


class _AsgiClient:
    """A synchronous client for an ASGI app, in-process (httpx's ASGI transport)."""

    def __init__(self, app) -> None:
        self.app = app

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        async def go() -> httpx.Response:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app),
                                         base_url="http://receiver") as c:
                return await c.request(method, path, **kwargs)
        return asyncio.run(go())

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self._call("POST", path, **kwargs)

    def get(self, path: str) -> httpx.Response:
        return self._call("GET", path)


def _client(tmp_path, clock=time.time):
    spool = Spool(tmp_path / "wh.spool")
    config = ReceiverConfig(Secret(NOTE_SECRET), Secret(HOOK_SECRET), tolerance=300)
    return _AsgiClient(create_app(spool, config, clock=clock)), spool


def _note(event_type="live_input.connected", at="2026-06-30T19:00:00.000000Z"):
    return {"name": "live", "text": "x", "ts": 1, "data": {
        "notification_name": "Stream Live Input", "input_id": "a" * 32,
        "event_type": event_type, "updated_at": at}}


def test_notifications_need_the_destination_secret_and_rejections_say_why(tmp_path, caplog):
    client, spool = _client(tmp_path)
    body = json.dumps(_note()).encode()
    caplog.set_level(logging.WARNING, "lc_analytics.events")
    assert client.post("/notifications", content=body).status_code == 401
    bad = client.post("/notifications", content=body,
                      headers={"cf-webhook-auth": NOTE_SECRET + "x"})
    assert bad.status_code == 401 and spool.count("event") == 0
    reasons = [r.getMessage() for r in caplog.records]
    assert len(reasons) == 2
    assert "missing cf-webhook-auth header" in reasons[0]
    assert "does not match the destination secret" in reasons[1]
    assert not any(NOTE_SECRET in r for r in reasons)
    ok = client.post("/notifications", content=body, headers={"cf-webhook-auth": NOTE_SECRET})
    again = client.post("/notifications", content=body,
                        headers={"cf-webhook-auth": NOTE_SECRET})
    assert ok.status_code == again.status_code == 200
    assert (ok.json()["stored"], again.json()["stored"]) == (True, False)
    assert [r["body"] for r in read_records(spool.folder, "event")] == [_note()]
    junk = client.post("/notifications", content=b"{nope",
                       headers={"cf-webhook-auth": NOTE_SECRET})
    assert junk.status_code == 400
    assert client.get("/health").json() == {"status": "ok", "events": 1, "samples": 0}


def test_stream_webhook_signatures_and_replays(tmp_path, caplog):
    now = [1_800_000_000.0]
    client, spool = _client(tmp_path, clock=lambda: now[0])
    body = json.dumps({"uid": "b" * 32, "readyToStream": True}).encode()
    sig = stream_webhook.signature(HOOK_SECRET, int(now[0]), body)
    caplog.set_level(logging.WARNING, "lc_analytics.events")
    assert client.post("/stream-webhook", content=body,
                       headers={"webhook-signature": sig}).status_code == 200
    forged = stream_webhook.signature(HOOK_SECRET + "x", int(now[0]), body)
    assert client.post("/stream-webhook", content=body,
                       headers={"webhook-signature": forged}).status_code == 401
    assert client.post("/stream-webhook", content=body + b" ",
                       headers={"webhook-signature": sig}).status_code == 401
    now[0] += 301  # the same signed delivery, replayed later
    assert client.post("/stream-webhook", content=body,
                       headers={"webhook-signature": sig}).status_code == 401
    assert client.post("/stream-webhook", content=body,
                       headers={"webhook-signature": "time=x"}).status_code == 401
    reasons = [r.getMessage() for r in caplog.records]
    assert ["does not match the body" in reasons[0], "does not match the body" in reasons[1],
            "a replay" in reasons[2], "malformed" in reasons[3]] == [True] * 4
    assert not any(HOOK_SECRET in r for r in reasons)
    assert spool.count("event") == 1


def test_sandbox_deliveries_with_every_fault_land_once_each(account, tmp_path):
    client, spool = _client(tmp_path)
    em = Emulator(account)
    from .test_live_sandbox import _configure_destinations

    _configure_destinations(em, url="http://receiver/notifications", secret=NOTE_SECRET)
    hook = stream_webhook.state(em)
    hook.url, hook.secret = "http://receiver/stream-webhook", HOOK_SECRET

    def send(url, body, headers):
        return client.post(url.replace("http://receiver", ""), content=body,
                           headers=headers).status_code

    live_delivery.configure(em, faults=live_delivery.DeliveryFaults(
        duplicates=0.3, delays=0.3, bad_signatures=0.2, shuffle=True, seed=4), send=send)
    account.advance(3)
    sent = live_delivery.deliver_until(em, account.now)
    assert {s["status"] for s in sent if s["forged"]} == {401}
    assert {s["status"] for s in sent if not s["forged"]} == {200}
    stored = list(read_records(spool.folder, "event"))
    notes = {(r["body"]["data"]["input_id"], r["body"]["data"]["event_type"],
              r["body"]["data"]["updated_at"]) for r in stored if r["source"] == "notification"}
    ev = L.truth(account)["events"]
    ev = ev[ev["at"] > account.now - pd.Timedelta(days=3)]
    assert notes == {(r.live_input_uid, r.event_type, r.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
                     for r in ev.itertuples()}
    assert len(stored) == len({r["id"] for r in stored}) == len(notes) + sum(
        r["source"] == "stream_webhook" for r in stored)


# --- SIGKILL while events arrive -----------------------------------------------------------
# A fork server: imports once, then forks one receiver per trial (on a Unix socket in the
# trial's folder) and prints its pid; the test SIGKILLs that child while it is being fed.
FORK_SERVER = """
import os, signal, sys, uvicorn
from lc_analytics.live.receiver import ReceiverConfig, create_app
from lc_analytics.live.spool import Spool
from lc_analytics.settings import Secret
signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # killed children are reaped at once
for line in sys.stdin:
    folder = line.strip()
    pid = os.fork()
    if pid == 0:
        app = create_app(Spool(folder + "/spool"), ReceiverConfig(Secret(sys.argv[1]), None))
        uvicorn.run(app, uds=folder + "/r.sock", log_level="critical", access_log=False)
        os._exit(0)
    print(pid, flush=True)
"""


class _UnixHTTP(http.client.HTTPConnection):
    """HTTP/1.1 over the receiver's Unix socket."""

    def __init__(self, path: str) -> None:
        super().__init__("receiver", timeout=2)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            sock.connect(self.unix_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _trial(server: subprocess.Popen, folder: Path, rng: random.Random) -> tuple[set, int]:
    sock = folder / "r.sock"
    server.stdin.write(f"{folder}\n")
    server.stdin.flush()
    pid = int(server.stdout.readline())
    acked: set[str] = set()
    stop = threading.Event()

    def fire(worker: int) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            conn = _UnixHTTP(str(sock))
            try:
                conn.request("POST", "/notifications", json.dumps(_note(at=f"w{worker}-{n}")),
                             {"cf-webhook-auth": NOTE_SECRET})
                r = conn.getresponse()
                if r.status == 200:
                    acked.add(json.loads(r.read())["id"])
            except (OSError, http.client.HTTPException):  # killed mid-request: not acked
                time.sleep(0.002)
            finally:
                conn.close()

    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.002)
    workers = [threading.Thread(target=fire, args=(i,)) for i in range(3)]
    for w in workers:
        w.start()
    while not acked and time.monotonic() < deadline:
        time.sleep(0.002)
    time.sleep(rng.uniform(0.0, 0.1))  # mid-stream: requests in flight at every stage
    os.kill(pid, signal.SIGKILL)
    while not _gone(pid):
        time.sleep(0.001)
    stop.set()
    for w in workers:
        w.join()
    stored = {r["id"] for r in read_records(folder / "spool", "event")}
    Spool(folder / "spool")  # reopening for writing drops a torn tail and keeps the rest
    assert {r["id"] for r in read_records(folder / "spool", "event")} == stored
    return acked - stored, len(acked)


def test_a_receiver_killed_while_events_arrive_loses_nothing_it_acknowledged(tmp_path):
    rng = random.Random(14)
    lost: list[str] = []
    acked = 0
    server = subprocess.Popen([sys.executable, "-c", FORK_SERVER, NOTE_SECRET],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        for trial in range(20):
            folder = tmp_path / f"t{trial}"
            folder.mkdir()
            missing, n = _trial(server, folder, rng)
            lost += missing
            acked += n
    finally:
        server.stdin.close()
        server.wait(timeout=10)
        server.stdout.close()
    assert lost == [] and acked >= 20


@pytest.mark.parametrize("value", ["", "   "])
def test_the_receiver_needs_a_secret(value):
    from lc_analytics.errors import ConfigError
    from lc_analytics.live.config import receiver_config

    with pytest.raises(ConfigError, match="neither LC_EVENTS_NOTIFICATION_SECRET nor"):
        receiver_config({"LC_EVENTS_NOTIFICATION_SECRET": value}, env_file=None)
    with pytest.raises(ConfigError, match="LC_EVENTS_TOLERANCE must be a positive"):
        receiver_config({"LC_STREAM_WEBHOOK_SECRET": "s", "LC_EVENTS_TOLERANCE": "-1"},
                        env_file=None)
