"""The emulated Cloudflare REST API: shapes from the reference, values from the account's truth."""

from __future__ import annotations

import json
import math
import sys
import types
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from lc_analytics import Secret
from lc_analytics.sandbox.emulator import Emulator, rfc3339, sandbox_tokens
from lc_analytics.sandbox.runtime import SANDBOX_API_BASE_URL, Sandbox
from lc_analytics.sandbox.transport import EmulatorTransport

from .conftest import END

FIXTURES = Path(__file__).parent / "fixtures" / "cloudflare"
TYPES = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
}


# --- helpers --------------------------------------------------------------------------
def shape(name: str) -> Any:
    return json.loads((FIXTURES / f"{name}.json").read_text())


def assert_shape(value: Any, spec: Any, where: str = "$") -> None:
    """Check `value` against a shape from tests/fixtures/cloudflare (see its README)."""
    if isinstance(spec, str):
        assert TYPES[spec](value), f"{where}: expected {spec}, got {value!r}"
    elif isinstance(spec, list):
        assert any(TYPES[t](value) for t in spec), f"{where}: expected {spec}, got {value!r}"
    elif "$enum" in spec:
        assert value in spec["$enum"], f"{where}: {value!r} not in {spec['$enum']}"
    elif "$items" in spec:
        assert isinstance(value, list), f"{where}: expected an array"
        for i, item in enumerate(value):
            assert_shape(item, spec["$items"], f"{where}[{i}]")
    else:
        assert isinstance(value, dict), f"{where}: expected an object, got {value!r}"
        fields = {k: v for k, v in spec.items() if not k.startswith("$")}
        missing = set(fields) - set(value)
        assert not missing, f"{where}: missing keys {sorted(missing)}"
        if spec.get("$exact"):
            extra = set(value) - set(fields)
            assert not extra, f"{where}: unexpected keys {sorted(extra)}"
        for key, sub in fields.items():
            assert_shape(value[key], sub, f"{where}.{key}")


def client(em: Emulator, token: str | None = "default") -> httpx.Client:
    token = em.token if token == "default" else token
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.Client(transport=EmulatorTransport(em), headers=headers,
                        base_url=f"{SANDBOX_API_BASE_URL}/accounts/{em.account.account_id}")


def assert_error(r: httpx.Response, status: int, code: int) -> dict:
    assert r.status_code == status, r.text
    body = r.json()
    assert_shape(body, shape("envelope")["error"])
    assert body["errors"][0]["code"] == code, body
    return body


def by_uid(result: list[dict]) -> dict[str, dict]:
    return {v["uid"]: v for v in result}


@pytest.fixture(scope="module")
def emulator(shared_account) -> Emulator:
    """Read-only emulator over the shared account (budget high enough for the module)."""
    return Emulator(shared_account, rest_limit=100_000)


@pytest.fixture
def api(emulator):
    with client(emulator) as c:
        yield c


@pytest.fixture
def truth(shared_account) -> pd.DataFrame:
    return shared_account.visible_videos()


# --- list videos ----------------------------------------------------------------------
def test_list_videos_envelope_and_every_video_shape(api, truth):
    r = api.get("/stream", params={"include_counts": "true"})
    assert r.status_code == 200
    body = r.json()
    assert_shape(body, shape("envelope")["success"])
    assert_shape(body, shape("list_videos"))
    for video in body["result"]:
        assert_shape(video, shape("video"))
    assert body["total"] == len(truth) == len(body["result"])
    assert body["range"] == 0
    for name in shape("rate_limit")["always"]:
        assert name in r.headers


def test_video_values_equal_the_accounts_truth(api, truth):
    listed = by_uid(api.get("/stream").json()["result"])
    assert set(listed) == set(truth["uid"])
    for state in ("ready", "error", "pendingupload"):
        row = truth[truth["state"] == state].iloc[0]
        video = listed[row["uid"]]
        assert video["status"]["state"] == state
        assert video["size"] == row["size"]
        assert video["duration"] == pytest.approx(row["duration"])
        assert video["creator"] == row["creator"]
        assert video["liveInput"] == row["live_input"]
        assert video["input"] == {"width": row["width"], "height": row["height"]}
        assert pd.Timestamp(video["created"]) == row["created"]
        assert video["readyToStream"] is (state == "ready")
        assert video["status"]["pctComplete"] == row["pct_complete"]
        assert video["meta"].get("name", "") == row["meta_name"]
        if state == "ready":
            assert pd.Timestamp(video["uploaded"]) == row["uploaded"]
            assert pd.Timestamp(video["readyToStreamAt"]) == row["ready_at"]
        if state == "error":
            assert video["status"]["errorReasonCode"]


