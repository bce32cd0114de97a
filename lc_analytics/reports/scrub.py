"""Keep secrets out of published reports: refused, hidden from the kernel, masked.

Three layers, each enough on its own for the common case:

1. `check_parameters` refuses a parameter whose name looks like a secret (token, secret,
   password, key ...) or whose value contains a configured secret: secrets come from the
   environment or .env, never from papermill parameters.
2. `kernel_env` is the environment the report's kernel starts with: the runner's, minus
   every variable that holds a secret (the Cloudflare token, the R2 keys, and anything named
   like a token, secret, password or key). Notebooks read the warehouse and need none.
3. `scrub_notebook` walks the executed notebook (sources, outputs, tracebacks, metadata)
   and masks every configured secret value with `settings.mask_secrets`; it drops
   papermill's `environment_variables` record. The HTML and summary.json are made from the
   scrubbed notebook and masked once more as text.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterable, Mapping
from contextlib import suppress
from typing import Any

from ..errors import ConfigError
from ..settings import Settings, mask_secrets
from .errors import ReportError

#: Settings that hold credentials (Settings.secrets() covers the token and the R2 secret key;
#: the access key id is masked too: it names the credential).
SECRET_VARIABLES = ("CLOUDFLARE_STREAM_API_TOKEN", "CLOUDFLARE_API_TOKEN",
                    "R2_SECRET_ACCESS_KEY", "R2_ACCESS_KEY_ID", "LC_ANALYTICS_ALERT_URLS")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|API_?KEY|ACCESS_?KEY|"
                          r"PRIVATE_?KEY)", re.IGNORECASE)
MIN_SECRET_LENGTH = 6  # shorter values are not masked (they would mangle ordinary text)


def is_secret_name(name: str) -> bool:
    """Whether a variable or parameter name looks like it holds a secret.

    >>> is_secret_name("CLOUDFLARE_API_TOKEN"), is_secret_name("r2_secret"), is_secret_name("db")
    (True, True, False)
    """
    return bool(_SECRET_NAME.search(name))


def configured_secrets(environ: Mapping[str, str] | None = None,
                       env_file: str | None = ".env") -> list[str]:
    """Every secret value configured for lc_analytics (environment and .env), plus the value
    of any environment variable named like a secret; longest first.

    >>> configured_secrets({"CLOUDFLARE_API_TOKEN": "tok-123456", "HOME": "/root"}, None)
    ['tok-123456']
    """
    env = dict(os.environ if environ is None else environ)
    values: set[str] = set()
    with suppress(ConfigError):  # malformed settings: the raw variables below still count
        values.update(Settings.from_env(env, env_file=env_file).secrets())
    values.update(env.get(name, "") for name in SECRET_VARIABLES)
    values.update(v for k, v in env.items() if is_secret_name(k))
    clean = {v.strip() for v in values if v and len(v.strip()) >= MIN_SECRET_LENGTH}
    return sorted(clean, key=lambda s: (-len(s), s))


def kernel_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a report kernel starts with: `environ` minus secret-holding variables.

    >>> kernel_env({"CLOUDFLARE_API_TOKEN": "t", "LC_ANALYTICS_DB": "x.duckdb"})
    {'LC_ANALYTICS_DB': 'x.duckdb'}
    """
    env = dict(os.environ if environ is None else environ)
    return {k: v for k, v in env.items()
            if k not in SECRET_VARIABLES and not is_secret_name(k)}


def check_parameters(params: Mapping[str, Any], secrets: Iterable[str]) -> None:
    """Refuse secret-looking parameter names and values that contain a configured secret.

    >>> check_parameters({"api_token": "x"}, [])
    Traceback (most recent call last):
    ...
    lc_analytics.errors.ReportError: parameter 'api_token' looks like a secret: ...
    """
    secrets = list(secrets)
    for name, value in params.items():
        if is_secret_name(name):
            raise ReportError(
                f"parameter {name!r} looks like a secret: secrets are never report parameters;"
                " set them in the environment or .env (the report does not need them)",
                parameter=name)
        if mask_secrets(str(value), secrets) != str(value):
            raise ReportError(
                f"parameter {name!r} contains a configured secret: secrets are never report "
                "parameters", parameter=name)


def mask_text(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret masked (settings.mask_secrets).

    >>> mask_text("Bearer tok-123456", ["tok-123456"])
    'Bearer ********'
    """
    return mask_secrets(text, secrets)


def scrub_notebook(nb: Mapping[str, Any], secrets: Iterable[str],
                   paths: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A copy of executed notebook `nb` that is safe to publish.

    Every string in it (keys included) has the secrets masked; papermill's
    `environment_variables` is dropped; `paths` replaces papermill's `input_path` /
    `output_path` (the runner's temporary paths) with the published ones.

    >>> scrub_notebook({"cells": [], "metadata": {}}, ["tok-123456"])
    {'cells': [], 'metadata': {}}
    """
    secrets = list(secrets)
    out = _mask(copy.deepcopy(dict(nb)), secrets)
    pm = out.get("metadata", {}).get("papermill")
    if isinstance(pm, dict):
        pm.pop("environment_variables", None)
        for key, value in (paths or {}).items():
            if key in pm:
                pm[key] = value
    return out


def _mask(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return mask_secrets(value, secrets) if secrets else value
    if isinstance(value, Mapping):
        pairs = ((_mask(k, secrets), _mask(v, secrets)) for k, v in value.items())
        return type(value)(pairs) if isinstance(value, dict) else dict(pairs)
    if isinstance(value, list):
        return [_mask(v, secrets) for v in value]
    return value
