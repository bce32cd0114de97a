"""Deduplication: fire once, escalate, resolve, and a failed delivery stays pending."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from lc_analytics.alerts import Alert
from lc_analytics.alerts.state import due_messages, state_records
from lc_analytics.warehouse.alert_log import ALERT_COLUMNS

T0 = datetime(2026, 7, 1, 6, tzinfo=UTC)


def _run(alerts: list[Alert], state: pd.DataFrame, accept: bool, at: datetime,
         ) -> tuple[list[tuple[str, str, int]], pd.DataFrame]:
    """One run: the messages due, then the state after delivering them (or failing to)."""
    due = due_messages(alerts, state)
    rows = state_records(alerts, state, {m.key: accept for m in due}, at)
    return [(m.key, m.event, m.level) for m in due], pd.DataFrame(rows, columns=ALERT_COLUMNS)


def test_fire_once_escalate_deescalate_quietly_resolve_and_fire_again():
    empty = pd.DataFrame(columns=ALERT_COLUMNS)
    budget = lambda level: Alert("budget/stream/actual/2026-06", "budget", level,  # noqa: E731
                                 f"level {level}", "body")
    runway = Alert("runway/stream-storage", "runway", 1, "runway", "body")
    at = iter(T0 + timedelta(hours=h) for h in range(20))

    sent, st = _run([budget(1), runway], empty, True, next(at))
    assert sent == [("budget/stream/actual/2026-06", "fired", 1),
                    ("runway/stream-storage", "fired", 1)]
    sent, st = _run([budget(1), runway], st, True, next(at))
    assert sent == []  # a re-run sends nothing
    sent, st = _run([budget(2), runway], st, True, next(at))
    assert sent == [("budget/stream/actual/2026-06", "escalated", 2)]
    sent, st = _run([budget(1), runway], st, True, next(at))
    assert sent == []  # lower again: quiet
    assert st.set_index("key").loc["budget/stream/actual/2026-06", "sent_level"] == 2
    sent, st = _run([budget(1)], st, True, next(at))
    assert sent == [("runway/stream-storage", "resolved", 0)]
    row = st.set_index("key").loc["runway/stream-storage"]
    assert (row["level"], row["sent_level"], row["resolved_at"]) == (0, 0, T0 + timedelta(hours=4))
    after, _ = _run([budget(1)], st, True, next(at))
    assert after == []  # resolved and told: quiet
    sent, st = _run([budget(1), runway], st, True, next(at))
    assert sent == [("runway/stream-storage", "fired", 1)]  # it came back: fires again
    assert st.set_index("key").loc["runway/stream-storage", "first_fired_at"] == \
        T0 + timedelta(hours=6)


def test_a_failed_delivery_is_retried_and_never_marked_sent():
    empty = pd.DataFrame(columns=ALERT_COLUMNS)
    stale = Alert("sync/stale", "sync_stale", 1, "stale", "body")
    sent, st = _run([stale], empty, False, T0)
    assert sent == [("sync/stale", "fired", 1)]
    assert st.loc[0, "sent_level"] == 0 and pd.isna(st.loc[0, "sent_at"])
    sent, st = _run([stale], st, False, T0 + timedelta(hours=1))
    assert sent == [("sync/stale", "fired", 1)]  # retried
    sent, st = _run([stale], st, True, T0 + timedelta(hours=2))
    assert sent == [("sync/stale", "fired", 1)]
    assert st.loc[0, "sent_level"] == 1 and st.loc[0, "sent_at"] == T0 + timedelta(hours=2)
    assert st.loc[0, "first_fired_at"] == T0  # the first evaluation that saw it
    sent, st = _run([], st, False, T0 + timedelta(hours=3))
    assert sent == [("sync/stale", "resolved", 0)]
    sent, st = _run([], st, True, T0 + timedelta(hours=4))
    assert sent == [("sync/stale", "resolved", 0)]  # the failed resolution is sent again
    assert st.loc[0, "resolved_at"] == T0 + timedelta(hours=3)  # when it cleared


def test_alert_urls_are_a_secret_masked_one_by_one(caplog):
    import logging

    from lc_analytics.settings import Settings, log_masking_scope

    urls = "json://hooks.example/x-token-1, mailto://ops:pa55word@mail.example"
    s = Settings.from_env({"LC_ANALYTICS_ALERT_URLS": urls}, env_file=None)
    assert "x-token-1" not in repr(s) and s.alert_urls is not None
    assert s.alert_urls.reveal() == urls
    assert {"json://hooks.example/x-token-1", "mailto://ops:pa55word@mail.example",
            urls} <= set(s.secrets())
    with log_masking_scope(), caplog.at_level(logging.WARNING):
        s.install_log_masking()
        logging.getLogger("apprise").warning("could not reach %s",
                                             "mailto://ops:pa55word@mail.example")
    assert "pa55word" not in caplog.text and "could not reach ********" in caplog.text
