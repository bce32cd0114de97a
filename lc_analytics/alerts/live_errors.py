"""Live-input error spikes: `live_input.errored` events of the latest day against the days
before it.

Baseline: the median number of errored events per day over the `LIVE_BASELINE_DAYS` days
before (days without any event count as 0). A spike is a day with at least `LIVE_MIN_ERRORS`
errors and more than `LIVE_FACTOR` times that median: errors are rare and bursty (an encoder
misconfigured for one show), so a median that ignores one bad day, and a floor that keeps a
single failed show quiet, suit them better than a mean. An `ERR_STORAGE_QUOTA_EXHAUSTED`
among them raises the level: every live input of the account fails until capacity is bought.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from ..readmodel.live import live_events
from ..warehouse import Warehouse
from ..warehouse.alert_log import has_table
from .model import Alert

LIVE_BASELINE_DAYS = 28
LIVE_MIN_ERRORS = 3
LIVE_FACTOR = 3
QUOTA = "ERR_STORAGE_QUOTA_EXHAUSTED"


def live_error_alerts(wh: Warehouse, day: date) -> list[Alert]:
    """The spike of `day`'s live-input errors, if any (see the module).

    >>> live_error_alerts(Warehouse("data/demo.duckdb", read_only=True), day)  # doctest: +SKIP
    """
    if not has_table(wh, "live_input_events"):
        return []
    events = live_events(wh)
    errors = events[events["event_type"] == "live_input.errored"]
    days = errors["at"].dt.date
    today = errors[days == day]
    first = day - timedelta(days=LIVE_BASELINE_DAYS)
    counts = days[(days >= first) & (days < day)].value_counts()
    baseline = pd.Series([int(counts.get(first + timedelta(days=i), 0))
                          for i in range(LIVE_BASELINE_DAYS)]).median()
    if len(today) < LIVE_MIN_ERRORS or len(today) <= LIVE_FACTOR * baseline:
        return []
    codes = today["error_code"].fillna("unknown").value_counts()
    by_code = ", ".join(f"{code} {n}" for code, n in sorted(codes.items()))
    inputs = sorted(today["live_input_uid"].unique())
    level = 2 if QUOTA in codes.index else 1
    title = (f"{len(today)} live-input errors on {day} across {len(inputs)} input(s) "
             f"(median {baseline:g} a day over the {LIVE_BASELINE_DAYS} days before)")
    body = (f"by code: {by_code}; inputs: {', '.join(inputs)}"
            + (". Storage quota exhausted: every live input fails until capacity is bought"
               " or recordings are deleted." if level == 2 else "."))
    return [Alert(f"live-errors/{day}", "live_errors", level, title, body,
                  {"errors": str(len(today)), "baseline": f"{baseline:g}"})]
