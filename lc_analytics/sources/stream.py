"""Stream REST source: live inputs, every video, and storage-usage snapshots, as plain rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from .. import facts
from ..client.http import CloudflareClient
from ..client.paginators import TimeCursorPaginator, paginate

log = logging.getLogger(__name__)

PAGE_SIZE = facts.LIST_VIDEOS_PAGE_SIZE  # Cloudflare's maximum for list videos


def parse_time(value: object) -> datetime | None:
    """RFC 3339 text (with `Z`, fractions or an offset) to an aware datetime; None stays None.

    >>> parse_time("2026-06-30T19:04:05.123Z").isoformat()
    '2026-06-30T19:04:05.123000+00:00'
    """
    if value in (None, ""):
        return None
    text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
    return datetime.fromisoformat(text)


def _number(value: object) -> float | None:
    """A number that may arrive as a string (pctComplete) or as -1 for unknown."""
    if value in (None, ""):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _known(value: object) -> float | None:
    """Stream's `-1` (unknown yet) becomes None."""
    n = _number(value)
    return None if n is None or n < 0 else n


def _int_or_none(value: object) -> int | None:
    n = _known(value)
    return None if n is None else int(n)


def video_row(v: dict) -> dict:
    """One Stream video object as a `videos` row (tolerant of -1s and string numbers)."""
    status = v.get("status") or {}
    inp = v.get("input") or {}
    meta = v.get("meta") or {}
    return {
        "uid": v["uid"],
        "created": parse_time(v.get("created")),
        "modified": parse_time(v.get("modified")),
        "uploaded": parse_time(v.get("uploaded")),
        "ready_to_stream_at": parse_time(v.get("readyToStreamAt")),
        "ready_to_stream": bool(v.get("readyToStream")),
        "state": status.get("state"),
        "pct_complete": _number(status.get("pctComplete")),
        # The docs' error example spells these errReason*; the schema says errorReason*.
        "error_reason_code": status.get("errorReasonCode") or status.get("errReasonCode") or None,
        "error_reason_text": status.get("errorReasonText") or status.get("errReasonText") or None,
        "duration_seconds": _known(v.get("duration")),
        "size_bytes": _int_or_none(v.get("size")) or 0,
        "width": _int_or_none(inp.get("width")),
        "height": _int_or_none(inp.get("height")),
        "live_input_uid": v.get("liveInput") or None,
        "creator": v.get("creator") or None,
        "name": meta.get("name") if isinstance(meta, dict) else None,
        "scheduled_deletion": parse_time(v.get("scheduledDeletion")),
        "max_duration_seconds": _int_or_none(v.get("maxDurationSeconds")),
        "upload_expiry": parse_time(v.get("uploadExpiry")),
        "require_signed_urls": bool(v.get("requireSignedURLs")),
    }


def live_input_row(li: dict) -> dict:
    """One full live input object (GET single) as a `live_inputs` row."""
    rec = li.get("recording") or {}
    meta = li.get("meta") or {}
    days = li.get("deleteRecordingAfterDays")
    return {
        "uid": li["uid"],
        "name": meta.get("name") if isinstance(meta, dict) else None,
        "created": parse_time(li.get("created")),
        "modified": parse_time(li.get("modified")),
        "enabled": bool(li.get("enabled", True)),
        "recording_mode": rec.get("mode"),
        "recording_timeout_seconds": _int_or_none(rec.get("timeoutSeconds")),
        "delete_recording_after_days": None if days is None else int(days),
        "status": li.get("status") if isinstance(li.get("status"), str)
        else (li.get("status") or {}).get("current", {}).get("state")
        if isinstance(li.get("status"), dict) else None,
    }


def live_input_items(client: CloudflareClient) -> list[dict]:
    """The live-input list: abbreviated items (uid, created, modified, meta, enabled)."""
    page = client.get(client.account_path("stream/live_inputs"), {"include_counts": "true"})
    result = page.result or {}
    return list(result.get("liveInputs", []) if isinstance(result, dict) else result)


def live_input(client: CloudflareClient, uid: str) -> dict:
    """One live input in full (GET single) as a `live_inputs` row."""
    return live_input_row(client.get(client.account_path(f"stream/live_inputs/{uid}")).result)


def iter_live_inputs(client: CloudflareClient) -> Iterator[dict]:
    """Every live input: the list gives abbreviated items, so GET each one in full."""
    for item in live_input_items(client):
        yield live_input(client, item["uid"])


def iter_videos(client: CloudflareClient, *, page_size: int = PAGE_SIZE,
                start: datetime | None = None) -> Iterator[dict]:
    """Every video (created at or after `start`, if given), oldest first, each exactly once.

    Stream does not paginate: it returns up to `limit` videos filtered by creation time;
    `TimeCursorPaginator` rewinds the cursor so that videos sharing a timestamp are never
    skipped, and drops duplicates by uid.
    """
    where = client.account_path("stream")
    request = {"asc": "true", "limit": str(page_size), "include_counts": "true"}
    if start is not None:
        request["after"] = start.isoformat().replace("+00:00", "Z")
    paginator = TimeCursorPaginator(page_size, where, parse_time)
    for v in paginate(lambda params: client.get(where, params), request, paginator,
                      lambda page: page.result or []):
        yield video_row(v)


def video_total(client: CloudflareClient) -> int | None:
    """How many videos the account lists now (one request of one item, with counts)."""
    page = client.get(client.account_path("stream"), {"limit": "1", "include_counts": "true"})
    return None if page.total is None else int(page.total)


def storage_usage(client: CloudflareClient, taken_at: datetime) -> dict:
    """One `stream_storage_snapshots` row for the whole account."""
    r = client.get(client.account_path("stream/storage-usage")).result or {}
    return {
        "taken_at": taken_at,
        "creator": r.get("creator") or "",
        "total_storage_minutes": float(r.get("totalStorageMinutes") or 0),
        "total_storage_minutes_limit": int(r.get("totalStorageMinutesLimit") or 0),
        "video_count": int(r.get("videoCount") or 0),
    }
