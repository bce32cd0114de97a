"""The live-shows settings read from the environment (or .env): the receiver's secrets and
replay tolerance, the poller's interval. Every bad variable is named; secrets are masked.

    LC_EVENTS_NOTIFICATION_SECRET   the Notifications webhook destination's secret
    LC_STREAM_WEBHOOK_SECRET        the Stream webhook's signing secret
    LC_EVENTS_TOLERANCE             seconds a Webhook-Signature time may be off (default 300)
    LC_STREAM_VIEWS_BASE_URL        where the poller reads `/views` (default: the
                                    customer-code host, customer-<CODE>.cloudflarestream.com)
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError, UsageError
from ..settings import Secret, _check_url, _environment, _seconds
from .receiver import DEFAULT_TOLERANCE, ReceiverConfig

NOTIFICATION_SECRET = "LC_EVENTS_NOTIFICATION_SECRET"
WEBHOOK_SECRET = "LC_STREAM_WEBHOOK_SECRET"
TOLERANCE = "LC_EVENTS_TOLERANCE"


def receiver_config(environ: Mapping[str, str] | None = None,
                    env_file: str | None = ".env") -> ReceiverConfig:
    """The receiver's settings; at least one of the two secrets must be set.

    >>> receiver_config({WEBHOOK_SECRET: "s3cret"}, env_file=None).webhook_secret
    Secret(********)
    """
    values = _environment(environ, env_file)
    get = lambda name: (values.get(name) or "").strip() or None  # noqa: E731
    problems: list[str] = []
    note, hook = get(NOTIFICATION_SECRET), get(WEBHOOK_SECRET)
    if note is None and hook is None:
        problems.append(f"neither {NOTIFICATION_SECRET} nor {WEBHOOK_SECRET} is set: the "
                        "receiver could check nothing")
    tolerance = _seconds(TOLERANCE, get(TOLERANCE), DEFAULT_TOLERANCE, problems,
                         positive=True)
    if problems:
        raise ConfigError(problems)
    return ReceiverConfig(Secret(note) if note else None, Secret(hook) if hook else None,
                          tolerance)


VIEWS_BASE_URL = "LC_STREAM_VIEWS_BASE_URL"


def views_base_url(customer_code: str | None, environ: Mapping[str, str] | None = None,
                   env_file: str | None = ".env") -> str:
    """Where `/views` is polled: `LC_STREAM_VIEWS_BASE_URL`, else the customer-code host.

    >>> views_base_url("abc", {}, env_file=None)
    'https://customer-abc.cloudflarestream.com'
    """
    values = _environment(environ, env_file)
    url = (values.get(VIEWS_BASE_URL) or "").strip()
    problems: list[str] = []
    if url:
        _check_url(VIEWS_BASE_URL, url, problems)
    elif not customer_code:
        problems.append(f"CLOUDFLARE_STREAM_CUSTOMER_CODE is not set (nor {VIEWS_BASE_URL}): "
                        "the poller cannot know where /views is")
    if problems:
        raise ConfigError(problems)
    return url.rstrip("/") or f"https://customer-{customer_code}.cloudflarestream.com"


def parse_interval(text: str) -> float:
    """An interval such as `15s`, `2m` or `30` (seconds), at least 1 second.

    >>> parse_interval("15s"), parse_interval("2m"), parse_interval("30")
    (15.0, 120.0, 30.0)
    """
    unit = {"s": 1, "m": 60}.get(text[-1:].lower())
    number = text[:-1] if unit else text
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        seconds = float("nan")
    if not seconds >= 1 or seconds == float("inf"):
        raise UsageError(f"--interval must be a duration of at least 1s such as 15s or 2m "
                         f"(got {text!r})")
    return seconds
