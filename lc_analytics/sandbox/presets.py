"""Size presets of the simulated live-commerce platform."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SandboxError


@dataclass(frozen=True)
class Preset:
    """How big and how long a simulated account is."""

    name: str
    days: int  # visible history ending at the simulated "today"
    broadcasters: int
    clips_per_week: float  # product clips uploaded per broadcaster per week
    products: int  # product images in R2
    future_days: int = 90  # simulated beyond "now", revealed as the clock advances
    runway_days: int = 21  # planted: prepaid storage runs out this many days after now


PRESETS: dict[str, Preset] = {
    "small": Preset("small", days=120, broadcasters=10, clips_per_week=1.5, products=150),
    "medium": Preset("medium", days=365, broadcasters=60, clips_per_week=2.0, products=1500),
    "large": Preset(
        # Product clips keep selling for months, so they dominate the rows of a long
        # history: fewer per broadcaster keep three years of 400 shops near 40M view rows.
        "large", days=3 * 365, broadcasters=400, clips_per_week=0.5, products=8000,
        runway_days=30,
    ),
}


def get_preset(name: str) -> Preset:
    """Return the preset called `name` (small, medium or large)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise SandboxError(
            f"unknown sandbox preset {name!r}; choose one of {', '.join(PRESETS)}"
        ) from None
