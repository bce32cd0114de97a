"""Driving a served sandbox from outside its process: move its clock, write its ground truth.

A served sandbox (`start_server`, `lc-analytics sandbox serve`) answers control requests under
`/__sandbox/`, a path no Cloudflare API has. They need the server's own control token
(`Authorization: Bearer <token>`, printed by `serve` as LC_SANDBOX_CONTROL_TOKEN); the
emulated Cloudflare paths never accept it, and the control paths never accept an API token.

    GET  /__sandbox/clock         the account's clock: {"now", "end", "horizon_end", ...}
    POST /__sandbox/advance       {"days": N}: move the clock N days; R2 follows (new objects,
                                  expirations, IA transitions; lifecycle rules written through
                                  the S3 API are read into the simulation first)
    GET  /__sandbox/ground-truth  a zip of one Parquet file per truth table, as of the clock

`ControlClient` is the other end, used by `lc-analytics sandbox advance` and `ground-truth`:

    >>> ControlClient.from_env().advance(3)["end"]                  # doctest: +SKIP
    '2026-07-03'
"""

from __future__ import annotations

import dataclasses
import hmac
import io
import json
import os
import secrets
import zipfile
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from ..errors import SandboxError
from .account import SimulatedAccount
from .emulator import Emulator, EmulatorResponse

CONTROL_PREFIX = "/__sandbox"
URL_ENV = "LC_SANDBOX_CONTROL_URL"
TOKEN_ENV = "LC_SANDBOX_CONTROL_TOKEN"
PLANTED_COLUMNS = ["kind", "target", "healthy", "detail"]

__all__ = ["CONTROL_PREFIX", "TOKEN_ENV", "URL_ENV", "Control", "ControlClient",
           "advance_sandbox", "truth_tables"]


# --- what a control request does -----------------------------------------------------------
def advance_sandbox(account: SimulatedAccount, r2: Any | None, days: int) -> None:
    """Move `account`'s clock `days` forward and bring its R2 (if any) to the new day.

    Lifecycle rules written through the S3 API are read into the simulation first, so a rule
    applied before the advance governs the objects after it. Past the simulated horizon
    nothing moves and SandboxError says how far the clock can go.
    """
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise SandboxError(f"days must be a whole number of days, at least 1 (got {days!r})")
    left = _days_left(account)
    if days > left:
        raise SandboxError(f"cannot advance {days} day(s): the simulation ends on "
                           f"{account.horizon_end}, {left} day(s) after the clock",
                           days=days, days_left=left)
    if r2 is not None:
        r2.read_lifecycle_into_account()
    account.advance(days)
    if r2 is not None:
        r2.follow_clock()


def clock(account: SimulatedAccount) -> dict[str, Any]:
    """Where the account's clock stands, as JSON-ready values."""
    return {"account_id": account.account_id, "now": account.now.isoformat(),
            "end": account.end.isoformat(), "horizon_end": account.horizon_end.isoformat(),
            "days_left": _days_left(account)}


def _days_left(account: SimulatedAccount) -> int:
    """How many days the clock can still advance (its last `now` is the day after the horizon)."""
    return (account.horizon_end - account.end).days


def truth_tables(account: SimulatedAccount) -> dict[str, pd.DataFrame]:
    """`account.ground_truth()` as flat tables: every table of it, plus `storage_usage`,
    `planted` and `account` (one row: id, preset, seed, now, period, capacity, exhaustion)."""
    truth = account.ground_truth()
    tables = {f.name: value.reset_index(drop=True) for f in dataclasses.fields(truth)
              if isinstance(value := getattr(truth, f.name), pd.DataFrame)}
    tables["storage_usage"] = pd.DataFrame([truth.storage_usage])
    tables["planted"] = pd.DataFrame([dataclasses.asdict(p) for p in truth.planted],
                                     columns=PLANTED_COLUMNS)
    tables["account"] = pd.DataFrame([{
        "account_id": account.account_id, "preset": account.preset.name, "seed": account.seed,
        "now": truth.now, "start": truth.start, "end": truth.end,
        "capacity_minutes": truth.capacity_minutes,
        "exhaustion_date": truth.exhaustion_date}])
    return tables


