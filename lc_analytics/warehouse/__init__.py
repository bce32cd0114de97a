"""The DuckDB warehouse: versioned schema, short-lived connections, bulk idempotent writes.

Example:
    >>> from lc_analytics.warehouse import Warehouse, sync_lock
    >>> with sync_lock("data/warehouse.duckdb"):                  # doctest: +SKIP
    ...     wh = Warehouse("data/warehouse.duckdb")
    ...     with wh.transaction() as tx:
    ...         tx.upsert("videos", records)
"""

from .locks import sync_lock
from .schema import MIGRATIONS, SCHEMA_VERSION, Migration
from .store import Transaction, Warehouse

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "Migration",
    "Transaction",
    "Warehouse",
    "sync_lock",
]
