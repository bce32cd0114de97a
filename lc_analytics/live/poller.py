"""The viewer poller behind `lc-analytics live watch`: while a live input is live, poll its
`/views` and append each count to the spool; a failed poll is a gap, never a zero.

Which inputs are live comes from the spooled events (the last `live_input.*` event of an
input is `connected`), or, when events are missing, from the inputs' `status` in the Stream
API (`connected`). A failing input is retried with a doubling delay (up to `MAX_BACKOFF`),
and each failed attempt is spooled as a gap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx

from .spool import Spool, read_records

log = logging.getLogger(__name__)
#: Why a poll of an input that hides its count has no number (the answer held none).
HIDDEN_REASON = "recording.hideLiveViewerCount: /views answered no liveViewers"
MAX_BACKOFF = 300.0


def views_url(base_url: str, live_input_uid: str) -> str:
    """The live viewer count's URL of a live input.

    >>> views_url("https://customer-abc.cloudflarestream.com", "f" * 32)[-12:]
    'ffffff/views'
    """
    return f"{base_url.rstrip('/')}/{live_input_uid}/views"


def live_from_events(spool: Spool) -> set[str]:
    """Inputs whose last spooled live-input event (by event time) is `connected`."""
    last: dict[str, tuple[str, str]] = {}
    for r in read_records(spool.folder, "event"):
        data = (r.get("body") or {}).get("data") if isinstance(r.get("body"), dict) else None
        if not isinstance(data, dict) or not str(data.get("event_type", "")).startswith(
                "live_input."):
            continue
        uid, at = data.get("input_id"), str(data.get("updated_at", ""))
        if uid and (uid not in last or at >= last[uid][0]):
            if data["event_type"] == "live_input.errored" and uid in last:
                continue
            last[uid] = (at, data["event_type"])
    return {uid for uid, (_, kind) in last.items() if kind == "live_input.connected"}


@dataclass
class Poller:
    """Polls `/views` of the live inputs; `now` and `status` are injectable for tests."""

    spool: Spool
    base_url: str
    http: httpx.Client
    status: Callable[[], set[str]] | None = None  # inputs the API says are connected
    now: Callable[[], datetime] = lambda: datetime.now(UTC)
    _backoff: dict[str, tuple[float, float]] = field(default_factory=dict)  # uid: (delay, next)

    def live(self) -> set[str]:
        """The inputs to poll now: from events, else from the API's status."""
        live = live_from_events(self.spool)
        if not live and self.status is not None:
            try:
                live = self.status()
            except Exception as exc:  # noqa: BLE001 - an API hiccup must not stop the poller
                log.warning("live inputs' status could not be read: %s", exc)
        return live

    def poll_once(self) -> list[dict]:
        """One round: a sample (or a gap) per live input that is not backing off."""
        at = self.now()
        clock = at.timestamp()
        out = []
        for uid in sorted(self.live()):
            delay, due = self._backoff.get(uid, (0.0, 0.0))
            if clock < due:
                continue
            sample = self._poll(uid, at)
            if sample["status"] == "gap":
                delay = min(max(delay * 2, 1.0), MAX_BACKOFF)
                self._backoff[uid] = (delay, clock + delay)
            else:
                self._backoff.pop(uid, None)
            out.append(sample)
        self.spool.append_many("sample", out)
        return out

    def _poll(self, uid: str, at: datetime) -> dict:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        try:
            r = self.http.get(views_url(self.base_url, uid), timeout=10)
            r.raise_for_status()
            answer = r.json()
        except httpx.HTTPStatusError as exc:
            return self._gap(uid, stamp, f"HTTP {exc.response.status_code}")
        except (httpx.HTTPError, ValueError) as exc:
            return self._gap(uid, stamp, type(exc).__name__)
        count = answer.get("liveViewers") if isinstance(answer, dict) else None
        if isinstance(count, bool) or not isinstance(count, int):
            # the input hides its count (recording.hideLiveViewerCount): no number, not a zero
            return {"live_input_uid": uid, "at": stamp, "viewers": None, "status": "hidden",
                    "reason": HIDDEN_REASON}
        return {"live_input_uid": uid, "at": stamp, "viewers": count, "status": "ok"}

    @staticmethod
    def _gap(uid: str, stamp: str, reason: str) -> dict:
        log.warning("views of %s: %s; recorded as a gap", uid, reason)
        return {"live_input_uid": uid, "at": stamp, "viewers": None, "status": "gap",
                "reason": reason}

    def run(self, interval: float, rounds: int | None = None) -> None:
        """Poll every `interval` seconds (forever, or `rounds` times)."""
        n = 0
        while rounds is None or n < rounds:
            started = time.monotonic()
            self.poll_once()
            n += 1
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
