"""R2 lifecycle recommender: candidate rules per prefix, priced by the engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from ..costs.engine import (
    IA,
    STANDARD,
    Bill,
    Usage,
    objects_daily_bytes,
    price_period,
)
from ..costs.pricebook import PriceBook
from ._lifecycle_context import (
    DEFAULT_ABORT_RULE,
    Candidate,
    LifecycleRule,
    _Context,
    _covering,
    _removals,
)

# --- candidates ------------------------------------------------------------------------------

def _prefix_candidates(ctx: _Context, bucket: str, prefix: str, objs: pd.DataFrame,
                       rule: LifecycleRule) -> Iterator[Candidate]:
    """Every new rule evaluated for the prefix (transition N, expiry M, or both)."""
    days, min_exposed = rule.candidate_days, rule.min_exposed_object_days
    has_t, has_e = _covering(ctx.rules, bucket, prefix)
    reads = ctx.reads[(ctx.reads["bucket"] == bucket) & ctx.reads["key"].str.startswith(prefix)]
    ages = ctx.ages(bucket, prefix)
    exposure = _exposure(objs, ctx.read_days)
    transitions = [n for n in days if has_t is None or n < has_t]
    expiries = []
    for m in days:
        if has_e is not None and m >= has_e:
            continue
        if (ages["age"] >= m).any() or exposure(m) < min_exposed:
            continue
        expiries.append(m)
    combos: list[tuple[int | None, int | None]] = [(n, None) for n in transitions] + \
        [(None, m) for m in expiries] + [(n, m) for n in transitions for m in expiries if n < m]
    for to_ia, expire in combos:
        yield _evaluate(ctx, bucket, prefix, objs, reads, to_ia, expire, has_t, has_e, exposure,
                        ages)


def _exposure(objs: pd.DataFrame, read_days: tuple[date, date] | None):
    """Object-days observed at ages >= m inside the reads window, as a function of m."""
    if read_days is None:
        return lambda m: 0
    lo = pd.Timestamp(read_days[0], tz="UTC")
    hi = pd.Timestamp(read_days[1], tz="UTC")
    gone = objs["stored_until"].fillna(hi + pd.Timedelta(days=1)).dt.floor("D")
    end = gone.clip(upper=hi + pd.Timedelta(days=1))  # (c_day is never NaT: NOT NULL)

    def at(m: int) -> int:
        start = (objs["c_day"] + pd.Timedelta(days=m)).clip(lower=lo)
        span = ((end - start) // pd.Timedelta(days=1)).clip(lower=0)
        return int(span.sum())
    return at


def _with_rule(objs: pd.DataFrame, n: int | None, m: int | None) -> pd.DataFrame:
    """The objects as the rule would have kept them: in IA from N days after creation
    (unless earlier already), gone M days after (unless earlier already); an object gone
    before its transition never moves."""
    after = objs.copy()
    if n is not None:
        when = after["c_day"] + pd.Timedelta(days=n + 1)
        after["ia_from"] = when.where(after["ia_from"].isna() | (when < after["ia_from"]),
                                      after["ia_from"])
    if m is not None:
        until = after["c_day"] + pd.Timedelta(days=m + 1)
        after["stored_until"] = until.where(after["stored_until"].isna()
                                            | (until < after["stored_until"]),
                                            after["stored_until"])
    never = after["ia_from"].notna() & after["stored_until"].notna() & \
        (after["ia_from"] >= after["stored_until"])
    after.loc[never, "ia_from"] = pd.NaT
    # the class column by a take from its two values (a numpy array of strings is converted
    # one value at a time), in the column's own dtype
    classes = pd.array([STANDARD, IA], dtype=objs["storage_class"].dtype)
    after["storage_class"] = classes.take(after["ia_from"].notna().to_numpy(np.intp))
    return after


def _evaluate(ctx: _Context, bucket: str, prefix: str, objs: pd.DataFrame,
              reads: pd.DataFrame, n: int | None, m: int | None, has_t: int | None,
              has_e: int | None, exposure, ages: pd.DataFrame) -> Candidate:
    """One rule priced: `reads` per object in the priced period, `ages` every read by age."""
    first, nxt, book = ctx.first, ctx.nxt, ctx.book
    before = objs
    after = _with_rule(objs, n, m)
    ch = _price_change(ctx, bucket, before, after, reads)
    dframe, moved_to_ia, transitions = ch.dframe, ch.moved_to_ia, ch.transitions
    retr_a, retr_b, bill_after = ch.retr_a, ch.retr_b, ch.bill_after
    saving, marginal, sku_delta = ch.saving, ch.marginal, ch.sku_delta

    n_days = (nxt - first).days
    gbm = Decimal(book.rule("bytes_per_gb")) * n_days
    by_cls = dframe.groupby("storage_class")["bytes"].sum() if len(dframe) else pd.Series(
        dtype="int64")
    now = pd.Timestamp(ctx.read_days[1] if ctx.read_days else first, tz="UTC") + \
        pd.Timedelta(days=1)
    backlog = 0
    if n is not None:
        alive = before["stored_until"].isna()
        backlog = int((alive & before["ia_from"].isna()
                       & (before["c_day"] + pd.Timedelta(days=n + 1) <= now)).sum())
    proposable = saving > 0 and marginal > 0
    if not proposable:
        reason = f"net effect is a cost or nothing (engine {saving}, marginal {marginal:.6f})"
    else:
        reason = "saves money after retrieval, IA operations, transitions and the minimum"
    rule_text = _rule_text(n, m)
    row = {
        "bucket": bucket, "prefix": prefix, "transition_days": n, "expire_days": m,
        "existing_transition_days": has_t, "existing_expire_days": has_e,
        "objects": len(objs), "bytes": int(objs.loc[objs["stored_until"].isna(),
                                                    "size_bytes"].sum()),
        "standard_gb_month_delta": float(Decimal(int(by_cls.get(STANDARD, 0))) / gbm),
        "ia_gb_month_delta": float(Decimal(int(by_cls.get(IA, 0))) / gbm),
        "reads_moved_to_ia": moved_to_ia,
        "retrieval_gb_delta": float(Decimal(retr_a - retr_b)
                                    / Decimal(book.rule("bytes_per_gb"))),
        "transitions_per_month_delta": transitions,
        "backlog_transitions_once": backlog,
        "reads_at_or_after_expiry": 0 if m is None else int(
            ages.loc[ages["age"] >= m, "requests"].sum()),
        "exposed_object_days": exposure(m) if m is not None else None,
        "saving": saving, "marginal_saving": marginal, "proposable": proposable,
        "reason": reason, "rule": rule_text,
    }
    return Candidate(figures=row, rule_text=rule_text, sku_delta=sku_delta,
                     bill_before=ctx.bill.total, bill_after=bill_after.total,
                     new_rule=_new_rule(prefix, n, m))


@dataclass(frozen=True)
class PriceChange:
    """The priced period re-priced with a bucket's objects under other rules."""

    dframe: pd.DataFrame  # storage bytes after - before, per synced day and class
    moved_to_ia: int  # reads now billed at IA Class B
    transitions: int  # IA Class A transitions a month, after - before
    retr_a: int  # IA retrieval bytes after
    retr_b: int  # ... and before
    bill_after: Bill
    saving: Decimal  # the engine's bill before - after
    marginal: Decimal  # the same from quantities x unit prices (no rounding, no free tier)
    sku_delta: dict[str, str]


