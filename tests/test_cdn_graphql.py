"""The emulated GraphQL zone scope: its plan's limits refused as Cloudflare refuses them, the
permission it needs, and the sampled counts' relation to the truth."""

from __future__ import annotations

import pandas as pd

from lc_analytics.sandbox.graphql_api import GraphQLEndpoint

ZONE_READ = {"zone:analytics:read"}


def _ask(endpoint: GraphQLEndpoint, zone_id: str, body: str, permissions=ZONE_READ):
    query = ("query ($z: string!) { viewer { zones(filter: {zoneTag: $z}) { " + body
             + " } } }")
    return endpoint.execute({"query": query, "variables": {"z": zone_id}}, set(permissions))


def _message(answer) -> str:
    return answer[1]["errors"][0]["message"]


def test_zone_scope_limits_permission_and_sampling(account):
    zone, now = account.zone, account.now
    ep = GraphQLEndpoint(account)
    day = '{datetime_geq: "2026-06-30T00:00:00Z", datetime_lt: "2026-07-01T00:00:00Z"}'
    rows = ("count avg { sampleInterval } sum { edgeResponseBytes } dimensions { "
            "clientRequestPath cacheStatus edgeResponseStatus clientCountryName datetimeHour }")
    status, body = _ask(ep, zone.zone_id, f"r: httpRequestsAdaptiveGroups(limit: 10000, "
                                          f"filter: {day}) {{ {rows} }}")
    assert status == 200
    got = pd.json_normalize(body["data"]["viewer"]["zones"][0]["r"])
    truth = zone.hourly(now, now - pd.Timedelta(days=1))
    assert len(got) <= len(truth)  # groups whose sample drew nothing are absent
    exact = got["avg.sampleInterval"] == 1
    assert exact.any() and (got["avg.sampleInterval"] > 1).any()
    keyed = truth.assign(hour=truth["hour"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")).set_index(
        ["hour", "path", "cache_status", "status", "country"])["requests"]
    index = list(zip(got["dimensions.datetimeHour"], got["dimensions.clientRequestPath"],
                     got["dimensions.cacheStatus"], got["dimensions.edgeResponseStatus"],
                     got["dimensions.clientCountryName"], strict=True))
    expected = keyed.loc[index].to_numpy()
    assert (got.loc[exact, "count"].to_numpy() == expected[exact.to_numpy()]).all()
    assert (got["count"] % got["avg.sampleInterval"].round().astype(int) == 0).all()
    # the plan's limits, as the settings node states them, are enforced
    too_big = _ask(ep, zone.zone_id, f"httpRequestsAdaptiveGroups(limit: 10001, filter: {day})"
                                     " { count }")
    assert too_big[0] == 400 and "not greater than 10000" in _message(too_big)
    wide = _ask(ep, zone.zone_id, 'httpRequestsAdaptiveGroups(limit: 10, filter: {datetime_geq:'
                                  ' "2026-06-01T00:00:00Z", datetime_lt: "2026-06-30T00:00:00Z"}'
                                  ") { count }")
    assert wide[0] == 400 and "can't be wider than 1w" in _message(wide)
    old = _ask(ep, zone.zone_id, 'httpRequests1dGroups(limit: 10, filter: {date_geq: '
                                 '"2025-06-01", date_lt: "2025-06-10"}) { sum { requests } }')
    assert old[0] == 400 and "older than 52w1d" in _message(old)
    zone.plan = "free"  # this test's own account
    free = _ask(ep, zone.zone_id, "settings { httpRequestsAdaptiveGroups { notOlderThan "
                                  "maxDuration maxPageSize } }")
    assert free[1]["data"]["viewer"]["zones"][0]["settings"] == {
        "httpRequestsAdaptiveGroups": {"notOlderThan": 3 * 86_400, "maxDuration": 86_400,
                                       "maxPageSize": 1_000}}
    other = _ask(ep, "f" * 32, "zoneTag")
    assert other[0] == 200 and "not authorized for that zone" in _message(other)
    refused = _ask(ep, zone.zone_id, "zoneTag", {"analytics:read"})
    assert refused[0] == 403
    accounts_only = ep.execute({"query": "{ viewer { accounts(filter: {accountTag: \"x\"}) "
                                         "{ __typename } } }"}, set(ZONE_READ))
    assert accounts_only[0] == 403
