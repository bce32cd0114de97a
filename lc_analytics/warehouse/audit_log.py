"""What the production audit recorded: the latest audit run (the last successful sync it
checks is `sync_log.last_successful_sync`)."""

from __future__ import annotations

import pandas as pd

from .store import Warehouse


def latest_audit(wh: Warehouse) -> pd.DataFrame:
    """The checks of the latest audit run: run_at, check_key, title, status, evidence (in the
    order they were run; empty when no audit was recorded).

    >>> latest_audit(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    """
    return wh.query("""
        SELECT run_at, check_key, title, status, evidence FROM audit_checks
        WHERE run_at = (SELECT max(run_at) FROM audit_checks)
        ORDER BY position""")