def _price_change(ctx: _Context, bucket: str, before: pd.DataFrame, after: pd.DataFrame,
                  reads: pd.DataFrame) -> PriceChange:
    """The priced period re-priced account-wide with `before` (objects of one bucket, as they
    are) replaced by `after` (the same objects under other rules): storage on the synced days,
    reads' class and retrieval, transitions and the IA minimum."""
    first, nxt, book = ctx.first, ctx.nxt, ctx.book
    lo, hi = pd.Timestamp(first, tz="UTC"), pd.Timestamp(nxt, tz="UTC")
    base = _as_is(ctx, bucket, before, reads)  # the same for every candidate of the prefix
    # storage: the prefix's modelled daily bytes after minus before, on the synced days
    delta = _daily(after, first, nxt).set_index(["date", "storage_class"])["bytes"] - \
        base.daily
    storage = base.storage
    dframe = delta.reset_index()
    dframe = dframe[dframe["date"].isin(base.synced_days) & (dframe["bytes"] != 0)]
    storage_after = pd.concat([storage, dframe.assign(bucket=bucket)], ignore_index=True)

    # reads in the month: class (and retrieval) before and after; reads of expired objects go
    month_reads, cls_b, req, get, size = base.month_reads, base.cls_b, base.req, base.get, \
        base.size
    cls_a = _read_class(month_reads, after)
    kept = _alive(month_reads, after)
    moved_to_ia = int(req[(cls_a == IA) & (cls_b != IA) & kept].sum())
    ops_rows = []
    for op_cls in (STANDARD, IA):
        n_b = int(req[cls_b == op_cls].sum())
        n_a = int(req[(cls_a == op_cls) & kept].sum())
        if n_a != n_b:
            ops_rows.append({"date": first, "bucket": bucket, "op_class": "B",
                             "storage_class": op_cls, "requests": n_a - n_b})
    retr_b = base.retr_b
    retr_a = int((req * size)[get & (cls_a == IA) & kept].sum())
    tr_a = _in_month(after["ia_from"], lo, hi)
    transitions = int(tr_a.sum()) - base.tr_b
    if transitions:
        ops_rows.append({"date": first, "bucket": bucket, "op_class": "A",
                         "storage_class": IA, "requests": transitions})
    ops = ctx.usage.frame("r2_operations", ["date", "bucket", "op_class", "storage_class",
                                            "requests"])
    ops_after = pd.concat([ops, pd.DataFrame(ops_rows)], ignore_index=True) if ops_rows \
        else ops
    retr = ctx.usage.frame("r2_retrieval", ["date", "bucket", "bytes"])
    retr_after = pd.concat([retr, pd.DataFrame([{"date": first, "bucket": bucket,
                                                  "bytes": retr_a - retr_b}])],
                           ignore_index=True) if retr_a != retr_b else retr
    # the other objects' removals, then the changed objects'
    removals_after = pd.concat([base.other_removals, _removals(after)], ignore_index=True)
    usage_after = Usage(r2_storage=storage_after, r2_ia_removals=removals_after,
                        r2_operations=ops_after, r2_retrieval=retr_after)
    bill_after = price_period(usage_after, first, nxt - timedelta(days=1), book)
    saving = ctx.bill.total - bill_after.total
    marginal = _marginal(ctx.bill, book) - _marginal(bill_after, book)
    sku_delta = _sku_delta(ctx.bill, bill_after)
    return PriceChange(dframe, moved_to_ia, transitions, retr_a, retr_b, bill_after, saving,
                       marginal, sku_delta)


