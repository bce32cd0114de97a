"""The pipelined analytics step: pages fetched ahead in one thread, decoded to Arrow."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from lc_analytics.client.http import CloudflareClient
from lc_analytics.client.pipeline import prefetch
from lc_analytics.errors import QueryError
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.sources.analytics import DATASETS, iter_window, iter_window_pages, page_table

# days and page size per dataset: several pages where the data allows, cheaply
PAGING = {"minutes_viewed": (2, 1000), "r2_object_reads": (3, 200), "r2_operations": (7, 500),
          "r2_storage": (7, 500)}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_arrow_pages_equal_the_records_row_by_row(shared_account, name):
    ds, (days, limit) = DATASETS[name], PAGING[name]
    with Sandbox(shared_account, r2=False) as sb:
        client = CloudflareClient(sb.settings(), transport=sb.transport)
        hi = shared_account.now.date()
        lo = hi - timedelta(days=days)
        records = list(iter_window(client, ds, lo, hi, limit=limit))
        pages = list(iter_window_pages(client, ds, lo, hi, limit=limit))
        client.close()
    if name in ("minutes_viewed", "r2_object_reads"):
        assert len(pages) > 1  # several pages, each of whole keys
    rows = [r for page in pages for r in page_table(page, ds).to_pylist()]
    assert len(rows) == len(records) > 20
    assert rows == records  # the same values, types and order as the per-row records


def test_prefetch_keeps_order_and_runs_ahead_by_at_most_its_depth():
    produced: list[int] = []

    def items():
        for i in range(20):
            produced.append(i)
            yield i

    got = []
    for item in prefetch(items(), depth=2):
        time.sleep(0.005)
        # taken one, at most 2 waiting in the queue and one in the producer's hand
        assert len(produced) - (item + 1) <= 3
        got.append(item)
    assert got == list(range(20))


def test_a_producer_error_is_raised_in_the_caller_after_the_items_before_it():
    def items():
        yield 1
        raise QueryError("the page failed")

    got = []
    with pytest.raises(QueryError, match="the page failed"):
        for item in prefetch(items()):
            got.append(item)
    assert got == [1]


def test_a_caller_that_stops_early_stops_the_producer():
    before = threading.active_count()

    def endless():
        i = 0
        while True:
            yield i
            i += 1

    stream = prefetch(endless(), depth=1)
    assert next(stream) == 0
    stream.close()
    assert threading.active_count() == before
