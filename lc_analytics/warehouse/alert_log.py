"""What `alerts check` reads: the alerts' state, the sync runs' health, optional tables."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from .store import Warehouse

ALERT_COLUMNS = ["key", "kind", "level", "sent_level", "title", "body", "first_fired_at",
                 "evaluated_at", "sent_at", "resolved_at"]


def has_table(wh: Warehouse, name: str) -> bool:
    """Whether the warehouse holds a table (or view) called `name`.

    >>> has_table(Warehouse("data/demo.duckdb"), "live_input_events")   # doctest: +SKIP
    False
    """
    found = wh.query("SELECT count(*) AS n FROM duckdb_tables() WHERE schema_name = 'main' "
                     "AND table_name = ? UNION ALL SELECT count(*) FROM duckdb_views() "
                     "WHERE schema_name = 'main' AND view_name = ?", [name, name])
    return bool(found["n"].sum())


def alert_state(wh: Warehouse) -> pd.DataFrame:
    """One row per alert key ever evaluated (columns `ALERT_COLUMNS`); empty before the first
    `alerts check` or on a warehouse older than the alerts table.

    >>> alert_state(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    if not has_table(wh, "alerts"):
        return pd.DataFrame(columns=ALERT_COLUMNS)
    return wh.query(f"SELECT {', '.join(ALERT_COLUMNS)} FROM alerts ORDER BY key")


def alert_events(wh: Warehouse) -> pd.DataFrame:
    """The history of alert messages, oldest first: key, occurred_at, event, level, title, body,
    delivered, error.

    >>> alert_events(Warehouse("data/demo.duckdb", read_only=True))   # doctest: +SKIP
    """
    if not has_table(wh, "alert_events"):
        return pd.DataFrame(columns=["key", "occurred_at", "event", "level", "title", "body",
                                     "delivered", "error"])
    return wh.query("SELECT key, occurred_at, event, level, title, body, delivered, error "
                    "FROM alert_events ORDER BY occurred_at, key, event")


def sync_health(wh: Warehouse) -> dict[str, object]:
    """The last successful sync's end and the latest finished run (id, status, error).

    Keys: last_ok_at (datetime or None), latest_run_id, latest_status, latest_error,
    latest_finished_at (None when no run finished).

    >>> sync_health(Warehouse("data/demo.duckdb"))["latest_status"]   # doctest: +SKIP
    'ok'
    """
    ok = wh.query("SELECT max(finished_at) AS at FROM sync_runs WHERE status = 'ok'")
    latest = wh.query("SELECT run_id, status, error, finished_at FROM sync_runs "
                      "WHERE status <> 'running' ORDER BY started_at DESC, run_id DESC LIMIT 1")
    out: dict[str, object] = {"last_ok_at": _ts(ok["at"].iloc[0]) if len(ok) else None,
                              "latest_run_id": None, "latest_status": None,
                              "latest_error": None, "latest_finished_at": None}
    if len(latest):
        row = latest.iloc[0]
        out.update(latest_run_id=row["run_id"], latest_status=row["status"],
                   latest_error=None if pd.isna(row["error"]) else str(row["error"]),
                   latest_finished_at=_ts(row["finished_at"]))
    return out


def _ts(value: object) -> datetime | None:
    if value is None or pd.isna(value):
        return None
    return pd.Timestamp(value).tz_convert("UTC").to_pydatetime()
