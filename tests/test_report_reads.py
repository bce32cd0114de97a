"""How a report reads the warehouse: one held connection, and totals aggregated in DuckDB.

Regression guards for `cost_review` at scale (issue 13), none of them timed: a report run
opens the warehouse file once, and the read-model functions the recommenders use hand pandas
aggregated rows (bounded by days x inputs x ages, or inputs x countries), equal to what the
per-row readers give once grouped.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from lc_analytics import notebook as lcnb
from lc_analytics import readmodel as rm
from lc_analytics import recommend as rc
from lc_analytics.costs import billing, review
from lc_analytics.errors import UsageError, WarehouseError
from lc_analytics.recommend._recordings import views_by_age
from lc_analytics.warehouse import Warehouse

AS_OF = date(2026, 6, 30)
FIRST = AS_OF - timedelta(days=89)


@pytest.fixture
def wh(synced) -> Warehouse:
    return Warehouse(synced[1], read_only=True)


@pytest.fixture
def opened(monkeypatch) -> list[str]:
    """The paths `duckdb.connect` opens from now on in this process."""
    paths: list[str] = []
    real = duckdb.connect

    def counting(database=":memory:", *args, **kwargs):
        paths.append(str(database))
        return real(database, *args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    return paths


def _as_json(recs) -> str:
    return json.dumps([r.to_json() for r in recs], sort_keys=True, default=str)


def test_a_report_run_opens_the_warehouse_once_and_recommends_the_same(
        synced, synced_recs, opened):
    """The opening cells of cost_review and its charts, through `warehouse(db, hold=True)`:
    one connection for every read, and the recommendations of short-lived connections
    (`recommend_all`), run a step at a time."""
    wh = lcnb.warehouse(synced[1], hold=True)
    try:
        period = billing.resolve_month(wh, None, None)
        current = billing.month_bill(wh, period.month)
        billing.month_bill(wh, period.previous)
        review.forecast_summary(wh, period.as_of)
        review.runway_summary(wh)
        steps = rc.RecommendSteps(wh, as_of=period.as_of)  # as the notebook's cells run it
        for step in ("selectivity", "retention", "runway", "lifecycle"):
            steps.run(step)
        steps.run("bitrate", "cache_rules")
        recs = steps.recommendations
        rc.target_names(wh, recs)
        review.review_lead(wh, period, current)
        review.aws_summary(wh, period.month, period.end)
        rc.on_demand_share(wh, period.as_of, recs=recs)
        rc.r2_age_profile(wh, period.as_of, None, recs=recs)
        rc.ingest_vs_audience(wh, period.as_of, recs=recs)
    finally:
        wh.release()
    # the schema check on opening, then the held connection for every read (~400 before)
    assert opened == [str(wh.path)] * 2
    assert _as_json(recs) == _as_json(synced_recs)
    assert not wh.held
    wh.query("SELECT 1 AS one")  # released: the next read opens (and closes) its own
    assert len(opened) == 3


def test_a_held_query_answers_from_memory_and_the_caller_may_change_it(wh, opened):
    sql = "SELECT uid, state FROM videos ORDER BY uid"
    with wh.holding():
        first = wh.query(sql)
        expected = first.copy(deep=True)
        first["state"] = "changed"  # the caller's copy only
        first.loc[first.index[:3], "uid"] = "x"  # and in place
        again = wh.query(sql)
        with wh.connect(read_only=True) as con:  # a cursor on the held connection, in UTC
            zone = con.execute("SELECT current_setting('TimeZone')").fetchone()
    pd.testing.assert_frame_equal(again, expected)
    assert zone == ("UTC",)
    assert len(opened) == 1
    assert not wh._memo


def test_only_a_read_only_warehouse_holds(synced_copy, opened):
    writable = Warehouse(synced_copy)
    with pytest.raises(WarehouseError, match="open read-write: only a read-only"):
        writable.hold()
    assert not writable.held and len(opened) == 1  # the constructor's migration check only


def test_viewing_totals_equal_the_viewing_rows_grouped(wh):
    rows = rm.viewing(wh, FIRST, AS_OF, by_country=True)
    creators = rm.videos(wh, history=True).set_index("uid")["creator"].fillna("")
    rows = rows.assign(video_creator=rows["uid"].map(creators).fillna(""))
    cases = [(["date", "live_input_uid", "video_creator", "age_days"], ["recording"]),
             (["live_input_uid", "country"], ["recording", "live_input"]),
             (["uid"], list(rm.KINDS)),
             (["creator", "mode"], ["upload", "unlisted"]),
             (["kind", "mode", "age_days"], list(rm.KINDS))]
    for by, kinds in cases:
        got = rm.viewing_totals(wh, FIRST, AS_OF, by, kinds=kinds)
        mine = rows[rows["kind"].isin(kinds)]
        want = mine.groupby(by, as_index=False, dropna=False)["minutes"].sum() \
            .sort_values(by, ignore_index=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
        assert len(got) < len(mine)
    assert rows.loc[rows["kind"] == "recording", "minutes"].sum() > 0


def test_views_by_age_are_bounded_by_inputs_days_and_ages_not_by_rows(wh):
    """The recommenders' recordings viewing: one row per day, input, creator and age (never a
    row per recording and country), with every minute the per-row reader gives."""
    views = views_by_age(wh, AS_OF, 90)
    rows = rm.viewing(wh, FIRST, AS_OF, by_country=True)
    rows = rows[rows["kind"] == "recording"]
    assert list(views.columns) == ["date", "live_input_uid", "creator", "age", "minutes"]
    assert not views.duplicated(["date", "live_input_uid", "creator", "age"]).any()
    assert len(views) <= views["date"].nunique() * views["live_input_uid"].nunique() \
        * views["age"].nunique()
    assert len(views) < len(rows) / 5
    assert views["minutes"].sum() == rows["minutes"].sum()
    per_input = views.groupby("live_input_uid")["minutes"].sum()
    pd.testing.assert_series_equal(per_input, rows.groupby("live_input_uid")["minutes"].sum())


def test_r2_reads_by_age_equal_the_object_reads_grouped(wh):
    objs = rm.r2_objects(wh, history=True)
    reads = rm.r2_object_reads(wh, None, AS_OF).merge(
        objs[["bucket", "key", "last_modified"]], on=["bucket", "key"])
    reads = reads.assign(
        prefix=reads["key"].str.extract(r"^([^/]*/)", expand=False).fillna(""),
        age=(pd.to_datetime(reads["date"]).dt.tz_localize("UTC")
             - reads["last_modified"].dt.floor("D")) // pd.Timedelta(days=1))
    want = reads.groupby(["bucket", "prefix", "age"], as_index=False).agg(
        requests=("requests", "sum"), first_day=("date", "min"))
    got = rm.r2_reads_by_age(wh, AS_OF)
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert len(got) < len(reads) and got["requests"].sum() == reads["requests"].sum() > 0


def test_viewing_totals_refuse_an_unknown_column_or_kind(wh):
    with pytest.raises(UsageError, match="viewing_totals groups by some of"):
        rm.viewing_totals(wh, FIRST, AS_OF, ["minutes_viewed"])
    with pytest.raises(UsageError, match="kinds=\\['vod'\\]"):
        rm.viewing_totals(wh, FIRST, AS_OF, ["uid"], kinds=["vod"])


def test_a_held_month_usage_is_derived_once_and_each_caller_gets_its_own(wh, opened):
    from dataclasses import fields

    from lc_analytics.costs.usage import warehouse_usage

    with wh.holding():
        first = warehouse_usage(wh, "2026-06")
        first.notes.append("changed by a caller")
        first.usage.r2_storage.loc[first.usage.r2_storage.index[0], "bytes"] = -1
        first.objects["size_bytes"] = 0
        queries = len(wh._memo)
        again = warehouse_usage(wh, "2026-06")
        assert len(wh._memo) == queries  # nothing read or derived twice
    fresh = warehouse_usage(wh, "2026-06")  # released: read as before
    assert again.notes == fresh.notes and "changed by a caller" not in again.notes
    for f in fields(fresh.usage):
        mine, theirs = getattr(again.usage, f.name), getattr(fresh.usage, f.name)
        if isinstance(theirs, pd.DataFrame):
            pd.testing.assert_frame_equal(mine, theirs)
    pd.testing.assert_frame_equal(again.objects, fresh.objects)
    assert fresh.objects["size_bytes"].sum() > 0 and len(fresh.usage.r2_storage)
