"""The in-process sandbox: a simulated account, its emulated API and R2, and matching settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

from ..settings import DEFAULT_DB, Secret, Settings
from .account import SimulatedAccount
from .control import advance_sandbox
from .emulator import Emulator
from .transport import EmulatorTransport

SANDBOX_API_BASE_URL = "http://sandbox.local/client/v4"


class Sandbox:
    """Everything a test or the demo needs to reach a simulated account through real clients.

    >>> with Sandbox.build(end=date(2026, 6, 30), r2=False) as sb:
    ...     sb.settings().api_base_url
    'http://sandbox.local/client/v4'

    Pass `sb.transport` to `httpx.Client(transport=...)` with `sb.settings().api_base_url`;
    the REST and GraphQL calls are then answered in-process. R2 runs as a moto server on
    loopback (`r2=False` skips it). `advance(days)` moves the clock with R2 following.
    """

    def __init__(self, account: SimulatedAccount, *, r2: bool = True,
                 **emulator_kwargs: Any) -> None:
        self.account = account
        self.emulator = Emulator(account, **emulator_kwargs)
        self.transport = EmulatorTransport(self.emulator)
        self.r2 = _start_r2(account) if r2 else None
        self.token = self.emulator.token
        self._closed = False

    @classmethod
    def build(cls, preset: str = "small", seed: int = 7, end: date | None = None,
              **kwargs: Any) -> Sandbox:
        """Build a fresh account (`end` = its last complete day, default yesterday UTC)."""
        return cls(SimulatedAccount.build(preset, seed=seed, end=end), **kwargs)

    def settings(self, db_path: str | Path = DEFAULT_DB, *, zone: bool = False,
                 **overrides: Any) -> Settings:
        """Settings that point the library at this sandbox (API token and R2 secret masked);
        `zone=True` adds the simulated zone's id (CLOUDFLARE_ZONE_ID: the CDN steps run)."""
        r2 = self.r2
        return Settings(
            account_id=self.account.account_id,
            api_token=Secret(self.token) if self.token else None,
            customer_code=self.emulator.customer_code,
            api_base_url=SANDBOX_API_BASE_URL,
            r2_access_key_id=r2.access_key_id if r2 is not None else None,
            r2_secret_access_key=Secret(r2.secret_access_key) if r2 is not None else None,
            r2_endpoint_url=r2.endpoint_url if r2 is not None else None,
            db_path=Path(db_path),
            **{"zone_ids": (self.account.zone.zone_id,) if zone else (), **overrides},
        )

    def advance(self, days: int = 1) -> None:
        """Move the account's clock `days` forward, with R2 following (as `sandbox advance`).

        Lifecycle rules written through R2 are read into the simulation first; R2 then lists
        the new day's objects, expirations and storage classes. Live-input events and
        recording webhooks of the new days go to the configured destinations.
        """
        advance_sandbox(self.account, self.r2, days)
        from .apis.live_delivery import deliver_until  # live-input events of the new days

        deliver_until(self.emulator, self.account.now)

    def close(self) -> None:
        """Stop the R2 server, if one was started; safe to call twice."""
        if self.r2 is not None and not self._closed:
            self.r2.close()
        self._closed = True

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _start_r2(account: SimulatedAccount) -> Any:
    from .r2 import start_r2  # written alongside; imported lazily

    return start_r2(account)
