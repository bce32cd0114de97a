"""Close the loop: apply the plan to a sandbox account, run the simulation on, measure the saving.

Two identical accounts (same preset, seed and end): A is left alone (the baseline), B is
synced, given `make_plan`, and the plan is applied through the API (`apply --yes`). Both run
on to the first day after the next billing month (July 2026), and July is priced from each
account's ground truth with the cost engine. The recommendations' estimates must agree with
the measured difference: the Stream minutes freed by the month end, and the July bill.

Only actions the API can apply are applied: `manual` ones (buying capacity, the encoder's
bitrate change) cannot be, so the recommendations made only of manual actions (storage
runway, bitrate/ingest) are left out of the comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pandas as pd
import pytest

from lc_analytics.actions import ApplyReport, apply_plan
from lc_analytics.costs.engine import Bill, Usage, month_bounds, price_month
from lc_analytics.costs.pricebook import load_book
from lc_analytics.recommend import Plan, Recommendation, make_plan
from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.sandbox.account import GroundTruth
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED, copy_warehouse

JULY = date(2026, 7, 1)
STREAM = ("recording_selectivity", "recording_retention")
TOLERANCE = 0.05
BOOK = load_book("cloudflare")


@dataclass
class Loop:
    plan: Plan
    report: ApplyReport
    applied: list[Recommendation]  # recommendations with at least one API action
    baseline: GroundTruth  # A at 2026-08-01T00:00Z
    changed: GroundTruth  # B at 2026-08-01T00:00Z


@pytest.fixture(scope="module")
def loop(synced, tmp_path_factory) -> Loop:
    a = SimulatedAccount.build("small", seed=SEED, end=END)
    b = SimulatedAccount.build("small", seed=SEED, end=END)
    db = copy_warehouse(synced[1], tmp_path_factory.mktemp("loop"))  # B, fully synced
    with Sandbox(b) as sb:
        settings = sb.settings(db_path=db)
        wh = Warehouse(db)
        plan = make_plan(wh)
        report = apply_plan(plan, settings, yes=True, transport=sb.transport,
                            now=b.now.to_pydatetime(), warehouse=wh)
        sb.r2.read_lifecycle_into_account()  # R2 acts on the lifecycle rules it now holds
    days = (month_bounds(JULY)[1] - a.now.date()).days
    a.advance(days)
    b.advance(days)
    applied = [r for r in plan.recommendations if any(x.kind != "manual" for x in r.actions)]
    return Loop(plan, report, applied, a.ground_truth(), b.ground_truth())


def _july(df: pd.DataFrame) -> pd.DataFrame:
    d = pd.to_datetime(df["date"], utc=True).dt.date
    return df[(d >= JULY) & (d < month_bounds(JULY)[1])]


def _stream_july(truth: GroundTruth) -> pd.DataFrame:
    s = _july(truth.stored_minutes_daily)
    return pd.DataFrame({"date": pd.to_datetime(s["date"]).dt.date,
                         "stored_minutes": s["stored_minutes"], "capacity_minutes": None})


def _bill(truth: GroundTruth) -> Bill:
    """July from the account's truth: Stream capacity needed (capacity unset), R2 storage by
    class, operations and IA retrieval."""
    usage = Usage(stream_storage=_stream_july(truth),
                  r2_storage=_july(truth.r2_storage_daily_by_class),
                  r2_operations=_july(truth.r2_billing_operations),
                  r2_retrieval=_july(truth.r2_ia_retrieval_daily))
    return price_month(usage, JULY, BOOK)


def _july_end(truth: GroundTruth) -> float:
    s = truth.stored_minutes_daily
    return float(s.loc[pd.to_datetime(s["date"]).dt.date == date(2026, 7, 31),
                       "stored_minutes"].iloc[0])


def _block_price() -> Decimal:
    (sku,) = [s for s in BOOK.skus(JULY) if s.meter == "stream_capacity"]
    return Decimal(sku.amount) / Decimal(sku.pricing_block)


def _within(measured: float, estimated: float) -> bool:
    return abs(measured - estimated) <= TOLERANCE * abs(measured)


def test_the_plan_was_applied_except_its_manual_steps(loop):
    api = {x.id for x in loop.plan.actions if x.kind != "manual"}
    assert api and set(loop.report.applied) == api
    left_out = {r.kind for r in loop.plan.recommendations if r not in loop.applied}
    assert left_out == {"storage_runway", "bitrate_ingest"}  # manual only: not comparable
    assert {r.kind for r in loop.applied} == {*STREAM, "r2_lifecycle"}
    assert all(r.evidence.billing_month == "2026-07" for r in loop.applied
               if r.kind in STREAM)


def test_minutes_freed_by_the_month_end_are_measured_within_5_percent(loop):
    measured = _july_end(loop.baseline) - _july_end(loop.changed)
    stream = [r for r in loop.applied if r.kind in STREAM]
    estimated = sum(r.evidence.minutes_freed for r in stream)
    parts = {k: sum(r.evidence.minutes_freed_by_month_end[k] for r in stream)
             for k in ("deleted_first_day", "deleted_later_in_month", "future_recordings")}
    print(f"\nminutes lower on 2026-07-31: measured {measured:,.1f}, estimated "
          f"{estimated:,.1f} ({(estimated - measured) / measured:+.2%}); estimate = {parts}")
    assert sum(parts.values()) == pytest.approx(estimated, abs=0.01)
    assert _within(measured, estimated)
    # the baseline the saving is priced from: A's stored minutes at the month end
    projected = stream[0].evidence.baseline["month_end_minutes"]
    assert _within(_july_end(loop.baseline), projected)


def test_july_bill_difference_is_the_estimated_saving_within_5_percent(loop):
    bill_a, bill_b = _bill(loop.baseline), _bill(loop.changed)
    measured = bill_a.total - bill_b.total
    estimated = sum((r.monthly_saving for r in loop.applied), Decimal(0))
    stream_sku = "cf-stream-minutes-stored"
    stream_measured = bill_a.cost_of(stream_sku) - bill_b.cost_of(stream_sku)
    stream_estimated = sum((r.monthly_saving for r in loop.applied if r.kind in STREAM),
                           Decimal(0))
    # unrounded: the minutes between the two accounts' July peaks at the block price
    sa, sb = _stream_july(loop.baseline), _stream_july(loop.changed)
    figures = next(r for r in loop.applied if r.kind == "recording_selectivity") \
        .evidence.account_level
    retention = [r for r in loop.applied if r.kind == "recording_retention"]
    if retention:  # priced after selectivity: its "after" is the whole plan's
        figures = {**figures, "peak_after": retention[0].evidence.account_level["peak_after"],
                   "blocks_after": retention[0].evidence.account_level["blocks_after"]}
    per_minute = _block_price()
    unrounded_measured = Decimal(str(sa["stored_minutes"].max() - sb["stored_minutes"].max())) \
        * per_minute
    unrounded_estimated = Decimal(str(figures["peak_before"] - figures["peak_after"])) \
        * per_minute
    blocks_a, blocks_b = _blocks(bill_a), _blocks(bill_b)
    print(f"\nJuly 2026 bill A - B: measured ${measured} (Stream ${stream_measured}, R2 "
          f"${measured - stream_measured}), estimated ${estimated} (Stream ${stream_estimated})"
          f"\nStream peaks: A {sa['stored_minutes'].max():,.1f} on "
          f"{sa.loc[sa['stored_minutes'].idxmax(), 'date']} ({blocks_a} blocks), B "
          f"{sb['stored_minutes'].max():,.1f} on {sb.loc[sb['stored_minutes'].idxmax(), 'date']}"
          f" ({blocks_b} blocks); estimated {figures['peak_before']:,.1f} "
          f"({figures['blocks_before']}) and {figures['peak_after']:,.1f} "
          f"({figures['blocks_after']}); unrounded saving measured "
          f"${unrounded_measured:.4f}, estimated ${unrounded_estimated:.4f}")
    assert _within(float(measured), float(estimated))
    assert _within(float(unrounded_measured), float(unrounded_estimated))
    assert (blocks_a, blocks_b) == (int(figures["blocks_before"]),
                                    int(figures["blocks_after"]))
    assert stream_measured == stream_estimated


def test_month_end_capacity_difference_is_the_estimated_run_rate(loop):
    """The month-end figure (the blocks needed at the end of July, once the deletions have
    run) is measured too: engine(A's July 31) - engine(B's July 31)."""
    def end_bill(truth):
        return price_month(Usage(stream_storage=[{
            "date": date(2026, 7, 31), "stored_minutes": _july_end(truth),
            "capacity_minutes": None}]), JULY, BOOK).total
    measured = end_bill(loop.baseline) - end_bill(loop.changed)
    estimated = sum((Decimal(r.evidence.month_end_saving) for r in loop.applied
                     if r.kind in STREAM), Decimal(0))
    print(f"\nblocks needed on 2026-07-31, A - B: measured ${measured}, estimated ${estimated}")
    assert measured == estimated


def _blocks(bill: Bill) -> int:
    return int(sum(li.billed_units for li in bill.line_items
                   if li.sku_id == "cf-stream-minutes-stored"))
