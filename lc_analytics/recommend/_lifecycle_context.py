"""R2 lifecycle recommender: its thresholds and the priced context (objects, reads, rules)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .. import facts
from .. import readmodel as rm
from ..costs.engine import (
    Bill,
    Usage,
    month_bounds,
    price_period,
)
from ..costs.pricebook import PriceBook
from ..costs.usage import inventory_objects, warehouse_usage
from ..warehouse import Warehouse

#: Days evaluated for transitions (N) and expirations (M).
CANDIDATE_DAYS: tuple[int, ...] = (30, 60, 90, 180, 365)
#: Object-days observed at ages >= M (with no read) before an expiry after M is considered.
MIN_EXPOSED_OBJECT_DAYS = 100
#: Days after which R2's default rule aborts incomplete multipart uploads.
ABORT_MULTIPART_DAYS = facts.DEFAULT_ABORT_MULTIPART_DAYS
#: Reads observed over at least this many days give "high" confidence.
HIGH_CONFIDENCE_READ_DAYS = 60
#: Days priced when the last complete month is not fully covered (R2 keeps 31 days).
WINDOW_DAYS = 30

KIND = "r2_lifecycle"
#: object-age bands of the evidence's reads by age (days, inclusive; the last is open-ended)
AGE_BANDS: tuple[tuple[int, int | None, str], ...] = (
    (0, 0, "0"), (1, 6, "1-6"), (7, 29, "7-29"), (30, 59, "30-59"), (60, 89, "60-89"),
    (90, 179, "90-179"), (180, 364, "180-364"), (365, None, "365+"))


def age_band(age: pd.Series) -> pd.Series:
    """The `AGE_BANDS` label of each age in days (a categorical in band order).

    >>> age_band(pd.Series([0, 5, 400])).astype(str).tolist()
    ['0', '1-6', '365+']
    """
    edges = [-1] + [hi if hi is not None else 10**6 for _, hi, _ in AGE_BANDS]
    return pd.cut(age, edges, labels=[b for _, _, b in AGE_BANDS])
DEFAULT_ABORT_RULE = {"ID": "Default Multipart Abort Rule", "Status": "Enabled",
                      "Filter": {"Prefix": ""},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation":
                                                         ABORT_MULTIPART_DAYS}}


@dataclass(frozen=True)
class LifecycleRule:
    """The rule's parameters: the transition and expiry days evaluated, and the object-days
    an expiry needs observed (with no read) at its age."""

    candidate_days: tuple[int, ...] = CANDIDATE_DAYS
    min_exposed_object_days: int = MIN_EXPOSED_OBJECT_DAYS


@dataclass(frozen=True)
class Candidate:
    """One priced change for a bucket/prefix: a new rule, or a change of an existing one.

    `figures` is its row of `lifecycle_candidates` / `existing_rule_reviews` (the engine's
    saving, the marginal saving, the quantities behind them)."""

    figures: dict[str, Any]
    rule_text: str
    sku_delta: dict[str, str]  # SKU -> cost change, as text
    bill_before: Decimal
    bill_after: Decimal
    new_rule: dict[str, Any] | None = None  # the S3 rule a new-rule candidate adds
    change: dict[str, Any] | None = None  # {"ID", "transition_days"} of a reviewed rule

    @property
    def bucket(self) -> str:
        return str(self.figures["bucket"])

    @property
    def prefix(self) -> str:
        return str(self.figures["prefix"])

    @property
    def saving(self) -> Decimal:
        return Decimal(self.figures["saving"])

    @property
    def proposable(self) -> bool:
        return bool(self.figures["proposable"])

    @property
    def rank(self) -> tuple[Decimal, Decimal]:
        """How candidates of one prefix compare: the engine's saving, then the marginal."""
        return self.saving, Decimal(self.figures["marginal_saving"])


