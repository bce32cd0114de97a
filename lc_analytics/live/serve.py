"""Running the receiver under uvicorn (what `lc-analytics events serve` does)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import UsageError
from ..settings import install_log_masking
from .config import receiver_config
from .receiver import create_app
from .spool import Spool, spool_dir


def serve(db_path: Path, host: str, port: int, secrets: list[str] | None = None) -> None:
    """Serve the receiver on host:port until interrupted, spooling beside `db_path`."""
    import uvicorn

    if not 0 < port < 65536:
        raise UsageError(f"--port must be from 1 to 65535 (got {port})")
    config = receiver_config()
    install_log_masking(list(secrets or []) + [
        s.reveal() for s in (config.notification_secret, config.webhook_secret) if s])
    logging.getLogger("lc_analytics.events").setLevel(logging.INFO)
    try:
        spool = Spool(spool_dir(db_path))
    except OSError as exc:
        raise UsageError(f"cannot write the spool {spool_dir(db_path)} beside the warehouse "
                         f"(LC_ANALYTICS_DB or --db): {exc.strerror}") from exc
    logging.getLogger("lc_analytics.events").info("spooling to %s", spool.folder)
    uvicorn.run(create_app(spool, config), host=host, port=port, log_level="warning",
                access_log=False)
