"""The loopback HTTP server over the emulator: real sockets, threads, exports and shutdown."""

from __future__ import annotations

import io
import logging
import shlex
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from lc_analytics import Settings
from lc_analytics.sandbox.server import serve_forever, start_server


@pytest.fixture(scope="module")
def server(shared_account):
    with start_server(shared_account, r2=False, rest_limit=100_000) as srv:
        yield srv


@pytest.fixture
def http(server):
    with httpx.Client(base_url=f"{server.base_url}/accounts/{server.account.account_id}",
                      headers={"Authorization": f"Bearer {server.emulator.token}"}) as c:
        yield c


def exports_to_env(lines: list[str]) -> dict[str, str]:
    env = {}
    for line in lines:
        word, assignment = line.split(" ", 1)
        assert word == "export"
        name, _, value = assignment.partition("=")
        env[name] = shlex.split(value)[0]
    return env


def test_the_server_answers_like_the_emulator(server, http, shared_account):
    assert server.base_url.startswith("http://127.0.0.1:") and server.port > 0
    r = http.get("/stream", params={"include_counts": "true", "limit": 3})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert r.headers["x-ratelimit-limit"] == "100000"
    assert r.json()["total"] == len(shared_account.visible_videos())
    assert len(r.json()["result"]) == 3
    usage = http.get("/stream/storage-usage").json()["result"]
    assert usage == shared_account.storage_usage()


def test_request_bodies_and_errors_travel_over_http(server, http, shared_account):
    uid = shared_account.visible_live_inputs()["uid"].iloc[0]
    r = http.put(f"/stream/live_inputs/{uid}", json={"deleteRecordingAfterDays": 29})
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 10011
    r = http.put(f"/stream/live_inputs/{uid}", content=b"{nope")
    assert r.status_code == 400 and r.json()["errors"][0]["code"] == 6007
    r = httpx.get(f"{server.base_url}/accounts/{shared_account.account_id}/stream")
    assert r.status_code == 403 and r.json()["errors"][0]["code"] == 10000
    assert httpx.get(f"http://127.0.0.1:{server.port}/elsewhere").status_code == 404


def test_concurrent_requests_get_consistent_answers(http, shared_account):
    paths = ["/stream", "/stream/live_inputs", "/stream/storage-usage"] * 6
    serial = {p: http.get(p).json() for p in set(paths)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda p: (p, http.get(p)), paths))
    for path, r in answers:
        assert r.status_code == 200
        assert r.json() == serial[path]


def test_env_exports_configure_settings(server):
    env = exports_to_env(server.env_exports())
    assert {"CLOUDFLARE_ACCOUNT_ID", "CLOUDFLARE_API_TOKEN", "CLOUDFLARE_API_BASE_URL"} <= set(env)
    assert "R2_ENDPOINT_URL" not in env  # started with r2=False
    settings = Settings.from_env(env, env_file=None, require=["stream"])
    assert settings.account_id == server.account.account_id
    assert settings.api_base_url == server.base_url
    assert settings.api_token.reveal() == server.emulator.token


def test_rate_limit_over_http(shared_account):
    with start_server(shared_account, r2=False, rest_limit=2) as srv, httpx.Client(
            headers={"Authorization": f"Bearer {srv.emulator.token}"}) as c:
        url = f"{srv.base_url}/accounts/{shared_account.account_id}/stream/storage-usage"
        assert [c.get(url).status_code for _ in range(2)] == [200, 200]
        r = c.get(url)
        assert r.status_code == 429
        assert int(r.headers["retry-after"]) >= 1
        assert r.json()["errors"][0]["code"] == 10100


def test_close_frees_the_port_and_logs_no_secrets(shared_account, caplog):
    caplog.set_level(logging.DEBUG, logger="lc_analytics")
    srv = start_server(shared_account, r2=False)
    url = f"{srv.base_url}/accounts/{shared_account.account_id}/stream/live_inputs"
    token = srv.emulator.token
    r = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    srv.close()
    srv.close()  # twice is fine
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=2)
    assert "/stream/live_inputs" in caplog.text
    assert token not in caplog.text