@dataclass
class _Context:
    """Everything the candidates of one run share: the priced period, its usage and bill."""

    book: PriceBook
    first: date  # the priced period [first, nxt): a billing month or the last WINDOW_DAYS
    nxt: date
    usage: Usage
    bill: Bill
    objects: pd.DataFrame
    reads: pd.DataFrame  # per object per day of the priced period, with age
    read_days: tuple[date, date] | None
    rules: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    r2_complete: bool = True
    #: every read up to the as-of day, per bucket, prefix and object age (`r2_reads_by_age`)
    read_ages: pd.DataFrame = field(default_factory=pd.DataFrame)
    derived: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: what pricing derives once per prefix (`_lifecycle_price._as_is`), by key
    cache: dict[str, Any] = field(default_factory=dict)

    def removals(self) -> pd.DataFrame:
        """`_removals(objects)` (indexed like `objects`), derived once per run."""
        if "removals" not in self.derived:
            self.derived["removals"] = _removals(self.objects)
        return self.derived["removals"]

    def ages(self, bucket: str, prefix: str) -> pd.DataFrame:
        """The reads by age of `bucket`'s keys under `prefix` ('' or one 'folder/' level,
        as `_groups` makes them): age, requests."""
        a = self.read_ages
        return a[(a["bucket"] == bucket) & a["prefix"].str.startswith(prefix)]


# --- context ---------------------------------------------------------------------------------

