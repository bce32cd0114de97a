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

from datetime import date

import pandas as pd

from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import resolve
from ._lifecycle_context import (
    AGE_BANDS,
    CANDIDATE_DAYS,
    KIND,
    MIN_EXPOSED_OBJECT_DAYS,
    Candidate,
    LifecycleRule,
    _Context,
    _context,
    _current_rules,
    _groups,
    age_band,
)
from ._lifecycle_price import _merged, _prefix_candidates
from ._lifecycle_rules import (
    _abort_recommendation,
    _best_reviews,
    _buckets_without_abort,
    _changed,
    _recommendation,
    _review_recommendation,
    existing_rule_reviews,
)
from .model import Action, Recommendation


def lifecycle_candidates(wh: Warehouse, *, book: PriceBook | str | None = None,
                         as_of: date | str | None = None,
                         rule: LifecycleRule | None = None) -> pd.DataFrame:
    """Every (bucket, prefix, transition N, expiry M) evaluated, with its priced effect.

    Columns: bucket, prefix, transition_days, expire_days, saving (engine), marginal_saving,
    proposable, reason, plus the quantities behind them (see `_evaluate`).

    >>> lifecycle_candidates(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    rule = rule or LifecycleRule()
    return pd.DataFrame([c.figures for (bucket, prefix), objs in _groups(ctx.objects)
                         for c in price(ctx, bucket, prefix, objs, rule)])


def recommend_lifecycle(wh: Warehouse, *, book: PriceBook | str | None = None,
                        as_of: date | str | None = None,
                        rule: LifecycleRule | None = None) -> list[Recommendation]:
    """Lifecycle rules per bucket and prefix that lower the R2 bill, priced by the engine.

    >>> recs = recommend_lifecycle(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> [(r.target, r.evidence.rule, r.monthly_saving) for r in recs]             # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    rule = rule or LifecycleRule()
    best = find(ctx, rule)
    by_bucket: dict[str, list[Candidate]] = {}
    for c in sorted(best, key=lambda c: -c.saving):
        by_bucket.setdefault(c.bucket, []).append(c)
    out = [rec for bucket, items in by_bucket.items()
           for rec in explain_bucket(ctx, bucket, items, rule)]
    for bucket in _buckets_without_abort(wh, ctx.rules):
        if bucket not in by_bucket:
            out.append(_abort_recommendation(wh, ctx, bucket))
    return out


def price(ctx: _Context, bucket: str, prefix: str, objs: pd.DataFrame,
          rule: LifecycleRule) -> list[Candidate]:
    """Every new rule for the prefix (transition N, expiry M, both) priced by the engine."""
    return list(_prefix_candidates(ctx, bucket, prefix, objs, rule))


def find(ctx: _Context, rule: LifecycleRule) -> list[Candidate]:
    """The rule: per existing transition rule its best proposable change; per other prefix its
    best proposable new rule. Here the rule is a price test (proposable = the engine's and the
    marginal saving positive), so `find` chooses among what `price` priced."""
    best = _best_reviews(ctx, rule.candidate_days)
    reviewed = {(c.bucket, c.prefix) for c in best}
    for (bucket, prefix), objs in _groups(ctx.objects):
        if (bucket, prefix) in reviewed:
            continue  # its existing rule is changed: no second rule on the same prefix
        cands = [c for c in price(ctx, bucket, prefix, objs, rule) if c.proposable]
        if cands:
            best.append(max(cands, key=lambda c: c.rank))
    return best


def explain_bucket(ctx: _Context, bucket: str, items: list[Candidate],
                   rule: LifecycleRule) -> list[Recommendation]:
    """One recommendation per candidate of the bucket; the first carries the bucket's one
    `r2.lifecycle` action (every change and new rule together)."""
    current = _current_rules(ctx.rules, bucket)
    changed = _changed(current, [c.change for c in items if c.change is not None])
    proposed = _merged(changed, [c.new_rule for c in items if c.new_rule is not None])
    action_id = f"r2.lifecycle:{bucket}"
    out = []
    for i, c in enumerate(items):
        rid = f"{KIND}:{bucket}/{c.prefix}"
        actions: tuple[Action, ...] = ()
        if i == 0:
            actions = (Action(
                id=action_id, kind="r2.lifecycle", resource=bucket,
                current={"Rules": current}, proposed={"Rules": proposed},
                why="; ".join(f"{x.prefix or '(whole bucket)'}: {x.rule_text}" for x in items),
                recommendation_id=rid),)
        if c.change is not None:
            out.append(_review_recommendation(ctx, c, rid, actions, action_id))
        else:
            out.append(_recommendation(ctx, c, rid, actions, action_id, rule))
    return out


__all__ = ["AGE_BANDS", "CANDIDATE_DAYS", "KIND", "MIN_EXPOSED_OBJECT_DAYS", "LifecycleRule",
           "age_band", "existing_rule_reviews", "explain_bucket", "find",
           "lifecycle_candidates", "price", "recommend_lifecycle"]