@dataclass(frozen=True)
class _AsIs:
    """What `_price_change` derives from the objects as they are (`before`) and their reads:
    the same for every candidate rule of a prefix, so derived once per (before, reads)."""

    before: pd.DataFrame  # held, so the ids in the key are not reused while cached
    reads: pd.DataFrame
    daily: pd.Series  # modelled bytes per (date, storage_class)
    storage: pd.DataFrame  # the period's R2 storage usage
    synced_days: set[date]  # the bucket's days with R2 storage metrics
    month_reads: pd.DataFrame
    cls_b: np.ndarray  # each month read's class as is
    req: np.ndarray
    get: np.ndarray
    size: np.ndarray
    retr_b: int
    tr_b: int  # IA transitions in the month as is
    other_removals: pd.DataFrame  # every other object's IA removals


def _as_is(ctx: _Context, bucket: str, before: pd.DataFrame, reads: pd.DataFrame) -> _AsIs:
    """`_AsIs` of (bucket, before, reads), derived once for the prefix's candidates (the
    last one kept in `ctx.cache`, so memory stays that of one prefix)."""
    key = f"as_is:{bucket}:{id(before)}:{id(reads)}"
    hit = ctx.cache.get(key)
    if isinstance(hit, _AsIs) and hit.before is before and hit.reads is reads:
        return hit
    first, nxt = ctx.first, ctx.nxt
    lo, hi = pd.Timestamp(first, tz="UTC"), pd.Timestamp(nxt, tz="UTC")
    storage = ctx.usage.frame("r2_storage", ["date", "bucket", "storage_class", "bytes"])
    month_reads = reads[(reads["date"] >= lo) & (reads["date"] < hi)]
    cls_b = _read_class(month_reads, before)
    req = month_reads["requests"].to_numpy(np.int64)
    get = (month_reads["action_type"] == "GetObject").to_numpy()
    size = month_reads["size_bytes"].to_numpy(np.int64)
    tr_b = _in_month(before["ia_from"], lo, hi) & before["storage_class"].eq(IA)
    every = ctx.removals()
    out = _AsIs(
        before=before, reads=reads,
        daily=_daily(before, first, nxt).set_index(["date", "storage_class"])["bytes"],
        storage=storage,
        synced_days=set(pd.to_datetime(storage.loc[storage["bucket"] == bucket, "date"])
                        .dt.date),
        month_reads=month_reads, cls_b=cls_b, req=req, get=get, size=size,
        retr_b=int((req * size)[get & (cls_b == IA)].sum()), tr_b=int(tr_b.sum()),
        other_removals=every[~every.index.isin(before.index)])
    ctx.cache.clear()  # a prefix's candidates are priced one after another: keep the last only
    ctx.cache[key] = out
    return out


