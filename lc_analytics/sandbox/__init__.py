"""The built-in sandbox: a simulated account with known truth, served like Cloudflare would.

`SimulatedAccount` holds the truth; `Sandbox` serves it in process (httpx transport + R2 on
a moto thread); `start_server` serves it over loopback HTTP for any client, with a control
endpoint that `ControlClient` drives from outside (move the clock, write the ground truth).
The R2 half needs moto (`pip install lc-analytics[sandbox]`); it is imported when first used.
"""

from .account import GroundTruth, RuleViolation, SimulatedAccount
from .control import ControlClient
from .presets import PRESETS, Preset, get_preset
from .runtime import Sandbox
from .server import SandboxServer, start_server
from .simulator import BUCKETS, Planted

__all__ = [
    "BUCKETS",
    "ControlClient",
    "GroundTruth",
    "PRESETS",
    "Planted",
    "Preset",
    "R2Sandbox",
    "RuleViolation",
    "Sandbox",
    "SandboxServer",
    "SimulatedAccount",
    "get_preset",
    "start_r2",
    "start_server",
]


def __getattr__(name: str) -> object:
    """R2Sandbox and start_r2 import moto (the `sandbox` extra) only when asked for."""
    if name in ("R2Sandbox", "start_r2"):
        from . import r2

        return getattr(r2, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
