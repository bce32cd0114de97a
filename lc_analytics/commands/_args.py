"""Argument types and groups shared by the CLI's commands."""

from __future__ import annotations

import argparse
from datetime import date


def parse_date(text: str) -> date:
    """An ISO date argument, or argparse's usage error naming it."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def add_sandbox_args(p: argparse.ArgumentParser) -> None:
    """--preset, --seed and --end of the simulated account."""
    from ..sandbox import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default="small",
                   help="size of the simulated platform (default: small)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    p.add_argument("--end", type=parse_date, default=None,
                   help="last complete simulated day, YYYY-MM-DD (default: yesterday, UTC)")
