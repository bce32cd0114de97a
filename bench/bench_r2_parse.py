"""R2 inventory, client side: objects/s of the library's ListObjectsV2 loop with HTTP stubbed.

    .venv/bin/python bench/bench_r2_parse.py [--preset medium] [--repeats 3]

The largest bucket of the sandbox's R2 (moto on loopback) is listed once through
`R2Inventory.iter_objects` while its raw ListObjectsV2 answers are recorded. The timed
runs replay those recorded XML pages: a botocore `before-send` hook answers each request
from the recording (chosen by its continuation token), so the whole client side is timed
(request building and signing, the library's ListObjectsV2 parse, the library's rows) and
none of moto's. Beside it, interleaved: botocore's parser alone on the same pages (the
ceiling a stock boto3 client has) and the live listing against moto (server time included).
Target (issue 13): at least 50,000 objects/s on the client side.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402

TARGET_RATE = 50_000


class _Body:
    """The raw stream of a recorded response (what `AWSResponse.content` reads)."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **_: Any) -> Any:
        return iter([self.data])


class Recording:
    """The ListObjectsV2 pages of one bucket, as the server sent them, by continuation token."""

    def __init__(self) -> None:
        self.pages: list[tuple[int, dict[str, str], bytes]] = []
        self.by_token: dict[str | None, int] = {}

    def record(self, http_response: Any, parsed: dict, **_: Any) -> None:
        if not self.pages:
            self.by_token[None] = 0
        self.pages.append((http_response.status_code, dict(http_response.headers),
                           http_response.content))
        if parsed.get("NextContinuationToken"):
            self.by_token[parsed["NextContinuationToken"]] = len(self.pages)

    def replay(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        token = parse_qs(urlsplit(request.url).query).get("continuation-token", [None])[0]
        status, headers, body = self.pages[self.by_token[token]]
        return AWSResponse(request.url, status, headers, _Body(body))


def _inventory(r2: Any) -> Any:
    from lc_analytics.settings import Secret, Settings
    from lc_analytics.sources.r2 import R2Inventory

    return R2Inventory(Settings(r2_access_key_id=r2.access_key_id,
                                r2_secret_access_key=Secret(r2.secret_access_key),
                                r2_endpoint_url=r2.endpoint_url))


def _largest_bucket(inv: Any) -> tuple[str, int]:
    sizes = {b: sum(1 for _ in inv.iter_objects(b)) for b in inv.buckets()}
    bucket = max(sizes, key=lambda b: sizes[b])
    return bucket, sizes[bucket]


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="medium")
    parser.add_argument("--days", type=int, help="shorter history than the preset's (>= 31)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--min-objects", type=int, default=50_000,
                        help="objects per timed replay run (the bucket is listed again)")
    args = parser.parse_args(argv)

    from botocore.parsers import create_parser

    from lc_analytics.sandbox import SimulatedAccount
    from lc_analytics.sandbox.r2 import start_r2

    _common.print_machine()
    account = SimulatedAccount.build(args.preset, seed=_common.SEED, end=_common.END,
                                     days=args.days)
    r2 = start_r2(account)
    try:
        live = _inventory(r2)
        bucket, n_objects = _largest_bucket(live)
        recording = Recording()
        live._s3.meta.events.register("after-call.s3.ListObjectsV2", recording.record)
        assert sum(1 for _ in live.iter_objects(bucket)) == n_objects
        live._s3.meta.events.unregister("after-call.s3.ListObjectsV2", recording.record)
        listings = max(1, -(-args.min_objects // n_objects))
        print(f"R2 ({args.preset!r} sandbox): bucket {bucket} holds {n_objects:,} objects in "
              f"{len(recording.pages)} ListObjectsV2 pages; each timed run lists it "
              f"{listings}x ({listings * n_objects:,} objects), {args.repeats} interleaved "
              "repetitions", flush=True)

        stubbed = _inventory(r2)
        stubbed._s3.meta.events.register("before-send.s3.ListObjectsV2", recording.replay)
        shape = stubbed._s3.meta.service_model.operation_model("ListObjectsV2").output_shape
        xml = create_parser("rest-xml")

        def timed(count: Any) -> Any:
            def one(_: int) -> dict[str, Any]:
                started, cpu = time.perf_counter(), time.process_time()
                n = count()
                return {"objects_per_s": n / (time.perf_counter() - started),
                        "objects_per_cpu_s": n / (time.process_time() - cpu), "objects": n}
            return one

        def library() -> int:
            n = sum(sum(1 for _ in stubbed.iter_objects(bucket)) for _ in range(listings))
            assert n == listings * n_objects, (n, listings * n_objects)
            return n

        def parser_only() -> int:
            n = 0
            for _ in range(listings):
                for status, headers, body in recording.pages:
                    parsed = xml.parse({"status_code": status, "headers": headers,
                                        "body": body}, shape)
                    n += len(parsed.get("Contents", []))
            return n

        def over_http() -> int:
            return sum(sum(1 for _ in live.iter_objects(bucket)) for _ in range(listings))

        results = _common.interleaved(args.repeats, {
            "library, HTTP stubbed": timed(library),
            "botocore parser alone": timed(parser_only),
            "library over HTTP to moto": timed(over_http)})
    finally:
        r2.close()
    med = {name: _common.median([r["objects_per_s"] for r in runs])
           for name, runs in results.items()}
    per_cpu = {name: _common.median([r["objects_per_cpu_s"] for r in runs])
               for name, runs in results.items()}
    for name, rate in med.items():
        print(f"{name:>26}: {rate:,.0f} objects/s wall, {per_cpu[name]:,.0f} objects per "
              "CPU second (medians; the CPU rate is what a busy machine does not dilute, "
              "moto's CPU included over HTTP)")
    rate = med["library, HTTP stubbed"]
    parse_share = rate / med["botocore parser alone"]
    print(f"client side: {rate:,.0f} objects/s ({per_cpu['library, HTTP stubbed']:,.0f} per "
          f"CPU second), {rate / TARGET_RATE:.2f}x the target; {parse_share:.2f}x botocore's "
          f"own parser alone on the same pages (paired); target >= {TARGET_RATE:,}/s: "
          f"{_common.verdict(rate, TARGET_RATE, at_most=False)}")
    return {"medians": med, "per_cpu_second": per_cpu, "rate": rate,
            "parse_share": parse_share}


if __name__ == "__main__":
    main()
