"""The emulated GraphQL Analytics API answers with the simulator's ground truth, exactly."""

from __future__ import annotations

import json
from itertools import pairwise

import pandas as pd
import pytest
from graphql import Executor

from lc_analytics.sandbox import SimulatedAccount, graphql_api
from lc_analytics.sandbox.graphql_api import ANALYTICS_READ, GraphQLEndpoint, _Rows, schema

READ = {ANALYTICS_READ}
DAY = pd.Timedelta(days=1)

# Reference section 2.1, copied as published (variables: accountTag, start, end).
REFERENCE_SAMPLE = """
query ($accountTag: string!, $start: Date, $end: Date) {
  viewer { accounts(filter: {accountTag: $accountTag}) {
    streamMinutesViewedAdaptiveGroups(
      filter: {date_geq: $start, date_lt: $end}
      orderBy: [sum_minutesViewed_DESC], limit: 100) {
      sum { minutesViewed }
      dimensions { uid clientCountryName }
  } } }
}
"""

DATASET_QUERY = """
query ($accountTag: string!, $filter: Account%(type)sFilter_InputObject, $limit: uint64!,
       $orderBy: [Account%(type)sOrderBy!]) {
  viewer { accounts(filter: {accountTag: $accountTag}) {
    %(field)s(filter: $filter, limit: $limit, orderBy: $orderBy) { %(select)s }
  } }
}
"""
TYPES = {"streamMinutesViewedAdaptiveGroups": "StreamMinutesViewedAdaptiveGroups",
         "r2StorageAdaptiveGroups": "R2StorageAdaptiveGroups",
         "r2OperationsAdaptiveGroups": "R2OperationsAdaptiveGroups"}


@pytest.fixture(scope="module")
def api(shared_account: SimulatedAccount) -> GraphQLEndpoint:
    return GraphQLEndpoint(shared_account)


def ask(api: GraphQLEndpoint, query: str, variables: dict | None = None,
        permissions: set[str] = READ) -> tuple[int, dict]:
    return api.execute({"query": query, "variables": variables}, permissions)


def fetch(api: GraphQLEndpoint, dataset: str, select: str, flt: dict, *, limit: int = 10_000,
          order_by: list[str] | None = None) -> list[dict]:
    """Rows of one dataset query; fails the test on any error."""
    query = DATASET_QUERY % {"type": TYPES[dataset], "field": dataset, "select": select}
    status, body = ask(api, query, {"accountTag": api.account.account_id, "filter": flt,
                                    "limit": limit, "orderBy": order_by})
    assert status == 200 and body["errors"] is None, body["errors"]
    return body["data"]["viewer"]["accounts"][0][dataset]


def flat(rows: list[dict]) -> pd.DataFrame:
    """Rows as a frame: dimensions and metric groups flattened to columns."""
    return pd.json_normalize(rows).rename(columns=lambda c: c.split(".")[-1])


def error_of(status_body: tuple[int, dict]) -> tuple[int, str, str | None]:
    status, body = status_body
    assert body["data"] is None
    first = body["errors"][0]
    return status, first["message"], first["extensions"].get("code")


