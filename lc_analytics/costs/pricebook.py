"""Price books: every price with its SKU, unit, free tier, rounding, effective date and source."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, UsageError

METERS = ("stream_capacity", "stream_delivery", "object_storage", "operations", "retrieval",
          "egress")
BUILT_IN = {"cloudflare": "cloudflare.toml", "aws": "aws.toml"}
_SKU_FIELDS = {
    "meter", "service", "description", "consumed_unit", "pricing_unit", "pricing_block", "amount",
    "free", "rounding", "charge", "storage_class", "op_class", "effective_from", "source",
    "tiers", "source_read", "source_note",
}
_OVERLAY_FIELDS = {"amount", "free", "effective_from", "source", "description", "tiers",
                   "source_read", "source_note",
                   "rounding"}  # a contract may bill in whole blocks (or pro rata)


@dataclass(frozen=True)
class Tier:
    """A marginal price tier: `amount` per pricing unit up to `up_to` consumed units."""

    up_to: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Sku:
    """One price: `amount` per `pricing_unit` (= `pricing_block` consumed units)."""

    id: str
    meter: str  # what it prices: stream_capacity, stream_delivery, object_storage, ...
    service: str
    description: str
    consumed_unit: str
    pricing_unit: str
    pricing_block: Decimal
    amount: Decimal
    free: Decimal  # monthly allowance in consumed units
    rounding: str  # "up": whole pricing units on the monthly bill; "none"
    charge: str  # "usage" or "capacity"
    effective_from: date
    source: str
    storage_class: str | None = None
    op_class: str | None = None
    tiers: tuple[Tier, ...] = ()
    origin: str = ""  # which file set this price
    source_read: date | None = None  # the day the price was read at `source`
    source_note: str = ""  # how far `source` shows the figure (e.g. only a copy of it)


@dataclass(frozen=True)
class PriceBook:
    """A named set of SKUs (each with dated versions) and the billing rules that go with them.

    >>> book = load_book("cloudflare")
    >>> book.price("cf-stream-minutes-delivered", date(2026, 6, 1)).amount
    Decimal('1.00')
    """

    name: str
    provider: str
    currency: str
    rules: dict[str, Any]
    versions: dict[str, tuple[Sku, ...]]  # sku id -> versions sorted by effective_from
    files: tuple[str, ...] = field(default=())

    @property
    def label(self) -> str:
        """Which book and overlays were used, for every output to state."""
        return " + ".join(self.files)

    def price(self, sku_id: str, on: date) -> Sku:
        """The version of `sku_id` in force on `on` (the earliest one if none started yet)."""
        try:
            versions = self.versions[sku_id]
        except KeyError:
            raise KeyError(f"price book {self.name} has no SKU {sku_id!r}") from None
        current = [v for v in versions if v.effective_from <= on]
        return current[-1] if current else versions[0]

    def skus(self, on: date) -> list[Sku]:
        return [self.price(s, on) for s in self.versions]

    def rule(self, name: str) -> Any:
        return self.rules[name]


def load_book(book: str | Path = "cloudflare", overlay: str | Path | None = None) -> PriceBook:
    """Load a built-in book ("cloudflare", "aws") or a book file, then apply an overlay file.

    An overlay changes existing SKUs from a date on (a contract price); it cannot invent
    SKUs. Errors name the file and line.
    """
    if isinstance(book, str) and book in BUILT_IN:
        text = resources.files("lc_analytics.costs").joinpath("prices").joinpath(BUILT_IN[book]) \
            .read_text(encoding="utf-8")
        origin = f"{book} (built-in {BUILT_IN[book]})"
    else:
        path = Path(book)
        text = _read(path)
        origin = str(path)
    base = _parse_book(text, origin)
    if overlay is None:
        return base
    path = Path(overlay)
    return _apply_overlay(base, _read(path), str(path))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read price file {path}: {exc.strerror}"]) from exc


def _toml(text: str, origin: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{origin}: not valid TOML: {exc}"]) from exc


def _line_of(text: str, sku_id: str, key: str | None = None) -> int:
    """1-based line of `[sku.<id>]` (or of `key = ...` inside that table)."""
    lines = text.splitlines()
    header = re.compile(r"^\s*\[\s*sku\s*\.\s*\"?" + re.escape(sku_id) + r"\"?\s*\]")
    start = next((i for i, line in enumerate(lines) if header.match(line)), None)
    if start is None:
        return 0
    if key is None:
        return start + 1
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if re.match(r"^\s*" + re.escape(key) + r"\s*=", lines[i]):
            return i + 1
    return start + 1


def _decimal(value: Any) -> Decimal:
    if isinstance(value, (bool, float)):
        raise UsageError("write amounts as strings or integers (e.g. \"0.015\"), not floats")
    try:
        d = Decimal(str(value))
    except InvalidOperation:
        raise UsageError(f"{value!r} is not a number") from None
    if not d.is_finite() or d < 0:
        raise UsageError(f"{value!r} must be a non-negative number")
    return d


def _sku(sku_id: str, raw: dict, text: str, origin: str, problems: list[str],
         base: Sku | None = None) -> Sku | None:
    allowed = _OVERLAY_FIELDS if base is not None else _SKU_FIELDS
    for key in raw:
        if key not in allowed:
            problems.append(f"{origin}:{_line_of(text, sku_id, key)}: sku {sku_id}: unknown "
                            f"field {key!r} (allowed: {', '.join(sorted(allowed))})")
    values: dict[str, Any] = {}
    for key in ("amount", "free", "pricing_block"):
        if key in raw:
            try:
                values[key] = _decimal(raw[key])
            except ValueError as exc:
                problems.append(f"{origin}:{_line_of(text, sku_id, key)}: sku {sku_id}: "
                                f"{key}: {exc}")
    values.update(_dates(sku_id, raw, text, origin, problems, overlay=base is not None))
    if base is not None and "source" not in raw:
        problems.append(f"{origin}:{_line_of(text, sku_id)}: sku {sku_id}: an overlay price "
                        "needs source (the contract or quote it comes from)")
    if "tiers" in raw:
        try:
            values["tiers"] = tuple(Tier(_decimal(t["up_to_gb"]), _decimal(t["amount"]))
                                    for t in raw["tiers"])
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{origin}:{_line_of(text, sku_id, 'tiers')}: sku {sku_id}: "
                            f"tiers must be [{{up_to_gb, amount}}, ...] ({exc})")
    if base is not None and raw.get("rounding", "up") not in ("up", "none"):
        problems.append(f"{origin}:{_line_of(text, sku_id, 'rounding')}: sku {sku_id}: "
                        f"rounding must be up|none, not {raw['rounding']!r}")
    if base is None and not _catalog_fields(sku_id, raw, text, origin, problems):
        return None
    if problems:
        return None
    if base is not None:
        return replace(base, **values, **{k: raw[k] for k in ("source", "description",
                                                              "source_note", "rounding")
                                                   if k in raw},
                       origin=origin)
    return Sku(id=sku_id, meter=raw["meter"], service=raw["service"],
               description=raw["description"],
               consumed_unit=raw["consumed_unit"], pricing_unit=raw["pricing_unit"],
               rounding=raw["rounding"], charge=raw["charge"], source=raw["source"],
               storage_class=raw.get("storage_class"), op_class=raw.get("op_class"),
               source_note=raw.get("source_note", ""), origin=origin, **values)


def _dates(sku_id: str, raw: dict, text: str, origin: str, problems: list[str], *,
           overlay: bool) -> dict[str, date]:
    """A SKU's `effective_from` (an overlay needs one) and `source_read`, as TOML dates."""
    values: dict[str, date] = {}
    if "effective_from" in raw:
        if isinstance(raw["effective_from"], date):
            values["effective_from"] = raw["effective_from"]
        else:
            problems.append(f"{origin}:{_line_of(text, sku_id, 'effective_from')}: sku "
                            f"{sku_id}: effective_from must be a TOML date (YYYY-MM-DD)")
    elif overlay:
        problems.append(f"{origin}:{_line_of(text, sku_id)}: sku {sku_id}: an overlay price "
                        "needs effective_from (the date the contract price starts)")
    if "source_read" in raw:
        if isinstance(raw["source_read"], date):
            values["source_read"] = raw["source_read"]
        else:
            problems.append(f"{origin}:{_line_of(text, sku_id, 'source_read')}: sku "
                            f"{sku_id}: source_read must be a TOML date (YYYY-MM-DD)")
    return values