def test_limit_cuts_the_page_and_range_counts_the_rest(api, truth):
    body = api.get("/stream", params={"limit": 100, "include_counts": "true"}).json()
    assert len(body["result"]) == 100
    assert body["total"] == len(truth)
    assert body["range"] == len(truth) - 100
    plain = api.get("/stream", params={"limit": 5}).json()
    assert len(plain["result"]) == 5 and "total" not in plain


@pytest.mark.parametrize("asc", [False, True])
def test_order_is_by_created_newest_first_by_default(api, truth, asc):
    params = {"asc": "true"} if asc else {}
    result = api.get("/stream", params=params).json()["result"]
    keys = [(v["created"], v["uid"]) for v in result]
    assert keys == sorted(keys, reverse=not asc)
    assert result[0]["uid"] == truth.sort_values("created", ascending=asc)["uid"].iloc[0]


FILTERS = {
    "creator": lambda t: ({"creator": "creator-0003"}, t["creator"] == "creator-0003"),
    "live_input_id": lambda t: ({"live_input_id": t["live_input"].dropna().iloc[0]},
                                t["live_input"] == t["live_input"].dropna().iloc[0]),
    "type=live": lambda t: ({"type": "live"}, t["live_input"].notna()),
    "type=vod": lambda t: ({"type": "vod"}, t["live_input"].isna()),
    "status": lambda t: ({"status": "error"}, t["state"] == "error"),
    "video_name": lambda t: ({"video_name": t["meta_name"].iloc[3]},
                             t["meta_name"] == t["meta_name"].iloc[3]),
    "search": lambda t: ({"search": "CLIP"}, t["meta_name"].str.contains("clip")),
    "id": lambda t: ({"id": ",".join(t["uid"].iloc[[1, 5, 9]])},
                     t["uid"].isin(t["uid"].iloc[[1, 5, 9]])),
    "start/end": lambda t: (
        {"start": "2026-05-01T00:00:00Z", "end": "2026-05-31T00:00:00Z"},
        (t["created"] >= pd.Timestamp("2026-05-01", tz="UTC"))
        & (t["created"] <= pd.Timestamp("2026-05-31", tz="UTC"))),
    "after/before": lambda t: (
        {"after": rfc3339(t["created"].iloc[10]), "before": rfc3339(t["created"].iloc[40])},
        (t["created"] >= t["created"].iloc[10]) & (t["created"] <= t["created"].iloc[40])),
}


@pytest.mark.parametrize("name", FILTERS)
def test_filters_match_the_truth(api, truth, name):
    params, expected = FILTERS[name](truth)
    body = api.get("/stream", params={**params, "include_counts": "true"}).json()
    want = set(truth.loc[expected, "uid"])
    assert want, "the filter should select something"
    assert {v["uid"] for v in body["result"]} == want
    assert body["total"] == len(want)


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "1001"}, {"limit": "ten"}, {"asc": "maybe"},
    {"start": "yesterday"}, {"before": "2026-13-01T00:00:00Z"}, {"status": "done"},
    {"type": "both"}, {"include_counts": "yes please"},
])
def test_bad_list_parameters_are_400(api, params):
    assert_error(api.get("/stream", params=params), 400, 10011)


@pytest.mark.parametrize("asc", [True, False])
def test_paging_by_created_with_shared_timestamps_yields_every_video_once(
        account, monkeypatch, asc):
    """A client that pages by the last `created` and de-duplicates by uid misses nothing."""
    untouched = account.visible_videos

    def tied() -> pd.DataFrame:  # groups of 7 consecutive videos share one created second
        v = untouched()
        order = v.rename_axis(None).sort_values(["created", "uid"]).index
        group = np.arange(len(order)) // 7
        v.loc[order, "created"] = v.loc[order, "created"].groupby(group).transform("first")
        return v

    monkeypatch.setattr(account, "visible_videos", tied)
    truth = tied()
    assert truth["created"].duplicated().sum() > len(truth) // 2
    seen: dict[str, dict] = {}
    served = 0
    cursor = None
    with client(Emulator(account)) as api:
        while True:
            params = {"limit": 25, "asc": str(asc).lower()}
            if cursor is not None:
                params["after" if asc else "before"] = cursor
            page = api.get("/stream", params=params).json()["result"]
            served += len(page)
            new = [v for v in page if v["uid"] not in seen]
            if not new:
                break
            seen.update(by_uid(new))
            cursor = page[-1]["created"]
    assert sorted(seen) == sorted(truth["uid"])
    assert served > len(seen), "ties straddled pages: the client had to de-duplicate"