def _parquet_zip(tables: Mapping[str, pd.DataFrame]) -> bytes:
    """One zip holding `<name>.parquet` per table (stored, Parquet is compressed already)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, frame in tables.items():
            buf = io.BytesIO()
            frame.to_parquet(buf, index=False)
            archive.writestr(f"{name}.parquet", buf.getvalue())
    return out.getvalue()


# --- the server side ------------------------------------------------------------------------
class Control:
    """Answers `/__sandbox/...` requests for one served sandbox; see the module docstring.

    `token` defaults to a fresh random one. Every request runs under the emulator's lock, so
    no API request sees the account half-advanced (R2 requests are not under that lock: a
    listing during an advance reads each bucket wholly before or wholly after it).
    """

    def __init__(self, emulator: Emulator, r2: Any | None, token: str | None = None) -> None:
        self.emulator = emulator
        self.account = emulator.account
        self.r2 = r2
        self.token = token or secrets.token_urlsafe(32)

    def handle(self, method: str, path: str, headers: Mapping[str, str],
               body: bytes) -> EmulatorResponse:
        """Answer one control request (`path` starts with CONTROL_PREFIX)."""
        headers = {k.lower(): v for k, v in headers.items()}
        route = path[len(CONTROL_PREFIX):].strip("/")
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return _answer(401, {"error": "a control request needs the sandbox's control "
                                          f"token (Authorization: Bearer ${TOKEN_ENV})"})
        if not hmac.compare_digest(presented.strip().encode(), self.token.encode()):
            return _answer(403, {"error": "wrong control token"})
        handlers = {("GET", "clock"): self._clock, ("POST", "advance"): self._advance,
                    ("GET", "ground-truth"): self._ground_truth}
        handler = handlers.get((method.upper(), route))
        if handler is None:
            known = any(r == route for _, r in handlers)
            return _answer(405 if known else 404, {
                "error": f"{method.upper()} {path} is not a control request; try GET clock, "
                         "POST advance, GET ground-truth"})
        with self.emulator.lock:
            try:
                answer = handler(body)
            except SandboxError as exc:
                return _answer(409, {"error": str(exc)})
            answer.headers["date"] = formatdate(self.account.now.timestamp(), usegmt=True)
            return answer

    def _clock(self, body: bytes) -> EmulatorResponse:
        return _answer(200, clock(self.account))

    def _advance(self, body: bytes) -> EmulatorResponse:
        try:
            payload = json.loads(body or b"{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            return _answer(400, {"error": "the body must be JSON: {\"days\": N}"})
        days = payload.get("days") if isinstance(payload, dict) else None
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            return _answer(400, {"error": f"days must be a whole number, at least 1 "
                                          f"(got {days!r})"})
        advance_sandbox(self.account, self.r2, days)
        return _answer(200, clock(self.account))

    def _ground_truth(self, body: bytes) -> EmulatorResponse:
        return EmulatorResponse(200, {"content-type": "application/zip"},
                                _parquet_zip(truth_tables(self.account)))


def _answer(status: int, payload: dict[str, Any]) -> EmulatorResponse:
    return EmulatorResponse(status, {"content-type": "application/json"},
                            json.dumps(payload).encode())


# --- the client side ------------------------------------------------------------------------
class ControlClient:
    """Calls the control endpoint of a running sandbox (`lc-analytics sandbox serve`).

    >>> client = ControlClient("http://127.0.0.1:8787/__sandbox", token)  # doctest: +SKIP
    >>> client.advance(3)["now"]                                         # doctest: +SKIP
    '2026-07-04T00:00:00+00:00'
    """

    def __init__(self, url: str, token: str, *, timeout: float = 300.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ControlClient(url={self.url!r}, token='***')"

    @classmethod
    def from_env(cls, url: str | None = None,
                 env: Mapping[str, str] | None = None) -> ControlClient:
        """The client `serve`'s export lines describe (`url` overrides LC_SANDBOX_CONTROL_URL)."""
        env = os.environ if env is None else env
        url = url or env.get(URL_ENV)
        token = env.get(TOKEN_ENV)
        missing = [name for name, value in ((URL_ENV, url), (TOKEN_ENV, token)) if not value]
        if missing:
            raise SandboxError(
                f"{' and '.join(missing)} not set: start `lc-analytics sandbox serve` and "
                "paste the export lines it prints into this shell", missing=missing)
        assert url is not None and token is not None
        return cls(url, token)

    def clock(self) -> dict[str, Any]:
        """Where the served account's clock stands."""
        return self._call("GET", "clock").json()

    def advance(self, days: int) -> dict[str, Any]:
        """Move the served account's clock `days` forward; returns the new clock."""
        return self._call("POST", "advance", json={"days": days}).json()

    def write_ground_truth(self, out_dir: str | Path) -> list[Path]:
        """Write the served account's truth, as of its clock, to `out_dir/<table>.parquet`.

        The truth is fetched whole first; nothing is written when the request fails.
        """
        out = Path(out_dir)
        if out.exists() and not out.is_dir():
            raise SandboxError(f"{out} exists and is not a folder", path=str(out))
        archive = self._call("GET", "ground-truth").content
        try:
            files = zipfile.ZipFile(io.BytesIO(archive))
            names = files.namelist()
        except zipfile.BadZipFile as exc:
            raise SandboxError(f"{self.url}/ground-truth did not answer a zip of Parquet "
                               "files; is it a sandbox control endpoint?") from exc
        if not names or any("/" in n or not n.endswith(".parquet") for n in names):
            raise SandboxError(f"{self.url}/ground-truth answered unexpected files: "
                               f"{', '.join(names) or 'none'}")
        written = []
        try:
            out.mkdir(parents=True, exist_ok=True)
            for name in sorted(names):
                tmp = out / f".{name}.tmp"
                tmp.write_bytes(files.read(name))
                tmp.replace(out / name)
                written.append(out / name)
        except OSError as exc:
            raise SandboxError(f"cannot write the ground truth to {out}: {exc}",
                               path=str(out)) from exc
        return written

    def _call(self, method: str, route: str, **kwargs: Any) -> httpx.Response:
        url = f"{self.url}/{route}"
        try:
            with httpx.Client(timeout=self.timeout, trust_env=False) as http:
                response = http.request(method, url, headers={
                    "Authorization": f"Bearer {self._token}"}, **kwargs)
        except httpx.HTTPError as exc:
            raise SandboxError(
                f"cannot reach the sandbox control endpoint at {url} "
                f"({type(exc).__name__}): is `lc-analytics sandbox serve` running? "
                f"(check {URL_ENV})", url=url) from exc
        if response.status_code in (401, 403):
            raise SandboxError(f"the sandbox at {self.url} refused the control token: set "
                               f"{TOKEN_ENV} to the value `lc-analytics sandbox serve` printed",
                               status=response.status_code)
        if response.status_code != 200:
            try:
                why = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                why = f"HTTP {response.status_code} (not a sandbox control endpoint?)"
            raise SandboxError(f"sandbox {route} refused: {why}", status=response.status_code)
        return response