def day(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%d")


def windows(now: pd.Timestamp, days: int, width: int = 31) -> list[tuple[str, str]]:
    """[date_geq, date_lt) windows of at most `width` days covering the last `days` days."""
    edges = list(range(days, 0, -width)) + [0]
    return [(day(now - a * DAY), day(now - b * DAY)) for a, b in pairwise(edges)]


# --- Stream -----------------------------------------------------------------------------
def test_reference_sample_validates_and_answers(api: GraphQLEndpoint,
                                                shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    start, end = now - 30 * DAY, now
    status, body = ask(api, REFERENCE_SAMPLE, {"accountTag": shared_account.account_id,
                                               "start": day(start), "end": day(end)})
    assert status == 200 and body["errors"] is None
    got = flat(body["data"]["viewer"]["accounts"][0]["streamMinutesViewedAdaptiveGroups"])
    mv = shared_account.minutes_viewed()
    mv = mv[(mv["date"] >= start) & (mv["date"] < end)]
    truth = mv.groupby(["uid", "country"], as_index=False)["minutes_viewed"].sum()
    truth = truth.sort_values(["minutes_viewed", "uid", "country"],
                              ascending=[False, True, True]).head(100)  # ties: keys ascending
    assert got["minutesViewed"].tolist() == truth["minutes_viewed"].tolist()
    assert got["uid"].tolist() == truth["uid"].tolist()
    assert got["clientCountryName"].tolist() == truth["country"].tolist()


def test_daily_minutes_over_the_last_90_days_equal_truth(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    rows = []
    for lo, hi in windows(now, 90):
        rows += fetch(api, "streamMinutesViewedAdaptiveGroups",
                      "count sum { minutesViewed } dimensions { date }",
                      {"date_geq": lo, "date_lt": hi}, order_by=["date_ASC"])
    got = flat(rows)
    truth = shared_account.ground_truth()
    daily = truth.minutes_viewed_daily
    daily = daily[daily["date"] >= now - 90 * DAY]
    assert got["date"].tolist() == [day(d) for d in daily["date"]]
    assert got["minutesViewed"].tolist() == daily["minutes_viewed"].tolist()
    counts = truth.minutes_viewed.groupby("date").size()
    assert got["count"].tolist() == counts[counts.index >= now - 90 * DAY].tolist()


def test_per_video_totals_equal_truth(api: GraphQLEndpoint,
                                      shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    rows = []
    for lo, hi in windows(now, 90):
        rows += fetch(api, "streamMinutesViewedAdaptiveGroups",
                      "sum { minutesViewed } dimensions { uid }",
                      {"date_geq": lo, "date_lt": hi})
    got = flat(rows).groupby("uid")["minutesViewed"].sum()
    mv = shared_account.ground_truth().minutes_viewed
    truth = mv[mv["date"] >= now - 90 * DAY].groupby("uid")["minutes_viewed"].sum()
    pd.testing.assert_series_equal(got, truth, check_names=False)


def test_uid_gt_pagination_reads_every_video_once(api: GraphQLEndpoint,
                                                  shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    lo, hi = day(now - 31 * DAY), day(now)
    pages, last = [], None
    while True:
        parts = [{"date_geq": lo}, {"date_lt": hi}] + ([{"uid_gt": last}] if last else [])
        page = fetch(api, "streamMinutesViewedAdaptiveGroups",
                     "sum { minutesViewed } dimensions { uid }", {"AND": parts},
                     limit=100, order_by=["uid_ASC"])
        pages.append(page)
        if len(page) < 100:
            break
        last = page[-1]["dimensions"]["uid"]
    got = flat([r for p in pages for r in p]).set_index("uid")["minutesViewed"]
    mv = shared_account.minutes_viewed()
    mv = mv[mv["date"] >= now - 31 * DAY]
    truth = mv.groupby("uid")["minutes_viewed"].sum()
    assert len(pages) == -(-len(truth) // 100) + (len(truth) % 100 == 0)
    assert got.index.is_unique
    pd.testing.assert_series_equal(got, truth, check_names=False)


def test_keyset_pagination_on_a_composite_key_reproduces_the_grouped_set(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    """Pages of 1000 ordered by (date, uid, country, creator), next page after the last key."""
    now = shared_account.now
    lo, hi = now - 10 * DAY, now
    keys = ["date", "uid", "clientCountryName", "creator"]
    order = [f"{k}_ASC" for k in keys]
    window = {"date_geq": day(lo), "date_lt": day(hi)}
    rows: list[dict] = []
    after: dict | None = None
    while True:
        flt = dict(window)
        if after is not None:  # (k1 > a1) or (k1 = a1 and k2 > a2) or ...
            flt["OR"] = [{**{k: after[k] for k in keys[:i]}, f"{keys[i]}_gt": after[keys[i]]}
                         for i in range(len(keys))]
        page = fetch(api, "streamMinutesViewedAdaptiveGroups",
                     "sum { minutesViewed } dimensions { " + " ".join(keys) + " }", flt,
                     limit=1000, order_by=order)
        rows += page
        if len(page) < 1000:
            break
        after = page[-1]["dimensions"]
    got = flat(rows)
    mv = shared_account.minutes_viewed()
    truth = mv[(mv["date"] >= lo) & (mv["date"] < hi)].sort_values(
        ["date", "uid", "country", "creator"])
    assert len(rows) > 3000  # several pages really were read
    assert not got.duplicated(keys).any()
    assert got["date"].tolist() == [day(d) for d in truth["date"]]
    assert got["uid"].tolist() == truth["uid"].tolist()
    assert got["clientCountryName"].tolist() == truth["country"].tolist()
    assert got["creator"].tolist() == truth["creator"].tolist()
    assert got["minutesViewed"].tolist() == truth["minutes_viewed"].tolist()


def test_a_full_31_day_page_is_exact(api: GraphQLEndpoint,
                                              shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    flt = {"date_geq": day(now - 31 * DAY), "date_lt": day(now)}
    select = "count sum { minutesViewed } dimensions { date uid clientCountryName creator }"
    order = ["date_ASC", "uid_ASC", "clientCountryName_ASC", "creator_ASC"]
    rows = fetch(api, "streamMinutesViewedAdaptiveGroups", select, flt, order_by=order)
    mv = shared_account.minutes_viewed()
    truth = mv[mv["date"] >= now - 31 * DAY].head(10_000)  # already in key order
    got = flat(rows)
    assert len(got) == 10_000
    assert got["minutesViewed"].tolist() == truth["minutes_viewed"].tolist()
    assert got["uid"].tolist() == truth["uid"].tolist()
    assert set(got["count"]) == {1}


def test_filters_on_dimensions(api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    mv = shared_account.minutes_viewed()
    mv = mv[mv["date"] >= now - 7 * DAY]
    creator = mv["creator"].iloc[0]
    uids = sorted(mv["uid"].unique())[:3]
    base = {"date_geq": day(now - 7 * DAY)}
    rows = fetch(api, "streamMinutesViewedAdaptiveGroups", "sum { minutesViewed }",
                 {**base, "creator": creator, "clientCountryName_in": ["US", "IN"]})
    sub = mv[(mv["creator"] == creator) & mv["country"].isin(["US", "IN"])]
    assert rows == [{"sum": {"minutesViewed": int(sub["minutes_viewed"].sum())}}]
    rows = fetch(api, "streamMinutesViewedAdaptiveGroups", "dimensions { uid }",
                 {**base, "uid_in": uids}, order_by=["uid_DESC"])
    assert [r["dimensions"]["uid"] for r in rows] == uids[::-1]


# --- R2 ---------------------------------------------------------------------------------
def test_r2_storage_per_bucket_per_day_equals_truth(api: GraphQLEndpoint,
                                                    shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    rows = fetch(api, "r2StorageAdaptiveGroups",
                 "max { payloadSize metadataSize objectCount uploadCount } "
                 "dimensions { date datetime bucketName }",
                 {"datetime_geq": (now - 31 * DAY).isoformat(), "datetime_lt": now.isoformat()},
                 order_by=["bucketName_ASC", "date_ASC"])
    got = flat(rows)
    truth = shared_account.ground_truth().r2_storage_daily
    truth = truth[truth["date"] >= now - 31 * DAY].sort_values(["bucket", "date"])
    assert len(got) == len(truth) == 31 * truth["bucket"].nunique()
    assert got["date"].tolist() == [day(d) for d in truth["date"]]
    assert got["datetime"].tolist() == [d.strftime("%Y-%m-%dT00:00:00Z") for d in truth["date"]]
    assert got["bucketName"].tolist() == truth["bucket"].tolist()
    for mine, theirs in [("payloadSize", "payload_size"), ("metadataSize", "metadata_size"),
                         ("objectCount", "object_count"), ("uploadCount", "upload_count")]:
        assert got[mine].tolist() == truth[theirs].tolist()


def test_r2_operations_per_day_bucket_action_status_equal_truth(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    rows = fetch(api, "r2OperationsAdaptiveGroups",
                 "sum { requests } dimensions { date bucketName actionType actionStatus }",
                 {"date_geq": day(now - 31 * DAY), "date_lt": day(now)},
                 order_by=["date_ASC", "bucketName_ASC", "actionType_ASC", "actionStatus_ASC"])
    got = flat(rows)
    truth = shared_account.ground_truth().r2_operations_daily
    truth = truth.groupby(["date", "bucket", "action_type", "action_status"], as_index=False)[
        "requests"].sum()  # the query leaves out responseStatusCode: its codes add up
    truth = truth[(truth["date"] >= now - 31 * DAY) & (truth["requests"] > 0)].sort_values(
        ["date", "bucket", "action_type", "action_status"])
    assert got["date"].tolist() == [day(d) for d in truth["date"]]
    assert got["bucketName"].tolist() == truth["bucket"].tolist()
    assert got["actionType"].tolist() == truth["action_type"].tolist()
    assert got["actionStatus"].tolist() == truth["action_status"].tolist()
    assert got["requests"].tolist() == truth["requests"].tolist()


def test_r2_operations_status_codes_and_object_filter(api: GraphQLEndpoint,
                                                      shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    window = {"datetime_geq": (now - 7 * DAY).isoformat(), "datetime_leq": now.isoformat()}
    rows = fetch(api, "r2OperationsAdaptiveGroups",
                 "sum { requests } dimensions { actionStatus responseStatusCode }", window)
    codes = {(r["dimensions"]["actionStatus"], r["dimensions"]["responseStatusCode"])
             for r in rows}
    assert codes == {("success", 200), ("userError", 401), ("userError", 403),
                     ("userError", 404), ("internalError", 500)}
    ops = shared_account.r2_operations()
    ops = ops[(ops["date"] >= now - 7 * DAY) & (ops["object_name"] != "")]
    name = ops["object_name"].iloc[0]
    rows = fetch(api, "r2OperationsAdaptiveGroups", "sum { requests } dimensions { objectName }",
                 {**window, "objectName": name})
    assert rows == [{"sum": {"requests": int(ops.loc[ops["object_name"] == name,
                                                     "requests"].sum())},
                     "dimensions": {"objectName": name}}]


# --- limits and errors ------------------------------------------------------------------
def stream_count(api: GraphQLEndpoint, flt: dict, limit: int = 10) -> tuple[int, dict]:
    """`count` over a Stream window, answered as is (errors included)."""
    query = DATASET_QUERY % {"type": TYPES["streamMinutesViewedAdaptiveGroups"],
                             "field": "streamMinutesViewedAdaptiveGroups", "select": "count"}
    return ask(api, query, {"accountTag": api.account.account_id, "filter": flt,
                            "limit": limit})


def literal_query(api: GraphQLEndpoint, flt: str) -> str:
    """A Stream query with its filter written inline, as a GraphQL literal."""
    return ('{ viewer { accounts(filter: {accountTag: "' + api.account.account_id + '"}) { '
            "streamMinutesViewedAdaptiveGroups(limit: 10, filter: " + flt + ") { count } } } }")


def test_a_31_day_window_is_accepted_and_32_days_are_rejected(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    ok = stream_count(api, {"date_geq": day(now - 31 * DAY), "date_leq": day(now - DAY)})
    assert ok[0] == 200 and ok[1]["errors"] is None
    status, message, code = error_of(stream_count(
        api, {"date_geq": day(now - 32 * DAY), "date_leq": day(now - DAY)}))
    assert (status, code) == (400, "quota")
    assert message == "query time range is too large: time range can't be wider than 4w3d"
    # an open end runs to now
    assert error_of(stream_count(api, {"date_geq": day(now - 32 * DAY)}))[0] == 400


def test_stream_data_older_than_90_days_is_rejected(api: GraphQLEndpoint,
                                                    shared_account: SimulatedAccount) -> None:
    now = shared_account.now
    oldest = now - 90 * DAY
    ok = stream_count(api, {"date": day(oldest)})
    assert ok[0] == 200 and ok[1]["data"]["viewer"]["accounts"][0][
        "streamMinutesViewedAdaptiveGroups"][0]["count"] > 0
    status, message, code = error_of(stream_count(api, {"date": day(oldest - DAY)}))
    assert (status, message, code) == (400, "cannot request data older than 12w6d", "quota")
    body = stream_count(api, {"date": day(oldest - DAY)})[1]
    assert body["errors"][0]["path"] == [
        "viewer", "accounts", "0", "streamMinutesViewedAdaptiveGroups"]
    assert body["errors"][0]["extensions"]["timestamp"] == "2026-07-01T00:00:00.000000Z"


@pytest.mark.parametrize("dataset", ["r2StorageAdaptiveGroups", "r2OperationsAdaptiveGroups"])
def test_r2_data_older_than_31_days_is_rejected(api: GraphQLEndpoint,
                                                shared_account: SimulatedAccount,
                                                dataset: str) -> None:
    now = shared_account.now
    query = DATASET_QUERY % {"type": TYPES[dataset], "field": dataset,
                             "select": "dimensions { date }"}

    def run(days: int) -> tuple[int, dict]:
        return ask(api, query, {"accountTag": shared_account.account_id, "limit": 10,
                                "filter": {"datetime_geq": (now - days * DAY).isoformat(),
                                           "datetime_lt": (now - (days - 1) * DAY).isoformat()}})

    status, body = run(31)
    assert status == 200
    assert body["data"]["viewer"]["accounts"][0][dataset][0]["dimensions"]["date"] == day(
        now - 31 * DAY)
    assert error_of(run(32)) == (400, "cannot request data older than 4w3d", "quota")


def test_limit_must_be_within_1_to_10000(api: GraphQLEndpoint,
                                         shared_account: SimulatedAccount) -> None:
    flt = {"date_geq": day(shared_account.now - 3 * DAY)}
    assert stream_count(api, flt, limit=10_000)[0] == 200
    for limit in (0, 10_001):
        assert error_of(stream_count(api, flt, limit=limit)) == (
            400, "limit must be positive number and not greater than 10000", "quota")


def test_a_dataset_needs_a_time_range(api: GraphQLEndpoint) -> None:
    status, message, code = error_of(stream_count(api, {"uid": "x"}))
    assert (status, code) == (400, "bad_request")
    assert message.startswith("a time range is required")


def test_unknown_fields_and_bad_syntax_are_rejected_with_400(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    query = REFERENCE_SAMPLE.replace("dimensions { uid clientCountryName }",
                                     "dimensions { uid browserName }")
    variables = {"accountTag": shared_account.account_id, "start": "2026-06-01",
                 "end": "2026-06-02"}
    status, message, code = error_of(ask(api, query, variables))
    assert (status, code) == (400, "validation")
    assert message == ("Cannot query field 'browserName' on type "
                       "'AccountStreamMinutesViewedAdaptiveGroupsDimensions'.")
    assert error_of(ask(api, "{ viewer { accounts(filter: {"))[::2] == (400, "parse")
    bad_date = dict(variables, start="2026-6-1")
    assert error_of(ask(api, REFERENCE_SAMPLE, bad_date))[::2] == (400, "validation")
    # filter keys are typed too: a Time where a Date belongs, an unknown filter key
    for flt in ('{date_geq: 20260601}', '{date_geq: "2026-06-01", browserName: "x"}'):
        assert error_of(ask(api, literal_query(api, flt)))[::2] == (400, "validation")
    assert error_of(stream_count(api, {"date_geq": "2026-06-01", "browserName": "x"}))[
        ::2] == (400, "validation")
    status, body = ask(api, literal_query(api, '{date_geq: "2026-06-01", date_lt: "2026-06-02"}'))
    assert status == 200 and body["errors"] is None


def test_ordering_by_a_dimension_that_is_not_grouped_is_rejected(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    query = REFERENCE_SAMPLE.replace("[sum_minutesViewed_DESC]", "[date_ASC]")
    variables = {"accountTag": shared_account.account_id, "start": "2026-06-01",
                 "end": "2026-06-02"}
    assert error_of(ask(api, query, variables))[::2] == (400, "bad_request")


def test_permission_and_account_checks(api: GraphQLEndpoint,
                                       shared_account: SimulatedAccount) -> None:
    variables = {"accountTag": shared_account.account_id, "start": "2026-06-01",
                 "end": "2026-06-02"}
    status, body = ask(api, REFERENCE_SAMPLE, variables, permissions={"stream:read"})
    assert status == 403 and body["data"] is None
    assert body["errors"][0]["message"] == "not authorized for that account"
    assert body["errors"][0]["extensions"]["code"] == "authz"
    # a tag the token cannot see: a GraphQL-level error in a 200 answer
    status, body = ask(api, REFERENCE_SAMPLE, dict(variables, accountTag="0" * 32))
    assert status == 200 and body["data"] is None
    assert body["errors"][0]["message"] == "not authorized for that account"
    assert body["errors"][0]["path"] == ["viewer", "accounts"]
    assert body["errors"][0]["extensions"]["code"] == "authz"


def test_builtin_scalar_spellings_are_accepted_in_variables(
        api: GraphQLEndpoint, shared_account: SimulatedAccount) -> None:
    query = REFERENCE_SAMPLE.replace("string!", "String!").replace("limit: 100", "limit: $n")
    query = query.replace("$end: Date)", "$end: Date, $n: Int!)")
    status, body = ask(api, query, {"accountTag": shared_account.account_id, "n": 5,
                                    "start": "2026-06-01", "end": "2026-06-02"})
    assert status == 200 and body["errors"] is None
    assert len(body["data"]["viewer"]["accounts"][0]["streamMinutesViewedAdaptiveGroups"]) == 5
    wrong = REFERENCE_SAMPLE.replace("$start: Date", "$start: Time")
    assert error_of(ask(api, wrong, {"accountTag": "x"}))[::2] == (400, "validation")


def test_settings_node_and_introspection(api: GraphQLEndpoint,
                                         shared_account: SimulatedAccount) -> None:
    query = ('{ viewer { accounts(filter: {accountTag: "' + shared_account.account_id
             + '"}) { settings { '
             "streamMinutesViewedAdaptiveGroups { enabled maxDuration maxPageSize notOlderThan } "
             "r2StorageAdaptiveGroups { notOlderThan availableFields } } } } }")
    status, body = ask(api, query)
    assert status == 200
    settings = body["data"]["viewer"]["accounts"][0]["settings"]
    assert settings["streamMinutesViewedAdaptiveGroups"] == {
        "enabled": True, "maxDuration": 31 * 86_400, "maxPageSize": 10_000,
        "notOlderThan": 90 * 86_400}
    assert settings["r2StorageAdaptiveGroups"]["notOlderThan"] == 31 * 86_400
    assert "max_payloadSize" in settings["r2StorageAdaptiveGroups"]["availableFields"]
    status, body = ask(api, '{ __type(name: "AccountR2OperationsAdaptiveGroupsDimensions") '
                            "{ fields { name } } }")
    assert status == 200
    assert {f["name"] for f in body["data"]["__type"]["fields"]} == {
        "actionType", "actionStatus", "bucketName", "objectName", "responseStatusCode",
        "datetime", "date"}
    assert schema().get_type("string") is not None


# --- the clock and edits ----------------------------------------------------------------
def test_advancing_the_clock_reveals_a_new_day_and_ages_out_the_oldest(
        account: SimulatedAccount) -> None:
    api = GraphQLEndpoint(account)
    today, oldest = account.now, account.now - 90 * DAY
    select = "sum { minutesViewed } dimensions { date }"
    assert fetch(api, "streamMinutesViewedAdaptiveGroups", select, {"date": day(today)}) == []
    assert stream_count(api, {"date": day(oldest)})[0] == 200
    account.advance(1)
    rows = fetch(api, "streamMinutesViewedAdaptiveGroups", select, {"date": day(today)})
    daily = account.ground_truth().minutes_viewed_daily.set_index("date")["minutes_viewed"]
    assert rows == [{"sum": {"minutesViewed": int(daily[today])},
                     "dimensions": {"date": day(today)}}]
    assert error_of(stream_count(api, {"date": day(oldest)}))[0] == 400


def test_account_edits_show_up_in_the_next_answer(account: SimulatedAccount) -> None:
    """A lifecycle rule rewrites R2's past: the cached frame must not hide it."""
    api = GraphQLEndpoint(account)
    now = account.now
    bucket = "lc-report-exports"
    flt = {"date_geq": day(now - 30 * DAY), "bucketName": bucket}
    select = "max { objectCount } dimensions { date }"
    before = fetch(api, "r2StorageAdaptiveGroups", select, flt, order_by=["date_ASC"])
    rules = account.lifecycle[account.lifecycle["bucket"] == bucket].assign(expire_days=3)
    account.set_lifecycle(bucket, rules.drop(columns="bucket"))
    after = fetch(api, "r2StorageAdaptiveGroups", select, flt, order_by=["date_ASC"])
    truth = account.ground_truth().r2_storage_daily
    truth = truth[(truth["bucket"] == bucket) & (truth["date"] >= now - 30 * DAY)]
    assert [r["max"]["objectCount"] for r in after] == truth["object_count"].tolist()
    assert after != before


# --- columnar completion ----------------------------------------------------------------
COLUMNAR_QUERY = """
query ($tag: string!, $start: Date!, $end: Date!, $from: Time!, $to: Time!, $skip: Boolean!) {
  viewer { accounts(filter: {accountTag: $tag}) {
    top: streamMinutesViewedAdaptiveGroups(
        filter: {date_geq: $start, date_lt: $end}, limit: 500,
        orderBy: [sum_minutesViewed_DESC]) {
      kind: __typename
      rows: count
      ...Minutes
      dimensions { day: date uid country: clientCountryName @include(if: false) __typename }
      ... on AccountStreamMinutesViewedAdaptiveGroups { dimensions { creator } }
    }
    daily: streamMinutesViewedAdaptiveGroups(
        filter: {date_geq: $start, date_lt: $end}, limit: 10) {
      dimensions { date }
      count @skip(if: $skip)
    }
    r2StorageAdaptiveGroups(filter: {datetime_geq: $from, datetime_lt: $to}, limit: 100) {
      max { objectCount bytes: payloadSize }
      dimensions { datetime bucketName }
    }
  } }
}
fragment Minutes on AccountStreamMinutesViewedAdaptiveGroups {
  sum { minutes: minutesViewed __typename }
}
"""


def columnar_variables(account: SimulatedAccount) -> dict:
    now = account.now
    return {"tag": account.account_id, "start": day(now - 20 * DAY), "end": day(now),
            "from": (now - 7 * DAY).isoformat(), "to": now.isoformat(), "skip": True}


def test_columnar_completion_answers_exactly_as_graphql_core(
        api: GraphQLEndpoint, shared_account: SimulatedAccount,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Aliases, a fragment, an inline fragment, @include/@skip and __typename, row for row."""
    standard = GraphQLEndpoint(shared_account, columnar=False)
    variables = columnar_variables(shared_account)
    expected = ask(standard, COLUMNAR_QUERY, variables)
    completed_row_by_row = []  # the standard completion of dataset rows, if ever reached
    original = Executor.complete_list_value

    def spy(self: Executor, return_type, field_details_list, info, path, result, context):
        if isinstance(result, _Rows):
            completed_row_by_row.append(info.field_name)
        return original(self, return_type, field_details_list, info, path, result, context)

    monkeypatch.setattr(Executor, "complete_list_value", spy)
    got = ask(api, COLUMNAR_QUERY, variables)
    assert completed_row_by_row == []  # the columns were used, not the fallback
    assert got == expected
    assert json.dumps(got) == json.dumps(expected)  # keys in the same order too
    assert expected[0] == 200 and expected[1]["errors"] is None
    account = expected[1]["data"]["viewer"]["accounts"][0]
    top = account["top"]
    assert len(top) == 500
    assert list(top[0]) == ["kind", "rows", "sum", "dimensions"]
    assert list(top[0]["dimensions"]) == ["day", "uid", "__typename", "creator"]
    assert top[0]["kind"] == "AccountStreamMinutesViewedAdaptiveGroups"
    assert top[0]["sum"]["__typename"] == "AccountStreamMinutesViewedAdaptiveGroupsSum"
    assert top[0]["sum"]["minutes"] >= top[-1]["sum"]["minutes"]
    assert list(account["daily"][0]) == ["dimensions"]
    assert list(account["r2StorageAdaptiveGroups"][0]["max"]) == ["objectCount", "bytes"]
    assert account["r2StorageAdaptiveGroups"][0]["dimensions"]["datetime"].endswith("Z")


def test_columnar_completion_falls_back_to_report_bad_values(
        shared_account: SimulatedAccount, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value its scalar refuses: both completions report the same error, at the same row."""
    real = graphql_api._dimension_values

    def one_bad_uid(grouped: pd.DataFrame, dimension: str) -> list:
        values = real(grouped, dimension)
        return values[:3] + [42] + values[4:] if dimension == "uid" else values

    monkeypatch.setattr(graphql_api, "_dimension_values", one_bad_uid)
    answers = [ask(GraphQLEndpoint(shared_account, columnar=columnar), COLUMNAR_QUERY,
                   columnar_variables(shared_account)) for columnar in (True, False)]
    assert answers[0] == answers[1]
    status, body = answers[0]
    assert status == 500 and body["errors"][0]["message"] == "string cannot represent 42"
    assert body["errors"][0]["path"] == ["viewer", "accounts", "0", "top", "3", "dimensions",
                                         "uid"]