# --- single video, edit, delete -------------------------------------------------------
def test_get_one_video_equals_its_list_item(api, truth):
    uid = truth["uid"].iloc[0]
    r = api.get(f"/stream/{uid}")
    assert r.status_code == 200
    assert_shape(r.json()["result"], shape("video"))
    assert r.json()["result"] == api.get("/stream", params={"id": uid}).json()["result"][0]
    assert_error(api.get(f"/stream/{'0' * 32}"), 404, 10003)


def test_video_edits_are_visible_in_the_next_listing(account):
    truth = account.visible_videos()
    row = truth[(truth["state"] == "ready") & truth["live_input"].notna()].iloc[-1]
    uid = row["uid"]
    when = account.now + pd.Timedelta(days=60)
    with client(Emulator(account)) as api:
        r = api.post(f"/stream/{uid}", json={"scheduledDeletion": rfc3339(when)})
        assert r.status_code == 200, r.text
        assert r.json()["result"]["scheduledDeletion"] == rfc3339(when)
        listed = api.get("/stream", params={"id": uid}).json()["result"][0]
        assert listed["scheduledDeletion"] == rfc3339(when)
        assert listed["modified"] == rfc3339(account.now)
        assert account.visible_videos().at[uid, "scheduled_deletion"] == when

        too_early = row["uploaded"] + pd.Timedelta(days=29)
        body = assert_error(
            api.post(f"/stream/{uid}", json={"scheduledDeletion": rfc3339(too_early)}),
            400, 10011)
        assert "30 days" in body["errors"][0]["message"]
        assert api.get(f"/stream/{uid}").json()["result"]["scheduledDeletion"] == rfc3339(when)

        assert api.post(f"/stream/{uid}", json={"scheduledDeletion": None}).status_code == 200
        assert api.get("/stream", params={"id": uid}).json()["result"][0][
            "scheduledDeletion"] is None

        assert api.post(f"/stream/{uid}", json={"meta": {"name": "Best of spring"}}
                        ).status_code == 200
        found = api.get("/stream", params={"video_name": "Best of spring"}).json()["result"]
        assert [v["uid"] for v in found] == [uid]

        assert_error(api.post(f"/stream/{uid}", json={"meta": "x"}), 400, 10011)
        assert_error(api.post(f"/stream/{uid}", json={"scheduledDeletion": "soon"}), 400, 10011)
        assert_error(api.post(f"/stream/{uid}", content=b"{not json"), 400, 6007)
        assert_error(api.post(f"/stream/{'0' * 32}", json={"meta": {}}), 404, 10003)


def test_delete_removes_the_video_from_listing_and_storage(account):
    truth = account.visible_videos()
    uid = truth[truth["state"] == "ready"]["uid"].iloc[0]
    with client(Emulator(account)) as api:
        before = api.get("/stream/storage-usage").json()["result"]
        r = api.delete(f"/stream/{uid}")
        assert r.status_code == 200
        assert_shape(r.json(), shape("envelope")["success"])
        assert_error(api.get(f"/stream/{uid}"), 404, 10003)
        body = api.get("/stream", params={"include_counts": "true"}).json()
        assert body["total"] == len(truth) - 1 and uid not in by_uid(body["result"])
        after = api.get("/stream/storage-usage").json()["result"]
        assert after["videoCount"] == before["videoCount"] - 1
        assert after == account.storage_usage()
        assert_error(api.delete(f"/stream/{uid}"), 404, 10003)


# --- live inputs ----------------------------------------------------------------------
def test_live_input_list_is_abbreviated_and_complete(api, shared_account):
    r = api.get("/stream/live_inputs")
    assert r.status_code == 200
    result = r.json()["result"]
    assert_shape(result, shape("live_input_list"))
    state = shared_account.visible_live_inputs()
    assert result["total"] == len(state) == len(result["liveInputs"])
    for item in result["liveInputs"]:
        want = state.loc[item["uid"], "delete_recording_after_days"]
        assert item["deleteRecordingAfterDays"] == (None if pd.isna(want) else want)
        assert item["meta"] == {"name": state.loc[item["uid"], "name"]}


