"""Live-input error spikes (alerts/live_errors.py) against hand-made events, counted exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from lc_analytics.alerts.live_errors import live_error_alerts
from lc_analytics.warehouse import Warehouse

DAY = date(2026, 6, 30)


def _event(uid: str, day: date, minute: int, code: str | None,
           kind: str = "live_input.errored") -> dict:
    at = datetime(day.year, day.month, day.day, 18, tzinfo=UTC) + timedelta(minutes=minute)
    return {"live_input_uid": uid, "event_at": at, "event_type": kind, "error_code": code,
            "error_message": None, "video_uid": None, "source": "notification",
            "received_at": at}


def _warehouse(folder, events: list[dict]) -> Warehouse:
    folder.mkdir(exist_ok=True)
    wh = Warehouse(folder / "wh.duckdb")
    with wh.transaction() as tx:
        tx.upsert("live_input_events", events)
    return wh


def test_a_spike_names_its_codes_and_inputs_and_the_quota_raises_the_level(tmp_path):
    a, b = "a" * 32, "b" * 32
    baseline = [_event(a, DAY - timedelta(days=d), 0, "ERR_GOP_OUT_OF_RANGE")
                for d in range(1, 29, 2)]  # 14 of the 28 days before hold one error: median 0.5
    today = [_event(a, DAY, m, "ERR_GOP_OUT_OF_RANGE") for m in range(3)] + \
        [_event(b, DAY, 5, "ERR_STORAGE_QUOTA_EXHAUSTED"),
         _event(b, DAY, 1, None, kind="live_input.connected")]  # not an error
    (alert,) = live_error_alerts(_warehouse(tmp_path / "spike", baseline + today), DAY)
    assert alert.key == "live-errors/2026-06-30" and alert.level == 2
    assert alert.title == ("4 live-input errors on 2026-06-30 across 2 input(s) (median 0.5 a "
                           "day over the 28 days before)")
    assert alert.body.startswith(f"by code: ERR_GOP_OUT_OF_RANGE 3, ERR_STORAGE_QUOTA_EXHAUSTED "
                                 f"1; inputs: {a}, {b}. Storage quota exhausted")


def test_a_few_errors_or_a_usual_day_stay_quiet(tmp_path):
    a = "a" * 32
    usual = [_event(a, DAY - timedelta(days=d), m, "ERR_GOP_OUT_OF_RANGE")
             for d in range(1, 29) for m in range(2)]  # 2 errors every day: median 2
    six = [_event(a, DAY, m, "ERR_GOP_OUT_OF_RANGE") for m in range(6)]  # 6 = 3 x 2: not more
    assert live_error_alerts(_warehouse(tmp_path / "six", usual + six), DAY) == []
    two = [_event(a, DAY, m, "ERR_GOP_OUT_OF_RANGE") for m in range(2)]
    assert live_error_alerts(_warehouse(tmp_path / "two", two), DAY) == []  # below the floor
    seven = six + [_event(a, DAY, 9, "ERR_GOP_OUT_OF_RANGE")]
    (alert,) = live_error_alerts(_warehouse(tmp_path / "seven", usual + seven), DAY)
    assert alert.level == 1 and alert.facts == {"errors": "7", "baseline": "2"}
