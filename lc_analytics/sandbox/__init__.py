"""A simulated live-commerce account with known truth, and (later) an emulated Cloudflare API."""

from .account import GroundTruth, RuleViolation, SimulatedAccount
from .presets import PRESETS, Preset, get_preset
from .simulator import BUCKETS, Planted

__all__ = [
    "BUCKETS",
    "GroundTruth",
    "PRESETS",
    "Planted",
    "Preset",
    "RuleViolation",
    "SimulatedAccount",
    "get_preset",
]
