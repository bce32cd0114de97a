"""`budgets.toml`: monthly budgets per service, SKU, broadcaster or bucket, validated.

The format (see README "Alerts" and `budgets.example.toml`)::

    [defaults]                      # optional
    thresholds = [50, 80, 100]      # percent of the budget, on the month to date
    forecast_thresholds = [50, 80, 100]   # percent, on the forecast to month end

    [[budget]]
    name = "stream"                 # unique; part of every alert's key
    service = "stream"              # exactly one of: service, sku, broadcaster, bucket
    monthly_usd = "250"             # a string or an integer (never a float)
    thresholds = [80, 100]          # optional: overrides the defaults

Every error names the file and the line, like the price overlays (`costs/pricebook.py`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from ..errors import ConfigError

DEFAULT_THRESHOLDS: tuple[int, ...] = (50, 80, 100)
SCOPES = ("service", "sku", "broadcaster", "bucket")
_KEYS = {"name", "monthly_usd", "thresholds", "forecast_thresholds", *SCOPES}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Budget:
    """One monthly budget: what it covers (scope = value) and its thresholds in percent."""

    name: str
    scope: str  # service | sku | broadcaster | bucket
    value: str
    monthly_usd: Decimal
    thresholds: tuple[int, ...]
    forecast_thresholds: tuple[int, ...]
    line: int  # of its [[budget]] header, for messages
    origin: str = "budgets.toml"  # the file it came from, for messages


def load_budgets(path: str | Path) -> list[Budget]:
    """The budgets of a `budgets.toml`; ConfigError naming file:line for every problem.

    >>> load_budgets("budgets.example.toml")[0].scope        # doctest: +SKIP
    'service'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read budgets file {path}: {exc.strerror}"]) from exc
    return parse_budgets(text, str(path))


def parse_budgets(text: str, origin: str = "budgets.toml") -> list[Budget]:
    """`load_budgets` on the file's text; `origin` names it in errors.

    >>> parse_budgets('[[budget]]\\nname = "r2"\\nservice = "r2"\\nmonthly_usd = "10"\\n')[0]
    ... # doctest: +NORMALIZE_WHITESPACE
    Budget(name='r2', scope='service', value='r2', monthly_usd=Decimal('10'),
           thresholds=(50, 80, 100), forecast_thresholds=(50, 80, 100), line=1,
           origin='budgets.toml')
    >>> parse_budgets('[[budget]]\\nname = "x"\\nmonthly_usd = 1.5\\n', "b.toml")
    Traceback (most recent call last):
    ...
    lc_analytics.errors.ConfigError: invalid settings (2 problem(s)):
      - b.toml:1: budget 'x': name exactly one of service, sku, broadcaster, bucket
      - b.toml:3: budget 'x': monthly_usd: write amounts as strings or integers, not floats
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{origin}: not valid TOML: {exc}"]) from exc
    problems: list[str] = []
    headers = [i + 1 for i, line in enumerate(text.splitlines())
               if re.match(r"^\s*\[\[\s*budget\s*\]\]", line)]
    defaults = raw.get("defaults", {})
    unknown_top = set(raw) - {"defaults", "budget"}
    for name in sorted(unknown_top):
        problems.append(f"{origin}:{_line(text, 0, name)}: unknown section or key {name!r} "
                        "(expected [defaults] and [[budget]] tables)")
    base = {k: _percents(defaults, k, DEFAULT_THRESHOLDS, text, 0, origin, "defaults", problems)
            for k in ("thresholds", "forecast_thresholds")}
    for key in sorted(set(defaults) - {"thresholds", "forecast_thresholds"}):
        problems.append(f"{origin}:{_line(text, 0, key)}: defaults: unknown key {key!r}")
    budgets: list[Budget] = []
    for raw_budget, header in zip(raw.get("budget", []), headers, strict=False):
        budget = _budget(raw_budget, header, text, origin, base, problems)
        if budget is not None:
            budgets.append(budget)
    seen: dict[str, int] = {}
    for b in budgets:
        if b.name in seen:
            problems.append(f"{origin}:{b.line}: budget {b.name!r}: the name is already used "
                            f"on line {seen[b.name]}")
        seen.setdefault(b.name, b.line)
    if problems:
        raise ConfigError(problems)
    return budgets


def _budget(raw: dict[str, Any], header: int, text: str, origin: str,
            base: dict[str, tuple[int, ...]], problems: list[str]) -> Budget | None:
    name = raw.get("name")
    label = f"budget {name!r}" if isinstance(name, str) else "budget"
    at = f"{origin}:{header}: {label}"
    before = len(problems)
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(f"{at}: name must be 1-64 letters, digits, '.', '_' or '-'")
    for key in sorted(set(raw) - _KEYS):
        problems.append(f"{origin}:{_line(text, header, key)}: {label}: unknown key {key!r}")
    scopes = [s for s in SCOPES if s in raw]
    if len(scopes) != 1:
        problems.append(f"{at}: name exactly one of {', '.join(SCOPES)}")
    elif not isinstance(raw[scopes[0]], str) or not raw[scopes[0]]:
        problems.append(f"{origin}:{_line(text, header, scopes[0])}: {label}: {scopes[0]} "
                        "must be a non-empty string")
    amount = _amount(raw.get("monthly_usd"), f"{origin}:{_line(text, header, 'monthly_usd')}: "
                                             f"{label}: monthly_usd", problems)
    if "monthly_usd" not in raw:
        problems[-1:] = [f"{at}: monthly_usd is required"]
    pct = {k: _percents(raw, k, base[k], text, header, origin, label, problems)
           for k in ("thresholds", "forecast_thresholds")}
    if len(problems) > before or amount is None:
        return None
    return Budget(str(name), scopes[0], raw[scopes[0]], amount, pct["thresholds"],
                  pct["forecast_thresholds"], header, origin)


def _amount(value: Any, at: str, problems: list[str]) -> Decimal | None:
    if isinstance(value, float):
        problems.append(f"{at}: write amounts as strings or integers, not floats")
        return None
    try:
        amount = Decimal(str(value)) if isinstance(value, (str, int)) else None
    except InvalidOperation:
        amount = None
    if amount is None or not amount.is_finite() or amount <= 0:
        problems.append(f"{at}: must be a positive amount of dollars (got {value!r})")
        return None
    return amount


def _percents(raw: dict[str, Any], key: str, default: tuple[int, ...], text: str, header: int,
              origin: str, label: str, problems: list[str]) -> tuple[int, ...]:
    if key not in raw:
        return default
    value = raw[key]
    ok = (isinstance(value, list) and value
          and all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= 1000
                  for v in value))
    if not ok:
        problems.append(f"{origin}:{_line(text, header, key)}: {label}: {key} must be a "
                        f"non-empty list of whole percentages between 1 and 1000 (got {value!r})")
        return default
    return tuple(sorted(set(value)))


def _line(text: str, header: int, key: str) -> int:
    """1-based line of `key = ...` after line `header` (0: from the top), up to the next
    table header; `header` itself when not found."""
    lines = text.splitlines()
    for i in range(header, len(lines)):
        if i > header and lines[i].lstrip().startswith("[") and header:
            break
        if re.match(r"^\s*\[?\s*" + re.escape(key) + r"\s*[=\]]", lines[i]):
            return i + 1
    return max(header, 1)
