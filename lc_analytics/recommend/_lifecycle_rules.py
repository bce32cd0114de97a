"""R2 lifecycle recommender: the multipart-abort rule, reviews of existing rules, and the
recommendation of a new rule."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from .. import facts
from .. import readmodel as rm
from ..costs.engine import (
    IA,
    STANDARD,
)
from ..costs.pricebook import PriceBook
from ..warehouse import Warehouse
from ._common import money, resolve
from ._lifecycle_context import (
    ABORT_MULTIPART_DAYS,
    HIGH_CONFIDENCE_READ_DAYS,
    KIND,
    Candidate,
    LifecycleRule,
    _Context,
    _context,
    _current_rules,
    _period_label,
    age_band,
)
from ._lifecycle_price import _merged, _price_change
from .evidence import AbortRuleEvidence, LifecycleEvidence, RuleChangeEvidence
from .model import Action, Recommendation


def _buckets_without_abort(wh: Warehouse, rules: pd.DataFrame) -> list[str]:
    """Buckets (synced) with no enabled rule aborting incomplete multipart uploads."""
    buckets = set(rm.r2_buckets(wh))
    covered = set(rules.loc[rules["enabled"] & rules["abort_multipart_days"].notna(), "bucket"])
    return sorted(buckets - covered)


def _abort_recommendation(wh: Warehouse, ctx: _Context, bucket: str) -> Recommendation:
    """R2's default multipart-abort rule, where a bucket lost it: free, so always proposed;
    what it saves is unknown (pending uploads' parts are billed as storage, but their bytes
    are not reported), so it is information with no saving claimed."""
    totals = rm.r2_storage_totals(wh, date.min, date.max)
    pending = totals[totals["bucket"] == bucket]
    uploads = int(pending["uploads"].iloc[-1]) if len(pending) else None
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
        evidence=AbortRuleEvidence(
            bucket=bucket, pending_multipart_uploads=uploads,
            existing_rules=tuple(r.get("ID") for r in current),
            confidence_reason="the bucket has no abort rule; the parts' bytes are not "
                              "reported, so no saving is claimed"),
        rule="every bucket keeps a rule aborting incomplete multipart uploads (R2's default)",
        monthly_saving=Decimal(0),
        saving_computation=("No saving claimed: parts of incomplete multipart uploads are "
                            "billed as storage but their size is not reported; the rule itself "
                            f"costs nothing. Pending uploads on the latest day: {uploads}."),
        viewer_impact="None: only uploads abandoned for a week are removed.",
        confidence="high", actions=(action,))


# --- existing rules -------------------------------------------------------------------------

def _best_reviews(ctx: _Context, days: tuple[int, ...]) -> list[Candidate]:
    """Per existing transition rule, its most saving proposable change (if any)."""
    best = []
    for cands in _rule_reviews(ctx, days).values():
        ok = [c for c in cands if c.proposable]
        if ok:
            best.append(max(ok, key=lambda c: c.rank))
    return best


def existing_rule_reviews(wh: Warehouse, *, book: PriceBook | str | None = None,
                          as_of: date | str | None = None,
                          rule: LifecycleRule | None = None) -> pd.DataFrame:
    """Every change evaluated for every existing transition rule, with its priced effect.

    Columns: bucket, prefix, rule_id, transition_days, new_transition_days (None: the
    transition removed), saving (engine), marginal_saving, proposable, reason, quantities.

    >>> existing_rule_reviews(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    ctx = _context(wh, book, day)
    days = (rule or LifecycleRule()).candidate_days
    return pd.DataFrame([c.figures for cands in _rule_reviews(ctx, days).values() for c in cands])


def _rule_reviews(ctx: _Context, days: tuple[int, ...]) -> dict[str, list[Candidate]]:
    """Per enabled rule that moves objects to Infrequent Access (and is the only one moving
    its prefix): the rule's transition removed, or moved later to each of `days` (before its
    expiry), each priced as if changed at the start of the priced period."""
    rules = ctx.rules[ctx.rules["enabled"] & ctx.rules["transition_days"].notna()]
    out: dict[str, list[Candidate]] = {}
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
            new: int | None) -> Candidate:
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
    by_cls = ch.dframe.groupby("storage_class")["bytes"].sum() if len(ch.dframe) \
        else pd.Series(dtype="int64")
    saving, marginal = ch.saving, ch.marginal
    meters = {sku.id: sku.meter for sku in ctx.book.skus(ctx.first)}
    blocks = -sum((Decimal(v) for k, v in ch.sku_delta.items()
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
        "transitions_per_month_delta": ch.transitions,
        "standard_gb_month_delta": float(Decimal(int(by_cls.get(STANDARD, 0))) / gbm),
        "ia_gb_month_delta": float(Decimal(int(by_cls.get(IA, 0))) / gbm),
        "retrieval_gb_delta": float(Decimal(ch.retr_a - ch.retr_b)
                                    / Decimal(ctx.book.rule("bytes_per_gb"))),
        "saving": saving, "marginal_saving": marginal, "proposable": proposable,
        "operations_blocks_saving": blocks,
        "reason": ("the rule costs more than it saves" if proposable else
                   f"the rule pays off or the change saves nothing (engine {saving}, "
                   f"marginal {marginal:.6f})"),
        "rule": text,
    }
    return Candidate(figures=row, rule_text=text, sku_delta=ch.sku_delta,
                     bill_before=ctx.bill.total, bill_after=ch.bill_after.total,
                     change={"ID": rule.rule_id, "transition_days": new})


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


def _review_recommendation(ctx: _Context, c: Candidate, rid: str,
                           actions: tuple[Action, ...], action_id: str) -> Recommendation:
    row = c.figures
    bucket, prefix, rule_id = c.bucket, c.prefix, str(row["rule_id"])
    computation = (
        f"Engine ({ctx.book.label}) re-prices {_period_label(ctx)} account-wide as if rule "
        f"'{rule_id}' on {bucket}/{prefix} had been changed at its start ({c.rule_text};"
        f" objects already in Infrequent Access stay there): bill ${c.bill_before} -> "
        f"${c.bill_after} = {money(c.saving)}/month saved (line changes: {_skus(c)}). "
        f"Quantities: {row['transitions_per_month_delta']:+,} transitions (IA Class A, billed "
        f"in whole millions) a month, Standard {row['standard_gb_month_delta']:+.3f} GB-month, "
        f"IA {row['ia_gb_month_delta']:+.3f} GB-month, IA retrieval "
        f"{row['retrieval_gb_delta']:+.3f} GB; marginal (no rounding, no free tier) "
        f"{row['marginal_saving']:.6f}.")
    text = (f"Change R2 lifecycle rule '{rule_id}' on {bucket} (prefix '{prefix}'): "
            f"{c.rule_text}; it costs more than it saves.")
    if not actions:
        text += f" (Sent with action {action_id}, together with the bucket's other changes.)"
    return Recommendation(
        id=rid, kind=KIND, target_type="bucket_prefix", target=f"{bucket}/{prefix}",
        action=text, evidence=RuleChangeEvidence(
            **_rule_fields(ctx, c, action_id), existing_rule=rule_id,
            new_transition_days=row["new_transition_days"], ia_objects=row["ia_objects"],
            ia_bytes=row["ia_bytes"], operations_blocks_saving=row["operations_blocks_saving"],
            confidence_reason=("the priced period's R2 usage is synced for every day"
                               if ctx.r2_complete else
                               "the priced period has R2 storage for only part of its days")),
        rule=("every enabled rule moving objects to Infrequent Access is re-priced with its "
              "transition removed or moved later (acting from the priced period's start; IA "
              "objects stay IA); proposed only if the engine-priced saving is positive and "
              "either the marginal saving is too or it comes from whole operation blocks "
              "(a million requests each) only the rule's traffic keeps billed"),
        monthly_saving=c.saving, saving_computation=computation,
        viewer_impact=("None: objects stay readable; those not moved to Infrequent Access "
                       "are read at Standard rates, without retrieval fees."),
        confidence="high" if ctx.r2_complete else "low", actions=actions)


def _skus(c: Candidate) -> str:
    return ", ".join(f"{k} {'+' if not v.startswith('-') else ''}{v}"
                     for k, v in c.sku_delta.items()) or "no line changes"


def _rule_fields(ctx: _Context, c: Candidate, action_id: str) -> dict[str, Any]:
    """The evidence every lifecycle rule records (`R2RuleEvidence`), from its candidate."""
    row = c.figures
    return {"bucket": c.bucket, "prefix": c.prefix, "rule": c.rule_text,
            "transition_days": row["transition_days"], "expire_days": row["expire_days"],
            "objects": row["objects"],
            "standard_gb_month_delta": row["standard_gb_month_delta"],
            "ia_gb_month_delta": row["ia_gb_month_delta"],
            "retrieval_gb_delta": row["retrieval_gb_delta"],
            "transitions_per_month_delta": row["transitions_per_month_delta"],
            "sku_cost_delta": dict(c.sku_delta), "marginal_saving": row["marginal_saving"],
            "priced_month": _period_label(ctx), "lifecycle_action": action_id,
            "notes": tuple(ctx.notes)}


# --- the recommendation ----------------------------------------------------------------------

def _by_age(ctx: _Context, bucket: str, prefix: str) -> tuple[pd.Series, pd.Series]:
    """The prefix's reads by object age at read (`AGE_BANDS`) and its bytes stored by age."""
    prefix_reads = ctx.ages(bucket, prefix)
    by_age = prefix_reads.assign(band=age_band(prefix_reads["age"]))
    reads_by_age = by_age.groupby("band", observed=False)["requests"].sum().astype(int)
    ages_now = (pd.Timestamp(ctx.read_days[1] if ctx.read_days else ctx.first, tz="UTC")
                - ctx.objects.loc[(ctx.objects["bucket"] == bucket)
                                  & ctx.objects["key"].str.startswith(prefix)
                                  & ctx.objects["stored_until"].isna(), "c_day"]).dt.days
    sizes = ctx.objects.loc[ages_now.index, "size_bytes"]
    bytes_by_age = sizes.groupby(pd.cut(ages_now, [-1, 29, 89, 179, 364, 10**6],
                                        labels=["0-29", "30-89", "90-179", "180-364", "365+"]),
                                 observed=False).sum().astype(int)
    return reads_by_age, bytes_by_age


def _computation(ctx: _Context, c: Candidate) -> str:
    """The engine's re-pricing of the period with the rule, in words."""
    row = c.figures
    n, m = row["transition_days"], row["expire_days"]
    computation = (
        f"Engine ({ctx.book.label}) re-prices {_period_label(ctx)} account-wide as if "
        f"'{c.rule_text}' had applied to {c.bucket}/{c.prefix}: bill ${c.bill_before}"
        f" -> ${c.bill_after} = {money(c.saving)}/month saved (line changes: "
        f"{_skus(c)}). Quantities: Standard {row['standard_gb_month_delta']:+.3f} GB-month, IA "
        f"{row['ia_gb_month_delta']:+.3f} GB-month, {row['reads_moved_to_ia']:,} reads moved "
        f"to IA Class B, IA retrieval {row['retrieval_gb_delta']:+.3f} GB, "
        f"{row['transitions_per_month_delta']:+,} transitions (IA Class A) a month; marginal "
        f"(no rounding, no free tier) {row['marginal_saving']:.6f}.")
    if row["backlog_transitions_once"]:
        computation += (f" One-time: {row['backlog_transitions_once']:,} objects already past "
                        f"{n} days transition once ({row['backlog_transitions_once']:,} IA "
                        "Class A operations).")
    if n is not None and m is not None and m - n < facts.IA_MINIMUM_STORAGE_DAYS:
        computation += " Objects expiring within 30 days of their transition owe the IA minimum."
    return computation


def _recommendation(ctx: _Context, c: Candidate, rid: str, actions: tuple[Action, ...],
                    action_id: str, rule: LifecycleRule) -> Recommendation:
    row, prefix = c.figures, c.prefix
    n, m = row["transition_days"], row["expire_days"]
    read_span = ((ctx.read_days[1] - ctx.read_days[0]).days + 1) if ctx.read_days else 0
    reads_by_age, bytes_by_age = _by_age(ctx, c.bucket, prefix)
    confidence = "high" if read_span >= HIGH_CONFIDENCE_READ_DAYS else "medium"
    partial = "" if ctx.r2_complete else (
        f"; low: the priced period {_period_label(ctx)} has R2 storage for only part of its "
        "days, so the saving is understated")
    if partial:
        confidence = "low"
    evidence = LifecycleEvidence(
        **_rule_fields(ctx, c, action_id),
        existing_transition_days=row["existing_transition_days"],
        existing_expire_days=row["existing_expire_days"], bytes_stored=row["bytes"],
        bytes_by_age_days={str(k): int(v) for k, v in bytes_by_age.items()},
        reads_by_age_days={str(k): int(v) for k, v in reads_by_age.items()},
        reads_window=(str(ctx.read_days[0]), str(ctx.read_days[1])) if ctx.read_days
        else None,
        reads_at_or_after_expiry=row["reads_at_or_after_expiry"],
        exposed_object_days=row["exposed_object_days"],
        reads_moved_to_ia=row["reads_moved_to_ia"],
        backlog_transitions_once=row["backlog_transitions_once"],
        confidence_reason=f"reads observed over {read_span} day(s)"
                          + ("" if read_span >= HIGH_CONFIDENCE_READ_DAYS else
                             f" (< {HIGH_CONFIDENCE_READ_DAYS}; R2 keeps 31 days of reads)")
                          + partial)
    if m is not None:
        impact = (f"Objects under {prefix} are deleted {m} days after upload; no object there "
                  f"was read at {m} days or older in the {read_span} day(s) observed "
                  f"({row['exposed_object_days']:,} object-days at those ages).")
    else:
        impact = ("No visible change: objects stay readable; reads after "
                  f"{n} days cost IA retrieval and IA Class B rates (counted above).")
    text = f"Add an R2 lifecycle rule on {c.bucket} for prefix '{prefix}': {c.rule_text}."
    if not actions:
        text += f" (Sent with action {action_id}, together with the bucket's other new rules.)"
    return Recommendation(
        id=rid, kind=KIND, target_type="bucket_prefix", target=f"{c.bucket}/{prefix}",
        action=text, evidence=evidence,
        rule=("per bucket/prefix, transition after N and/or expire after M days (N, M in "
              f"{list(rule.candidate_days)}), expiry only with no read at ages >= M and >= "
              f"{rule.min_exposed_object_days} object-days observed there; proposed only if the "
              "engine-priced month and the marginal saving are both positive"),
        monthly_saving=c.saving, saving_computation=_computation(ctx, c), viewer_impact=impact,
        confidence=confidence, actions=actions)
