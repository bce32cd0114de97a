"""An httpx transport that answers requests in-process from the sandbox's `Emulator`."""

from __future__ import annotations

import httpx

from .emulator import Emulator


class EmulatorTransport(httpx.BaseTransport):
    """Route every httpx request to `Emulator.handle`; the URL's host is ignored.

    >>> from datetime import date
    >>> from lc_analytics.sandbox import SimulatedAccount
    >>> em = Emulator(SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30)))
    >>> with httpx.Client(transport=EmulatorTransport(em),
    ...                   base_url="http://sandbox.local/client/v4") as client:
    ...     r = client.get(f"/accounts/{em.account.account_id}/stream/storage-usage",
    ...                    headers={"Authorization": f"Bearer {em.token}"})
    >>> r.status_code
    200
    """

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Answer `request` from the emulator (the path must start with /client/v4)."""
        body = request.read()
        answer = self.emulator.handle(
            request.method,
            request.url.path,
            request.url.query.decode("ascii"),
            {key: value for key, value in request.headers.items()},
            body,
        )
        return httpx.Response(answer.status, headers=answer.headers, content=answer.body,
                              request=request)
