"""The sandbox's emulated Cloudflare API (and R2) served over real HTTP on loopback.

    with start_server(account, r2=False) as srv:
        httpx.get(f"{srv.base_url}/accounts/{account.account_id}/stream",
                  headers={"Authorization": f"Bearer {srv.emulator.token}"})

Requests are answered by the same `Emulator.handle` the in-process transport uses; the
emulator's lock serialises them, so the threaded server never touches the account twice at
once. Paths under `/__sandbox/` (no Cloudflare API has them) go to `control.Control`
instead: move the clock, write the ground truth, with the server's own control token.
The access log records method, path and status only (never headers, never tokens).
"""

from __future__ import annotations

import logging
import shlex
import sys
import threading
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any
from urllib.parse import urlsplit

from .account import SimulatedAccount
from .control import CONTROL_PREFIX, TOKEN_ENV, URL_ENV, Control
from .emulator import Emulator

log = logging.getLogger(__name__)


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the server's emulator and writes its answer back."""

    protocol_version = "HTTP/1.1"
    server: _EmulatorHTTPServer

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = dict(self.headers.items())
        if url.path == CONTROL_PREFIX or url.path.startswith(f"{CONTROL_PREFIX}/"):
            answer = self.server.control.handle(self.command, url.path, headers, body)
        else:
            answer = self.server.emulator.handle(self.command, url.path, url.query, headers,
                                                 body)
        self.log_request(answer.status)
        self.send_response_only(answer.status)  # no stdlib Date: the emulator sends its own
        self.send_header("Server", "lc-analytics-sandbox")
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _dispatch

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("%s %s -> %s", self.command, urlsplit(self.path).path, code)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        log.debug("sandbox server: " + format, *args)


class _EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], emulator: Emulator, control: Control) -> None:
        super().__init__(address, _Handler)
        self.emulator = emulator
        self.control = control


class SandboxServer:
    """A running loopback sandbox: the emulated API, its control endpoint, and R2 unless
    disabled. Close it after use."""

    def __init__(self, emulator: Emulator, httpd: _EmulatorHTTPServer, r2: Any | None) -> None:
        self.emulator = emulator
        self.account = emulator.account
        self.r2 = r2
        self.control = httpd.control
        self._httpd = httpd
        host, port = httpd.server_address[:2]
        self.host, self.port = str(host), int(port)
        self.base_url = f"http://{self.host}:{self.port}/client/v4"
        self.control_url = f"http://{self.host}:{self.port}{CONTROL_PREFIX}"
        self._thread = threading.Thread(target=httpd.serve_forever, name="sandbox-api",
                                        daemon=True)
        self._thread.start()
        self._closed = False

    def env_exports(self) -> list[str]:
        """`export NAME=value` lines that point any client (or `Settings.from_env`) here.

        The values include the sandbox tokens and R2 secret: print them for a shell to
        evaluate, never log them. Besides the settings the library reads, they hold the
        stream-only token (refused on GraphQL, to try a missing permission) and the control
        endpoint's URL and token (`lc-analytics sandbox advance` / `ground-truth`).
        """
        values = {
            "CLOUDFLARE_ACCOUNT_ID": self.account.account_id,
            "CLOUDFLARE_API_TOKEN": self.emulator.token or "",
            "CLOUDFLARE_API_BASE_URL": self.base_url,
            "CLOUDFLARE_STREAM_CUSTOMER_CODE": self.emulator.customer_code,
        }
        if self.emulator.stream_only_token:
            values["LC_SANDBOX_STREAM_ONLY_TOKEN"] = self.emulator.stream_only_token
        values.update({URL_ENV: self.control_url, TOKEN_ENV: self.control.token})
        if self.r2 is not None:
            values.update({
                "R2_ENDPOINT_URL": self.r2.endpoint_url,
                "R2_ACCESS_KEY_ID": self.r2.access_key_id,
                "R2_SECRET_ACCESS_KEY": self.r2.secret_access_key,
            })
        return [f"export {name}={shlex.quote(str(value))}" for name, value in values.items()]

    def close(self) -> None:
        """Stop serving, free the port and stop R2; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        if self.r2 is not None:
            self.r2.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def start_server(account: SimulatedAccount, host: str = "127.0.0.1", port: int = 0, *,
                 r2: bool = True, control_token: str | None = None,
                 **emulator_kwargs: Any) -> SandboxServer:
    """Serve `account` on `host:port` (0 = any free port) in a background thread.

    `emulator_kwargs` go to `Emulator` (tokens, rest_limit, graphql_limit, ...). With `r2`,
    the R2 side is started too (`lc_analytics.sandbox.r2.start_r2`). The control endpoint
    takes `control_token` (default: a fresh random token, `server.control.token`).
    """
    emulator = Emulator(account, **emulator_kwargs)
    r2_sandbox = _start_r2(account) if r2 else None
    try:
        control = Control(emulator, r2_sandbox, control_token)
        httpd = _EmulatorHTTPServer((host, port), emulator, control)
    except BaseException:
        if r2_sandbox is not None:
            r2_sandbox.close()
        raise
    server = SandboxServer(emulator, httpd, r2_sandbox)
    log.info("sandbox API for account %s at %s", account.account_id, server.base_url)
    return server


def _start_r2(account: SimulatedAccount) -> Any:
    from .r2 import start_r2  # written alongside; imported lazily

    return start_r2(account)


def serve_forever(account: SimulatedAccount | None = None, *, preset: str = "small",
                  seed: int = 7, end: date | None = None, host: str = "127.0.0.1",
                  port: int = 8787, r2: bool = True, out: IO[str] | None = None,
                  stop: threading.Event | None = None, **emulator_kwargs: Any) -> None:
    """Serve until Ctrl-C (or until `stop` is set), after printing the `export` lines to `out`.

    Builds the account from `preset`/`seed`/`end` unless one is given.
    """
    out = out or sys.stdout
    account = account or SimulatedAccount.build(preset, seed=seed, end=end)
    with start_server(account, host, port, r2=r2, **emulator_kwargs) as server:
        print(f"# lc-analytics sandbox: account {account.account_id}, API {server.base_url}",
              file=out)
        print("# paste these lines into your shell (sandbox credentials only):", file=out)
        for line in server.env_exports():
            print(line, file=out)
        print("# then: lc-analytics sandbox advance --days N   (move the clock; R2 follows)",
              file=out)
        print("#       lc-analytics sandbox ground-truth --out DIR   (the truth, as Parquet)",
              file=out)
        out.flush()
        try:
            (stop or threading.Event()).wait()
        except KeyboardInterrupt:
            print("# sandbox stopped", file=out)
