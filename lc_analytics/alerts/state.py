"""Deduplication: which messages are due, given the alerts now and the state stored.

Each key has a `level` (as evaluated now; 0 = clear) and a `sent_level` (what was last
delivered). A message is due while they disagree:

- level > sent_level: `fired` (sent_level 0) or `escalated`;
- level 0 and sent_level > 0: `resolved`;
- a lower, non-zero level sends nothing (the alert keeps its sent level until it resolves).

Only a delivered message moves `sent_level`, so a failed delivery is due again next run and a
re-run after a success sends nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from .model import Alert, Message


def due_messages(alerts: list[Alert], state: pd.DataFrame) -> list[Message]:
    """The messages due now (see the module docstring), in key order.

    >>> a = Alert("runway/x", "runway", 2, "t", "b")
    >>> [m.event for m in due_messages([a], pd.DataFrame(columns=["key"]))]
    ['fired']
    >>> st = pd.DataFrame([{"key": "runway/x", "kind": "runway", "level": 1, "sent_level": 1,
    ...                     "title": "t", "body": "b"}])
    >>> [m.event for m in due_messages([a], st)], [m.event for m in due_messages([], st)]
    (['escalated'], ['resolved'])
    """
    stored = {r["key"]: r for r in state.to_dict("records")}
    now = {a.key: a for a in alerts}
    out = []
    for key in sorted(set(now) | set(stored)):
        sent = int(stored[key]["sent_level"]) if key in stored else 0
        alert = now.get(key)
        if alert is not None and alert.level > sent:
            event = "fired" if sent == 0 else "escalated"
            out.append(Message(key, alert.kind, event, alert.level, alert.title, alert.body))
        elif alert is None and sent > 0:
            row = stored[key]
            out.append(Message(key, row["kind"], "resolved", 0, f"Resolved: {row['title']}",
                               "the condition no longer holds"))
    return out


def state_records(alerts: list[Alert], state: pd.DataFrame, delivered: dict[str, bool],
                  at: datetime) -> list[dict[str, Any]]:
    """The `alerts` rows to write after this run: every key evaluated now or still owed a
    message; `delivered` maps the keys whose message was tried to whether it was accepted."""
    stored = {r["key"]: r for r in state.to_dict("records")}
    now = {a.key: a for a in alerts}
    rows = []
    for key in sorted(set(now) | set(stored)):
        old: Any = stored.get(key)
        alert = now.get(key)
        was_clear = old is None or int(old["level"]) == 0
        level = alert.level if alert is not None else 0
        sent = level if delivered.get(key) else (0 if old is None else int(old["sent_level"]))
        if alert is None and was_clear and not delivered.get(key):
            continue  # already clear, nothing owed: unchanged
        src: Any = alert if alert is not None else None
        rows.append({
            "key": key, "kind": src.kind if src else old["kind"], "level": level,
            "sent_level": sent, "title": src.title if src else old["title"],
            "body": src.body if src else old["body"],
            "first_fired_at": at if (alert is not None and was_clear) else old["first_fired_at"],
            "evaluated_at": at,
            "sent_at": at if delivered.get(key) else (
                None if old is None else _nat(old["sent_at"])),
            "resolved_at": None if alert is not None else (
                at if not was_clear else _nat(old["resolved_at"])),
        })
    return rows


def event_records(messages: list[Message], delivered: dict[str, bool],
                  errors: dict[str, str | None], at: datetime) -> list[dict[str, Any]]:
    """The `alert_events` rows of this run's messages."""
    return [{"key": m.key, "occurred_at": at, "event": m.event, "level": m.level, "title": m.title,
             "body": m.body, "delivered": bool(delivered.get(m.key)),
             "error": errors.get(m.key)} for m in messages]


def _nat(value: Any) -> Any:
    return None if value is None or pd.isna(value) else value
