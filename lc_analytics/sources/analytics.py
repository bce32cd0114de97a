"""GraphQL analytics source: Stream minutes viewed, R2 storage, operations and reads per day."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from .. import facts
from ..client.http import CloudflareClient
from ..client.paginators import KeysetPaginator, paginate, paginate_pages
from ..errors import QueryError, UsageError

MAX_WINDOW_DAYS = facts.MAX_QUERY_WINDOW_DAYS  # one analytics query spans at most 31 days
PAGE_LIMIT = 10_000


@dataclass(frozen=True)
class Dataset:
    """How to ask one adaptive dataset for daily rows, and how to turn them into records."""

    name: str
    dimensions: tuple[str, ...]  # the first one is the keyset paging key
    block: str  # "sum" or "max"
    metrics: tuple[str, ...]
    columns: dict[str, str]  # GraphQL field -> record column
    retention_days: int
    fixed_filter: dict = field(default_factory=dict)  # ANDed into every query of the dataset


MINUTES_VIEWED = Dataset(
    name="streamMinutesViewedAdaptiveGroups",
    dimensions=("uid", "date", "clientCountryName", "creator"),
    block="sum",
    metrics=("minutesViewed",),
    columns={"date": "date", "uid": "uid", "clientCountryName": "country",
             "creator": "creator", "minutesViewed": "minutes_viewed"},
    retention_days=facts.STREAM_ANALYTICS_RETENTION_DAYS,
)
R2_STORAGE = Dataset(
    name="r2StorageAdaptiveGroups",
    dimensions=("bucketName", "date"),
    block="max",
    metrics=("payloadSize", "metadataSize", "objectCount", "uploadCount"),
    columns={"date": "date", "bucketName": "bucket", "payloadSize": "payload_size",
             "metadataSize": "metadata_size", "objectCount": "object_count",
             "uploadCount": "upload_count"},
    retention_days=facts.R2_ANALYTICS_RETENTION_DAYS,
)
#: Split by HTTP status too: R2 does not bill requests refused with 401 or 403.
R2_OPERATIONS = Dataset(
    name="r2OperationsAdaptiveGroups",
    dimensions=("bucketName", "date", "actionType", "actionStatus", "responseStatusCode"),
    block="sum",
    metrics=("requests",),
    columns={"date": "date", "bucketName": "bucket", "actionType": "action_type",
             "actionStatus": "action_status", "responseStatusCode": "response_status_code",
             "requests": "requests"},
    retention_days=facts.R2_ANALYTICS_RETENTION_DAYS,
)
R2_OBJECT_READS = Dataset(
    name="r2OperationsAdaptiveGroups",
    dimensions=("objectName", "date", "bucketName", "actionType"),
    block="sum",
    metrics=("requests",),
    columns={"date": "date", "bucketName": "bucket", "objectName": "object_name",
             "actionType": "action_type", "requests": "requests"},
    retention_days=facts.R2_ANALYTICS_RETENTION_DAYS,
    # successful reads of objects; bucket-level rows (ListObjects...) have objectName ""
    fixed_filter={"actionType_in": ["GetObject", "HeadObject"], "actionStatus": "success",
                  "objectName_neq": ""},
)
#: Every dataset by a unique name (two may query the same GraphQL node).
DATASETS = {"minutes_viewed": MINUTES_VIEWED, "r2_storage": R2_STORAGE,
            "r2_operations": R2_OPERATIONS, "r2_object_reads": R2_OBJECT_READS}


def windows(start: date, end: date, days: int = MAX_WINDOW_DAYS) -> Iterator[tuple[date, date]]:
    """Split [start, end) into consecutive half-open windows of at most `days` days.

    >>> [(str(lo), str(hi)) for lo, hi in windows(date(2026, 1, 1), date(2026, 3, 1))]
    [('2026-01-01', '2026-02-01'), ('2026-02-01', '2026-03-01')]
    """
    lo = start
    while lo < end:
        hi = min(end, lo + timedelta(days=days))
        yield lo, hi
        lo = hi


def _literal(value: object) -> str:
    """A GraphQL literal for a filter value (strings via JSON escaping, which GraphQL shares)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def build_query(ds: Dataset, flt: dict, limit: int) -> str:
    """The GraphQL text for one page of `ds`; only the account tag is a variable.

    Filters are written inline, as in Cloudflare's examples, so the query does not depend on
    the schema's names for filter input types.
    """
    order = ", ".join(f"{d}_ASC" for d in ds.dimensions)
    return (
        "query ($accountTag: string!) {\n"
        "  viewer { accounts(filter: {accountTag: $accountTag}) {\n"
        f"    rows: {ds.name}(filter: {_literal(flt)}, limit: {int(limit)}, "
        f"orderBy: [{order}]) {{\n"
        f"      {ds.block} {{ {' '.join(ds.metrics)} }}\n"
        f"      dimensions {{ {' '.join(ds.dimensions)} }}\n"
        "  } } }\n"
        "}"
    )