def _context(wh: Warehouse, book: PriceBook, day: date) -> _Context:
    first, nxt, r2_usage, notes, complete = _priced_period(wh, day)
    objs = inventory_objects(wh).reset_index(drop=True)
    objs["c_day"] = pd.to_datetime(objs["stored_from"], utc=True).dt.floor("D")
    ages = rm.r2_reads_by_age(wh, day)
    reads = rm.r2_object_reads(wh, first, min(nxt - timedelta(days=1), day), objects=objs)[
        ["date", "bucket", "key", "action_type", "requests"]]
    reads["date"] = pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
    reads = reads.merge(objs[["bucket", "key", "size_bytes", "c_day"]].assign(obj=objs.index),
                        on=["bucket", "key"], how="inner")  # obj: the object's row in objs
    reads["age"] = ((reads["date"] - reads["c_day"]) // pd.Timedelta(days=1)).astype(int)
    read_days = (min(ages["first_day"]), day) if len(ages) else None
    usage = Usage(stream_storage=None, stream_delivery=None, r2_storage=r2_usage.r2_storage,
                  r2_ia_removals=_removals(objs), r2_operations=r2_usage.r2_operations,
                  r2_retrieval=r2_usage.r2_retrieval)
    rules = rm.lifecycle_rules(wh)[["bucket", "rule_id", "enabled", "prefix",
                                    "transition_days", "expire_days",
                                    "abort_multipart_days", "rule_json"]]
    bill = price_period(usage, first, nxt - timedelta(days=1), book)
    return _Context(book, first, nxt, usage, bill, objs, reads, read_days, rules, notes,
                    complete, ages)


def _priced_month(wh: Warehouse, day: date) -> tuple[date, date]:
    """The last complete billing month up to `day` (the month of `day` if it is its end)."""
    first, nxt = month_bounds(day)
    if day + timedelta(days=1) < nxt:
        first, nxt = month_bounds(first - timedelta(days=1))
    return first, nxt


def _priced_period(wh: Warehouse, day: date) -> tuple[date, date, Usage, list[str], bool]:
    """The period the rules are priced over, its synced R2 usage, notes, and whether the
    warehouse holds R2 storage for each of its days.

    The last complete billing month when the warehouse covers it; else the last
    `WINDOW_DAYS` complete days (up to `day`), read from the months they fall in.
    """
    first, nxt = _priced_month(wh, day)
    mu = warehouse_usage(wh, first)
    if mu.r2_complete:
        return first, nxt, mu.usage, mu.notes, True
    nxt = day + timedelta(days=1)
    first = nxt - timedelta(days=WINDOW_DAYS)
    months = sorted({month_bounds(first)[0], month_bounds(day)[0]})
    parts = [warehouse_usage(wh, m) for m in months]
    frames = {}
    for name, cols in (("r2_storage", ["date", "bucket", "storage_class", "bytes"]),
                       ("r2_operations", ["date", "bucket", "op_class", "storage_class",
                                          "requests"]),
                       ("r2_retrieval", ["date", "bucket", "bytes"])):
        df = pd.concat([p.usage.frame(name, cols) for p in parts], ignore_index=True)
        when = pd.to_datetime(df["date"]).dt.date if len(df) else df["date"]
        frames[name] = df[(when >= first) & (when < nxt)].reset_index(drop=True)
    covered = pd.to_datetime(frames["r2_storage"]["date"]).dt.date.nunique()
    notes = [f"{mu.month:%Y-%m} is not fully synced (R2 metrics are kept 31 days): priced "
             f"the last {WINDOW_DAYS} complete days, {first} to {day}"]
    if covered < WINDOW_DAYS:
        notes.append(f"R2 storage is known for {covered} of those {WINDOW_DAYS} days")
    return first, nxt, Usage(**frames), notes, covered == WINDOW_DAYS


def _period_label(ctx: _Context) -> str:
    """'YYYY-MM' for a billing month, else the first and last day of the window."""
    if month_bounds(ctx.first) == (ctx.first, ctx.nxt):
        return f"{ctx.first:%Y-%m}"
    return f"{ctx.first} to {ctx.nxt - timedelta(days=1)} ({(ctx.nxt - ctx.first).days} days)"


def _groups(objects: pd.DataFrame):
    prefix = _prefixes(objects["key"])
    for (bucket, pre), grp in objects.assign(prefix=prefix).groupby(["bucket", "prefix"],
                                                                    sort=True):
        if pre == "" and (prefix[objects["bucket"] == bucket] != "").any():
            continue  # root-level keys next to folders: a "" rule would cover the folders too
        yield (bucket, pre), grp


def _prefixes(keys: pd.Series) -> pd.Series:
    """Each key up to and including its first '/' ('' without one): r"^([^/]*/)" run by
    Arrow over the column (pandas' `str.extract` ran it key by key: 0.4 s for 400k keys).

    >>> _prefixes(pd.Series(["a/b/c", "top", "/x"])).tolist()
    ['a/', '', '/']
    """
    found = pc.extract_regex(pa.array(keys, type=pa.large_string()), r"^(?P<prefix>[^/]*/)")
    text = pc.fill_null(pc.struct_field(found, [0]), "").to_pandas()
    return pd.Series(text.to_numpy(), index=keys.index, dtype=keys.dtype)


def _removals(objs: pd.DataFrame) -> pd.DataFrame:
    gone = objs[objs["ia_from"].notna() & objs["stored_until"].notna()]
    return pd.DataFrame({"size_bytes": gone["size_bytes"], "ia_from": gone["ia_from"],
                         "removed_at": gone["stored_until"]})


def _current_rules(rules: pd.DataFrame, bucket: str) -> list[dict[str, Any]]:
    return [json.loads(r) for r in rules.loc[rules["bucket"] == bucket, "rule_json"]]


def _covering(rules: pd.DataFrame, bucket: str, prefix: str) -> tuple[int | None, int | None]:
    """The earliest transition and expiry of enabled rules that cover the whole prefix."""
    mine = rules[(rules["bucket"] == bucket) & rules["enabled"]]
    cover = mine[[prefix.startswith(p or "") for p in mine["prefix"]]]
    t = pd.to_numeric(cover["transition_days"]).dropna()
    e = pd.to_numeric(cover["expire_days"]).dropna()
    return (int(t.min()) if len(t) else None, int(e.min()) if len(e) else None)
