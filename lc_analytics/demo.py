"""The main job on the built-in sandbox, as `make demo` runs it."""

from __future__ import annotations

from datetime import date

from .sandbox import SimulatedAccount
from .sandbox.summary import describe


def run_demo(preset: str = "small", seed: int = 7, end: date | None = None) -> str:
    """Build the sandbox account and return a printable summary of the run.

    >>> "planted situations" in run_demo(end=date(2026, 6, 30))
    True
    """
    account = SimulatedAccount.build(preset, seed=seed, end=end)
    return describe(account)
