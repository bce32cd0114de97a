"""The live-shows settings read from the environment (or .env): the receiver's secrets and
replay tolerance, the poller's interval. Every bad variable is named; secrets are masked.

    LC_EVENTS_NOTIFICATION_SECRET   the Notifications webhook destination's secret
    LC_STREAM_WEBHOOK_SECRET        the Stream webhook's signing secret
    LC_EVENTS_TOLERANCE             seconds a Webhook-Signature time may be off (default 300)
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import ConfigError
from ..settings import Secret, _environment, _seconds
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
