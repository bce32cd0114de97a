"""Split an integer total in proportion to weights, exactly (largest remainder)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import numpy as np

from ..errors import UsageError


def split_integer(total: int, weights: Sequence[Any]) -> list[int]:
    """Non-negative integers in proportion to `weights` that add up to `total` exactly.

    Largest remainder: each share is floored, and the units left go one each to the shares
    with the largest remainders (ties to the earlier row). Weights are ints or Decimals
    (floats go through their shortest repr); all zero weights split evenly.

    >>> split_integer(100, [1, 1, 1])
    [34, 33, 33]
    """
    w = _integer_weights(weights)
    total_w = sum(w)
    if total_w == 0:
        w, total_w = [1] * len(w), len(w)
    shares = [total * x // total_w for x in w]
    remainders = [total * x % total_w for x in w]
    left = total - sum(shares)
    for i in sorted(range(len(w)), key=lambda i: (-remainders[i], i))[:left]:
        shares[i] += 1
    return shares


def _integer_weights(weights: Sequence[Any]) -> list[int]:
    values = [v if isinstance(v, Decimal) else
              Decimal(int(v)) if isinstance(v, (int, np.integer)) else Decimal(repr(float(v)))
              for v in weights]
    if any(v < 0 for v in values):
        raise UsageError("allocation weights must not be negative")
    exp = min([0, *(int(v.as_tuple().exponent) for v in values)])
    return [int(v.scaleb(-exp)) for v in values]