def test_each_live_input_has_the_full_shape(api, shared_account):
    state = shared_account.visible_live_inputs()
    for uid in state["uid"]:
        result = api.get(f"/stream/live_inputs/{uid}").json()["result"]
        assert_shape(result, shape("live_input"))
        assert result["recording"]["mode"] == state.loc[uid, "recording_mode"]
        assert result["status"] == state.loc[uid, "status"]
        assert result["enabled"] == state.loc[uid, "enabled"]
    assert_error(api.get(f"/stream/live_inputs/{'0' * 32}"), 404, 10003)


def test_live_input_update_is_validated_and_visible_in_the_next_listing(account):
    uid = account.visible_live_inputs()["uid"].iloc[0]
    with client(Emulator(account)) as api:
        r = api.put(f"/stream/live_inputs/{uid}", json={"deleteRecordingAfterDays": 90})
        assert r.status_code == 200, r.text
        assert r.json()["result"]["deleteRecordingAfterDays"] == 90
        items = by_uid(api.get("/stream/live_inputs").json()["result"]["liveInputs"])
        assert items[uid]["deleteRecordingAfterDays"] == 90
        assert items[uid]["modified"] == rfc3339(account.now)
        assert account.visible_live_inputs().loc[uid, "delete_recording_after_days"] == 90

        for bad in (29, 1097, "60", 45.5):
            assert_error(api.put(f"/stream/live_inputs/{uid}",
                                 json={"deleteRecordingAfterDays": bad}), 400, 10011)
        assert api.get(f"/stream/live_inputs/{uid}").json()["result"][
            "deleteRecordingAfterDays"] == 90

        r = api.put(f"/stream/live_inputs/{uid}", json={
            "deleteRecordingAfterDays": None, "recording": {"mode": "off"},
            "enabled": False, "meta": {"name": "Renamed live"}})
        assert r.status_code == 200, r.text
        full = api.get(f"/stream/live_inputs/{uid}").json()["result"]
        assert full["deleteRecordingAfterDays"] is None
        assert full["recording"]["mode"] == "off"
        assert full["enabled"] is False and full["meta"] == {"name": "Renamed live"}

        assert_error(api.put(f"/stream/live_inputs/{uid}", json={"recording": {"mode": "x"}}),
                     400, 10011)
        assert_error(api.put(f"/stream/live_inputs/{uid}", json={"enabled": "no"}), 400, 10011)
        assert_error(api.put(f"/stream/live_inputs/{uid}", content=b"[1, 2"), 400, 6007)
        assert_error(api.put(f"/stream/live_inputs/{'0' * 32}", json={}), 404, 10003)


# --- storage usage --------------------------------------------------------------------
def test_storage_usage_equals_the_accounts_truth(api, shared_account):
    result = api.get("/stream/storage-usage").json()["result"]
    assert_shape(result, shape("storage_usage"))
    assert result == shared_account.storage_usage()
    assert result["videoCount"] == len(shared_account.visible_videos())
    one = api.get("/stream/storage-usage", params={"creator": "creator-0002"}).json()["result"]
    assert one == shared_account.storage_usage("creator-0002")
    assert 0 < one["totalStorageMinutes"] < result["totalStorageMinutes"]


# --- auth -----------------------------------------------------------------------------
def test_missing_wrong_or_malformed_tokens_are_403(emulator):
    for token, code in ((None, 10000), ("A" * 40, 10000), ("bad token!", 9109)):
        with client(emulator, token) as api:
            r = api.get("/stream")
            assert_error(r, 403, code)
            assert "x-ratelimit-limit" in r.headers
    with httpx.Client(transport=EmulatorTransport(emulator)) as raw:
        r = raw.get(f"{SANDBOX_API_BASE_URL}/accounts/{emulator.account.account_id}/stream",
                    headers={"Authorization": f"Basic {emulator.token}"})
        assert_error(r, 403, 9109)


def test_a_token_for_another_account_is_403(emulator):
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=SANDBOX_API_BASE_URL,
                      headers={"Authorization": f"Bearer {emulator.token}"}) as api:
        assert_error(api.get(f"/accounts/{'f' * 32}/stream"), 403, 9109)


