"""Delivery of alert messages through apprise (email, Slack, Teams, generic webhooks, ...).

`LC_ANALYTICS_ALERT_URLS` holds one or more apprise URLs (comma, space or newline separated),
e.g. `slack://T000/B000/XXXX` or `json://alerts.example.com/hook`. URLs carry credentials, so
they are a secret: masked in logs and never written to the warehouse or to messages; an error
names the entry by its position only. A message counts as delivered only when every URL
accepted it; otherwise it stays pending and the next `alerts check` sends it again.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from collections.abc import Sequence
from typing import Any

from ..errors import ConfigError
from ..settings import Secret
from .model import Message

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


def _apprise() -> Any:
    """apprise, imported quietly: its email plugin (loaded on first use) imports the stdlib
    `imghdr`, deprecated since Python 3.11; importing it here once, with that warning
    silenced, leaves the plugin nothing to warn about."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated",
                                category=DeprecationWarning)
        with contextlib.suppress(ImportError):  # gone in Python 3.13: apprise shims it
            import imghdr  # noqa: F401
        import apprise
    return apprise


def split_urls(value: str) -> list[str]:
    """The apprise URLs in a `LC_ANALYTICS_ALERT_URLS` value.

    >>> split_urls("json://a.example/x, mailto://u:p@b.example\\nslack://T/B/C")
    ['json://a.example/x', 'mailto://u:p@b.example', 'slack://T/B/C']
    """
    return [u for u in re.split(r"[,\s]+", value) if u]


class Notifier:
    """Sends messages to every URL of `LC_ANALYTICS_ALERT_URLS`.

    >>> Notifier(Secret("json://localhost:9/hook")).send(msg)     # doctest: +SKIP
    (False, 'not accepted by 1 of 1 alert URL(s)')
    """

    def __init__(self, urls: Secret | Sequence[str]) -> None:
        apprise = _apprise()

        values = split_urls(urls.reveal()) if isinstance(urls, Secret) else list(urls)
        if not values:
            raise ConfigError(["LC_ANALYTICS_ALERT_URLS is empty"])
        asset = apprise.AppriseAsset(storage_mode=apprise.PersistentStoreMode.MEMORY,
                                     secure_logging=True)
        self._targets = []
        problems = []
        for n, url in enumerate(values, 1):
            target = apprise.Apprise(asset=asset)
            if not target.add(url):
                problems.append(f"LC_ANALYTICS_ALERT_URLS: entry {n} of {len(values)} is not "
                                "a URL apprise can send to (see apprise's list of services)")
            self._targets.append(target)
        if problems:
            raise ConfigError(problems)

    def send(self, message: Message) -> tuple[bool, str | None]:
        """Deliver to every URL; (True, None), or (False, why) without any URL in it."""
        apprise = _apprise()

        kind = (apprise.NotifyType.SUCCESS if message.event == "resolved"
                else apprise.NotifyType.WARNING if message.level <= 1
                else apprise.NotifyType.FAILURE)
        failed = 0
        for target in self._targets:
            try:
                ok = bool(target.notify(body=message.text(), title=message.title,
                                        notify_type=kind))
            except Exception as exc:  # noqa: BLE001 - a plugin's error is a failed delivery
                log.warning("alert delivery raised %s", type(exc).__name__)
                ok = False
            failed += not ok
        if failed:
            return False, f"not accepted by {failed} of {len(self._targets)} alert URL(s)"
        return True, None
