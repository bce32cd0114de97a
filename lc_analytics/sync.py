"""Sync: decide what to fetch, pull it through the sources, commit each window atomically."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa

from .client.http import Clock, CloudflareClient
from .client.pipeline import prefetch
from .client.zones import check_zone_access
from .errors import ConfigError, LcAnalyticsError, UsageError
from .settings import Settings
from .sources.analytics import (
    MINUTES_VIEWED,
    R2_OBJECT_READS,
    R2_OPERATIONS,
    R2_STORAGE,
    Dataset,
    build_query,
    iter_window_pages,
    page_table,
    windows,
)
from .sources.r2 import R2Inventory
from .sync_billing import sync_billed_usage
from .sync_inventory import _count, _done, r2_inventory, sync_r2_inventory, sync_stream
from .sync_report import Progress, SyncReport
from .sync_zone import sync_zones
from .warehouse import Warehouse, sync_lock

log = logging.getLogger(__name__)

#: Sources in the order a sync runs them, and the settings group each needs.
SOURCES: dict[str, str] = {
    "stream": "stream",  # live inputs, videos, storage-usage snapshot
    "minutes_viewed": "stream",  # GraphQL streamMinutesViewedAdaptiveGroups
    "r2_storage": "stream",  # GraphQL r2StorageAdaptiveGroups
    "r2_operations": "stream",  # GraphQL r2OperationsAdaptiveGroups
    "r2_object_reads": "stream",  # the same, per object: successful GetObject + HeadObject
    "r2_inventory": "r2",  # S3 ListObjectsV2 + lifecycle rules
    "zone": "stream",  # CDN: zone traffic + cache rules (skipped without CLOUDFLARE_ZONE_ID)
    "live_events": "stream",  # the live-events spool + GET alerting/v3/history (issue 14)
    "live_minutes": "stream",  # live inputs' minutes viewed by the minute (GraphQL datetime)
    "billed_usage": "stream",  # billable usage V2 (V1 fallback), sync_billing.py
}
ANALYTICS: dict[str, tuple[Dataset, str]] = {
    "minutes_viewed": (MINUTES_VIEWED, "minutes_viewed_daily"),
    "r2_storage": (R2_STORAGE, "r2_storage_daily"),
    "r2_operations": (R2_OPERATIONS, "r2_operations_daily"),
    "r2_object_reads": (R2_OBJECT_READS, "r2_object_reads_daily"),
}
LAG_DAYS = 3  # recent analytics are restated: re-fetch the last 3 days on every run
PREFETCH_PAGES = 3  # GraphQL pages fetched ahead of the writer (10,000 rows each at most)


@dataclass
class _Context:
    settings: Settings
    now: datetime
    report: SyncReport
    progress: Progress
    client: CloudflareClient | None = None
    since: date | None = None
    proven: bool = False  # the preflight has passed
    full: bool = False  # list every inventory whole, due or not (`sync --full`)
    opened: Warehouse | None = None  # set under the sync lock, once the preflight allows

    @property
    def warehouse(self) -> Warehouse:
        if self.opened is None:
            raise RuntimeError("the warehouse is opened only under the sync lock")
        return self.opened
    clock: Clock | None = None
    r2_clients: list[R2Inventory] = field(default_factory=list)  # their retries are counted


def sync(
    settings: Settings | None = None,
    *,
    sources: Sequence[str] | None = None,
    since: date | None = None,
    progress: str = "auto",
    transport: httpx.BaseTransport | None = None,
    clock: Clock | None = None,
    now: Callable[[], datetime] | None = None,
    client_options: dict | None = None,
    lock_timeout: float = 5.0,
    full: bool = False,
) -> SyncReport:
    """Pull every source into the warehouse; idempotent, resumable, one window at a time.

    `transport`, `clock` and `now` let the sandbox stand in for Cloudflare (same code path).
    `full` lists every inventory whole even if its full listing is not due.

    >>> report = sync(Settings.from_env(require=["stream", "r2"]))    # doctest: +SKIP
    >>> report.rows["videos"]                                         # doctest: +SKIP
    """
    chosen = _choose_sources(sources)
    today = (now or _utcnow)().date()
    if since is not None and since > today:
        raise UsageError(f"--since {since} is in the future (today is {today}, UTC): there is "
                         "nothing to sync from it yet")
    settings = settings or Settings.from_env(require=sorted({SOURCES[s] for s in chosen}))
    _check_settings(settings, chosen)
    started = time.monotonic()
    ctx = _Context(settings, _utcnow(), SyncReport(""), Progress(progress), since=since,
                   clock=clock, full=full)
    if any(SOURCES[s] == "stream" for s in chosen):
        ctx.client = CloudflareClient(settings, transport=transport, clock=clock,
                                      **(client_options or {}))
    try:
        if not _exists(settings.db_path):
            # a new warehouse: prove the token before creating anything at all
            _preflight(ctx, chosen, now)
        with sync_lock(settings.db_path, timeout=lock_timeout):
            _run(ctx, chosen, now, started)
    finally:
        if ctx.client is not None:
            ctx.client.close()
    return ctx.report


def _run(ctx: _Context, chosen: list[str], now: Callable[[], datetime] | None,
         started: float) -> None:
    """Under the sync lock: open (or create) the warehouse, record the run, run each step."""
    settings = ctx.settings
    # waits up to settings.sync_wait_seconds for readers holding the file open
    wh = ctx.opened = Warehouse(settings.db_path, lock_timeout=settings.sync_wait_seconds)
    _check_account(wh, settings)
    run_id = ctx.report.run_id = wh.start_run(list(chosen))
    status, error = "failed", None
    try:
        if not ctx.proven:
            _preflight(ctx, chosen, now)
        _claim_account(ctx)
        for source in chosen:
            _STEPS[source](ctx, source)
        status = "ok"
    except KeyboardInterrupt:
        status, error = "interrupted", "interrupted by the user"
        raise
    except LcAnalyticsError as exc:
        error = str(exc)
        raise
    finally:
        rep = ctx.report
        if ctx.client is not None:
            rep.requests += ctx.client.stats.requests
            rep.graphql_requests = ctx.client.stats.graphql_requests
            rep.retries += ctx.client.stats.retries
        rep.retries += sum(inv.stats.retries for inv in ctx.r2_clients)
        rep.duration_seconds = time.monotonic() - started
        try:
            wh.finish_run(run_id, status, rows=rep.rows, requests=rep.requests,
                          retries=rep.retries, listing_calls=rep.listing_calls, error=error)
        except LcAnalyticsError as exc:
            if status == "ok":
                raise
            # the run already failed: keep its first cause, not this consequence of it
            log.warning("could not record the end of sync run %s: %s", run_id, exc)


def _exists(db_path: str | os.PathLike[str]) -> bool:
    return Path(db_path).expanduser().exists()


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _choose_sources(sources: Iterable[str] | None) -> list[str]:
    if sources is None:
        return list(SOURCES)
    chosen = list(dict.fromkeys(sources))
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        raise ConfigError([f"unknown source(s) {', '.join(unknown)}; choose from "
                           f"{', '.join(SOURCES)}"])
    return [s for s in SOURCES if s in chosen]


def _check_settings(settings: Settings, chosen: list[str]) -> None:
    problems = []
    if any(SOURCES[s] == "stream" for s in chosen):
        if not settings.account_id:
            problems.append("CLOUDFLARE_ACCOUNT_ID is not set")
        if not settings.api_token:
            problems.append("CLOUDFLARE_STREAM_API_TOKEN (or CLOUDFLARE_API_TOKEN) is not set")
    if problems:
        raise ConfigError(problems)


# --- steps ------------------------------------------------------------------------------

def _preflight(ctx: _Context, chosen: list[str], now: Callable[[], datetime] | None) -> None:
    """Prove each permission the run needs before anything is written; learn "now".

    A wrong token or a missing permission then fails with its clear error: an existing
    warehouse is left as it was (plus the failed run's row), and a new one is not created.
    "Today" is the API's own clock (its Date header) unless the caller gives one, so a
    skewed local clock cannot shift the windows.
    """
    if now is not None:
        ctx.now = now()
    if ctx.client is not None:
        if "stream" in chosen:
            ctx.client.get(ctx.client.account_path("stream/storage-usage"))
        if any(s in ANALYTICS for s in chosen):
            day = (ctx.client.server_date or ctx.now).date()
            flt = {"date_geq": (day - timedelta(days=1)).isoformat(), "date_lt": day.isoformat()}
            ctx.client.graphql(build_query(MINUTES_VIEWED, flt, 1),
                               {"accountTag": ctx.client.account_id})
        if "zone" in chosen and ctx.settings.zone_ids:
            check_zone_access(ctx.client, ctx.settings.zone_ids)
        if now is None and ctx.client.server_date is not None:
            ctx.now = ctx.client.server_date
    if "r2_inventory" in chosen:
        r2_inventory(ctx).buckets()
    ctx.proven = True


def _check_account(wh: Warehouse, settings: Settings) -> None:
    """Refuse to mix a second account into a warehouse (checked before any API call)."""
    held = wh.account_id()
    if settings.account_id and held is not None and held != settings.account_id:
        raise ConfigError([
            f"warehouse {settings.db_path} holds account {held}; "
            f"CLOUDFLARE_ACCOUNT_ID is {settings.account_id}. Point LC_ANALYTICS_DB at that "
            "account's own warehouse (one warehouse holds one account)"])


def _claim_account(ctx: _Context) -> None:
    """Record the account this warehouse holds (after the preflight proved the token)."""
    account = ctx.settings.account_id
    if not account:
        return
    ctx.warehouse.claim_account(account, ctx.now)


def _analytics_range(ctx: _Context, source: str, ds: Dataset) -> tuple[date, date]:
    """[start, end) to fetch: from the watermark minus the lag, never older than retention."""
    end = ctx.now.date() + timedelta(days=1)
    oldest = ctx.now - timedelta(days=ds.retention_days)
    earliest = oldest.date() if oldest == datetime.combine(oldest.date(), datetime.min.time(),
                                                           oldest.tzinfo) \
        else oldest.date() + timedelta(days=1)
    if ctx.since is not None:
        start = ctx.since
    else:
        wm = ctx.warehouse.get_watermark(source)
        start = earliest if wm is None else wm + timedelta(days=1 - LAG_DAYS)
    return max(start, earliest), end


def _sync_analytics(ctx: _Context, source: str) -> None:
    """One GraphQL dataset, window by window, each committed with its watermark.

    Pipelined: one background thread fetches pages (the next window's too) while this one
    converts each page to Arrow and writes it; a window's pages stream into its transaction,
    so memory holds a few pages, not a window.
    """
    assert ctx.client is not None
    ds, table = ANALYTICS[source]
    start, end = _analytics_range(ctx, source, ds)
    wins = list(windows(start, end))
    ctx.report.windows[source] = wins
    ctx.progress.start(source, len(wins), "window")
    synced_at = ctx.now if table == "minutes_viewed_daily" else None
    total = 0
    with closing(prefetch(_window_pages(ctx.client, ds, wins), PREFETCH_PAGES)) as pages:
        for lo, hi in wins:
            tables = _window_tables(pages, ds, synced_at)
            with ctx.warehouse.transaction() as tx:
                total += tx.replace_range(table, "date", lo, hi, tables)
                for _ in tables:  # the window's end marker, if no page was read
                    pass
                # covered: the window's days that are over (today is still filling up); the
                # watermark follows the last covered day, so a re-fetch never moves it back
                tx.cover(source, lo, min(hi, ctx.now.date()))
            ctx.progress.advance()
    _count(ctx, **{table: total})
    _done(ctx, source, f"{total:,} rows in {len(wins)} window(s), {start} to "
                       f"{end - timedelta(days=1)}")


def _window_pages(client: CloudflareClient, ds: Dataset, wins: list[tuple[date, date]],
                  ) -> Iterator[list[dict] | None]:
    """Every page of every window in order, None after each window (the producer's side)."""
    for lo, hi in wins:
        yield from iter_window_pages(client, ds, lo, hi)
        yield None


def _window_tables(pages: Iterator[list[dict] | None], ds: Dataset,
                   synced_at: datetime | None) -> Iterator[pa.Table]:
    """One window's pages as Arrow tables, up to its end marker."""
    for page in pages:
        if page is None:
            return
        table = page_table(page, ds)
        if synced_at is not None:
            table = table.append_column("synced_at", pa.repeat(pa.scalar(synced_at),
                                                               table.num_rows))
        yield table


_STEPS: dict[str, Callable[[_Context, str], None]] = {
    "stream": sync_stream,
    "minutes_viewed": _sync_analytics,
    "r2_storage": _sync_analytics,
    "r2_operations": _sync_analytics,
    "r2_object_reads": _sync_analytics,
    "r2_inventory": sync_r2_inventory,
    "zone": sync_zones,
    "live_events": lambda ctx, source: _live_step()(ctx, source),
    "live_minutes": lambda ctx, source: _live_minutes_step()(ctx, source),
    "billed_usage": sync_billed_usage,
}


def _live_step() -> Callable[[_Context, str], None]:
    from .live.ingest import sync_live  # the live package imports sources/ and the client

    return sync_live


def _live_minutes_step() -> Callable[[_Context, str], None]:
    from .live.minutes import sync_live_minutes

    return sync_live_minutes
