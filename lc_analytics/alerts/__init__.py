"""Alerts: budgets, cost anomalies, storage runway and sync health, delivered once each.

    evaluate (checks.py, anomalies.py, budgets.py)  -> the alerts that hold now
    due_messages (state.py)  vs the warehouse's `alerts` table -> fired / escalated / resolved
    Notifier (deliver.py, apprise)  -> delivered or pending; state and history recorded

>>> from lc_analytics.alerts import check_alerts
>>> result = check_alerts(wh, budgets="budgets.toml", dry_run=True)   # doctest: +SKIP
>>> print("\\n".join(m.text() for m in result.messages))             # doctest: +SKIP
"""

from .anomalies import Anomaly, Driver, find_anomalies
from .budgets import Budget, load_budgets, parse_budgets
from .deliver import Notifier
from .model import Alert, Message, Params
from .run import CheckResult, check_alerts, evaluate

__all__ = [
    "Alert",
    "Anomaly",
    "Budget",
    "CheckResult",
    "Driver",
    "Message",
    "Notifier",
    "Params",
    "check_alerts",
    "evaluate",
    "find_anomalies",
    "load_budgets",
    "parse_budgets",
]