def iter_window(client: CloudflareClient, ds: Dataset, lo: date, hi: date, *,
                extra_filter: dict | None = None, limit: int = PAGE_LIMIT) -> Iterator[dict]:
    """Every daily row of `ds` in [lo, hi), paged by `limit` + `orderBy` + `<key>_gt`.

    The dataset's `fixed_filter` and `extra_filter` are merged into every page's filter
    (a key in `extra_filter` replaces the same key of `fixed_filter`).

    A full page may end in the middle of its last key's rows: `KeysetPaginator` drops that
    key's rows and fetches them again from the next page.
    """
    if (hi - lo).days > MAX_WINDOW_DAYS:
        raise UsageError(f"window {lo}..{hi} is longer than {MAX_WINDOW_DAYS} days")
    request: dict = {"date_geq": lo.isoformat(), "date_lt": hi.isoformat(),
                     **ds.fixed_filter, **(extra_filter or {})}
    paginator = KeysetPaginator(ds.dimensions[0], limit, f"{ds.name} in {lo}..{hi}")

    def fetch(flt: dict) -> dict:
        return client.graphql(build_query(ds, flt, limit), {"accountTag": client.account_id})

    for row in paginate(fetch, request, paginator, lambda data: _rows(data, ds)):
        yield _record(row, ds)


def iter_window_pages(client: CloudflareClient, ds: Dataset, lo: date, hi: date, *,
                      limit: int = PAGE_LIMIT) -> Iterator[list[dict]]:
    """The rows of `ds` in [lo, hi) a page at a time, as the API sends them (whole keys only).

    Same paging as `iter_window`; `page_table` turns each page into an Arrow table.
    """
    if (hi - lo).days > MAX_WINDOW_DAYS:
        raise UsageError(f"window {lo}..{hi} is longer than {MAX_WINDOW_DAYS} days")
    request: dict = {"date_geq": lo.isoformat(), "date_lt": hi.isoformat(), **ds.fixed_filter}
    paginator = KeysetPaginator(ds.dimensions[0], limit, f"{ds.name} in {lo}..{hi}")

    def fetch(flt: dict) -> dict:
        return client.graphql(build_query(ds, flt, limit), {"accountTag": client.account_id})

    yield from paginate_pages(fetch, request, paginator, lambda data: _rows(data, ds))


def page_table(rows: list[dict], ds: Dataset) -> pa.Table:
    """One page of GraphQL rows as an Arrow table of record columns, converted in C++ (no
    dict per row); the same values as `_record` gives row by row.

    >>> page_table([{"sum": {"requests": 3}, "dimensions": {"bucketName": "b",
    ...   "date": "2026-06-01", "actionType": "GetObject", "actionStatus": "success",
    ...   "responseStatusCode": 200}}], DATASETS["r2_operations"]).to_pylist()[0]["date"]
    datetime.date(2026, 6, 1)
    """
    flat = pa.Table.from_struct_array(pa.array(rows)).flatten()
    names = [ds.columns[name.split(".", 1)[1]] for name in flat.column_names]
    table = flat.rename_columns(names)
    day = pc.cast(pc.utf8_slice_codeunits(pc.cast(table["date"], pa.string()), 0, 10),
                  pa.date32())
    table = table.set_column(names.index("date"), "date", day)
    if "creator" in names:
        creator = pc.fill_null(pc.cast(table["creator"], pa.string()), "")
        table = table.set_column(names.index("creator"), "creator", creator)
    return table


def _rows(data: dict, ds: Dataset) -> list[dict]:
    try:
        accounts = data["viewer"]["accounts"]
    except (KeyError, TypeError) as exc:
        raise QueryError(f"{ds.name}: unexpected answer shape (no viewer.accounts)") from exc
    if not accounts:
        raise QueryError(f"{ds.name}: the account tag matched no account")
    return accounts[0].get("rows") or []


def _record(row: dict, ds: Dataset) -> dict:
    out = {}
    for field_name, value in row["dimensions"].items():
        out[ds.columns[field_name]] = value
    for field_name, value in (row.get(ds.block) or {}).items():
        out[ds.columns[field_name]] = value
    out["date"] = date.fromisoformat(str(out["date"])[:10])
    if "creator" in out and out["creator"] is None:
        out["creator"] = ""
    return out
