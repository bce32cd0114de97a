"""The yardstick: the same pull as `lc-analytics sync`, written as a straightforward dlt pipeline.

    .venv/bin/python bench/dlt_pipeline.py OUT.duckdb      # reads the CLOUDFLARE_* / R2_* env

What a data engineer would write with dlt (https://dlthub.com) and its duckdb destination:
plain dlt resources for Stream's videos (list videos paged by `after`), live inputs (the
list, then a transformer that GETs each in full, as lc-analytics does) and the storage
usage snapshot; one GraphQL resource per analytics dataset with lc-analytics' windows
(31 days back to each dataset's retention) and keyset paging (`limit` + `orderBy` +
`<key>_gt`, the last key of a full page fetched again); boto3 for R2 (ListObjectsV2 pages
of every bucket, and each bucket's lifecycle rules). Every table is loaded with
`write_disposition="replace"`, dlt's cheapest disposition. `ROW_TABLES` says which dlt
table holds the rows of which warehouse table, so the benchmark can check both pipelines
pulled the same data.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import boto3
import dlt
from botocore.config import Config
from dlt.sources.helpers import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROW_TABLES  # noqa: E402  (warehouse table -> dlt table)

DATASET = "cloudflare"
PAGE_LIMIT = 10_000
WINDOW_DAYS = 31
# name: (GraphQL node, dimensions (first = paging key), block, metrics, retention, filter)
GRAPHQL: dict[str, tuple[str, list[str], str, list[str], int, dict[str, Any]]] = {
    "minutes_viewed": ("streamMinutesViewedAdaptiveGroups",
                       ["uid", "date", "clientCountryName", "creator"], "sum",
                       ["minutesViewed"], 90, {}),
    "r2_storage": ("r2StorageAdaptiveGroups", ["bucketName", "date"], "max",
                   ["payloadSize", "metadataSize", "objectCount", "uploadCount"], 31, {}),
    "r2_operations": ("r2OperationsAdaptiveGroups",
                      ["bucketName", "date", "actionType", "actionStatus", "responseStatusCode"],
                      "sum",
                      ["requests"], 31, {}),
    "r2_object_reads": ("r2OperationsAdaptiveGroups",
                        ["objectName", "date", "bucketName", "actionType"], "sum",
                        ["requests"], 31,
                        {"actionType_in": ["GetObject", "HeadObject"],
                         "actionStatus": "success", "objectName_neq": ""}),
}


class Api:
    """The Cloudflare REST + GraphQL endpoints through dlt's retrying `requests` helper."""

    def __init__(self, env: dict[str, str]) -> None:
        self.base = env.get("CLOUDFLARE_API_BASE_URL", "https://api.cloudflare.com/client/v4")
        self.account = env["CLOUDFLARE_ACCOUNT_ID"]
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {env['CLOUDFLARE_API_TOKEN']}"
        self.now: datetime | None = None

    def get(self, path: str, params: dict[str, str] | None = None) -> Any:
        resp = self.session.get(f"{self.base}/accounts/{self.account}/{path}", params=params)
        resp.raise_for_status()
        if self.now is None and resp.headers.get("Date"):
            self.now = parsedate_to_datetime(resp.headers["Date"]).astimezone(UTC)
        return resp.json()["result"]

    def graphql(self, query: str) -> dict:
        resp = self.session.post(f"{self.base}/graphql",
                                 json={"query": query, "variables": {"tag": self.account}})
        resp.raise_for_status()
        body = resp.json()
        if body.get("errors"):
            raise RuntimeError(f"GraphQL errors: {body['errors']}")
        return body["data"]


def _literal(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_literal(v) for v in value) + "]"
    return json.dumps(value)


def _windows(now: datetime, retention_days: int) -> Iterator[tuple[date, date]]:
    """lc-analytics' windows for a first sync: the retained days up to today, 31 at a time."""
    oldest = now - timedelta(days=retention_days)
    lo = oldest.date() if oldest.time() == datetime.min.time() else oldest.date() + timedelta(1)
    end = now.date() + timedelta(days=1)
    while lo < end:
        hi = min(end, lo + timedelta(days=WINDOW_DAYS))
        yield lo, hi
        lo = hi


