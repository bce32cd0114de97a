"""Live minutes viewed by the minute (GraphQL `datetime`): the emulator's minute rows follow the
shows' concurrency curves and add up to the daily rows; the sync's `live_minutes` step stores
exactly them; the read model puts them beside the sampled viewers."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from lc_analytics.readmodel import live_minutes, live_viewing_uids, minutes_beside_samples
from lc_analytics.sandbox import SimulatedAccount
from lc_analytics.sandbox import live_minutes as LM
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sandbox.graphql_api import GraphQLEndpoint
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED

ACCOUNTS = [(SEED, END), (3, date(2026, 3, 15)), (11, date(2025, 11, 2))]
QUERY = """query ($t: string!, $lo: Time!, $hi: Time!) { viewer {
  accounts(filter: {accountTag: $t}) {
    rows: streamMinutesViewedAdaptiveGroups(limit: 10000,
        filter: {datetime_geq: $lo, datetime_lt: $hi}, orderBy: [uid_ASC]) {
      sum { minutesViewed } dimensions { uid datetime clientCountryName } } } } }"""


@pytest.fixture(scope="module")
def accounts(shared_account):
    return [shared_account] + [SimulatedAccount.build("small", seed=s, end=e)
                               for s, e in ACCOUNTS[1:]]


def _by_minute(account, lo: pd.Timestamp, hi: pd.Timestamp) -> pd.DataFrame:
    status, body = GraphQLEndpoint(account).execute(
        {"query": QUERY, "variables": {"t": account.account_id, "lo": lo.isoformat(),
                                       "hi": hi.isoformat()}}, {"analytics:read"})
    assert status == 200 and body["errors"] is None
    rows = body["data"]["viewer"]["accounts"][0]["rows"]
    return pd.DataFrame({
        "minute": pd.to_datetime([r["dimensions"]["datetime"] for r in rows], utc=True),
        "uid": [r["dimensions"]["uid"] for r in rows],
        "country": [r["dimensions"]["clientCountryName"] for r in rows],
        "minutes": [r["sum"]["minutesViewed"] for r in rows]})


def _show_uid(sessions: pd.DataFrame) -> pd.Series:
    """The uid a show's minutes are reported under: its recording, else its live input."""
    return sessions["recording_uid"].fillna(sessions["live_input_uid"])


def test_minute_rows_follow_the_curves_and_add_up_to_the_daily_rows(accounts):
    for n, account in enumerate(accounts):
        truth = L.truth(account)
        sessions = truth["sessions"].assign(uid=lambda s: _show_uid(s))
        quota = {p.target for p in account.planted if p.kind == "quota_failure"
                 and not p.healthy}
        daily = account.minutes_viewed()
        for back in (1, 6) if n == 0 else (1,):  # the default end: two days
            day = account.now.floor("D") - pd.Timedelta(days=back)
            got = _by_minute(account, day, day + pd.Timedelta(days=1))
            # summed over the day, the minute rows are the day's rows, uid by country, exactly
            want = daily[daily["date"] == day].groupby(["uid", "country"])["minutes_viewed"].sum()
            assert got.groupby(["uid", "country"])["minutes"].sum().sort_index().equals(
                want.sort_index())
            # a show's minute rows (all countries) are its concurrency curve, minute by minute
            mine = sessions[(sessions["start"].dt.floor("D") == day)
                            & ~sessions["show_uid"].isin(quota)]
            assert len(mine) >= 3
            curve = truth["curve"].merge(mine[["show_uid", "uid"]], on="show_uid")
            curve = curve[curve["viewers"] > 0].groupby(["uid", "minute"])["viewers"].sum()
            last = day + LM.LAST_MINUTE
            live = got[got["uid"].isin(mine["uid"]) & (got["minute"] != last)]
            assert live.groupby(["uid", "minute"])["minutes"].sum().equals(curve)
            assert curve.sum() == mine["live_minutes"].sum() > 100
            # everything else stays at the day's last minute
            rest = got[~got.set_index(["uid", "minute"]).index.isin(curve.index)]
            assert (rest["minute"] == last).all()
            # a narrower window holds exactly the same rows of its minutes (built for it only)
            lo = mine["start"].min().floor("min") + pd.Timedelta(minutes=10)
            hi = lo + pd.Timedelta(minutes=45)
            part = _by_minute(account, lo, hi).sort_values(["minute", "uid", "country"])
            inside = got[(got["minute"] >= lo) & (got["minute"] < hi)].sort_values(
                ["minute", "uid", "country"])
            assert part.reset_index(drop=True).equals(inside.reset_index(drop=True))
            assert len(part) > 0


