"""The read model equals the sandbox's ground truth: coverage, viewing, stored minutes, R2
usage and the inventories of one full sync (the session `synced` fixture)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from lc_analytics import readmodel as rm
from lc_analytics.errors import NotSyncedError
from lc_analytics.warehouse import Warehouse

from .conftest import END

R2_FIRST = END - timedelta(days=30)  # R2 metrics are kept 31 days: the first sync's R2 days


@pytest.fixture(scope="module")
def wh(synced) -> Warehouse:
    return Warehouse(synced[1], read_only=True)


@pytest.fixture(scope="module")
def truth(synced):
    return synced[0].account.ground_truth()


def _days(df: pd.DataFrame, lo: date | None = None) -> pd.DataFrame:
    out = df.assign(date=pd.to_datetime(df["date"]).dt.date)
    return out if lo is None else out[out["date"] >= lo]


# --- coverage -------------------------------------------------------------------------------

def test_coverage_holds_90_days_of_stream_and_31_of_r2_through_the_last_complete_day(wh, synced):
    cov = rm.coverage(wh).set_index("source")
    today = synced[0].account.now.date()
    assert list(cov.index) == ["minutes_viewed", "r2_storage", "r2_operations",
                               "r2_object_reads"]
    assert set(cov["last_day"]) == {today - timedelta(days=1)} == {END}
    assert cov.loc["minutes_viewed", "first_day"] == END - timedelta(days=89)
    assert cov.loc["minutes_viewed", "days"] == 90
    assert set(cov.loc[cov["service"] == "R2", "first_day"]) == {R2_FIRST}
    assert set(cov.loc[cov["service"] == "R2", "days"]) == {31}
    assert rm.last_synced_day(wh) == rm.synced_through(wh) == END
    assert rm.covered_days(wh) == (R2_FIRST, END + timedelta(days=1))
    assert min(rm.first_days(wh)) == END - timedelta(days=89)


def test_month_coverage_counts_the_days_each_source_holds(wh):
    june = rm.month_coverage(wh, "2026-06").set_index("source")
    assert june["days_covered"].tolist() == [30, 30, 30, 30] and june["complete"].all()
    may = rm.month_coverage(wh, "2026-05").set_index("source")
    assert may["days_covered"].tolist() == [31, 1, 1, 1]
    assert may["complete"].tolist() == [True, False, False, False]
    assert (may["days_in_month"] == 31).all()


def test_as_of_and_months_outside_the_coverage_are_refused(wh):
    assert rm.check_as_of(wh, "2026-06-15") == date(2026, 6, 15)
    with pytest.raises(NotSyncedError, match="holds no data before 2026-04-02"):
        rm.check_as_of(wh, "2026-03-01")
    rm.check_months(wh, ["2026-06"])
    with pytest.raises(NotSyncedError, match="2026-05 not fully covered"):
        rm.check_months(wh, ["2026-05", "2026-06"])


def test_an_empty_warehouse_is_not_synced(tmp_path):
    wh = Warehouse(tmp_path / "empty.duckdb")
    assert rm.last_synced_day(wh) is None
    assert rm.coverage(wh)["days"].tolist() == [0, 0, 0, 0]
    for call in (rm.synced_through, rm.covered_days, rm.storage_snapshot_day,
                 lambda w: rm.check_as_of(w, "2026-06-01")):
        with pytest.raises(NotSyncedError):
            call(wh)
    assert len(rm.viewing(wh)) == 0 and len(rm.videos(wh)) == 0


# --- viewing --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def viewing(wh, truth):
    got = rm.viewing(wh, by_country=True)
    want = _days(truth.minutes_viewed)
    return got.merge(want, on=["date", "uid", "country"], how="left", indicator=True), want


def test_viewing_holds_every_synced_minute_of_the_truth(viewing, wh):
    both, want = viewing
    assert (both["_merge"] == "both").all()
    assert (both["minutes"] == both["minutes_viewed"]).all()
    synced = want[want["date"] >= END - timedelta(days=89)]
    assert len(both) == len(synced) > 100_000
    assert both["minutes"].sum() == synced["minutes_viewed"].sum()
    per_day = rm.minutes_viewed_daily(wh, date(2026, 6, 1), END)
    june = both[both["date"] >= date(2026, 6, 1)].groupby("date")["minutes"].sum()
    assert per_day.set_index("date")["minutes"].equals(june.rename("minutes"))


def test_live_and_on_demand_equal_the_truth_for_every_listed_uid(viewing):
    both, _ = viewing
    listed = both[both["kind"] != "unlisted"]
    assert set(listed["kind"]) == {"live_input", "recording", "upload"}
    assert ((listed["mode"] == rm.LIVE) == listed["is_live"]).all()
    by_kind = listed.groupby(["kind", "mode"])["minutes"].sum()
    assert by_kind[("recording", rm.LIVE)] > 0 and by_kind[("recording", rm.ON_DEMAND)] > 0
    assert by_kind[("live_input", rm.LIVE)] > 0 and ("upload", rm.LIVE) not in by_kind


def test_the_kind_and_age_come_from_the_truth_inventory(viewing, truth):
    both, _ = viewing
    vids = truth.videos.set_index("uid")
    unlisted = ~both["uid"].isin(vids.index) & ~both["uid"].isin(truth.live_inputs["uid"])
    assert (unlisted == (both["kind"] == "unlisted")).all()
    rec = both[both["kind"] == "recording"]
    created = pd.to_datetime(vids.loc[rec["uid"], "created"], utc=True).dt.date.to_numpy()
    assert (rec["age_days"].to_numpy() == [(d - c).days for d, c in
                                           zip(rec["date"], created, strict=True)]).all()
    assert (rec["live_input_uid"].to_numpy() == vids.loc[rec["uid"], "live_input"]).all()
    assert (both.loc[both["kind"] == "live_input", "age_days"] == 0).all()


def test_unlisted_uids_are_live_on_their_first_viewed_day_only(viewing):
    """A uid deleted before the first listing has no creation day: its first viewed day
    stands in (unless it is the history's first day, where its age is unknown)."""
    both, _ = viewing
    un = both[both["kind"] == "unlisted"]
    first = un.groupby("uid")["date"].transform("min")
    history = both["date"].min()
    expect_live = (un["date"] == first) & (first > history)
    assert ((un["mode"] == rm.LIVE) == expect_live).all()
    assert un.loc[first == history, "age_days"].isna().all()
    # what the warehouse cannot know: how often the stand-in agrees with the truth
    agree = float(un.loc[(un["mode"] == rm.LIVE) == un["is_live"], "minutes"].sum())
    assert agree / float(un["minutes"].sum()) > 0.9


def test_viewing_per_uid_sums_the_countries(wh, viewing):
    both, _ = viewing
    june = rm.viewing(wh, date(2026, 6, 1), END)
    want = both[both["date"] >= date(2026, 6, 1)].groupby(["date", "uid"])["minutes"].sum()
    assert june.set_index(["date", "uid"])["minutes"].equals(want)
    assert list(june.columns) == ["date", "uid", "kind", "live_input_uid", "creator",
                                  "age_days", "mode", "minutes"]


# --- stored minutes -------------------------------------------------------------------------

def test_stored_minutes_and_capacity_on_the_sync_day_equal_the_truth(wh, truth):
    notes: list[str] = []
    got = rm.stored_minutes_daily(wh, date(2026, 6, 1), END, notes).set_index("date")
    want = _days(truth.stored_minutes_daily).set_index("date")
    assert got.loc[END, "stored_minutes"] == want.loc[END, "stored_minutes"]
    assert got.loc[END, "stored_minutes"] == truth.storage_usage["totalStorageMinutes"]
    assert (got["capacity_minutes"] == truth.capacity_minutes).all()
    assert notes == ["Stream capacity before the first snapshot (2026-07-01) is assumed "
                     "equal to it"]
    snaps = rm.storage_snapshots(wh)
    assert snaps["minutes"].tolist() == [truth.storage_usage["totalStorageMinutes"]]
    assert snaps["capacity"].tolist() == [truth.storage_usage["totalStorageMinutesLimit"]]
    assert rm.storage_snapshot_day(wh) == truth.now.date()


# --- R2 -------------------------------------------------------------------------------------

def test_r2_storage_per_class_equals_the_truth_for_31_days(wh, truth):
    got = rm.r2_storage(wh, R2_FIRST, END)
    want = _days(truth.r2_storage_daily_by_class, R2_FIRST)
    want = want[(want["bytes"] > 0) | (want["storage_class"] == "STANDARD")]
    key = ["date", "bucket", "storage_class"]
    merged = got.merge(want, on=key, how="outer", suffixes=("", "_truth"))
    nonzero = merged[(merged["bytes"] > 0) | (merged["bytes_truth"] > 0)]
    assert (nonzero["bytes"] == nonzero["bytes_truth"]).all()
    assert set(got["storage_class"]) == {"STANDARD", "STANDARD_IA"}
    totals = rm.r2_storage_totals(wh, R2_FIRST, END)
    t = _days(truth.r2_storage_daily, R2_FIRST).sort_values(["date", "bucket"])
    assert totals["objects"].tolist() == t["object_count"].tolist()
    assert totals["bytes"].tolist() == t["payload_size"].tolist()


def test_r2_billed_operations_and_ia_retrieval_equal_the_truth(wh, truth):
    key = ["date", "bucket", "op_class", "storage_class"]
    got = rm.r2_operations(wh, R2_FIRST, END).groupby(key, as_index=False)["requests"].sum()
    want = _days(truth.r2_billing_operations, R2_FIRST).reset_index(drop=True)
    merged = got.merge(want, on=key, how="outer", suffixes=("", "_truth"))
    assert len(merged) == len(want) > 100
    assert (merged["requests"] == merged["requests_truth"]).all()
    reads = rm.r2_object_reads(wh, R2_FIRST, END)
    ret = rm.r2_ia_retrieval(reads).reset_index(drop=True)
    want_ret = _days(truth.r2_ia_retrieval_daily, R2_FIRST).reset_index(drop=True)
    assert ret["bytes"].sum() > 0
    assert ret.equals(want_ret[["date", "bucket", "bytes"]].astype(ret.dtypes.to_dict()))


def test_r2_requests_mark_401_and_403_unbilled(wh, truth):
    got = rm.r2_requests(wh, R2_FIRST, END)
    want = _days(truth.r2_operations_daily, R2_FIRST)
    refused = want["response_status_code"].isin([401, 403])
    assert got.loc[~got["billed"], "requests"].sum() == want.loc[refused, "requests"].sum() > 0
    assert got["requests"].sum() == want["requests"].sum()
    assert set(got["op_class"]) <= {"A", "B", "free"}


# --- inventories ----------------------------------------------------------------------------

def test_inventories_list_what_the_account_holds(wh, truth):
    assert sorted(rm.videos(wh)["uid"]) == sorted(truth.videos["uid"])
    assert sorted(rm.live_inputs(wh)["uid"]) == sorted(truth.live_inputs["uid"])
    objs = rm.r2_objects(wh)
    want = truth.r2_objects.sort_values(["bucket", "key"], ignore_index=True)
    assert objs[["bucket", "key"]].equals(want[["bucket", "key"]])
    assert objs["size_bytes"].tolist() == want["size"].tolist()
    assert objs["storage_class"].tolist() == want["storage_class"].fillna("STANDARD").tolist()
    rules = rm.lifecycle_rules(wh)
    default = rules["abort_multipart_days"].notna() & rules["transition_days"].isna() \
        & rules["expire_days"].isna()  # R2's default multipart-abort rule, not in the truth
    assert sorted(zip(rules.loc[~default, "bucket"], rules.loc[~default, "rule_id"],
                      strict=True)) == sorted(
        zip(truth.r2_lifecycle["bucket"], truth.r2_lifecycle["rule_id"], strict=True))
    assert rm.r2_buckets(wh) == sorted(set(truth.r2_storage_daily["bucket"]))
    names = rm.resource_names(wh)
    named = truth.videos[truth.videos["name"].notna() & (truth.videos["name"] != "")]
    assert all(names[u] == n for u, n in zip(named["uid"], named["name"], strict=True))


def test_history_keeps_what_a_later_listing_no_longer_has(account, tmp_path):
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    db = tmp_path / "wh.duckdb"
    with Sandbox(account) as sb:
        def run():
            sync(sb.settings(db_path=db), sources=["stream"], transport=sb.transport,
                 now=lambda: account.now.to_pydatetime(), progress="none")
        run()
        gone = str(account.visible_videos()["uid"].iloc[0])
        account.delete_video(gone)
        account.advance(1)
        run()
    wh = Warehouse(db, read_only=True)
    assert gone not in set(rm.videos(wh)["uid"])
    hist = rm.videos(wh, history=True).set_index("uid")
    assert pd.notna(hist.loc[gone, "missing_since"])
    assert hist["missing_since"].isna().sum() == len(rm.videos(wh))
    assert sorted(rm.videos(wh)["uid"]) == sorted(account.visible_videos()["uid"])


# --- sync log -------------------------------------------------------------------------------

def test_listing_calls_are_one_per_thousand_keys_and_bucket(wh, truth, synced):
    calls = rm.listing_calls(wh)
    assert calls["run_id"].nunique() == 1 and calls["calls"].sum() == synced[2].listing_calls
    per_bucket = calls[calls["bucket"] != "(ListBuckets)"].set_index("bucket")["calls"]
    keys = truth.r2_objects.groupby("bucket").size()
    assert per_bucket.to_dict() == {b: max(1, -(-int(keys.get(b, 0)) // 1000))
                                    for b in rm.r2_buckets(wh)}