def _catalog_fields(sku_id: str, raw: dict, text: str, origin: str,
                    problems: list[str]) -> bool:
    """Check a catalog SKU's meter, required fields and enums; False when fields are missing."""
    required = _SKU_FIELDS - {"storage_class", "op_class", "tiers", "source_read",
                              "source_note"}
    if raw.get("meter") not in METERS:
        problems.append(f"{origin}:{_line_of(text, sku_id, 'meter')}: sku {sku_id}: "
                        f"meter must be one of {', '.join(METERS)}")
    missing = sorted(required - set(raw))
    if missing:
        problems.append(f"{origin}:{_line_of(text, sku_id)}: sku {sku_id}: missing "
                        f"{', '.join(missing)}")
        return False
    if raw["rounding"] not in ("up", "none") or raw["charge"] not in ("usage", "capacity"):
        problems.append(f"{origin}:{_line_of(text, sku_id)}: sku {sku_id}: rounding must "
                        "be up|none and charge usage|capacity")
    return True


def _parse_book(text: str, origin: str) -> PriceBook:
    data = _toml(text, origin)
    problems: list[str] = []
    meta = data.get("book") or {}
    for key in ("name", "provider", "currency"):
        if key not in meta:
            problems.append(f"{origin}: [book] needs {key}")
    versions: dict[str, tuple[Sku, ...]] = {}
    for sku_id, raw in (data.get("sku") or {}).items():
        sku = _sku(sku_id, raw, text, origin, problems)
        if sku is not None:
            versions[sku_id] = (sku,)
    if not versions and not problems:
        problems.append(f"{origin}: no [sku.<id>] tables")
    if problems:
        raise ConfigError(problems)
    return PriceBook(name=meta["name"], provider=meta["provider"], currency=meta["currency"],
                     rules=dict(data.get("rules") or {}), versions=versions, files=(origin,))


def _apply_overlay(base: PriceBook, text: str, origin: str) -> PriceBook:
    data = _toml(text, origin)
    problems: list[str] = []
    unknown_tables = set(data) - {"overlay", "sku"}
    for table in sorted(unknown_tables):
        problems.append(f"{origin}: unknown table [{table}] (an overlay has [overlay] and "
                        "[sku.<id>] tables)")
    versions = dict(base.versions)
    for sku_id, raw in (data.get("sku") or {}).items():
        if sku_id not in base.versions:
            problems.append(f"{origin}:{_line_of(text, sku_id)}: sku {sku_id}: not in price "
                            f"book {base.name} (known: {', '.join(sorted(base.versions))})")
            continue
        sku_problems: list[str] = []
        sku = _sku(sku_id, raw, text, origin, sku_problems, base=base.versions[sku_id][-1])
        problems += sku_problems
        if sku is not None:
            versions[sku_id] = tuple(sorted(
                (*[v for v in versions[sku_id] if v.effective_from != sku.effective_from], sku),
                key=lambda v: v.effective_from))
    if problems:
        raise ConfigError(problems)
    return replace(base, versions=versions, files=(*base.files, origin))
