"""The client's paginators and its one paginate() loop; the sandbox's own R2 class table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lc_analytics.client.paginators import (
    ContinuationTokenPaginator,
    KeysetPaginator,
    TimeCursorPaginator,
    paginate,
)
from lc_analytics.costs import r2_classes
from lc_analytics.errors import ApiError, QueryError, R2Error, SandboxError
from lc_analytics.sandbox.op_classes import OPERATION_CLASSES, operation_class
from lc_analytics.sources.stream import parse_time

PACKAGE = Path(__file__).resolve().parents[1] / "lc_analytics"


class Recorder:
    """Answers requests from a list of pages and records each request as it was sent."""

    def __init__(self, pages):
        self.pages, self.sent = list(pages), []

    def __call__(self, request):
        self.sent.append(dict(request))
        return self.pages.pop(0)


def _row(key, day):
    return {"dimensions": {"uid": key, "date": day}, "sum": {"minutesViewed": 1}}


def test_keyset_drops_the_last_keys_rows_and_restarts_after_the_key_before():
    page1 = [_row("a", 1), _row("b", 1), _row("b", 2)]  # full (limit 3): "b" may go on
    page2 = [_row("b", 1), _row("b", 2), _row("b", 3)]
    fetch = Recorder([page1, page2, [_row("c", 1)]])
    with pytest.raises(QueryError, match="more than 3 rows share uid='b'"):
        list(paginate(fetch, {"date_geq": "x"}, KeysetPaginator("uid", 3, "ds"), lambda p: p))
    fetch = Recorder([page1, [_row("b", 1), _row("b", 2), _row("c", 1)],
                      [_row("c", 1), _row("c", 2)]])
    rows = list(paginate(fetch, {"date_geq": "x"}, KeysetPaginator("uid", 3, "ds"),
                         lambda p: p))
    assert [(r["dimensions"]["uid"], r["dimensions"]["date"]) for r in rows] == [
        ("a", 1), ("b", 1), ("b", 2), ("c", 1), ("c", 2)]
    assert fetch.sent == [{"date_geq": "x"}, {"date_geq": "x", "uid_gt": "a"},
                          {"date_geq": "x", "uid_gt": "b"}]


def _video(uid, created):
    return {"uid": uid, "created": created}


def test_time_cursor_rewinds_to_the_last_timestamp_group_and_drops_seen_uids():
    t1, t2, t3 = "2026-06-01T00:00:01Z", "2026-06-01T00:00:02Z", "2026-06-01T00:00:03Z"
    fetch = Recorder([
        [_video("a", t1), _video("b", t2), _video("c", t2)],  # full: t2 may go on
        [_video("b", t2), _video("c", t2), _video("d", t2)],  # still t2; d is new
        [_video("d", t2), _video("e", t3)],
    ])
    got = list(paginate(fetch, {"limit": "3"}, TimeCursorPaginator(3, "/stream", parse_time),
                        lambda p: p))
    assert [v["uid"] for v in got] == ["a", "b", "c", "d", "e"]
    # the cursor starts the t2 group again: after t1, then just before t2
    assert [r.get("after") for r in fetch.sent] == [None, t1, "2026-06-01T00:00:01.999999Z"]


def test_time_cursor_refuses_a_page_of_nothing_new():
    same = [_video(u, "2026-06-01T00:00:01Z") for u in "ab"]
    with pytest.raises(ApiError, match="more than 2 videos share the creation time"):
        list(paginate(Recorder([same, same]), {}, TimeCursorPaginator(2, "/s", parse_time),
                      lambda p: p))


def test_continuation_token_follows_next_token_until_not_truncated():
    fetch = Recorder([{"Contents": [1, 2], "IsTruncated": True, "NextContinuationToken": "t1"},
                      {"Contents": [3], "IsTruncated": True, "NextContinuationToken": "t2"},
                      {"IsTruncated": False}])
    got = list(paginate(fetch, {"Bucket": "b"}, ContinuationTokenPaginator("b"),
                        lambda p: p.get("Contents", [])))
    assert got == [1, 2, 3]
    assert [r.get("ContinuationToken") for r in fetch.sent] == [None, "t1", "t2"]
    truncated = Recorder([{"Contents": [1], "IsTruncated": True}])
    items = paginate(truncated, {"Bucket": "b"}, ContinuationTokenPaginator("b"),
                     lambda p: p["Contents"])
    assert next(items) == 1  # the page's objects come before the refusal
    with pytest.raises(R2Error, match="truncated without a NextContinuationToken"):
        next(items)


def test_the_sources_page_only_through_paginate():
    """No hand-written paging loop is left in sources/ or actions/: no function there loops
    (`while`) around a request; the one loop that does is `paginate`."""
    fetches = {"get", "post", "put", "graphql", "list_objects", "list_objects_v2", "_call"}
    for folder in ("sources", "actions"):
        for path in sorted((PACKAGE / folder).glob("*.py")):
            for fn in ast.walk(ast.parse(path.read_text())):
                if not isinstance(fn, ast.FunctionDef):
                    continue
                for loop in (n for n in ast.walk(fn) if isinstance(n, ast.While)):
                    calls = {c.func.attr for c in ast.walk(loop) if isinstance(c, ast.Call)
                             and isinstance(c.func, ast.Attribute)}
                    assert not calls & fetches, f"{path.name}:{loop.lineno} pages by hand"
    sources = {p.stem: p.read_text() for p in (PACKAGE / "sources").glob("*.py")}
    assert "KeysetPaginator" in sources["analytics"]
    assert "TimeCursorPaginator" in sources["stream"]
    assert "ContinuationTokenPaginator" in sources["r2"]
    apply = (PACKAGE / "actions" / "apply.py").read_text()
    assert "from ..client." in apply and "from ..sources.http" not in apply


def test_the_sandbox_classes_operations_with_its_own_table_that_agrees_with_the_library():
    account = (PACKAGE / "sandbox" / "account.py").read_text()
    assert "r2_classes" not in account and "operation_class" in account
    library = {a: "A" for a in r2_classes.CLASS_A} | {a: "B" for a in r2_classes.CLASS_B} \
        | {a: "free" for a in r2_classes.FREE}
    assert library == OPERATION_CLASSES
    for action, cls in OPERATION_CLASSES.items():
        assert r2_classes.op_class(action) == operation_class(action) == cls
    # the reference's named examples, as the pricing page prints them
    assert (operation_class("ListObjectsV2"), operation_class("GetObject"),
            operation_class("DeleteObject")) == ("A", "B", "free")
    with pytest.raises(SandboxError, match="does not list"):
        operation_class("PutMystery")


def test_the_fast_list_parser_equals_botocores():
    """ListObjectsV2 pages parse to exactly what botocore's own parser gives, odd keys too;
    an entry with a field it does not know goes to botocore's parser whole."""
    import botocore.session
    from botocore.parsers import ResponseParserError, RestXMLParser

    from lc_analytics.client.s3_parse import FastListParserFactory

    shape = botocore.session.get_session().create_client(
        "s3", region_name="auto", aws_access_key_id="k", aws_secret_access_key="s"
    ).meta.service_model.operation_model("ListObjectsV2").output_shape
    entries = "".join(
        f"<Contents><Key>{key}</Key><LastModified>2026-06-0{i + 1}T10:11:12.{i}00Z"
        f"</LastModified><ETag>&quot;e{i}&quot;</ETag><Size>{i * 1000}</Size>"
        f"<StorageClass>{cls}</StorageClass></Contents>"
        for i, (key, cls) in enumerate([("a b/ü.mp4", "STANDARD"), ("x&amp;y&lt;", "STANDARD_IA"),
                                        ("shows/z.jpg", "STANDARD")]))
    page = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazon'
            'aws.com/doc/2006-03-01/"><Name>lc-a</Name><Prefix></Prefix><KeyCount>3</KeyCount>'
            f'<MaxKeys>3</MaxKeys><IsTruncated>true</IsTruncated>{entries}'
            '<NextContinuationToken>tok+/=</NextContinuationToken></ListBucketResult>')
    fast = FastListParserFactory().create_parser("rest-xml")
    for body in (page, page.replace("<Size>2000</Size>", "<Size>2000</Size><Owner><ID>o</ID>"
                                    "</Owner>")):
        response = {"status_code": 200, "headers": {"x-amz-request-id": "r1"},
                    "body": body.encode()}
        want = RestXMLParser().parse(dict(response), shape)
        got = fast.parse(dict(response), shape)
        assert got == want
        assert len(got["Contents"]) == 3 and got["NextContinuationToken"] == "tok+/="
    assert want["Contents"][2]["Owner"] == {"ID": "o"}  # the second body went to botocore
    assert want["Contents"][1]["Key"] == "x&y<" and want["Contents"][0]["Size"] == 0
    cut = {"status_code": 200, "headers": {}, "body": page.encode()[:-40]}  # a cut body
    with pytest.raises(ResponseParserError):
        fast.parse(cut, shape)  # botocore's own error, which the client retries
