"""Taking the spool into the warehouse, and recovering missed events from the alerting history.

The sync's `live_events` step (`sync_live`): every whole record of the spool becomes a row of
`live_input_events` or `live_viewer_samples` (upserts on natural keys: re-running changes
nothing), then `GET /alerting/v3/history` is read from a day before the last run, so events
sent while the receiver was down still land. The spool's files are sealed first (the receiver
goes on appending to fresh ones) and, once the warehouse has committed their records,
compacted (`spool.seal`, `spool.compact`): the spool does not grow for ever, and a sync
killed at any point loses nothing and duplicates nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..client.http import CloudflareClient
from ..client.paginators import PageNumberPaginator, paginate
from ..errors import AuthError
from ..readmodel.live import live_events
from ..sources.stream import parse_time
from .spool import compact, read_records, seal, spool_dir

log = logging.getLogger(__name__)
LIVE_ALERT = "stream_live_notifications"
HISTORY_PAGE = 1000
FIRST_BACKFILL_DAYS = 30  # how far back the first run reads the alerting history


def event_row(body: Any, source: str, received_at: float | None = None) -> dict | None:
    """A `live_input_events` row from a Notifications payload or a Stream webhook video
    (None for anything else, e.g. another alert type).

    >>> event_row({"data": {"input_id": "a" * 32, "event_type": "live_input.connected",
    ...                     "updated_at": "2026-06-30T19:00:00Z"}}, "notification")["event_at"]
    datetime.datetime(2026, 6, 30, 19, 0, tzinfo=datetime.timezone.utc)
    """
    if not isinstance(body, dict):
        return None
    received = datetime.fromtimestamp(received_at, UTC) if received_at else None
    if source == "stream_webhook":
        state = (body.get("status") or {}).get("state")
        at = parse_time(body.get("readyToStreamAt") or body.get("modified"))
        if not body.get("liveInput") or at is None:
            return None
        return {"live_input_uid": body["liveInput"], "event_at": at,
                "event_type": "video.ready" if state == "ready" else "video.error",
                "error_code": (body.get("status") or {}).get("errorReasonCode") or None,
                "error_message": None, "video_uid": body.get("uid"), "source": source,
                "received_at": received}
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("input_id") or not data.get("event_type"):
        return None
    error = ((data.get("live_input_errored") or {}).get("error")) or {}
    return {"live_input_uid": data["input_id"],
            "event_at": parse_time(data.get("updated_at")),
            "event_type": data["event_type"], "error_code": error.get("code"),
            "error_message": error.get("message"), "video_uid": None, "source": source,
            "received_at": received}


def sample_row(body: dict) -> dict:
    """A `live_viewer_samples` row from a spooled poll."""
    return {"live_input_uid": body["live_input_uid"], "sampled_at": parse_time(body["at"]),
            "viewers": body.get("viewers"), "status": body["status"],
            "reason": body.get("reason")}


def spool_rows(folder: Path) -> tuple[list[dict], list[dict]]:
    """(event rows, sample rows) of every whole record in the spool at `folder`."""
    events = [row for r in read_records(folder, "event")
              if (row := event_row(r["body"], r.get("source", ""), r.get("received_at")))]
    samples = [sample_row(r["body"]) for r in read_records(folder, "sample")]
    return _unique(events), _unique(samples)


def history_rows(client: CloudflareClient, since: datetime, before: datetime) -> Iterator[dict]:
    """Live-input events the alerting history lists as sent in [since, before)."""
    request = {"since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
               "before": before.strftime("%Y-%m-%dT%H:%M:%SZ"), "per_page": HISTORY_PAGE,
               "page": 1}
    path = client.account_path("alerting/v3/history")
    fetch = lambda req: client.get(path, dict(req), permission="notifications")  # noqa: E731
    for item in paginate(fetch, request, PageNumberPaginator(HISTORY_PAGE),
                         lambda page: list(page.result or [])):
        if item.get("alert_type") != LIVE_ALERT:
            continue
        try:
            body = json.loads(item.get("alert_body") or "null")
        except json.JSONDecodeError:
            log.warning("alerting history item %s has a body that is not JSON", item.get("id"))
            continue
        row = event_row(body, "history")
        if row is not None:
            yield row


def sync_live(ctx: Any, source: str) -> None:
    """The sync step: the spool, then the alerting history since the last run."""
    folder = spool_dir(ctx.settings.db_path)
    sealed = seal(folder)  # what this run may compact once its rows are committed
    events, samples = spool_rows(folder)
    wm = ctx.warehouse.get_watermark(source)
    now = ctx.now if ctx.now.tzinfo else ctx.now.replace(tzinfo=UTC)
    since = now - timedelta(days=FIRST_BACKFILL_DAYS) if wm is None else \
        datetime.combine(wm - timedelta(days=1), datetime.min.time(), UTC)
    backfill, note = [], ""
    if ctx.client is not None:
        try:
            backfill = list(history_rows(ctx.client, since, now + timedelta(seconds=1)))
        except AuthError as exc:  # the token cannot read Notifications: say so, go on
            note = f"; alerting history not read ({exc.message.split('.')[0]})"
            log.warning("live events: %s", exc)
    known = {(e["live_input_uid"], e["event_at"], e["event_type"]) for e in events}
    if backfill:  # received before (and maybe compacted out of the spool since): keep as is
        held = live_events(ctx.warehouse)
        held = held[held["at"] >= since]
        known |= {(u, at.to_pydatetime(), k) for u, at, k in
                  zip(held["live_input_uid"], held["at"], held["event_type"], strict=True)}
    missed = [e for e in _unique(backfill)
              if (e["live_input_uid"], e["event_at"], e["event_type"]) not in known]
    with ctx.warehouse.transaction() as tx:
        n_ev = tx.upsert("live_input_events", events) if events else 0
        n_missed = tx.upsert("live_input_events", missed) if missed else 0
        n_s = tx.upsert("live_viewer_samples", samples) if samples else 0
        tx.set_watermark(source, now.date())
    let_go = compact(folder, sealed) if folder.is_dir() else {}
    if any(let_go.values()):
        note += (f"; spool compacted ({let_go.get('event', 0)} events, "
                 f"{let_go.get('sample', 0)} samples already in the warehouse let go)")
    ctx.report.rows["live_input_events"] = n_ev + n_missed
    ctx.report.rows["live_viewer_samples"] = n_s
    ctx.report.windows.setdefault(source, [])
    ctx.report.notes[source] = (f"{n_ev} spooled events, {len(missed)} more from the alerting "
                                f"history, {n_s} viewer samples{note}")
    ctx.progress.done(source, ctx.report.notes[source])


def _unique(rows: Iterable[dict]) -> list[dict]:
    """Rows with distinct natural keys (the first of each)."""
    out: dict[tuple, dict] = {}
    for r in rows:
        key = (r["live_input_uid"], r.get("event_at", r.get("sampled_at"))) \
            + ((r["event_type"],) if "event_type" in r else ())
        out.setdefault(key, r)
    return list(out.values())
