"""`alerts check` as a recipe: evaluate, compare with the stored state, deliver, record."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..costs.forecast import latest_synced_day
from ..costs.pricebook import PriceBook
from ..errors import ConfigError
from ..settings import Secret
from ..warehouse import Warehouse
from ..warehouse.alert_log import alert_state
from .budgets import Budget, load_budgets
from .checks import anomaly_alerts, budget_alerts, runway_alerts, sync_alerts
from .deliver import Notifier
from .live_errors import live_error_alerts
from .model import Alert, Message, Params
from .state import due_messages, event_records, state_records


@dataclass
class CheckResult:
    """What one `alerts check` found and did."""

    alerts: list[Alert]  # every condition that holds now
    messages: list[Message]  # the messages due (all of them printed by --dry-run)
    delivered: dict[str, bool] = field(default_factory=dict)  # key -> accepted (not dry run)
    notes: list[str] = field(default_factory=list)
    dry_run: bool = True

    @property
    def pending(self) -> list[Message]:
        """Messages not delivered (all of them on a dry run): due again next run."""
        return [m for m in self.messages if not self.delivered.get(m.key)]


def check_alerts(wh: Warehouse, *, budgets: str | Path | list[Budget] | None = None,
                 urls: Secret | None = None, dry_run: bool = False,
                 now: datetime | None = None, params: Params | None = None,
                 book: PriceBook | None = None, notifier: Notifier | None = None,
                 ) -> CheckResult:
    """Evaluate every alert, send the messages due, and record state and history.

    `budgets`: a budgets.toml path (or parsed budgets); `urls`: LC_ANALYTICS_ALERT_URLS (only
    needed when a message is due and this is not a dry run; checked before anything is
    sent or written). A dry run prints what would be sent and writes nothing.

    >>> r = check_alerts(Warehouse("data/demo.duckdb"), dry_run=True)   # doctest: +SKIP
    >>> [m.title for m in r.messages]                                     # doctest: +SKIP
    """
    now = now or datetime.now(UTC)
    params = params or Params()
    if not dry_run and notifier is None:
        if not urls:
            raise ConfigError(["LC_ANALYTICS_ALERT_URLS is not set: alerts check needs one or "
                               "more apprise URLs to deliver to (or --dry-run to print them)"])
        notifier = Notifier(urls)
    parsed = load_budgets(budgets) if isinstance(budgets, (str, Path)) else (budgets or [])
    alerts = evaluate(wh, parsed, now, params, book)
    state = alert_state(wh)
    messages = due_messages(alerts, state)
    result = CheckResult(alerts, messages, dry_run=dry_run)
    if dry_run:
        return result
    assert notifier is not None
    errors: dict[str, str | None] = {}
    for m in messages:
        result.delivered[m.key], errors[m.key] = notifier.send(m)
    with wh.transaction() as tx:
        tx.upsert("alerts", state_records(alerts, state, result.delivered, now))
        tx.upsert("alert_events", event_records(messages, result.delivered, errors, now))
    return result


def evaluate(wh: Warehouse, budgets: list[Budget], now: datetime, params: Params,
             book: PriceBook | None = None) -> list[Alert]:
    """Every alert that holds now: budgets, anomalies, runway, syncs, live-input error
    spikes (in that order).

    >>> evaluate(Warehouse("data/demo.duckdb", read_only=True), [], now, Params())  # doctest: +SKIP
    """
    day = latest_synced_day(wh)
    cache: dict = {}  # each month allocated once
    return [*budget_alerts(wh, budgets, day, book, cache),
            *anomaly_alerts(wh, day, params, book, cache),
            *runway_alerts(wh, params),
            *sync_alerts(wh, now, params),
            *live_error_alerts(wh, day)]
