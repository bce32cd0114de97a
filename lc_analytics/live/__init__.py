"""Live shows: the webhook receiver, the durable spool, the viewer poller and their ingest.

The receiver and the poller write only to the spool beside the warehouse (never to DuckDB),
so a sync holding the warehouse never delays them; the sync takes the spool in.
"""

from __future__ import annotations

from .spool import Spool, read_records, spool_dir

__all__ = ["Spool", "read_records", "spool_dir"]