def test_default_tokens_come_from_the_seed(shared_account):
    em = Emulator(shared_account)
    tokens = sandbox_tokens(shared_account.seed)
    assert tokens == sandbox_tokens(shared_account.seed) != sandbox_tokens(8)
    assert tokens[em.token] == {"stream:read", "stream:write", "analytics:read",
                                "notifications:read", "notifications:write",
                                "zone:analytics:read", "zone:cache_rules:edit", "billing:read"}
    assert "analytics:read" not in tokens[em.stream_only_token]
    assert isinstance(em.token, str) and em.token != em.stream_only_token


def test_permissions_gate_reads_and_writes(shared_account):
    em = Emulator(shared_account, tokens={"read-only-token-1": {"stream:read"}})
    assert em.token is None and em.stream_only_token == "read-only-token-1"
    with client(em, "read-only-token-1") as api:
        assert api.get("/stream", params={"limit": 1}).status_code == 200
        uid = shared_account.visible_live_inputs()["uid"].iloc[0]
        assert_error(api.put(f"/stream/live_inputs/{uid}", json={}), 403, 10000)


# --- GraphQL delegation ---------------------------------------------------------------
@pytest.fixture
def fake_graphql(monkeypatch):
    """Stand-in for lc_analytics.sandbox.graphql_api that records what it was given."""
    calls: list[tuple[dict, set]] = []

    class GraphQLEndpoint:
        def __init__(self, account) -> None:
            self.account = account

        def execute(self, payload: dict, permissions: set[str]) -> tuple[int, dict]:
            calls.append((payload, permissions))
            return 200, {"data": {"echo": payload.get("query")}, "errors": None}

    module = types.ModuleType("lc_analytics.sandbox.graphql_api")
    module.GraphQLEndpoint = GraphQLEndpoint  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "lc_analytics.sandbox.graphql_api", module)
    return calls


def graphql(em: Emulator, token: str | None, body: bytes) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(transport=EmulatorTransport(em)) as c:
        return c.post(f"{SANDBOX_API_BASE_URL}/graphql", content=body, headers=headers)


def test_graphql_is_delegated_with_the_tokens_permissions(shared_account, fake_graphql):
    em = Emulator(shared_account)
    r = graphql(em, em.token, json.dumps({"query": "{ viewer { __typename } }"}).encode())
    assert r.status_code == 200
    assert r.json() == {"data": {"echo": "{ viewer { __typename } }"}, "errors": None}
    assert fake_graphql == [({"query": "{ viewer { __typename } }"},
                             {"stream:read", "stream:write", "analytics:read",
                              "notifications:read", "notifications:write",
                              "zone:analytics:read", "zone:cache_rules:edit", "billing:read"})]
    assert "x-ratelimit-limit" not in r.headers


def test_graphql_refuses_the_stream_only_token_and_bad_tokens(shared_account, fake_graphql):
    em = Emulator(shared_account)
    body = json.dumps({"query": "{ viewer { __typename } }"}).encode()
    with client(em, em.stream_only_token) as api:
        assert api.get("/stream", params={"limit": 1}).status_code == 200
    r = graphql(em, em.stream_only_token, body)
    assert r.status_code == 403
    assert_shape(r.json(), shape("graphql_error"))
    assert r.json()["errors"][0]["message"] == "not authorized for that account"
    for token in (None, "B" * 40):
        r = graphql(em, token, body)
        assert r.status_code == 401
        assert_shape(r.json(), shape("graphql_error"))
    r = graphql(em, em.token, b"{oops")
    assert r.status_code == 400
    assert_shape(r.json(), shape("graphql_error"))
    assert fake_graphql == []


def test_graphql_has_its_own_budget(shared_account, fake_graphql):
    em = Emulator(shared_account, graphql_limit=2, rest_limit=5)
    body = json.dumps({"query": "{ a }"}).encode()
    assert [graphql(em, em.token, body).status_code for _ in range(2)] == [200, 200]
    r = graphql(em, em.token, body)
    assert r.status_code == 429
    assert_shape(r.json(), shape("graphql_error"))
    error = r.json()["errors"][0]
    assert error["message"] == "rate limiter budget depleted, try again after 5 minutes"
    assert error["extensions"]["code"] == "budget"
    assert "x-ratelimit-remaining" not in r.headers
    with client(em) as api:
        assert api.get("/stream", params={"limit": 1}).headers["x-ratelimit-remaining"] == "4"


