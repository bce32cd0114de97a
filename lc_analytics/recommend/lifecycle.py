"""R2 lifecycle: move cold objects to Infrequent Access, or expire objects nobody reads.

The rule, per bucket and prefix (prefix = an object key up to and including its first '/'):

- Evidence: the objects' ages (inventory, `last_modified`) and their reads by age (GetObject
  and HeadObject successes per object per day, age at read = read date - last_modified date)
  over the reads the warehouse holds (R2 keeps 31 days; the warehouse keeps every synced day).
- Candidates: transition to Infrequent Access after N days, expire after M days, or both
  (N < M), with N and M from `CANDIDATE_DAYS` (30, 60, 90, 180, 365). A candidate is skipped
  where a rule already covering the prefix transitions at <= N days (or expires at <= M).
  Expiry after M is a candidate only where the observed window holds no read at all at ages
  >= M and at least `MIN_EXPOSED_OBJECT_DAYS` object-days were observed at those ages (never
  delete data someone reads, nor data too young to have been watched at that age).
- Pricing: the last complete billing month is priced by the engine twice, account-wide: as
  it was (the synced usage) and as if the rule had always been in force. When the warehouse
  does not hold that month's R2 storage for every day (R2 keeps 31 days, so a first sync
  mid-month holds a few days of it), the last `WINDOW_DAYS` complete days are priced instead
  (`price_period`): a rule's effect is never judged on a few days of storage, where it rounds
  to nothing. As if the rule had always been in force: objects past N days
  held as Infrequent Access from day N + 1 (storage at the IA price, no free tier), every
  read of them billed at IA Class B rates and every GetObject adding its size to IA
  retrieval, one Class A transition at the IA rate per object crossing N in the month (the
  amortised transition cost), objects past M days gone, and the 30-day IA minimum charged for
  objects removed within 30 days of their transition. Standard's free 10 GB-month applies to
  what stays Standard, so its loss is in the difference. Saving = bill before - bill after.
- Proposed only when both the engine's saving (with rounding up and free tiers) and the
  marginal saving (the same quantity changes x unit prices, no rounding) are positive: a rule
  whose net effect is a cost is never proposed. Of a prefix's candidates the one saving most
  is proposed. `lifecycle_candidates` returns every candidate with its figures.
- Existing rules are reviewed too (`existing_rule_reviews`): each enabled rule that alone moves
  its prefix to Infrequent Access is re-priced with its transition removed, or moved later to
  each of `CANDIDATE_DAYS` (before its expiry), acting from the priced period's start (objects
  already in IA stay there: R2 never moves them back). IA has no free tier and bills
  operations in whole millions, so a small IA footprint can cost more than it saves. A change
  is proposed when the engine's saving is positive and either the marginal saving is too or
  the saving comes from whole operation blocks that only the rule's traffic keeps billed; of
  a rule's changes the one saving most. An expiry alone never adds to the bill (deletes are
  free) except through the IA minimum, which the transition's removal or delay removes. A
  reviewed prefix gets no new rule; the change goes into the bucket's `r2.lifecycle` action.
- A bucket without R2's default multipart-abort rule gets it back (a separate, information-only
  recommendation when nothing else is proposed for the bucket: the rule costs nothing, and
  the parts' bytes are not reported, so no saving is claimed).
- The one-time cost of transitioning the backlog (objects already older than N when the rule
  is applied, one IA Class A operation each) is stated in the evidence.
- Action: `r2.lifecycle` on the bucket: current = the bucket's rules as synced; proposed =
  the same rules with reviewed rules changed (a rule left with no action is dropped), the new
  rule added (or merged into an existing rule of the same prefix,
  keeping its ID) and R2's default multipart-abort rule kept (added if missing, aborting
  incomplete multipart uploads after `ABORT_MULTIPART_DAYS` days), in the S3
  PutBucketLifecycleConfiguration shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
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
    month_bounds,
    objects_daily_bytes,
    price_period,
)
from ..costs.pricebook import PriceBook
from ..costs.usage import inventory_objects, warehouse_usage
from ..warehouse import Warehouse
from ._common import as_json, money, resolve
from .model import Action, Recommendation

#: Days evaluated for transitions (N) and expirations (M).
CANDIDATE_DAYS: tuple[int, ...] = (30, 60, 90, 180, 365)
#: Object-days observed at ages >= M (with no read) before an expiry after M is considered.
MIN_EXPOSED_OBJECT_DAYS = 100
#: Days after which R2's default rule aborts incomplete multipart uploads.
ABORT_MULTIPART_DAYS = 7
#: Reads observed over at least this many days give "high" confidence.
HIGH_CONFIDENCE_READ_DAYS = 60
#: Days priced when the last complete month is not fully covered (R2 keeps 31 days).
WINDOW_DAYS = 30

KIND = "r2_lifecycle"
DEFAULT_ABORT_RULE = {"ID": "Default Multipart Abort Rule", "Status": "Enabled",
                      "Filter": {"Prefix": ""},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation":
                                                         ABORT_MULTIPART_DAYS}}


@dataclass
class _Context:
    """Everything the candidates of one run share: the priced period, its usage and bill."""

    book: PriceBook
    first: date  # the priced period [first, nxt): a billing month or the last WINDOW_DAYS
    nxt: date
    usage: Usage
    bill: Bill
    objects: pd.DataFrame
    reads: pd.DataFrame  # per object per day, with age
    read_days: tuple[date, date] | None
    rules: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    r2_complete: bool = True


def lifecycle_candidates(wh: Warehouse, *, book: PriceBook | str | None = None,
                         as_of: date | str | None = None,
                         candidate_days: tuple[int, ...] = CANDIDATE_DAYS,
                         min_exposed_object_days: int = MIN_EXPOSED_OBJECT_DAYS
                         ) -> pd.DataFrame:
    """Every (bucket, prefix, transition N, expiry M) evaluated, with its priced effect.

    Columns: bucket, prefix, transition_days, expire_days, saving (engine), marginal_saving,
    proposable, reason, plus the quantities behind them (see `_evaluate`).

    >>> lifecycle_candidates(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    rows = []
    for (bucket, prefix), objs in _groups(ctx.objects):
        rows += [r for r, _ in _prefix_candidates(ctx, bucket, prefix, objs, candidate_days,
                                                  min_exposed_object_days)]
    return pd.DataFrame(rows)


def recommend_lifecycle(wh: Warehouse, *, book: PriceBook | str | None = None,
                        as_of: date | str | None = None,
                        candidate_days: tuple[int, ...] = CANDIDATE_DAYS,
                        min_exposed_object_days: int = MIN_EXPOSED_OBJECT_DAYS
                        ) -> list[Recommendation]:
    """Lifecycle rules per bucket and prefix that lower the R2 bill, priced by the engine.

    >>> recs = recommend_lifecycle(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> [(r.target, r.evidence["rule"], r.monthly_saving) for r in recs]          # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    best = _best_reviews(ctx, candidate_days)
    reviewed = {(row["bucket"], row["prefix"]) for row, _ in best}
    for (bucket, prefix), objs in _groups(ctx.objects):
        if (bucket, prefix) in reviewed:
            continue  # its existing rule is changed: no second rule on the same prefix
        cands = [c for c in _prefix_candidates(ctx, bucket, prefix, objs, candidate_days,
                                               min_exposed_object_days) if c[0]["proposable"]]
        if cands:
            best.append(max(cands, key=lambda c: (c[0]["saving"], c[0]["marginal_saving"])))
    out = []
    by_bucket: dict[str, list[tuple[dict, dict]]] = {}
    for row, extra in sorted(best, key=lambda c: -c[0]["saving"]):
        by_bucket.setdefault(row["bucket"], []).append((row, extra))
    for bucket, items in by_bucket.items():
        current = _current_rules(ctx.rules, bucket)
        changed = _changed(current, [e["change"] for _, e in items if "change" in e])
        proposed = _merged(changed, [e["rule"] for _, e in items if "rule" in e])
        action_id = f"r2.lifecycle:{bucket}"
        for i, (row, extra) in enumerate(items):
            rid = f"{KIND}:{bucket}/{row['prefix']}"
            actions: tuple[Action, ...] = ()
            if i == 0:
                actions = (Action(
                    id=action_id, kind="r2.lifecycle", resource=bucket,
                    current={"Rules": current}, proposed={"Rules": proposed},
                    why="; ".join(f"{r['prefix'] or '(whole bucket)'}: {e['rule_text']}"
                                  for r, e in items),
                    recommendation_id=rid),)
            make = _review_recommendation if "change" in extra else _recommendation
            out.append(make(ctx, row, extra, rid, actions, action_id))
    for bucket in _buckets_without_abort(wh, ctx.rules):
        if bucket not in by_bucket:
            out.append(_abort_recommendation(wh, ctx, bucket))
    return out


# --- context ---------------------------------------------------------------------------------

def _context(wh: Warehouse, book: PriceBook, day: date) -> _Context:
    first, nxt, r2_usage, notes, complete = _priced_period(wh, day)
    objs = inventory_objects(wh).reset_index(drop=True)
    objs["c_day"] = pd.to_datetime(objs["stored_from"], utc=True).dt.floor("D")
    reads = wh.query("SELECT date, bucket, object_name AS key, action_type, requests "
                     "FROM r2_object_reads_daily WHERE date <= ?", [day])
    reads["date"] = pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
    reads = reads.merge(objs[["bucket", "key", "size_bytes", "c_day"]], on=["bucket", "key"],
                        how="inner")
    reads["age"] = ((reads["date"] - reads["c_day"]) // pd.Timedelta(days=1)).astype(int)
    read_days = None
    if len(reads):
        read_days = (reads["date"].min().date(), day)
    usage = Usage(stream_storage=None, stream_delivery=None, r2_storage=r2_usage.r2_storage,
                  r2_ia_removals=_removals(objs), r2_operations=r2_usage.r2_operations,
                  r2_retrieval=r2_usage.r2_retrieval)
    rules = wh.query("SELECT bucket, rule_id, enabled, prefix, transition_days, expire_days, "
                     "abort_multipart_days, rule_json FROM r2_lifecycle_rules "
                     "WHERE missing_since IS NULL ORDER BY bucket, rule_id")
    bill = price_period(usage, first, nxt - timedelta(days=1), book)
    return _Context(book, first, nxt, usage, bill, objs, reads, read_days, rules, notes,
                    complete)


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
    prefix = objects["key"].str.extract(r"^([^/]*/)", expand=False).fillna("")
    for (bucket, pre), grp in objects.assign(prefix=prefix).groupby(["bucket", "prefix"],
                                                                    sort=True):
        if pre == "" and (prefix[objects["bucket"] == bucket] != "").any():
            continue  # root-level keys next to folders: a "" rule would cover the folders too
        yield (bucket, pre), grp


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


# --- candidates ------------------------------------------------------------------------------

def _prefix_candidates(ctx: _Context, bucket: str, prefix: str, objs: pd.DataFrame,
                       days: tuple[int, ...], min_exposed: int):
    has_t, has_e = _covering(ctx.rules, bucket, prefix)
    reads = ctx.reads[(ctx.reads["bucket"] == bucket) & ctx.reads["key"].str.startswith(prefix)]
    exposure = _exposure(objs, ctx.read_days)
    transitions = [n for n in days if has_t is None or n < has_t]
    expiries = []
    for m in days:
        if has_e is not None and m >= has_e:
            continue
        if (reads["age"] >= m).any() or exposure(m) < min_exposed:
            continue
        expiries.append(m)
    combos: list[tuple[int | None, int | None]] = [(n, None) for n in transitions] + \
        [(None, m) for m in expiries] + [(n, m) for n in transitions for m in expiries if n < m]
    for to_ia, expire in combos:
        yield _evaluate(ctx, bucket, prefix, objs, reads, to_ia, expire, has_t, has_e, exposure)


def _exposure(objs: pd.DataFrame, read_days: tuple[date, date] | None):
    """Object-days observed at ages >= m inside the reads window, as a function of m."""
    if read_days is None:
        return lambda m: 0
    lo = pd.Timestamp(read_days[0], tz="UTC")
    hi = pd.Timestamp(read_days[1], tz="UTC")
    gone = objs["stored_until"].fillna(hi + pd.Timedelta(days=1)).dt.floor("D")
    end = np.minimum(gone, hi + pd.Timedelta(days=1))

    def at(m: int) -> int:
        start = np.maximum(objs["c_day"] + pd.Timedelta(days=m), lo)
        span = ((end - start) // pd.Timedelta(days=1)).clip(lower=0)
        return int(span.sum())
    return at


def _evaluate(ctx: _Context, bucket: str, prefix: str, objs: pd.DataFrame,
              reads: pd.DataFrame, n: int | None, m: int | None, has_t: int | None,
              has_e: int | None, exposure) -> tuple[dict, dict]:
    first, nxt, book = ctx.first, ctx.nxt, ctx.book
    before = objs
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
    after["storage_class"] = np.where(after["ia_from"].notna(), IA, STANDARD)

    ch = _price_change(ctx, bucket, before, after, reads)
    dframe, moved_to_ia, transitions = ch["dframe"], ch["moved_to_ia"], ch["transitions"]
    retr_a, retr_b, bill_after = ch["retr_a"], ch["retr_b"], ch["bill_after"]
    saving, marginal, sku_delta = ch["saving"], ch["marginal"], ch["sku_delta"]

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
            reads.loc[reads["age"] >= m, "requests"].sum()),
        "exposed_object_days": exposure(m) if m is not None else None,
        "saving": saving, "marginal_saving": marginal, "proposable": proposable,
        "reason": reason, "rule": rule_text,
    }
    extra = {"rule": _new_rule(prefix, n, m), "rule_text": rule_text, "sku_delta": sku_delta,
             "bill_before": ctx.bill.total, "bill_after": bill_after.total}
    return row, extra


def _price_change(ctx: _Context, bucket: str, before: pd.DataFrame, after: pd.DataFrame,
                  reads: pd.DataFrame) -> dict[str, Any]:
    """The priced period re-priced account-wide with `before` (objects of one bucket, as they
    are) replaced by `after` (the same objects under other rules): storage on the synced days,
    reads' class and retrieval, transitions and the IA minimum."""
    first, nxt, book = ctx.first, ctx.nxt, ctx.book
    lo, hi = pd.Timestamp(first, tz="UTC"), pd.Timestamp(nxt, tz="UTC")
    # storage: the prefix's modelled daily bytes after minus before, on the synced days
    delta = _daily(after, first, nxt).set_index(["date", "storage_class"])["bytes"] - \
        _daily(before, first, nxt).set_index(["date", "storage_class"])["bytes"]
    storage = ctx.usage.frame("r2_storage", ["date", "bucket", "storage_class", "bytes"])
    synced_days = set(pd.to_datetime(storage.loc[storage["bucket"] == bucket, "date"]).dt.date)
    dframe = delta.reset_index()
    dframe = dframe[dframe["date"].isin(synced_days) & (dframe["bytes"] != 0)]
    storage_after = pd.concat([storage, dframe.assign(bucket=bucket)], ignore_index=True)

    # reads in the month: class (and retrieval) before and after; reads of expired objects go
    month_reads = reads[(reads["date"] >= lo) & (reads["date"] < hi)]
    cls_b = _read_class(month_reads, before)
    cls_a = _read_class(month_reads, after)
    kept = _alive(month_reads, after)
    req = month_reads["requests"].to_numpy(np.int64)
    moved_to_ia = int(req[(cls_a == IA) & (cls_b != IA) & kept].sum())
    ops_rows = []
    for op_cls in (STANDARD, IA):
        n_b = int(req[cls_b == op_cls].sum())
        n_a = int(req[(cls_a == op_cls) & kept].sum())
        if n_a != n_b:
            ops_rows.append({"date": first, "bucket": bucket, "op_class": "B",
                             "storage_class": op_cls, "requests": n_a - n_b})
    get = (month_reads["action_type"] == "GetObject").to_numpy()
    size = month_reads["size_bytes"].to_numpy(np.int64)
    retr_b = int((req * size)[get & (cls_b == IA)].sum())
    retr_a = int((req * size)[get & (cls_a == IA) & kept].sum())
    tr_b = _in_month(before["ia_from"], lo, hi) & before["storage_class"].eq(IA)
    tr_a = _in_month(after["ia_from"], lo, hi)
    transitions = int(tr_a.sum()) - int(tr_b.sum())
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
    others = ~ctx.objects.index.isin(before.index)
    removals_after = _removals(pd.concat([ctx.objects[others], after], ignore_index=True))
    usage_after = Usage(r2_storage=storage_after, r2_ia_removals=removals_after,
                        r2_operations=ops_after, r2_retrieval=retr_after)
    bill_after = price_period(usage_after, first, nxt - timedelta(days=1), book)
    saving = ctx.bill.total - bill_after.total
    marginal = _marginal(ctx.bill, book) - _marginal(bill_after, book)
    sku_delta = _sku_delta(ctx.bill, bill_after)
    return {"dframe": dframe, "moved_to_ia": moved_to_ia, "transitions": transitions,
            "retr_a": retr_a, "retr_b": retr_b, "bill_after": bill_after, "saving": saving,
            "marginal": marginal, "sku_delta": sku_delta}


def _daily(objs: pd.DataFrame, first: date, nxt: date) -> pd.DataFrame:
    if not len(objs):
        return pd.DataFrame({"date": [], "storage_class": [], "bytes": []})
    return objects_daily_bytes(objs, first, nxt)


def _read_class(reads: pd.DataFrame, objs: pd.DataFrame) -> np.ndarray:
    ia_from = reads[["bucket", "key"]].merge(objs[["bucket", "key", "ia_from"]],
                                             on=["bucket", "key"], how="left")["ia_from"]
    ia = ia_from.notna().to_numpy() & (reads["date"].to_numpy() >= ia_from.dt.floor("D")
                                       .to_numpy())
    return np.where(ia, IA, STANDARD)


def _alive(reads: pd.DataFrame, objs: pd.DataFrame) -> np.ndarray:
    until = reads[["bucket", "key"]].merge(objs[["bucket", "key", "stored_until"]],
                                           on=["bucket", "key"], how="left")["stored_until"]
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


def _buckets_without_abort(wh: Warehouse, rules: pd.DataFrame) -> list[str]:
    """Buckets (synced) with no enabled rule aborting incomplete multipart uploads."""
    buckets = set(wh.query("SELECT DISTINCT bucket FROM r2_storage_daily")["bucket"]) | \
        set(wh.query("SELECT DISTINCT bucket FROM r2_objects")["bucket"])
    covered = set(rules.loc[rules["enabled"] & rules["abort_multipart_days"].notna(), "bucket"])
    return sorted(buckets - covered)


def _abort_recommendation(wh: Warehouse, ctx: _Context, bucket: str) -> Recommendation:
    """R2's default multipart-abort rule, where a bucket lost it: free, so always proposed;
    what it saves is unknown (pending uploads' parts are billed as storage, but their bytes
    are not reported), so it is information with no saving claimed."""
    pending = wh.query("SELECT date, upload_count FROM r2_storage_daily WHERE bucket = ? "
                       "ORDER BY date DESC LIMIT 1", [bucket])
    uploads = int(pending["upload_count"].iloc[0]) if len(pending) else None
    current = _current_rules(ctx.rules, bucket)
    rid = f"{KIND}:{bucket}/"
    action = Action(id=f"r2.lifecycle:{bucket}", kind="r2.lifecycle", resource=bucket,
                    current={"Rules": current}, proposed={"Rules": _merged(current, [])},
                    why=f"abort incomplete multipart uploads after {ABORT_MULTIPART_DAYS} days",
                    recommendation_id=rid)
    return Recommendation(
        id=rid, kind=KIND, target_type="bucket_prefix", target=f"{bucket}/",
        action=(f"Restore R2's default rule on {bucket}: abort incomplete multipart uploads "
                f"{ABORT_MULTIPART_DAYS} days after they start."),
        evidence=as_json({"bucket": bucket, "pending_multipart_uploads": uploads,
                          "existing_rules": [r.get("ID") for r in current],
                          "information_only": True,
                          "confidence_reason": "the bucket has no abort rule; the parts' bytes "
                                               "are not reported, so no saving is claimed"}),
        rule="every bucket keeps a rule aborting incomplete multipart uploads (R2's default)",
        monthly_saving=Decimal(0),
        saving_computation=("No saving claimed: parts of incomplete multipart uploads are "
                            "billed as storage but their size is not reported; the rule itself "
                            f"costs nothing. Pending uploads on the latest day: {uploads}."),
        viewer_impact="None: only uploads abandoned for a week are removed.",
        confidence="high", actions=(action,))


# --- existing rules -------------------------------------------------------------------------

def _best_reviews(ctx: _Context, days: tuple[int, ...]) -> list[tuple[dict, dict]]:
    """Per existing transition rule, its most saving proposable change (if any)."""
    best = []
    for cands in _rule_reviews(ctx, days).values():
        ok = [c for c in cands if c[0]["proposable"]]
        if ok:
            best.append(max(ok, key=lambda c: (c[0]["saving"], c[0]["marginal_saving"])))
    return best


def existing_rule_reviews(wh: Warehouse, *, book: PriceBook | str | None = None,
                          as_of: date | str | None = None,
                          candidate_days: tuple[int, ...] = CANDIDATE_DAYS) -> pd.DataFrame:
    """Every change evaluated for every existing transition rule, with its priced effect.

    Columns: bucket, prefix, rule_id, transition_days, new_transition_days (None: the
    transition removed), saving (engine), marginal_saving, proposable, reason, quantities.

    >>> existing_rule_reviews(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    return pd.DataFrame([row for cands in _rule_reviews(ctx, candidate_days).values()
                         for row, _ in cands])


def _rule_reviews(ctx: _Context, days: tuple[int, ...]) -> dict[str, list[tuple[dict, dict]]]:
    """Per enabled rule that moves objects to Infrequent Access (and is the only one moving
    its prefix): the rule's transition removed, or moved later to each of `days` (before its
    expiry), each priced as if changed at the start of the priced period."""
    rules = ctx.rules[ctx.rules["enabled"] & ctx.rules["transition_days"].notna()]
    out: dict[str, list[tuple[dict, dict]]] = {}
    for rule in rules.itertuples():
        bucket, prefix = rule.bucket, rule.prefix or ""
        others = rules[(rules["bucket"] == bucket) & (rules["rule_id"] != rule.rule_id)]
        if any(prefix.startswith(p or "") or (p or "").startswith(prefix)
               for p in others["prefix"]):
            continue  # objects another rule also moves: not this rule's alone to change
        mine = ctx.objects["bucket"].eq(bucket) & ctx.objects["key"].str.startswith(prefix)
        if not mine.any():
            continue
        reads = ctx.reads[(ctx.reads["bucket"] == bucket)
                          & ctx.reads["key"].str.startswith(prefix)]
        n = int(rule.transition_days)
        m = None if pd.isna(rule.expire_days) else int(rule.expire_days)
        options = [None] + [d for d in days if d > n and (m is None or d < m)]
        out[f"{bucket}/{rule.rule_id}"] = [
            _review(ctx, rule, ctx.objects[mine], reads, n, new) for new in options]
    return out


def _review(ctx: _Context, rule: Any, objs: pd.DataFrame, reads: pd.DataFrame, n: int,
            new: int | None) -> tuple[dict, dict]:
    """One change of an existing transition rule, acting from the start of the priced period:
    objects already in Infrequent Access stay there (R2 never moves them back); those the
    rule moved during the period stay Standard (`new` None) or move `new` days after upload."""
    lo, hi = pd.Timestamp(ctx.first, tz="UTC"), pd.Timestamp(ctx.nxt, tz="UTC")
    after = objs.copy()
    moved = after["ia_from"].notna() & (after["ia_from"] >= lo)
    later = after["c_day"] + pd.Timedelta(days=(new or 0) + 1)
    after.loc[moved, "ia_from"] = later[moved].where(later[moved] < hi) if new else pd.NaT
    after["storage_class"] = np.where(after["ia_from"].notna(), IA, STANDARD)
    ch = _price_change(ctx, rule.bucket, objs, after, reads)
    gbm = Decimal(ctx.book.rule("bytes_per_gb")) * (ctx.nxt - ctx.first).days
    by_cls = ch["dframe"].groupby("storage_class")["bytes"].sum() if len(ch["dframe"]) \
        else pd.Series(dtype="int64")
    saving, marginal = ch["saving"], ch["marginal"]
    meters = {sku.id: sku.meter for sku in ctx.book.skus(ctx.first)}
    blocks = -sum((Decimal(v) for k, v in ch["sku_delta"].items()
                   if meters.get(k) == "operations"), Decimal(0))
    # the bill decides: a positive marginal saving, or whole operation blocks (a million
    # requests each, no free tier in IA) that only this rule's traffic keeps billed
    proposable = saving > 0 and (marginal > 0 or blocks >= saving)
    text = (f"remove its transition to Infrequent Access (after {n} days)" if new is None
            else f"transition to Infrequent Access after {new} days instead of {n}")
    ia = objs["ia_from"].notna() & objs["stored_until"].isna()
    row = {
        "bucket": rule.bucket, "prefix": rule.prefix or "", "rule_id": rule.rule_id,
        "transition_days": n, "new_transition_days": new,
        "expire_days": None if pd.isna(rule.expire_days) else int(rule.expire_days),
        "objects": len(objs), "ia_objects": int(ia.sum()),
        "ia_bytes": int(objs.loc[ia, "size_bytes"].sum()),
        "transitions_in_period": int(moved.sum()),
        "transitions_per_month_delta": ch["transitions"],
        "standard_gb_month_delta": float(Decimal(int(by_cls.get(STANDARD, 0))) / gbm),
        "ia_gb_month_delta": float(Decimal(int(by_cls.get(IA, 0))) / gbm),
        "retrieval_gb_delta": float(Decimal(ch["retr_a"] - ch["retr_b"])
                                    / Decimal(ctx.book.rule("bytes_per_gb"))),
        "saving": saving, "marginal_saving": marginal, "proposable": proposable,
        "operations_blocks_saving": blocks,
        "reason": ("the rule costs more than it saves" if proposable else
                   f"the rule pays off or the change saves nothing (engine {saving}, "
                   f"marginal {marginal:.6f})"),
        "rule": text,
    }
    extra = {"change": {"ID": rule.rule_id, "transition_days": new}, "rule_text": text,
             "sku_delta": ch["sku_delta"], "bill_before": ctx.bill.total,
             "bill_after": ch["bill_after"].total}
    return row, extra


def _changed(current: list[dict[str, Any]], changes: list[dict[str, Any]]
             ) -> list[dict[str, Any]]:
    """The rules with each change applied: a rule's transition removed (the rule dropped when
    nothing is left in it) or its transition days changed; the current rules unmodified."""
    out = []
    by_id = {c["ID"]: c["transition_days"] for c in changes}
    for rule in (json.loads(json.dumps(r)) for r in current):
        if rule.get("ID") in by_id:
            days = by_id[rule["ID"]]
            if days is None:
                rule.pop("Transitions", None)
                rule.pop("Transition", None)
                if not any(k in rule for k in ("Expiration", "AbortIncompleteMultipartUpload",
                                                "NoncurrentVersionExpiration",
                                                "NoncurrentVersionTransitions")):
                    continue
            else:
                for t in rule.get("Transitions", []):
                    t["Days"] = days
        out.append(rule)
    return out


def _review_recommendation(ctx: _Context, row: dict, extra: dict, rid: str,
                           actions: tuple[Action, ...], action_id: str) -> Recommendation:
    bucket, prefix, rule_id = row["bucket"], row["prefix"], row["rule_id"]
    sku = ", ".join(f"{k} {'+' if not v.startswith('-') else ''}{v}"
                    for k, v in extra["sku_delta"].items()) or "no line changes"
    computation = (
        f"Engine ({ctx.book.label}) re-prices {_period_label(ctx)} account-wide as if rule "
        f"'{rule_id}' on {bucket}/{prefix} had been changed at its start ({extra['rule_text']};"
        f" objects already in Infrequent Access stay there): bill ${extra['bill_before']} -> "
        f"${extra['bill_after']} = {money(row['saving'])}/month saved (line changes: {sku}). "
        f"Quantities: {row['transitions_per_month_delta']:+,} transitions (IA Class A, billed "
        f"in whole millions) a month, Standard {row['standard_gb_month_delta']:+.3f} GB-month, "
        f"IA {row['ia_gb_month_delta']:+.3f} GB-month, IA retrieval "
        f"{row['retrieval_gb_delta']:+.3f} GB; marginal (no rounding, no free tier) "
        f"{row['marginal_saving']:.6f}.")
    confidence = "high" if ctx.r2_complete else "low"
    evidence = as_json({
        "bucket": bucket, "prefix": prefix, "existing_rule": rule_id,
        "rule": extra["rule_text"], "transition_days": row["transition_days"],
        "new_transition_days": row["new_transition_days"], "expire_days": row["expire_days"],
        "objects": row["objects"], "ia_objects": row["ia_objects"], "ia_bytes": row["ia_bytes"],
        "transitions_per_month_delta": row["transitions_per_month_delta"],
        "standard_gb_month_delta": row["standard_gb_month_delta"],
        "ia_gb_month_delta": row["ia_gb_month_delta"],
        "retrieval_gb_delta": row["retrieval_gb_delta"],
        "sku_cost_delta": extra["sku_delta"], "marginal_saving": row["marginal_saving"],
        "operations_blocks_saving": row["operations_blocks_saving"],
        "priced_month": _period_label(ctx), "lifecycle_action": action_id,
        "confidence_reason": ("the priced period's R2 usage is synced for every day"
                              if ctx.r2_complete else
                              "the priced period has R2 storage for only part of its days"),
        "notes": ctx.notes,
    })
    text = (f"Change R2 lifecycle rule '{rule_id}' on {bucket} (prefix '{prefix}'): "
            f"{extra['rule_text']}; it costs more than it saves.")
    if not actions:
        text += f" (Sent with action {action_id}, together with the bucket's other changes.)"
    return Recommendation(
        id=rid, kind=KIND, target_type="bucket_prefix", target=f"{bucket}/{prefix}",
        action=text, evidence=evidence,
        rule=("every enabled rule moving objects to Infrequent Access is re-priced with its "
              "transition removed or moved later (acting from the priced period's start; IA "
              "objects stay IA); proposed only if the engine-priced saving is positive and "
              "either the marginal saving is too or it comes from whole operation blocks "
              "(a million requests each) only the rule's traffic keeps billed"),
        monthly_saving=row["saving"], saving_computation=computation,
        viewer_impact=("None: objects stay readable; those not moved to Infrequent Access "
                       "are read at Standard rates, without retrieval fees."),
        confidence=confidence, actions=actions)


# --- the recommendation ----------------------------------------------------------------------

def _recommendation(ctx: _Context, row: dict, extra: dict, rid: str,
                    actions: tuple[Action, ...], action_id: str) -> Recommendation:
    bucket, prefix = row["bucket"], row["prefix"]
    n, m = row["transition_days"], row["expire_days"]
    read_span = ((ctx.read_days[1] - ctx.read_days[0]).days + 1) if ctx.read_days else 0
    prefix_reads = ctx.reads[(ctx.reads["bucket"] == bucket)
                             & ctx.reads["key"].str.startswith(prefix)]
    by_age = prefix_reads.assign(band=pd.cut(prefix_reads["age"],
                                             [-1, 0, 6, 29, 59, 89, 179, 364, 10**6],
                                             labels=["0", "1-6", "7-29", "30-59", "60-89",
                                                     "90-179", "180-364", "365+"]))
    reads_by_age = by_age.groupby("band", observed=False)["requests"].sum().astype(int)
    ages_now = (pd.Timestamp(ctx.read_days[1] if ctx.read_days else ctx.first, tz="UTC")
                - ctx.objects.loc[(ctx.objects["bucket"] == bucket)
                                  & ctx.objects["key"].str.startswith(prefix)
                                  & ctx.objects["stored_until"].isna(), "c_day"]).dt.days
    sizes = ctx.objects.loc[ages_now.index, "size_bytes"]
    bytes_by_age = sizes.groupby(pd.cut(ages_now, [-1, 29, 89, 179, 364, 10**6],
                                        labels=["0-29", "30-89", "90-179", "180-364", "365+"]),
                                 observed=False).sum().astype(int)
    sku = ", ".join(f"{k} {'+' if not v.startswith('-') else ''}{v}"
                    for k, v in extra["sku_delta"].items()) or "no line changes"
    computation = (
        f"Engine ({ctx.book.label}) re-prices {_period_label(ctx)} account-wide as if "
        f"'{extra['rule_text']}' had applied to {bucket}/{prefix}: bill ${extra['bill_before']}"
        f" -> ${extra['bill_after']} = {money(row['saving'])}/month saved (line changes: "
        f"{sku}). Quantities: Standard {row['standard_gb_month_delta']:+.3f} GB-month, IA "
        f"{row['ia_gb_month_delta']:+.3f} GB-month, {row['reads_moved_to_ia']:,} reads moved "
        f"to IA Class B, IA retrieval {row['retrieval_gb_delta']:+.3f} GB, "
        f"{row['transitions_per_month_delta']:+,} transitions (IA Class A) a month; marginal "
        f"(no rounding, no free tier) {row['marginal_saving']:.6f}.")
    if row["backlog_transitions_once"]:
        computation += (f" One-time: {row['backlog_transitions_once']:,} objects already past "
                        f"{n} days transition once ({row['backlog_transitions_once']:,} IA "
                        "Class A operations).")
    if n is not None and m is not None and m - n < 30:
        computation += " Objects expiring within 30 days of their transition owe the IA minimum."
    confidence = "high" if read_span >= HIGH_CONFIDENCE_READ_DAYS else "medium"
    partial = "" if ctx.r2_complete else (
        f"; low: the priced period {_period_label(ctx)} has R2 storage for only part of its "
        "days, so the saving is understated")
    if partial:
        confidence = "low"
    evidence = as_json({
        "bucket": bucket, "prefix": prefix, "rule": extra["rule_text"],
        "transition_days": n, "expire_days": m,
        "existing_transition_days": row["existing_transition_days"],
        "existing_expire_days": row["existing_expire_days"],
        "objects": row["objects"], "bytes_stored": row["bytes"],
        "bytes_by_age_days": bytes_by_age.to_dict(),
        "reads_by_age_days": reads_by_age.to_dict(),
        "reads_window": [str(d) for d in ctx.read_days] if ctx.read_days else None,
        "reads_at_or_after_expiry": row["reads_at_or_after_expiry"],
        "exposed_object_days": row["exposed_object_days"],
        "priced_month": _period_label(ctx),
        "standard_gb_month_delta": row["standard_gb_month_delta"],
        "ia_gb_month_delta": row["ia_gb_month_delta"],
        "reads_moved_to_ia": row["reads_moved_to_ia"],
        "retrieval_gb_delta": row["retrieval_gb_delta"],
        "transitions_per_month_delta": row["transitions_per_month_delta"],
        "backlog_transitions_once": row["backlog_transitions_once"],
        "sku_cost_delta": extra["sku_delta"],
        "marginal_saving": row["marginal_saving"],
        "lifecycle_action": action_id,
        "confidence_reason": f"reads observed over {read_span} day(s)"
                             + ("" if read_span >= HIGH_CONFIDENCE_READ_DAYS else
                                f" (< {HIGH_CONFIDENCE_READ_DAYS}; R2 keeps 31 days of reads)")
                             + partial,
        "notes": ctx.notes,
    })
    if m is not None:
        impact = (f"Objects under {prefix} are deleted {m} days after upload; no object there "
                  f"was read at {m} days or older in the {read_span} day(s) observed "
                  f"({row['exposed_object_days']:,} object-days at those ages).")
    else:
        impact = ("No visible change: objects stay readable; reads after "
                  f"{n} days cost IA retrieval and IA Class B rates (counted above).")
    text = (f"Add an R2 lifecycle rule on {bucket} for prefix '{prefix}': "
            f"{extra['rule_text']}.")
    if not actions:
        text += f" (Sent with action {action_id}, together with the bucket's other new rules.)"
    return Recommendation(
        id=rid, kind=KIND, target_type="bucket_prefix", target=f"{bucket}/{prefix}",
        action=text, evidence=evidence,
        rule=("per bucket/prefix, transition after N and/or expire after M days (N, M in "
              f"{list(CANDIDATE_DAYS)}), expiry only with no read at ages >= M and >= "
              f"{MIN_EXPOSED_OBJECT_DAYS} object-days observed there; proposed only if the "
              "engine-priced month and the marginal saving are both positive"),
        monthly_saving=row["saving"], saving_computation=computation, viewer_impact=impact,
        confidence=confidence, actions=actions)


__all__ = ["CANDIDATE_DAYS", "KIND", "existing_rule_reviews", "lifecycle_candidates",
           "recommend_lifecycle"]
