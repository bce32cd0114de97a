"""What an alert is, and the thresholds `alerts check` uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .anomalies import MIN_USD, WEEKS, Z

RUNWAY_DAYS = 14  # storage runway below this many days alerts
STALE_HOURS = 36  # no successful sync for this long alerts


@dataclass(frozen=True)
class Params:
    """The thresholds of one `alerts check`; the defaults are documented in the README."""

    runway_days: int = RUNWAY_DAYS
    stale_hours: float = STALE_HOURS
    anomaly_weeks: int = WEEKS
    anomaly_z: float = Z
    anomaly_min_usd: Decimal = MIN_USD


@dataclass(frozen=True)
class Alert:
    """One condition that holds now, at a level (1 = first threshold; higher = worse).

    `key` is stable: the same condition gets the same key on every run (a budget's key holds
    its month), so it fires once, again only when its level rises, and resolves when gone.
    """

    key: str
    kind: str  # budget | forecast | anomaly | runway | sync_stale | sync_failed | live_errors
    level: int
    title: str
    body: str
    facts: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Message:
    """One notification due: an alert fired, escalated or resolved."""

    key: str
    kind: str
    event: str  # fired | escalated | resolved
    level: int
    title: str
    body: str

    def text(self) -> str:
        """The message as printed by `--dry-run` and sent as the notification body."""
        tag = {"fired": "ALERT", "escalated": "ESCALATED", "resolved": "RESOLVED"}[self.event]
        return f"[{tag}] {self.title}\n{self.body}\n(key: {self.key})"
