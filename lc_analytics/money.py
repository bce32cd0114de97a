"""Money for people: the one formatter every report, CLI line, notebook and summary uses.

Rule: US dollars to the cent, rounded half up (`decimal.ROUND_HALF_UP`: a half cent goes
away from zero, so $55.405 shows as $55.41 and -$55.405 as -$55.41), with thousands
separators. A positive amount under half a cent shows as "< $0.01" (and a negative one as
"> -$0.01") rather than as $0.00, so a real but tiny cost never reads as free. Files keep
the exact Decimal; only what a person reads goes through here.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from .errors import UsageError

CENT = Decimal("0.01")
ROUNDING = ROUND_HALF_UP
MISSING = "n/a"

__all__ = ["CENT", "MISSING", "ROUNDING", "format_usd", "to_cents"]


def to_cents(value: Decimal | int | float | str) -> Decimal:
    """`value` rounded to the cent by the display rule (ROUND_HALF_UP).

    >>> to_cents(Decimal("55.405")), to_cents("-55.405"), to_cents(0.125)
    (Decimal('55.41'), Decimal('-55.41'), Decimal('0.13'))
    """
    return _decimal(value).quantize(CENT, rounding=ROUNDING)


def format_usd(value: Decimal | int | float | str | None, *, signed: bool = False) -> str:
    """`value` as dollars for a person: '$1,234.57', '-$9.85', '< $0.01'; 'n/a' for None/NaN.

    `signed=True` puts '+' before a positive amount (a change).

    >>> format_usd(Decimal("55.405")), format_usd(Decimal("1234567.8")), format_usd(None)
    ('$55.41', '$1,234,567.80', 'n/a')
    >>> format_usd(Decimal("0.0045")), format_usd(Decimal("-0.0045")), format_usd(0)
    ('< $0.01', '> -$0.01', '$0.00')
    >>> format_usd(Decimal("-9.846")), format_usd(Decimal("12"), signed=True)
    ('-$9.85', '+$12.00')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    exact = _decimal(value)
    cents = exact.quantize(CENT, rounding=ROUNDING)
    if cents == 0 and exact != 0:
        return "< $0.01" if exact > 0 else "> -$0.01"
    sign = "-" if cents < 0 else ("+" if signed and cents > 0 else "")
    return f"{sign}${abs(cents):,.2f}"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, bool):
        raise UsageError(f"not an amount of money: {value!r}")
    elif isinstance(value, (int, str)):
        try:
            d = Decimal(value)
        except InvalidOperation:
            raise UsageError(f"not an amount of money: {value!r}") from None
    elif isinstance(value, float) or hasattr(value, "item"):
        d = Decimal(str(float(value)))  # shortest repr: 0.1 stays 0.1
    else:
        raise UsageError(f"not an amount of money: {value!r}")
    if not d.is_finite():
        raise UsageError(f"not a finite amount of money: {value!r}")
    return d