# --- rate limiting --------------------------------------------------------------------
def test_rest_rate_limit_answers_429_with_retry_headers(shared_account):
    now = [1000.0]
    em = Emulator(shared_account, rest_limit=3, clock=lambda: now[0])
    spec = shape("rate_limit")
    with client(em) as api:
        remaining = []
        for step in (0.0, 5.0, 10.0):
            now[0] = 1000.0 + step
            r = api.get("/stream/storage-usage")
            assert r.status_code == 200
            assert r.headers["x-ratelimit-limit"] == "3"
            remaining.append(r.headers["x-ratelimit-remaining"])
        assert remaining == ["2", "1", "0"]
        now[0] = 1010.5
        r = api.get("/stream/storage-usage")
        body = assert_error(r, 429, spec["code_429"])
        assert body["errors"][0]["message"] == spec["message_429"].format(limit=3, window=300)
        for name in spec["always"] + spec["on_429"]:
            assert name in r.headers
        assert r.headers["retry-after"] == str(math.ceil(1300.0 - 1010.5)) == "290"
        assert r.headers["x-ratelimit-remaining"] == "0"
        assert parsedate_to_datetime(r.headers["x-ratelimit-reset"]).tzinfo is not None
        now[0] = 1300.0  # the first request has left the window
        assert api.get("/stream/storage-usage").status_code == 200
        assert api.get("/stream/storage-usage").status_code == 429
    with client(em, em.stream_only_token) as other:  # budgets are per token
        assert other.get("/stream/storage-usage").status_code == 200


# --- routing --------------------------------------------------------------------------
def test_unknown_routes_wrong_methods_and_bad_bodies(api, emulator, truth):
    body = assert_error(api.get("/stream/uploads/extra"), 404, 7003)
    assert "perhaps your object identifier is invalid" in body["errors"][0]["message"]
    assert_error(api.get(f"/stream/{'x' * 32}"), 404, 7003)
    uid = truth["uid"].iloc[0]
    assert_error(api.patch(f"/stream/{uid}", json={}), 405, 10000)
    assert_error(api.post("/stream/storage-usage", json={}), 405, 10000)
    with httpx.Client(transport=EmulatorTransport(emulator)) as raw:
        assert_error(raw.get("http://sandbox.local/v4/zones"), 404, 7003)
        assert raw.get(f"{SANDBOX_API_BASE_URL}/graphql").status_code == 405


def test_handle_accepts_a_parsed_query(emulator):
    r = emulator.handle("GET", f"/client/v4/accounts/{emulator.account.account_id}/stream",
                        {"limit": ["2"], "asc": ["true"]},
                        {"authorization": f"Bearer {emulator.token}"}, b"")
    assert r.status == 200 and len(r.json()["result"]) == 2


# --- the in-process façade ------------------------------------------------------------
def test_sandbox_settings_point_at_the_emulator(shared_account, tmp_path):
    with Sandbox(shared_account, r2=False) as sb:
        settings = sb.settings(db_path=tmp_path / "w.duckdb")
        assert settings.account_id == shared_account.account_id
        assert settings.api_token == Secret(sb.token) and sb.token == sb.emulator.token
        assert sb.token not in repr(settings)
        assert settings.api_base_url == "http://sandbox.local/client/v4"
        assert settings.customer_code == sb.emulator.customer_code
        assert settings.db_path == tmp_path / "w.duckdb" and sb.r2 is None
        with httpx.Client(transport=sb.transport, base_url=settings.api_base_url) as c:
            r = c.get(f"/accounts/{settings.account_id}/stream/storage-usage",
                      headers={"Authorization": f"Bearer {settings.api_token.reveal()}"})
        assert r.json()["result"] == shared_account.storage_usage()


def test_sandbox_build_makes_the_same_account_as_the_seed(shared_account):
    with Sandbox.build(end=END, r2=False, rest_limit=10) as sb:
        assert sb.account.account_id == shared_account.account_id
        assert sb.emulator.rest_limiter.limit == 10


def test_sandbox_with_r2_fills_the_r2_settings(shared_account):
    pytest.importorskip("lc_analytics.sandbox.r2")
    with Sandbox(shared_account) as sb:
        settings = sb.settings()
        assert settings.r2_endpoint_url == sb.r2.endpoint_url
        assert settings.r2_access_key_id == sb.r2.access_key_id
        assert settings.r2_secret_access_key == Secret(sb.r2.secret_access_key)
