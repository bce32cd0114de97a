"""R2 usage per day: storage per bucket and class, requests per billing class, reads of objects.

How each figure is measured (the README's "Costs" section says the same):

- storage: each day's peak bytes per bucket from R2's metrics (`r2_storage_daily`, exact);
  the Infrequent Access part from the inventory (objects listed as STANDARD_IA are IA from the
  day their lifecycle rule moved them: creation day + transition days + 1, else since they
  were written); Standard is the rest.
- operations: requests per action with its billing class (`costs.r2_classes`); requests
  refused with 401/403 are not billed; reads of objects that were IA that day
  (`r2_object_reads_daily`) and lifecycle transitions are billed at IA rates.
- IA retrieval: GetObject reads of IA objects x their size.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from ..costs.r2_classes import NOT_BILLED_STATUS_CODES, READS, op_class
from ..warehouse import Warehouse
from .inventory import lifecycle_rules, r2_objects

STANDARD, IA = "STANDARD", "STANDARD_IA"  # R2 storage classes, as listed and stored
_OPS = ["date", "bucket", "op_class", "storage_class", "requests"]


def inventory_objects(wh: Warehouse) -> pd.DataFrame:
    """Every object ever listed, with its lifetime and the day it became Infrequent Access.

    Columns: those of `inventory.r2_objects`, plus stored_from (last_modified), ia_from (from
    its bucket's transition rules; NaT for Standard objects) and stored_until (when it was
    found missing, NaT while listed).

    >>> inventory_objects(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    remember = getattr(wh, "remember", None)  # a held warehouse derives it once
    if remember is not None:
        return remember(("inventory_objects",), lambda: _inventory_objects(wh)).copy(deep=False)
    return _inventory_objects(wh)


def _inventory_objects(wh: Warehouse) -> pd.DataFrame:
    objs = r2_objects(wh, history=True)
    rules = lifecycle_rules(wh)
    rules = rules[rules["enabled"] & rules["transition_days"].notna()
                  & (rules["transition_class"] == IA)]
    created = objs["last_modified"]
    ia_from = pd.Series(pd.NaT, index=objs.index, dtype="datetime64[ns, UTC]")
    is_ia = objs["storage_class"] == IA
    for rule in rules.itertuples():
        hit = is_ia & (objs["bucket"] == rule.bucket) & objs["key"].str.startswith(
            rule.prefix or "") & ia_from.isna()
        ia_from[hit] = created[hit].dt.floor("D") + pd.Timedelta(days=int(rule.transition_days)
                                                                 + 1)
    ia_from[is_ia & ia_from.isna()] = created[is_ia & ia_from.isna()]  # IA since it was written
    return objs.assign(stored_from=created, ia_from=ia_from, stored_until=objs["missing_since"])


_DAY_NS = 86_400 * 10**9


def _day_index(values: Any, first: date, n_days: int, default: int) -> np.ndarray:
    """Whole days from `first` (UTC) to each time, floored (NaT: `default`), in [0, n_days];
    in int64 nanoseconds (pandas' timedelta floor and division per call cost more than the
    rest of `objects_daily_bytes`).

    >>> _day_index(["2026-06-01T23:59Z", "2026-06-03T00:00Z", None, "2026-05-31T12:00Z",
    ...             "2026-08-01T00:00Z"], date(2026, 6, 1), 30, 30).tolist()
    [0, 2, 30, 0, 30]
    """
    ts = pd.to_datetime(pd.Series(values), utc=True)
    nat = ts.isna().to_numpy()
    start = pd.Timestamp(first, tz="UTC").value
    ns = ts.dt.tz_convert(None).to_numpy("datetime64[ns]").astype(np.int64)
    idx = np.floor_divide(np.where(nat, start, ns) - start, _DAY_NS)
    return np.clip(np.where(nat, default, idx), 0, n_days).astype(int)


def objects_daily_bytes(objects: pd.DataFrame, first: date, nxt: date) -> pd.DataFrame:
    """Bytes held per day and class in [first, nxt) (half-open, as a billing month) by
    objects with lifetimes and transitions.

    An object counts from its creation day up to the day before its deletion day; it is
    Infrequent Access from the day of `ia_from` (or for its whole life if its class is IA
    and no `ia_from` is given).

    >>> objects_daily_bytes(objs, date(2026, 6, 1), date(2026, 7, 1))  # doctest: +SKIP
    """
    n = (nxt - first).days
    size = objects["size_bytes"].to_numpy(dtype=np.int64)
    start = _day_index(objects["stored_from"], first, n, 0)
    until = objects["stored_until"] if "stored_until" in objects else pd.Series(pd.NaT,
                                                                                 objects.index)
    end = _day_index(until, first, n, n)
    is_ia = (objects["storage_class"] == IA).to_numpy()
    ia_col = objects["ia_from"] if "ia_from" in objects else pd.Series(pd.NaT, objects.index)
    ia_start = np.where(pd.to_datetime(ia_col, utc=True).isna().to_numpy(),
                        np.where(is_ia, start, n), _day_index(ia_col, first, n, n))
    ia_start = np.clip(ia_start, start, np.maximum(end, start))
    out = []
    for cls, lo, hi in ((STANDARD, start, ia_start), (IA, ia_start, end)):
        delta = np.zeros(n + 1, dtype=np.int64)
        ok = hi > lo
        np.add.at(delta, lo[ok], size[ok])
        np.add.at(delta, hi[ok], -size[ok])
        out.append(pd.DataFrame({"date": [first + timedelta(days=i) for i in range(n)],
                                 "storage_class": cls, "bytes": np.cumsum(delta)[:n]}))
    return pd.concat(out, ignore_index=True)


def r2_storage_totals(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """R2's daily metrics per bucket in [first, last] (inclusive): date, bucket, bytes
    (payload), metadata_bytes, objects, uploads (pending multipart uploads).

    >>> r2_storage_totals(wh, date(2026, 6, 1), date(2026, 6, 30))     # doctest: +SKIP
    """
    df = wh.query("SELECT date, bucket, payload_size AS bytes, metadata_size AS metadata_bytes, "
                  "object_count AS objects, upload_count AS uploads FROM r2_storage_daily "
                  "WHERE date >= ? AND date <= ? ORDER BY date, bucket", [first, last])
    df["date"] = pd.to_datetime(df["date"]).dt.date
    return df


def r2_storage(wh: Warehouse, first: date, last: date, objects: pd.DataFrame | None = None,
               notes: list[str] | None = None) -> pd.DataFrame:
    """Bytes per day, bucket and storage class in [first, last] (inclusive), on the days R2's
    metrics cover: date, bucket, storage_class, bytes. A day missing from the metrics is
    noted in `notes`. `objects`: `inventory_objects(wh)` if already read.

    >>> r2_storage(wh, date(2026, 6, 1), date(2026, 6, 30))            # doctest: +SKIP
    """
    objects = inventory_objects(wh) if objects is None else objects
    nxt = last + timedelta(days=1)
    totals = r2_storage_totals(wh, first, last)
    ia_parts = []
    for bucket, grp in objects[objects["storage_class"] == IA].groupby("bucket"):
        daily = objects_daily_bytes(grp, first, nxt)
        ia_parts.append(daily[daily["storage_class"] == IA].assign(bucket=bucket))
    ia = pd.concat(ia_parts, ignore_index=True) if ia_parts else pd.DataFrame(
        {"date": pd.Series(dtype=object), "bucket": pd.Series(dtype=object),
         "storage_class": pd.Series(dtype=object), "bytes": pd.Series(dtype=np.int64)})
    ia = ia.merge(totals[["date", "bucket"]], on=["date", "bucket"])  # days with a total only
    std = totals.merge(ia[["date", "bucket", "bytes"]].rename(columns={"bytes": "ia"}),
                       on=["date", "bucket"], how="left").fillna({"ia": 0})
    std = std.assign(bytes=(std["bytes"] - std["ia"]).astype(np.int64), storage_class=STANDARD)
    days, known = (nxt - first).days, totals["date"].nunique()
    if notes is not None and known < days:
        notes.append(f"R2 storage is known for {known} of {days} days of the month (R2 metrics "
                     "are kept 31 days)")
    cols = ["date", "bucket", "storage_class", "bytes"]
    return pd.concat([std[cols], ia[cols]], ignore_index=True)


def r2_ia_removals(objects: pd.DataFrame) -> pd.DataFrame:
    """The IA objects that were removed (for IA's 30-day minimum): size_bytes, ia_from,
    removed_at, bucket, key. `objects`: `inventory_objects(wh)`.

    >>> r2_ia_removals(inventory_objects(wh))                          # doctest: +SKIP
    """
    gone = objects[(objects["storage_class"] == IA) & objects["stored_until"].notna()]
    return pd.DataFrame({"size_bytes": gone["size_bytes"], "ia_from": gone["ia_from"],
                         "removed_at": gone["stored_until"], "bucket": gone["bucket"],
                         "key": gone["key"]})


def r2_object_reads(wh: Warehouse, first: date | None, last: date,
                    objects: pd.DataFrame | None = None) -> pd.DataFrame:
    """Reads per object and day in [first, last] (inclusive; first None: from the start) with
    the object's size and its class that day: date, bucket, key, action_type, requests,
    size_bytes (0 for objects never listed), ia_from, storage_class.

    >>> r2_object_reads(wh, date(2026, 6, 1), date(2026, 6, 30))       # doctest: +SKIP
    """
    objects = inventory_objects(wh) if objects is None else objects
    reads = wh.query("SELECT date, bucket, object_name AS key, action_type, requests "
                     "FROM r2_object_reads_daily WHERE date >= ? AND date <= ? "
                     "ORDER BY date, bucket, key, action_type", [first or date.min, last])
    reads["date"] = pd.to_datetime(reads["date"]).dt.date
    merged = reads.merge(objects[["bucket", "key", "size_bytes", "ia_from"]],
                         on=["bucket", "key"], how="left")
    day = pd.to_datetime(merged["date"]).dt.tz_localize("UTC")
    ia = merged["ia_from"].notna() & (day >= merged["ia_from"].dt.floor("D"))
    return merged.assign(storage_class=np.where(ia, IA, STANDARD),
                         size_bytes=merged["size_bytes"].fillna(0).astype(np.int64))


def r2_reads_by_age(wh: Warehouse, last: date) -> pd.DataFrame:
    """Reads of listed objects up to `last` (inclusive, from the start of the history), summed
    in DuckDB per bucket, prefix (the key up to and including its first '/', '' without one)
    and the object's age at the read (read day - its `last_modified` UTC day): bucket, prefix,
    age, requests, first_day (the earliest read day of the group). Reads of objects never
    listed are left out. A few thousand rows where `r2_object_reads` has one per object and
    day (millions on a large account).

    >>> r2_reads_by_age(wh, date(2026, 6, 30))                          # doctest: +SKIP
    """
    # the prefix and creation day per object (400k) rather than per read (10M): 2x faster
    df = wh.query(
        "WITH o AS (SELECT bucket, key, CAST(last_modified AS DATE) AS created, "
        "regexp_extract(key, '^([^/]*/)', 1) AS prefix FROM r2_objects) "
        "SELECT r.bucket, o.prefix, date_diff('day', o.created, r.date) AS age, "
        "sum(r.requests)::BIGINT AS requests, min(r.date) AS first_day "
        "FROM r2_object_reads_daily r JOIN o ON o.bucket = r.bucket AND o.key = r.object_name "
        "WHERE r.date <= ? GROUP BY ALL ORDER BY bucket, prefix, age", [last])
    df["first_day"] = pd.to_datetime(df["first_day"]).dt.date
    df["age"] = df["age"].astype(np.int64)
    df["requests"] = df["requests"].astype(np.int64)
    return df


def r2_ia_retrieval(reads: pd.DataFrame) -> pd.DataFrame:
    """Bytes retrieved from Infrequent Access per day and bucket: date, bucket, bytes.
    `reads`: `r2_object_reads(...)`.

    >>> r2_ia_retrieval(r2_object_reads(wh, date(2026, 6, 1), date(2026, 6, 30)))  # doctest: +SKIP
    """
    got = reads[(reads["storage_class"] == IA) & (reads["action_type"] == "GetObject")]
    return got.assign(bytes=got["requests"] * got["size_bytes"]).groupby(
        ["date", "bucket"], as_index=False)["bytes"].sum()


def r2_requests(wh: Warehouse, first: date, last: date) -> pd.DataFrame:
    """R2 requests per day, bucket, action and status in [first, last] (inclusive), with the
    action's billing class: date, bucket, action_type, action_status, op_class ('A' | 'B' |
    'free'), billed (False for requests refused with 401/403), requests.

    >>> r2_requests(wh, date(2026, 6, 1), date(2026, 6, 30))           # doctest: +SKIP
    """
    codes = ", ".join(str(c) for c in sorted(NOT_BILLED_STATUS_CODES))
    df = wh.query("SELECT date, bucket, action_type, action_status, "
                  f"response_status_code NOT IN ({codes}) AS billed, "
                  "sum(requests)::BIGINT AS requests FROM r2_operations_daily "
                  "WHERE date >= ? AND date <= ? GROUP BY ALL "
                  "ORDER BY date, bucket, action_type, action_status, billed", [first, last])
    df["date"] = pd.to_datetime(df["date"]).dt.date
    df.insert(4, "op_class", [op_class(a) for a in df["action_type"]])
    df["requests"] = df["requests"].astype(np.int64)
    return df


def r2_operations(wh: Warehouse, first: date, last: date,
                  reads: pd.DataFrame | None = None) -> pd.DataFrame:
    """Billed requests per day, bucket, billing class and storage class in [first, last]
    (inclusive): date, bucket, op_class, storage_class, requests. `reads`:
    `r2_object_reads(wh, first, last)` if already read.

    >>> r2_operations(wh, date(2026, 6, 1), date(2026, 6, 30))         # doctest: +SKIP
    """
    reads = r2_object_reads(wh, first, last) if reads is None else reads
    ops = r2_requests(wh, first, last)
    ops = ops[ops["billed"]].groupby(["date", "bucket", "action_type", "action_status",
                                      "op_class"], as_index=False)["requests"].sum()
    ops["storage_class"] = np.where(ops["action_type"] == "LifecycleStorageTierTransition",
                                    IA, STANDARD)
    ia_reads = reads[reads["storage_class"] == IA].groupby(
        ["date", "bucket", "action_type"], as_index=False)["requests"].sum()
    if len(ia_reads):
        ia_reads = ia_reads.assign(action_status="success", op_class="B", storage_class=IA)
        key = ["date", "bucket", "action_type", "action_status"]
        ops = ops.merge(ia_reads[key + ["requests"]].rename(columns={"requests": "ia"}),
                        on=key, how="left").fillna({"ia": 0})
        is_read = ops["action_type"].isin(READS)
        ops["requests"] = ops["requests"] - np.where(is_read, ops["ia"], 0)
        ops = pd.concat([ops.drop(columns="ia"), ia_reads], ignore_index=True)
    return ops[_OPS].reset_index(drop=True)
