"""Test-only fault injection: an httpx transport and an HTTP proxy that fail on purpose.

    plan = FaultPlan(rate=0.2, seed=3)                    # 20% of requests, reproducibly
    transport = FaultTransport(sandbox.transport, plan)   # REST + GraphQL, in-process
    with FaultProxy(sandbox.r2.endpoint_url, plan) as proxy:   # R2 (moto) over loopback
        settings = replace(settings, r2_endpoint_url=proxy.url)

Each faulty request gets one of FAULTS (drawn with the plan's seed) instead of, or on top of,
the real answer; `plan.injected` counts what was injected. Every fault is one the clients
must retry, so a sync that survives makes exactly one retry per injected fault.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import httpx

FAULTS = (
    "429_retry_after_0", "429_retry_after_1", "429_no_retry_after",
    "500", "502", "503",
    "reset", "read_timeout", "truncated", "early_close", "error_envelope",
)


@dataclass
class FaultPlan:
    """Which requests fail and how: a `rate` with a `seed`, or a fixed `script` of faults.

    A script (e.g. ["reset", None, "503"]) decides the first requests one by one and then
    lets everything through; otherwise each request fails with probability `rate`.
    """

    rate: float = 0.0
    seed: int = 0
    kinds: Sequence[str] = FAULTS
    script: list[str | None] | None = None
    injected: Counter[str] = field(default_factory=Counter)
    requests: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.kinds) - set(FAULTS)
        assert not unknown, f"unknown fault kinds {unknown}"
        self.rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def draw(self) -> str | None:
        """The fault for the next request, or None to let it through untouched."""
        with self._lock:
            self.requests += 1
            if self.script is not None:
                kind = self.script.pop(0) if self.script else None
            elif self.rng.random() < self.rate:
                kind = self.rng.choice(list(self.kinds))
            else:
                kind = None
            if kind is not None:
                self.injected[kind] += 1
            return kind

    def cut(self, size: int) -> int:
        """Where to cut a body of `size` bytes: anywhere before its end."""
        with self._lock:
            return self.rng.randrange(0, max(size, 1))

    @property
    def total(self) -> int:
        return sum(self.injected.values())


def _retry_after(kind: str) -> dict[str, str]:
    return {"429_retry_after_0": {"retry-after": "0"},
            "429_retry_after_1": {"retry-after": "1"}}.get(kind, {})


def _halve(data: Any) -> Any:
    """The same answer with the first list found cut in half: partial GraphQL data."""
    if isinstance(data, list):
        return data[: len(data) // 2]
    if isinstance(data, dict):
        out = dict(data)
        for key, value in data.items():
            if isinstance(value, list | dict):
                out[key] = _halve(value)
                break
        return out
    return data


class _EarlyClose(httpx.SyncByteStream):
    """Part of the body, then the connection drops (what httpcore reports for a cut body)."""

    def __init__(self, part: bytes) -> None:
        self.part = part

    def __iter__(self) -> Iterator[bytes]:
        yield self.part
        raise httpx.RemoteProtocolError(
            "peer closed connection without sending complete message body")


class FaultTransport(httpx.BaseTransport):
    """Wraps the sandbox's transport for the REST/GraphQL client and injects `plan`'s faults.

    A read timeout sleeps `timeout` seconds through `clock` (the client's fake clock in
    tests) before raising, so the time a real timeout costs is counted but never waited.
    """

    def __init__(self, inner: httpx.BaseTransport, plan: FaultPlan, *, clock: Any = None,
                 timeout: float = 30.0) -> None:
        self.inner, self.plan, self.clock, self.timeout = inner, plan, clock, timeout

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        kind = self.plan.draw()
        if kind is None:
            return self.inner.handle_request(request)
        graphql = request.url.path.endswith("/graphql")
        if kind.startswith("429"):
            body = ({"data": None, "errors": [{"message": "rate limiter budget depleted, try "
                                               "again after 5 minutes",
                                               "extensions": {"code": "budget"}}]}
                    if graphql else
                    {"success": False, "result": None, "messages": [], "errors": [
                        {"code": 10100, "message": "More than 1200 requests per 300 seconds "
                                                   "reached. Please wait and consider "
                                                   "throttling your request speed"}]})
            return httpx.Response(429, headers=_retry_after(kind), json=body, request=request)
        if kind in ("500", "502", "503"):
            return httpx.Response(int(kind), text=f"<html><h1>{kind}</h1>cloudflare</html>",
                                  headers={"content-type": "text/html"}, request=request)
        if kind == "reset":
            raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request)
        if kind == "read_timeout":
            if self.clock is not None:
                self.clock.sleep(self.timeout)
            raise httpx.ReadTimeout("The read operation timed out", request=request)
        real = self.inner.handle_request(request)
        body = real.read()
        headers = {k: v for k, v in real.headers.items()
                   if k.lower() not in ("content-length", "content-encoding")}
        if kind == "truncated":  # the Content-Length matches the cut body
            return httpx.Response(real.status_code, headers=headers,
                                  content=body[: self.plan.cut(len(body.rstrip()))],
                                  request=request)
        if kind == "early_close":  # the Content-Length promises the whole body
            headers["content-length"] = str(len(body))
            return httpx.Response(real.status_code, headers=headers,
                                  stream=_EarlyClose(body[: self.plan.cut(len(body))]),
                                  request=request)
        assert kind == "error_envelope"
        if graphql:  # partial data next to a transient error
            data = (json.loads(body) or {}).get("data")
            envelope: dict[str, Any] = {"data": _halve(data), "errors": [
                {"message": "internal server error", "path": ["viewer"],
                 "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]}
        else:
            code = self.plan.rng.choice([10001, 10043, 10100, 971])
            envelope = {"success": False, "result": None, "messages": [],
                        "errors": [{"code": code, "message": "We encountered an internal "
                                                             "error. Please try again."}]}
        return httpx.Response(200, headers={"content-type": "application/json"},
                              json=envelope, request=request)


# --- R2: a proxy in front of the sandbox's moto server ---------------------------------------

_S3_ERRORS = {
    "429": ("TooManyRequests", "Reduce your request rate."),
    "500": ("InternalError", "We encountered an internal error. Please try again."),
    "503": ("ServiceUnavailable", "Please look at https://www.cloudflarestatus.com"),
}


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        payload = self.rfile.read(length) if length else b""
        kind = self.server.plan.draw()
        if kind == "error_envelope":  # S3 has no 200 error envelope on reads: an InternalError
            kind = "500"
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        if kind == "read_timeout":
            time.sleep(self.server.hang)
            self.close_connection = True
            return
        if kind is not None and (kind.startswith("429") or kind in ("500", "502", "503")):
            status = 429 if kind.startswith("429") else int(kind)
            if status == 502:
                self._send(502, {"Content-Type": "text/html"}, b"<html>502 Bad Gateway</html>")
            else:
                code, message = _S3_ERRORS[str(status)]
                body = (f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
                        f"<Message>{message}</Message></Error>").encode()
                self._send(status, {"Content-Type": "application/xml", **_retry_after(kind)},
                           body)
            return
        status, headers, body = self._forward(payload)
        if kind == "truncated":
            self._send(status, headers, body[: self.server.plan.cut(len(body.rstrip()))])
        elif kind == "early_close":
            self._send(status, headers, body[: self.server.plan.cut(len(body))],
                       length=len(body))
            self.close_connection = True
        else:
            self._send(status, headers, body)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _dispatch

    def _forward(self, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.server.target_host, self.server.target_port,
                                          timeout=30)
        try:
            conn.request(self.command, self.path, body=payload or None,
                         headers={k: v for k, v in self.headers.items()})
            answer = conn.getresponse()
            body = answer.read()
            headers = {k: v for k, v in answer.getheaders()
                       if k.lower() not in ("content-length", "transfer-encoding",
                                            "connection")}
            return answer.status, headers, body
        finally:
            conn.close()

    def _send(self, status: int, headers: dict[str, str], body: bytes,
              length: int | None = None) -> None:
        self.send_response_only(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, target: str, plan: FaultPlan, hang: float) -> None:
        super().__init__(("127.0.0.1", 0), _ProxyHandler)
        parts = urlsplit(target)
        self.target_host, self.target_port = parts.hostname or "127.0.0.1", parts.port or 80
        self.plan, self.hang = plan, hang


class FaultProxy:
    """An HTTP proxy on loopback in front of `target` (the sandbox's R2) injecting `plan`.

    A read timeout holds the request `hang` seconds and closes without answering; give the
    client a shorter `request_timeout` so that it gives up first.
    """

    def __init__(self, target: str, plan: FaultPlan, *, hang: float = 1.0) -> None:
        self._server = _ProxyServer(target, plan, hang)
        host, port = self._server.server_address[:2]
        self.url = f"http://{host!s}:{port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fault-proxy")
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --- a sync in a child process, to be killed -----------------------------------------------------

def run_cli(env: dict[str, str], argv: list[str]) -> None:
    """Run `lc-analytics <argv>` with exactly `env` in this (child) process; exit with its code.

    Meant as a `multiprocessing` forkserver target: the server imports lc_analytics once,
    so each child starts in milliseconds and a kill can land anywhere in the sync itself.
    """
    os.environ.clear()
    os.environ.update(env)
    from lc_analytics.cli import main

    raise SystemExit(main(argv))
