"""The live viewer count on a customer-code host (reference 8.3):
`GET https://customer-<CODE>.cloudflarestream.com/<INPUT_ID>/views` -> `{"liveViewers": N}`.

The count is the show's concurrent viewers in the current minute of the simulated clock
(`sandbox.live_shows.viewers_at`). The account's clock moves by whole days; a test or the
demo may set a finer instant with `set_live_clock(emulator, ts)` (None follows the account).
An input that hides its count (`recording.hideLiveViewerCount`, settable with PUT) answers
200 with no number, `{}` [UNVERIFIED: the reference (8.2) says only that the setting disables
the count; what the endpoint then answers is not documented].
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .. import live_shows
from ..emulator import Emulator, register_public


@dataclass
class LiveClock:
    """An instant finer than the account's day clock (None: the account's `now`)."""

    at: pd.Timestamp | None = None


def live_clock(emulator: Emulator) -> pd.Timestamp:
    """The instant `/views` and live-input `status` answer for."""
    state = emulator.module_state("live_clock", LiveClock)
    return state.at if state.at is not None else emulator.account.now


def set_live_clock(emulator: Emulator, at: Any) -> None:
    """Answer `/views` as of `at` (a timestamp, UTC), or follow the account's clock (None)."""
    stamp = None if at is None else pd.Timestamp(at)
    if stamp is not None and stamp.tzinfo is None:
        stamp = stamp.tz_localize("UTC")
    emulator.module_state("live_clock", LiveClock).at = stamp


def _views(em: Emulator, match: re.Match[str], query: dict[str, str]) -> tuple[int, Any]:
    uid = match["uid"]
    inputs = em.account.live_input_state
    if uid not in inputs.index:
        return 404, {"error": "live input not found"}
    if bool(inputs.at[uid, "hide_live_viewer_count"]):
        return 200, {}
    return 200, {"liveViewers": live_shows.viewers_at(em.account, uid, live_clock(em))}


register_public(r"/(?P<uid>[0-9a-f]{32})/views", _views)
