"""A live show that runs past midnight (UTC): its live minutes after midnight are on the next
day, in the daily rows and in the minute rows alike, and the sync stores all of them; the
quota-failure show (nobody watched) has no live minutes at all."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from lc_analytics.live.report import show_report
from lc_analytics.readmodel import live_minutes
from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.sandbox import live_days as LD
from lc_analytics.sandbox import live_minutes as LM
from lc_analytics.sandbox import live_shows as L
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse

from .conftest import END, SEED
from .test_live_minutes import _by_minute, _show_uid

DAY = pd.Timedelta(days=1)
# (seed, end) with a show crossing midnight: the default end date, and another end date
CROSSING = [(24, END), (8, END), (8, date(2026, 3, 15))]


@pytest.fixture(scope="module")
def crossing():
    return [SimulatedAccount.build("small", seed=s, end=e) for s, e in CROSSING]


def _crossing_sessions(account, truth: dict | None = None) -> pd.DataFrame:
    """Sessions of the recent shows that ran past midnight, both of whose days the API
    reports."""
    shows = account.draws.shows
    uids = shows["uid"].iloc[LD.crossing_rows(shows)]
    s = (truth or L.truth(account))["sessions"].assign(uid=lambda x: _show_uid(x))
    recent = account.now.floor("D") - pd.Timedelta(days=80)  # within the API's retention
    s = s[s["show_uid"].isin(uids) & (s["start"] >= recent)
          & (s["start"].dt.floor("D") + DAY < account.now.floor("D"))]
    assert (s["end"].dt.floor("D") == s["start"].dt.floor("D") + DAY).all()  # they do cross
    return s


def _daily_live(account, row: int) -> pd.Series:
    """The drawn live minutes of show `row` per day (what the daily truth is built from)."""
    v = account.draws.views
    mine = (v.vidx == row) & v.is_live
    return pd.Series(v.minutes[mine]).groupby(v.day[mine]).sum()


def test_a_show_past_midnight_has_its_later_minutes_on_the_next_day(crossing):
    watched_after = 0
    for account in crossing:
        truth = L.truth(account)
        sessions = _crossing_sessions(account, truth)
        assert len(sessions) >= 1
        curve = truth["curve"]
        for s in sessions.itertuples():
            row = int(np.flatnonzero(account.draws.shows["uid"] == s.show_uid)[0])
            day1 = s.start.floor("D")
            mine = curve[curve["show_uid"] == s.show_uid]
            after = mine[mine["minute"] >= day1 + DAY]
            later = int(after["viewers"].sum())  # 0 when its last minute had no viewers
            watched_after += later > 0
            # the daily truth: the show's live minutes, split by the minute's day
            per_day = _daily_live(account, row)
            assert per_day.tolist() == [m for m in (s.live_minutes - later, later) if m]
            assert per_day.sum() == s.live_minutes
            got = _by_minute(account, day1, day1 + 2 * DAY)  # both days, one query
            daily = account.minutes_viewed_between(day1.date(), day1.date() + timedelta(days=1))
            for d in (day1, day1 + DAY):  # each day's minute rows are its day rows
                want = daily[daily["date"] == d].groupby(["uid", "country"])[
                    "minutes_viewed"].sum()
                have = got[got["minute"].dt.floor("D") == d]
                assert have.groupby(["uid", "country"])["minutes"].sum().sort_index().equals(
                    want.sort_index())
            # the show's minute rows are its curve, minute by minute, across midnight
            show = got[(got["uid"] == s.uid) & (got["minute"] >= s.start.floor("min"))
                       & (got["minute"] < s.end)]
            assert show.groupby("minute")["minutes"].sum().tolist() == \
                mine.loc[mine["viewers"] > 0, "viewers"].tolist()
            assert show["minutes"].sum() == s.live_minutes
    assert watched_after >= 2


def test_the_sync_stores_the_minutes_after_midnight(crossing, tmp_path):
    account = crossing[0]  # the default end date
    s = _crossing_sessions(account).iloc[-1]
    since = s["start"].date()
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
    mine = got[got["uid"] == s["uid"]]
    assert mine["minutes_viewed"].sum() == s["live_minutes"] > 0
    assert (mine["minute"] >= s["start"].floor("D") + DAY).any()  # the minutes after midnight
    assert (mine["minute"] < s["end"]).all()  # and none of the recording's on-demand minutes
    # the post-show report: live minutes across midnight, on-demand minutes without them
    ev = L.truth(account)["events"]
    ev = ev[ev["show_uid"] == s["show_uid"]]
    with Warehouse(db).transaction() as tx:
        tx.upsert("live_input_events", [
            {"live_input_uid": e.live_input_uid, "event_at": e.at.to_pydatetime(),
             "event_type": e.event_type, "error_code": e.code, "error_message": None,
             "video_uid": None, "source": "notification", "received_at": e.at.to_pydatetime()}
            for e in ev.itertuples()])
    day1, as_of = s["start"].date(), account.now.date() - timedelta(days=1)
    head = show_report(Warehouse(db, read_only=True), s["live_input_uid"], day1, as_of,
                       priced=False).headline
    assert head["live_minutes"] == s["live_minutes"]
    daily = account.minutes_viewed_between(day1 + timedelta(days=1), as_of)
    later = int(mine.loc[mine["minute"] >= s["start"].floor("D") + DAY, "minutes_viewed"].sum())
    want = int(daily.loc[daily["uid"] == s["uid"], "minutes_viewed"].sum()) - later
    assert head["on_demand_minutes"] == want > 0


@pytest.mark.parametrize("seed,end", [(SEED, END), (3, date(2026, 3, 15)), (11, date(2025, 11, 2))])
def test_the_show_that_failed_for_quota_has_no_live_minutes(seed, end):
    account = SimulatedAccount.build("small", seed=seed, end=end)
    row = L.quota_show(account)
    assert row is not None
    show = account.draws.shows.iloc[row]
    day = show["start"].floor("D")
    account.advance((day - account.now.floor("D")).days + 2)  # the day after is reported
    assert L.quota_show(account) == row  # the clock does not move the plant
    (target,) = [p.target for p in account.planted if p.kind == "quota_failure"
                 and not p.healthy]
    assert target == show["uid"]
    uids = {show["uid"], show["live_input_uid"]}
    # the draws had viewers for it; the daily truth has none (nobody watched 8 seconds) ...
    assert _daily_live(account, row).sum() > 0
    daily = account.minutes_viewed_between(day.date(), day.date())
    assert daily.loc[daily["uid"].isin(uids) & daily["is_live"], "minutes_viewed"].sum() == 0
    # ... as its curve and session say; the other shows of that day keep theirs
    truth = L.truth(account)
    session = truth["sessions"].set_index("show_uid").loc[show["uid"]]
    assert session["live_minutes"] == 0 and session["errors"] == L.QUOTA_CODE
    assert truth["curve"].loc[truth["curve"]["show_uid"] == show["uid"], "viewers"].sum() == 0
    others = truth["sessions"][(truth["sessions"]["start"].dt.floor("D") == day)
                               & (truth["sessions"]["show_uid"] != show["uid"])]
    live = daily[daily["is_live"] & ~daily["uid"].isin(uids)]
    assert live["minutes_viewed"].sum() >= others["live_minutes"].sum() > 0
    # and the minute rows of its day have nothing of it
    got = _by_minute(account, day, day + DAY)
    assert not got["uid"].isin(uids).any()
    want = daily.groupby(["uid", "country"])["minutes_viewed"].sum()
    assert got.groupby(["uid", "country"])["minutes"].sum().sort_index().equals(
        want.sort_index())
