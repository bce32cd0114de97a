"""What the production audit reads from the warehouse and what it recorded: the last
successful sync and the latest audit run."""

from __future__ import annotations

from datetime import datetime

import pandas as pd

from ..warehouse import Warehouse


def last_successful_sync(wh: Warehouse) -> datetime | None:
    """When the last sync run that ended 'ok' finished (UTC), or None.

    >>> last_successful_sync(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    df = wh.query("SELECT max(finished_at) AS t FROM sync_runs WHERE status = 'ok'")
    value = df["t"].iloc[0] if len(df) else None
    return None if value is None or pd.isna(value) else pd.Timestamp(value).to_pydatetime()


def latest_audit(wh: Warehouse) -> pd.DataFrame:
    """The checks of the latest audit run: run_at, check_key, title, status, evidence (in the
    order they were run; empty when no audit was recorded).

    >>> latest_audit(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    return wh.query("""
        SELECT run_at, check_key, title, status, evidence FROM audit_checks
        WHERE run_at = (SELECT max(run_at) FROM audit_checks)
        ORDER BY position""")