def test_serve_forever_prints_exports_and_stops(shared_account):
    out, stop = io.StringIO(), threading.Event()
    worker = threading.Thread(target=serve_forever, args=(shared_account,),
                              kwargs={"port": 0, "r2": False, "out": out, "stop": stop})
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "CLOUDFLARE_API_BASE_URL" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = exports_to_env([x for x in out.getvalue().splitlines() if x.startswith("export")])
        r = httpx.get(f"{env['CLOUDFLARE_API_BASE_URL']}/accounts/"
                      f"{env['CLOUDFLARE_ACCOUNT_ID']}/stream/storage-usage",
                      headers={"Authorization": f"Bearer {env['CLOUDFLARE_API_TOKEN']}"})
        assert r.status_code == 200
    finally:
        stop.set()
        worker.join(timeout=10)
    assert not worker.is_alive()


def test_serve_prints_the_stream_only_token_refused_on_graphql(shared_account):
    out, stop = io.StringIO(), threading.Event()
    worker = threading.Thread(target=serve_forever, args=(shared_account,),
                              kwargs={"port": 0, "r2": False, "out": out, "stop": stop})
    worker.start()
    try:
        deadline = time.monotonic() + 10
        while "LC_SANDBOX_CONTROL_TOKEN" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.02)
        env = exports_to_env([x for x in out.getvalue().splitlines() if x.startswith("export")])
    finally:
        stop.set()
        worker.join(timeout=10)
    token = env["LC_SANDBOX_STREAM_ONLY_TOKEN"]
    assert token not in (env["CLOUDFLARE_API_TOKEN"], env["LC_SANDBOX_CONTROL_TOKEN"])
    with start_server(shared_account, r2=False) as srv:  # same seed: same API tokens
        assert token == srv.emulator.stream_only_token
        auth = {"Authorization": f"Bearer {token}"}
        rest = httpx.get(f"{srv.base_url}/accounts/{shared_account.account_id}/stream",
                         params={"limit": 1}, headers=auth)
        assert rest.status_code == 200
        gql = httpx.post(f"{srv.base_url}/graphql", headers=auth,
                         json={"query": "{ viewer { accounts { settings { __typename } } } }"})
        assert gql.status_code == 403
    assert "sandbox advance --days N" in out.getvalue()


def test_graphql_over_http_reaches_the_graphql_endpoint(server, shared_account):
    pytest.importorskip("lc_analytics.sandbox.graphql_api")
    query = """query ($t: string!) { viewer { accounts(filter: {accountTag: $t}) {
        r2StorageAdaptiveGroups(limit: 10, filter: {date: "2026-06-30"}) {
          dimensions { bucketName } max { objectCount } } } } }"""
    body = {"query": query, "variables": {"t": shared_account.account_id}}
    for token, status in ((server.emulator.token, 200), (server.emulator.stream_only_token, 403)):
        r = httpx.post(f"{server.base_url}/graphql", json=body,
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == status, r.text
    assert r.json()["errors"][0]["message"] == "not authorized for that account"


def test_start_server_with_r2_exports_its_credentials(shared_account):
    pytest.importorskip("lc_analytics.sandbox.r2")
    with start_server(shared_account) as srv:
        env = exports_to_env(srv.env_exports())
        assert env["R2_ENDPOINT_URL"] == srv.r2.endpoint_url
        assert env["R2_ACCESS_KEY_ID"] == srv.r2.access_key_id
        assert env["R2_SECRET_ACCESS_KEY"] == srv.r2.secret_access_key
        settings = Settings.from_env(env, env_file=None, require=["stream", "r2"])
        assert settings.r2_endpoint_url == srv.r2.endpoint_url