def graphql_rows(api: Api, name: str) -> Iterator[list[dict]]:
    """Every daily row of one dataset, a page at a time, flattened to one dict per row."""
    node, dims, block, metrics, retention, fixed = GRAPHQL[name]
    assert api.now is not None, "the storage-usage GET ran first and learnt the API's clock"
    key = dims[0]
    for lo, hi in _windows(api.now, retention):
        after = None
        while True:
            flt = {"date_geq": lo.isoformat(), "date_lt": hi.isoformat(), **fixed}
            if after is not None:
                flt[f"{key}_gt"] = after
            flt_text = "{" + ", ".join(f"{k}: {_literal(v)}" for k, v in flt.items()) + "}"
            order = ", ".join(f"{d}_ASC" for d in dims)
            data = api.graphql(
                "query ($tag: string!) { viewer { accounts(filter: {accountTag: $tag}) {"
                f" rows: {node}(filter: {flt_text}, limit: {PAGE_LIMIT}, orderBy: [{order}])"
                f" {{ {block} {{ {' '.join(metrics)} }} dimensions {{ {' '.join(dims)} }} }}"
                " } } }")
            rows = data["viewer"]["accounts"][0]["rows"] or []
            full = len(rows) == PAGE_LIMIT
            if full:  # the last key may continue on the next page: fetch it again there
                last = rows[-1]["dimensions"][key]
                rows = [r for r in rows if r["dimensions"][key] != last]
            yield [{**r["dimensions"], **r[block]} for r in rows]
            if not full:
                break
            after = rows[-1]["dimensions"][key]


@dlt.source(name="cloudflare", max_table_nesting=1)
def cloudflare(env: dict[str, str]) -> Any:
    """Stream (REST), analytics (GraphQL) and R2 (S3) of one account."""
    api = Api(env)
    # first: its answer's Date header is "now" for the analytics windows (as for lc-analytics)
    usage = api.get("stream/storage-usage")

    @dlt.resource(name="storage_usage", write_disposition="replace")
    def storage_usage() -> Iterator[dict]:
        yield usage

    @dlt.resource(name="live_input_list", selected=False)
    def live_input_list() -> Iterator[list[dict]]:
        result = api.get("stream/live_inputs", {"include_counts": "true"})
        yield result["liveInputs"] if isinstance(result, dict) else result

    @dlt.transformer(name="live_inputs", data_from=live_input_list, write_disposition="replace")
    def live_inputs(items: list[dict]) -> Iterator[list[dict]]:
        yield [api.get(f"stream/live_inputs/{item['uid']}") for item in items]

    @dlt.resource(name="videos", write_disposition="replace", primary_key="uid")
    def videos() -> Iterator[list[dict]]:
        seen: set[str] = set()
        after = None
        while True:
            params = {"asc": "true", "limit": "1000", "include_counts": "true"}
            if after:
                params["after"] = after
            page = api.get("stream", params)
            yield [v for v in page if v["uid"] not in seen]
            seen.update(v["uid"] for v in page)
            if len(page) < 1000:
                return
            # 1 µs before the last creation time: ties are listed again and dropped by uid
            last = datetime.fromisoformat(page[-1]["created"].replace("Z", "+00:00"))
            after = (last - timedelta(microseconds=1)).isoformat().replace("+00:00", "Z")

    def analytics(name: str) -> Any:
        return dlt.resource(graphql_rows(api, name), name=name, write_disposition="replace")

    s3 = boto3.client("s3", region_name="auto", endpoint_url=env["R2_ENDPOINT_URL"],
                      aws_access_key_id=env["R2_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["R2_SECRET_ACCESS_KEY"],
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    buckets = sorted(b["Name"] for b in s3.list_buckets()["Buckets"])

    @dlt.resource(name="r2_objects", write_disposition="replace")
    def r2_objects() -> Iterator[list[dict]]:
        for bucket in buckets:
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket,
                                                                     MaxKeys=1000):
                yield [{"bucket": bucket, **obj} for obj in page.get("Contents", [])]

    @dlt.resource(name="r2_lifecycle_rules", write_disposition="replace")
    def r2_lifecycle_rules() -> Iterator[list[dict]]:
        for bucket in buckets:
            try:
                rules = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
            except s3.exceptions.ClientError as exc:
                if exc.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
                    continue
                raise
            yield [{"bucket": bucket, **rule} for rule in rules]

    return [storage_usage, live_input_list, live_inputs, videos,
            *(analytics(name) for name in GRAPHQL), r2_objects, r2_lifecycle_rules]


def run(out: str | Path, workdir: str | Path, env: dict[str, str] | None = None,
        ) -> dict[str, int]:
    """Load everything into the duckdb file `out`; returns rows per warehouse table name."""
    env = dict(os.environ if env is None else env)
    pipeline = dlt.pipeline(pipeline_name="cloudflare_bench", pipelines_dir=str(workdir),
                            destination=dlt.destinations.duckdb(str(out)), dataset_name=DATASET,
                            progress=None)
    pipeline.run(cloudflare(env))
    return row_counts(out)


def row_counts(out: str | Path) -> dict[str, int]:
    """Rows of each dlt table, by the warehouse table it stands for."""
    import duckdb

    with duckdb.connect(str(out), read_only=True) as con:
        return {table: int(con.execute(f"SELECT count(*) FROM {DATASET}.{name}").fetchone()[0])
                for table, name in ROW_TABLES.items()}


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: dlt_pipeline.py OUT.duckdb   (with the CLOUDFLARE_* and R2_* env set)")
    target = Path(sys.argv[1])
    print(json.dumps(run(target, target.parent / ".dlt_pipelines"), indent=1))
