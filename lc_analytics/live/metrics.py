"""The ops dashboard's metrics (`lc-analytics metrics serve`): an OpenMetrics / Prometheus
endpoint built with the Prometheus client library.

    lc_live_viewers{live_input}                   last polled viewer count of a live input
    lc_live_inputs_connected                      inputs whose last event is `connected`
    lc_live_input_events{event_type,error_code}   events received (spool), by type and code
    lc_sync_last_success_age_seconds              age of the last sync run that ended ok
    lc_cost_month_to_date_usd{service}            month-to-date cost (the engine's bill)
    lc_cost_forecast_usd{service}                 forecast to month end (same engine)
    lc_warehouse_readable                         1 if the last scrape could read the warehouse

Live figures come from the spool (never blocked by a sync; the events compaction let go are
counted from the base's tally); warehouse figures are read
read-only and cached for `cache_seconds` (the cost forecast prices a month); while a sync holds
the warehouse, the last values are served and `lc_warehouse_readable` is 0.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from ..errors import LcAnalyticsError
from .poller import live_from_events
from .spool import Spool, dropped_events, read_records

log = logging.getLogger(__name__)


@dataclass
class _Cached:
    at: float = 0.0
    values: dict[str, Any] = field(default_factory=dict)
    readable: bool = False


class LiveMetrics(Collector):
    """Collects the metrics at each scrape; `clock` is injectable for tests."""

    def __init__(self, spool: Spool, db_path: Path, *, cache_seconds: float = 300.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.spool, self.db_path = spool, Path(db_path)
        self.cache_seconds, self.clock = cache_seconds, clock
        self._cache = _Cached()

    def collect(self) -> Iterator[Any]:
        yield from self._live()
        wh = self._warehouse()
        readable = GaugeMetricFamily("lc_warehouse_readable",
                                     "1 if the last scrape could read the warehouse")
        readable.add_metric([], 1.0 if wh.readable else 0.0)
        yield readable
        last = wh.values.get("last_sync")
        if last is not None:
            age = GaugeMetricFamily("lc_sync_last_success_age_seconds",
                                    "seconds since the last sync run that ended ok")
            age.add_metric([], max(0.0, self.clock() - last))
            yield age
        for name, key, help_ in (
                ("lc_cost_month_to_date_usd", "mtd_cost", "month-to-date cost, USD"),
                ("lc_cost_forecast_usd", "forecast_cost", "forecast cost to month end, USD")):
            family = GaugeMetricFamily(name, help_, labels=["service"])
            for service, value in wh.values.get(key, {}).items():
                family.add_metric([service], value)
            yield family

    def _live(self) -> Iterator[Any]:
        latest: dict[str, tuple[str, dict]] = {}
        for r in read_records(self.spool.folder, "sample"):
            b = r["body"]
            if b["live_input_uid"] not in latest or b["at"] >= latest[b["live_input_uid"]][0]:
                latest[b["live_input_uid"]] = (b["at"], b)
        connected = live_from_events(self.spool)
        viewers = GaugeMetricFamily("lc_live_viewers", "last polled live viewer count",
                                    labels=["live_input"])
        for uid, (_, body) in sorted(latest.items()):
            if uid in connected and body.get("viewers") is not None:
                viewers.add_metric([uid], float(body["viewers"]))
        yield viewers
        up = GaugeMetricFamily("lc_live_inputs_connected",
                               "live inputs whose last received event is connected")
        up.add_metric([], float(len(connected)))
        yield up
        counts: Counter[tuple[str, str]] = Counter()
        for r in read_records(self.spool.folder, "event"):
            data = (r.get("body") or {}).get("data") if isinstance(r.get("body"), dict) else None
            if isinstance(data, dict) and data.get("event_type"):
                code = ((data.get("live_input_errored") or {}).get("error") or {}).get("code")
                counts[(data["event_type"], code or "")] += 1
        for key, n in dropped_events(self.spool.folder).items():  # compacted by the sync
            kind, _, code = key.partition("|")
            counts[(kind, code)] += n
        events = CounterMetricFamily("lc_live_input_events", "live-input events received",
                                     labels=["event_type", "error_code"])
        for (kind, code), n in sorted(counts.items()):
            events.add_metric([kind, code], float(n))
        yield events

    def _warehouse(self) -> _Cached:
        now = self.clock()
        if self._cache.at and now - self._cache.at < self.cache_seconds:
            return self._cache
        try:
            values = warehouse_values(self.db_path)
        except LcAnalyticsError as exc:  # a sync holds it, or nothing synced yet
            log.warning("metrics: warehouse not read (%s); serving the last values", exc)
            self._cache.readable = False
            return self._cache
        self._cache = _Cached(now, values, True)
        return self._cache


def warehouse_values(db_path: Path) -> dict[str, Any]:
    """The warehouse's figures: last ok sync (unix time), cost to date and forecast by
    service (floats for Prometheus; the engine's Decimals summed first)."""
    from ..costs.forecast import month_to_date
    from ..readmodel import last_successful_sync
    from ..warehouse import Warehouse

    wh = Warehouse(db_path, read_only=True)
    last = last_successful_sync(wh)
    out: dict[str, Any] = {"last_sync": None if last is None else last.timestamp()}
    try:
        mtd = month_to_date(wh)
    except LcAnalyticsError:  # nothing priced yet
        return out
    by_service = mtd[mtd["sku_id"] != "total"].groupby("service")
    for key in ("mtd_cost", "forecast_cost"):
        out[key] = {str(s): float(sum(g[key])) for s, g in by_service}
    return out


def serve(db_path: Path, host: str, port: int, cache_seconds: float = 300.0) -> None:
    """Serve /metrics on host:port until interrupted."""
    from wsgiref.simple_server import make_server

    from prometheus_client import CollectorRegistry, make_wsgi_app

    from .spool import spool_dir

    registry = CollectorRegistry()
    registry.register(LiveMetrics(Spool(spool_dir(db_path)), db_path,
                                  cache_seconds=cache_seconds))
    with make_server(host, port, make_wsgi_app(registry)) as httpd:
        log.info("metrics on http://%s:%s/metrics", host, port)
        httpd.serve_forever()
