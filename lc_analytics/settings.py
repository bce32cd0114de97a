"""Typed settings read once from the environment or a .env file, with secrets masked."""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dotenv import dotenv_values

from .errors import ConfigError, UsageError

DEFAULT_API_BASE_URL = "https://api.cloudflare.com/client/v4"
DEFAULT_DB = "data/lc_analytics.duckdb"
DEFAULT_SYNC_WAIT = 600.0  # seconds a sync waits for readers holding the warehouse open
DEFAULT_REQUEST_TIMEOUT = 30.0  # seconds; botocore's own default (60 s) hangs a sync too long
_ACCOUNT_ID = re.compile(r"^[0-9a-f]{32}$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$")
MASK = "********"


class Secret:
    """A string that never shows itself in repr, str, logs or f-strings; `.reveal()` to use it.

    >>> s = Secret("hunter2"); (repr(s), f"{s}", s.reveal())
    ('Secret(********)', '********', 'hunter2')
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self):  # pickling would write the value to disk
        raise TypeError("Secret values cannot be pickled")


@dataclass(frozen=True)
class Settings:
    """Everything lc_analytics needs to reach an account and its warehouse.

    >>> s = Settings.from_env({"CLOUDFLARE_ACCOUNT_ID": "0" * 32, "CLOUDFLARE_API_TOKEN": "t"},
    ...                       env_file=None)
    >>> s.r2_endpoint_url
    'https://00000000000000000000000000000000.r2.cloudflarestorage.com'
    """

    account_id: str | None = None
    api_token: Secret | None = field(default=None, repr=True)
    customer_code: str | None = None
    api_base_url: str = DEFAULT_API_BASE_URL
    r2_access_key_id: str | None = None
    r2_secret_access_key: Secret | None = None
    r2_endpoint_url: str | None = None
    r2_bucket_name: str | None = None
    db_path: Path = Path(DEFAULT_DB)
    sync_wait_seconds: float = DEFAULT_SYNC_WAIT
    request_timeout: float = DEFAULT_REQUEST_TIMEOUT  # connect and read, API and R2 alike
    # an Iceberg REST catalog (R2 Data Catalog) for `warehouse export --format iceberg`
    iceberg_catalog_uri: str | None = None
    iceberg_warehouse: str | None = None
    iceberg_token: Secret | None = None
    alert_urls: Secret | None = None  # LC_ANALYTICS_ALERT_URLS: apprise URLs (credentials)

    # --- construction -------------------------------------------------------------------
    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        env_file: str | Path | None = ".env",
        require: Iterable[str] = (),
    ) -> Settings:
        """Read settings; `require` names groups that must be complete: "stream", "r2".

        Environment variables win over the .env file. Every problem is reported at once.
        """
        values = _environment(environ, env_file)
        get = lambda name: (values.get(name) or "").strip() or None  # noqa: E731
        problems: list[str] = []
        account_id, token_name = get("CLOUDFLARE_ACCOUNT_ID"), (
            "CLOUDFLARE_STREAM_API_TOKEN" if get("CLOUDFLARE_STREAM_API_TOKEN")
            else "CLOUDFLARE_API_TOKEN")
        token = get(token_name)
        _check_account(account_id, token_name, token, problems)
        base_url = get("CLOUDFLARE_API_BASE_URL") or DEFAULT_API_BASE_URL
        _check_url("CLOUDFLARE_API_BASE_URL", base_url, problems)
        endpoint, bucket = _r2_location(get("R2_ENDPOINT_URL"), get("R2_BUCKET_NAME"),
                                        account_id, problems)
        sync_wait = _seconds("LC_ANALYTICS_SYNC_WAIT", get("LC_ANALYTICS_SYNC_WAIT"),
                             DEFAULT_SYNC_WAIT, problems)
        timeout = _seconds("LC_ANALYTICS_REQUEST_TIMEOUT", get("LC_ANALYTICS_REQUEST_TIMEOUT"),
                           DEFAULT_REQUEST_TIMEOUT, problems, positive=True)
        secret_key = get("R2_SECRET_ACCESS_KEY")
        access_key = get("R2_ACCESS_KEY_ID")
        catalog = _iceberg_catalog(get, problems)
        problems += _missing(set(require), {
            "CLOUDFLARE_ACCOUNT_ID is not set": ("stream", account_id is None),
            "CLOUDFLARE_STREAM_API_TOKEN (or CLOUDFLARE_API_TOKEN) is not set":
                ("stream", token is None),
            "R2_ACCESS_KEY_ID is not set": ("r2", access_key is None),
            "R2_SECRET_ACCESS_KEY is not set": ("r2", secret_key is None),
            "R2_ENDPOINT_URL is not set (nor CLOUDFLARE_ACCOUNT_ID)":
                ("r2", endpoint is None and account_id is None),
        })
        alert_urls = get("LC_ANALYTICS_ALERT_URLS")
        if problems:
            secrets = [s for s in (token, secret_key, get("ICEBERG_TOKEN"), alert_urls) if s]
            raise ConfigError([mask_secrets(p, secrets) for p in problems])
        return cls(
            account_id=account_id,
            api_token=Secret(token) if token else None,
            customer_code=get("CLOUDFLARE_STREAM_CUSTOMER_CODE"),
            api_base_url=base_url.rstrip("/"),
            r2_access_key_id=access_key,
            r2_secret_access_key=Secret(secret_key) if secret_key else None,
            r2_endpoint_url=endpoint,
            r2_bucket_name=bucket,
            db_path=Path(get("LC_ANALYTICS_DB") or DEFAULT_DB),
            sync_wait_seconds=sync_wait,
            request_timeout=timeout,
            **catalog,
            alert_urls=Secret(alert_urls) if alert_urls else None,
        )

    def secrets(self) -> list[str]:
        """Every value masking filters hide: each secret setting, and the R2 access key id.

        The key id is not secret on its own, but it names the credential and botocore's
        debug log prints it in every signed request, so it is masked like the rest.
        """
        values = [
            getattr(self, f.name).reveal()
            for f in fields(self)
            if isinstance(getattr(self, f.name), Secret) and getattr(self, f.name)
        ]
        # each alert URL alone too: a library may log one URL of several
        urls = re.split(r"[,\s]+", self.alert_urls.reveal()) if self.alert_urls else []
        return values + [u for u in urls if u] + (
            [self.r2_access_key_id] if self.r2_access_key_id else [])

    def install_log_masking(self, logger: logging.Logger | None = None) -> None:
        """Mask every secret value in records that pass through `logger` (root by default)."""
        install_log_masking(self.secrets(), logger)


def _environment(environ: Mapping[str, str] | None, env_file: str | Path | None,
                 ) -> dict[str, str]:
    """The .env file's values, overridden by the environment's."""
    values: dict[str, str] = {}
    if env_file is not None and Path(env_file).is_file():
        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ if environ is None else environ)
    return values


def _check_account(account_id: str | None, token_name: str, token: str | None,
                   problems: list[str]) -> None:
    if account_id is not None and not _ACCOUNT_ID.match(account_id):
        problems.append(
            "CLOUDFLARE_ACCOUNT_ID must be the 32-character lowercase hex account id "
            f"(got {len(account_id)} characters)"
        )
    if token is not None and re.search(r"\s", token):
        problems.append(f"{token_name} contains whitespace (a pasted newline?)")


def _iceberg_catalog(get: Callable[[str], str | None], problems: list[str]) -> dict[str, Any]:
    """The Iceberg REST catalog settings (R2 Data Catalog), the URI checked."""
    uri, token = get("ICEBERG_CATALOG_URI"), get("ICEBERG_TOKEN")
    if uri is not None:
        _check_url("ICEBERG_CATALOG_URI", uri, problems)
    return {"iceberg_catalog_uri": uri, "iceberg_warehouse": get("ICEBERG_WAREHOUSE"),
            "iceberg_token": Secret(token) if token else None}


def _r2_location(endpoint: str | None, bucket: str | None, account_id: str | None,
                 problems: list[str]) -> tuple[str | None, str | None]:
    """The R2 endpoint (from the account id when not set) and bucket, checked."""
    if endpoint is not None:
        _check_url("R2_ENDPOINT_URL", endpoint, problems)
    elif account_id is not None and _ACCOUNT_ID.match(account_id):
        endpoint = f"https://{account_id}.r2.cloudflarestorage.com"
    if bucket is not None and not _BUCKET.match(bucket):
        problems.append(
            "R2_BUCKET_NAME must be 3-63 lowercase letters, digits or hyphens "
            f"(got {bucket!r})"
        )
    return endpoint, bucket


def _missing(groups: set[str], checks: dict[str, tuple[str, bool]]) -> list[str]:
    """The problems of the `require`d groups: each check is (group, missing?)."""
    unknown = groups - {"stream", "r2"}
    if unknown:
        raise UsageError(f"unknown settings group(s): {sorted(unknown)}")
    return [problem for problem, (group, missing) in checks.items()
            if group in groups and missing]



def _seconds(name: str, value: str | None, default: float, problems: list[str], *,
             positive: bool = False) -> float:
    """A number of seconds from the environment: >= 0 (or > 0 when `positive`), finite."""
    if value is None:
        return default
    try:
        seconds = float(value)
    except ValueError:
        seconds = float("nan")
    ok = (seconds > 0 if positive else seconds >= 0) and seconds != float("inf")
    if not ok:
        bound = "a positive number of seconds" if positive else "a number of seconds >= 0"
        problems.append(f"{name} must be {bound} (got {value!r})")
        return default
    return seconds


def _check_url(name: str, value: str, problems: list[str]) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"{name} must be an http(s) URL (got {value!r})")


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each secret in `text` with the mask.

    >>> mask_secrets("token=abc123 ok", ["abc123"])
    'token=******** ok'
    """
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(s, MASK)
    return text


#: The secrets every masking filter hides: those of the settings installed last.
_MASKED: list[str] = []


class _MaskingFilter(logging.Filter):
    """Masks the secrets of the settings installed last (one shared list, never stale)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message, _MASKED)
        if masked != message:
            record.msg, record.args = masked, None
        return True


@contextlib.contextmanager
def log_masking_scope() -> Iterator[None]:
    """Restore the masked secrets on exit: a command run in-process leaves no mask behind.

    >>> with log_masking_scope():
    ...     install_log_masking(["s3cr3t"])
    """
    before = list(_MASKED)
    try:
        yield
    finally:
        _MASKED[:] = before


def install_log_masking(secrets: list[str], logger: logging.Logger | None = None) -> None:
    """Mask `secrets` in records through `logger` (root by default) and each of its handlers.

    The secrets replace those of an earlier call (another command run in the same process,
    with other settings), also in filters attached to handlers before; a logger or handler
    gets one masking filter, never a pile of them.
    """
    _MASKED[:] = [s for s in secrets if s]
    target = logger or logging.getLogger()
    for owner in (target, *target.handlers):
        if not any(isinstance(f, _MaskingFilter) for f in owner.filters):
            owner.addFilter(_MaskingFilter())
