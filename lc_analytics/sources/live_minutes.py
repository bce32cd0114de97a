"""GraphQL source: minutes viewed by the minute (`streamMinutesViewedAdaptiveGroups` grouped by
`datetime`) of the videos of live inputs, one UTC day per query (issue 14).

Only the uids asked for are read (a day's live inputs and their recordings), so the rows stay
few. `datetime` is floored to the minute and rows of one (minute, uid, country) are summed:
the reference does not document the dimension's resolution (facts.DATETIME_QUERY_DAYS).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta

from .. import facts
from ..client.http import CloudflareClient
from ..client.paginators import KeysetPaginator, paginate
from ..errors import QueryError
from .analytics import PAGE_LIMIT, Dataset, _rows, build_query

LIVE_MINUTES = Dataset(
    name="streamMinutesViewedAdaptiveGroups",
    dimensions=("uid", "datetime", "clientCountryName"),
    block="sum",
    metrics=("minutesViewed",),
    columns={"uid": "uid", "datetime": "minute", "clientCountryName": "country",
             "minutesViewed": "minutes_viewed"},
    retention_days=facts.STREAM_ANALYTICS_RETENTION_DAYS,
)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC day as aware datetimes.

    >>> [t.isoformat() for t in day_bounds(date(2026, 6, 30))]
    ['2026-06-30T00:00:00+00:00', '2026-07-01T00:00:00+00:00']
    """
    start = datetime.combine(day, datetime.min.time(), UTC)
    return start, start + timedelta(days=facts.DATETIME_QUERY_DAYS)


def minute_rows(client: CloudflareClient, day: date, uids: Iterable[str], *,
                limit: int = PAGE_LIMIT) -> list[dict]:
    """Rows {minute, uid, country, minutes_viewed} of `uids` on `day`, one per (minute, uid,
    country), paged by `uid` (`uid_gt`) like the daily datasets."""
    wanted = sorted(set(uids))
    if not wanted:
        return []
    lo, hi = day_bounds(day)
    request: dict = {"datetime_geq": _stamp(lo), "datetime_lt": _stamp(hi), "uid_in": wanted}
    paginator = KeysetPaginator("uid", limit, f"{LIVE_MINUTES.name} by minute on {day}")

    def fetch(flt: dict) -> dict:
        return client.graphql(build_query(LIVE_MINUTES, flt, limit),
                              {"accountTag": client.account_id})

    out: dict[tuple, int] = {}
    for row in paginate(fetch, request, paginator, lambda data: _rows(data, LIVE_MINUTES)):
        dims = row["dimensions"]
        minute = _minute(dims["datetime"])
        if not lo <= minute < hi:
            raise QueryError(f"{LIVE_MINUTES.name}: a row at {dims['datetime']} is outside "
                             f"the day asked for ({day})")
        key = (minute, dims["uid"], dims["clientCountryName"] or "")
        out[key] = out.get(key, 0) + int((row.get("sum") or {}).get("minutesViewed") or 0)
    return [{"minute": k[0], "uid": k[1], "country": k[2], "minutes_viewed": v}
            for k, v in sorted(out.items()) if v]


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _minute(text: str) -> datetime:
    """An RFC 3339 `datetime` floored to the minute, in UTC.

    >>> _minute("2026-06-30T19:04:31Z").isoformat()
    '2026-06-30T19:04:00+00:00'
    """
    at = datetime.fromisoformat(str(text).replace("Z", "+00:00")).astimezone(UTC)
    return at.replace(second=0, microsecond=0)