def _daily(objs: pd.DataFrame, first: date, nxt: date) -> pd.DataFrame:
    if not len(objs):
        return pd.DataFrame({"date": [], "storage_class": [], "bytes": []})
    return objects_daily_bytes(objs, first, nxt)


def _of_object(reads: pd.DataFrame, objs: pd.DataFrame, col: str) -> pd.Series:
    """`objs[col]` of each read's object (NaT for an object not in `objs`), by its row in
    `ctx.objects` (`objs` is a slice of it, with its index)."""
    return objs[col].reindex(reads["obj"].to_numpy()).reset_index(drop=True)


def _read_class(reads: pd.DataFrame, objs: pd.DataFrame) -> np.ndarray:
    ia_from = _of_object(reads, objs, "ia_from")
    ia = ia_from.notna().to_numpy() & (_naive(reads["date"])
                                       >= _naive(ia_from.dt.floor("D")))
    return np.where(ia, IA, STANDARD)


def _naive(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as naive datetime64 (NaT compares False, as in pandas): comparing
    numpy arrays of a tz-aware Series would compare Timestamp objects one by one."""
    return pd.to_datetime(ts, utc=True).dt.tz_convert(None).to_numpy()


def _alive(reads: pd.DataFrame, objs: pd.DataFrame) -> np.ndarray:
    until = _of_object(reads, objs, "stored_until")
    return (until.isna() | (reads["date"].reset_index(drop=True) < until.dt.floor("D"))) \
        .to_numpy()


def _in_month(ts: pd.Series, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.Series:
    return ts.notna() & (ts >= lo) & (ts < hi)


def _marginal(bill: Bill, book: PriceBook) -> Decimal:
    """The bill's quantities x unit prices, without rounding up or free allowances."""
    return sum((li.consumed_quantity / book.price(li.sku_id, bill.month).pricing_block
                * li.unit_price for li in bill.line_items), Decimal(0))


def _sku_delta(before: Bill, after: Bill) -> dict[str, str]:
    skus = {li.sku_id for li in before.line_items} | {li.sku_id for li in after.line_items}
    out = {}
    for sku in sorted(skus):
        d = after.cost_of(sku) - before.cost_of(sku)
        if d:
            out[sku] = str(d)
    return out


def _rule_text(n: int | None, m: int | None) -> str:
    parts = []
    if n is not None:
        parts.append(f"transition to Infrequent Access after {n} days")
    if m is not None:
        parts.append(f"expire after {m} days")
    return " and ".join(parts)


def _new_rule(prefix: str, n: int | None, m: int | None) -> dict[str, Any]:
    slug = prefix.strip("/").replace("/", "-") or "bucket"
    name = "-".join(p for p in (f"ia{n}d" if n else "", f"expire{m}d" if m else "") if p)
    rule: dict[str, Any] = {"ID": f"lc-analytics-{slug}-{name}", "Status": "Enabled",
                            "Filter": {"Prefix": prefix}}
    if n is not None:
        rule["Transitions"] = [{"Days": n, "StorageClass": IA}]
    if m is not None:
        rule["Expiration"] = {"Days": m}
    return rule


def _merged(current: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Existing rules kept; a new rule merges into an existing one of the same prefix (keeping
    its ID, so two rules never disagree); R2's default multipart-abort rule kept or added."""
    out = [json.loads(json.dumps(r)) for r in current]
    for rule in new:
        prefix = rule["Filter"]["Prefix"]
        same = [r for r in out if (r.get("Filter") or {}).get("Prefix", r.get("Prefix", ""))
                == prefix and ("Transitions" in r or "Expiration" in r)]
        if same:
            target = same[0]
            for key in ("Transitions", "Expiration"):
                if key in rule:
                    target[key] = rule[key]
        else:
            out.append(rule)
    if not any("AbortIncompleteMultipartUpload" in r for r in out):
        out.append(dict(DEFAULT_ABORT_RULE))
    return out