def test_split_keeps_both_margins_exact():
    import numpy as np

    viewers, countries = np.array([0, 5, 9, 3, 1, 0, 7]), np.array([11, 1, 0, 13])
    grid = LM.split(viewers, countries)
    assert grid.sum(axis=1).tolist() == viewers.tolist()
    assert grid.sum(axis=0).tolist() == countries.tolist()
    assert (grid >= 0).all()
    with pytest.raises(ValueError, match="same total"):
        LM.split(viewers, countries + 1)


def test_the_sync_stores_the_minute_rows_of_the_last_week_exactly(synced):
    sb, db, report = synced
    account = sb.account
    wh = Warehouse(db, read_only=True)
    first = account.now.floor("D") - pd.Timedelta(days=7)
    got = live_minutes(wh)
    want = LM.truth(account, first, account.now)
    cols = ["minute", "uid", "country", "minutes_viewed"]
    pd.testing.assert_frame_equal(
        got[cols].sort_values(cols).reset_index(drop=True),
        want[cols].sort_values(cols).reset_index(drop=True), check_dtype=False)
    assert report.rows["live_minutes_viewed"] == len(got) > 5000
    # the sum per show is the show's live minutes (the truth's, from its curve)
    sessions = L.truth(account)["sessions"].assign(uid=lambda s: _show_uid(s))
    week = sessions[(sessions["start"] >= first) & (sessions["live_minutes"] > 0)]
    for s in week.itertuples():
        rows = got[(got["uid"] == s.uid) & (got["minute"] >= s.start.floor("min"))
                   & (got["minute"] <= s.end)]
        assert rows["minutes_viewed"].sum() == s.live_minutes
        assert (rows["live_input_uid"] == s.live_input_uid).all()
    assert len(week) >= 25
    assert wh.get_watermark("live_minutes") == account.now.date() - timedelta(days=1)
    days = live_viewing_uids(wh, first.date(), account.now.date())
    assert sorted(days) == sorted({d.date() for d in week["start"].dt.floor("D")})


def test_a_second_sync_rereads_the_lag_days_and_changes_nothing(synced, synced_copy):
    sb, _, _ = synced
    account = sb.account
    before = live_minutes(Warehouse(synced_copy, read_only=True))
    from lc_analytics.sandbox import Sandbox

    with Sandbox(account, r2=False) as again:
        report = sync(again.settings(db_path=synced_copy), transport=again.transport,
                      sources=["live_minutes"], progress="none",
                      now=lambda: account.now.to_pydatetime())
    today = account.now.date()
    assert report.windows["live_minutes"] == [(today - timedelta(days=3),
                                               today + timedelta(days=1))]
    after = live_minutes(Warehouse(synced_copy, read_only=True))
    pd.testing.assert_frame_equal(after, before)
    assert 0 < report.rows["live_minutes_viewed"] < len(before)


def test_minutes_beside_samples_without_polls_has_gaps_not_zeros(synced):
    sb, db, _ = synced
    wh = Warehouse(db, read_only=True)
    m = live_minutes(wh)
    uid, first = m["live_input_uid"].iloc[0], m["minute"].iloc[0]
    side = minutes_beside_samples(wh, uid, first, first + pd.Timedelta(minutes=9))
    assert side["minute"].tolist() == list(pd.date_range(first, periods=10, freq="min"))
    assert side["viewers"].isna().all() and (side["samples"] == 0).all()
    want = m[m["live_input_uid"] == uid].groupby("minute")["minutes_viewed"].sum()
    assert side["minutes_viewed"].tolist() == [float(want.get(t, 0)) for t in side["minute"]]


def test_another_seed_syncs_its_minute_rows_exactly(accounts, tmp_path):
    from lc_analytics.sandbox import Sandbox

    account = accounts[1]
    since = account.now.date() - timedelta(days=3)
    db = tmp_path / "wh.duckdb"
    with Sandbox(account, r2=False) as sb:
        sync(sb.settings(db_path=db), transport=sb.transport, since=since, progress="none",
             sources=["stream", "minutes_viewed", "live_minutes"],
             now=lambda: account.now.to_pydatetime())
    got = live_minutes(Warehouse(db, read_only=True))
    want = LM.truth(account, pd.Timestamp(since, tz="UTC"), account.now)
    cols = ["minute", "uid", "country", "minutes_viewed"]
    pd.testing.assert_frame_equal(
        got[cols].sort_values(cols).reset_index(drop=True),
        want[cols].sort_values(cols).reset_index(drop=True), check_dtype=False)
    sessions = L.truth(account)["sessions"]
    shown = sessions[sessions["start"] >= pd.Timestamp(since, tz="UTC")]
    assert got["minutes_viewed"].sum() == shown["live_minutes"].sum() > 500
