"""Stored minutes rebuilt from the warehouse equal what Stream's storage-usage answers, exactly.

Stream counts ready videos (duration rounded up to the second) and the `maxDurationSeconds`
reserved by direct uploads still pending (reference section 6). The sandbox's own model is the
independent truth; these tests sync Stream only and compare.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from lc_analytics.costs.usage import rebuilt_stored_minutes, upload_reservations
from lc_analytics.sandbox import Sandbox, SimulatedAccount
from lc_analytics.sync import sync
from lc_analytics.warehouse import Warehouse


def _sync_stream(account: SimulatedAccount, db) -> Warehouse:
    with Sandbox(account) as sb:
        sync(sb.settings(db_path=db), sources=["stream"], transport=sb.transport,
             now=lambda: account.now.to_pydatetime(), progress="none")
    return Warehouse(db, read_only=True)


def _rebuilt_on(wh: Warehouse, day: date) -> float:
    """Rebuilt stored minutes at the end of `day` (the last complete day before the sync)."""
    days = pd.date_range(day - pd.Timedelta(days=40), day, freq="D")
    return float(rebuilt_stored_minutes(wh, days)[-1])


def _pending_seconds(account: SimulatedAccount) -> int:
    """Seconds the truth reserves for uploads pending at `now` (its own rules, not ours)."""
    v = account.visible_videos()
    return int(v.loc[v["state"] == "pendingupload", "max_duration_seconds"].astype(int).sum())


@pytest.mark.parametrize(("seed", "end"), [
    (7, date(2026, 6, 30)),   # month end
    (3, date(2026, 5, 14)),   # mid-month
    (11, date(2026, 2, 28)),  # February's end
    (23, date(2026, 9, 1)),   # first of a month
])
def test_rebuilt_stored_minutes_on_the_sync_day_equal_storage_usage(seed, end, tmp_path):
    account = SimulatedAccount.build("small", seed=seed, end=end)
    wh = _sync_stream(account, tmp_path / "wh.duckdb")
    truth = account.storage_usage()["totalStorageMinutes"]
    pending = _pending_seconds(account)
    assert pending >= 3 * 3600  # the three uploads started hours before the first sync
    assert _rebuilt_on(wh, account.end) == truth
    # the reservations are part of it: without them the rebuild would be short by exactly them
    res = upload_reservations(wh)
    open_now = res[res["gone"].isna() | (res["gone"] > account.now)]
    assert int(open_now["seconds"].sum()) == pending


def test_released_reservations_leave_the_rebuild_after_the_uploads_expire(tmp_path):
    account = SimulatedAccount.build("small", seed=5, end=date(2026, 7, 31))
    db = tmp_path / "wh.duckdb"
    first_end = account.end
    _sync_stream(account, db)
    before = _pending_seconds(account)
    account.advance(2)  # the pending uploads' links expire (6 hours) and they are gone
    wh = _sync_stream(account, db)
    assert _pending_seconds(account) < before
    assert _rebuilt_on(wh, account.end) == account.storage_usage()["totalStorageMinutes"]
    # every day the warehouse has watched (from the first sync on) equals the truth's end of
    # day, including the first one, when the now-expired uploads still held their minutes
    truth = account.ground_truth().stored_minutes_daily.set_index("date")["stored_minutes"]
    for day in pd.date_range(first_end, account.end, freq="D"):
        assert _rebuilt_on(wh, day.date()) == truth[pd.Timestamp(day, tz="UTC")], day
