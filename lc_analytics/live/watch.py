"""`lc-analytics live watch`: the poller with real settings (what the command runs)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

from ..client.http import CloudflareClient
from ..settings import Settings
from ..sources.stream import iter_live_inputs
from .config import views_base_url
from .poller import Poller
from .spool import Spool, spool_dir

log = logging.getLogger(__name__)


def make_poller(settings: Settings, db_path: Path | None = None,
                transport: httpx.BaseTransport | None = None) -> tuple[Poller, CloudflareClient]:
    """A poller spooling beside the warehouse, with the API's `status` as the fallback."""
    base = views_base_url(settings.customer_code)
    client = CloudflareClient(settings, transport=transport)

    def connected() -> set[str]:
        return {row["uid"] for row in iter_live_inputs(client) if row["status"] == "connected"}

    http = httpx.Client(transport=transport, timeout=settings.request_timeout)
    spool = Spool(spool_dir(db_path or settings.db_path))
    return Poller(spool, base, http, status=connected), client


def watch(settings: Settings, interval: float, db_path: Path | None = None,
          rounds: int | None = None) -> None:
    """Poll every `interval` seconds until interrupted (or `rounds` rounds)."""
    poller, client = make_poller(settings, db_path)
    log.info("polling /views every %.0f s into %s", interval, poller.spool.folder)
    try:
        poller.run(interval, rounds)
    finally:
        poller.http.close()
        client.close()
