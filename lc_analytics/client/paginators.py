"""Paginators and the one `paginate()` loop every listing of the Cloudflare APIs runs.

A paginator reads the next cursor from a page (`update_state`, which also returns the items
of the page that are new and whole) and applies it to the next request (`update_request`);
`paginate` sends requests until the paginator says there is no next page. The model is
dlt's `rest_client/paginators.py`; the three kinds are the three the APIs need:

- `KeysetPaginator`: GraphQL analytics (`limit` + `orderBy` + `<key>_gt` in the filter);
- `TimeCursorPaginator`: Stream's list videos (`asc` + `limit` + `after`, a creation time);
- `ContinuationTokenPaginator`: S3 ListObjectsV2 (`ContinuationToken`).

>>> pages = {None: {"Contents": [1, 2], "IsTruncated": True, "NextContinuationToken": "t"},
...          "t": {"Contents": [3], "IsTruncated": False}}
>>> list(paginate(lambda req: pages[req.get("ContinuationToken")], {},
...               ContinuationTokenPaginator("lc-a"), lambda page: page["Contents"]))
[1, 2, 3]
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from ..errors import ApiError, QueryError, R2Error

__all__ = ["ContinuationTokenPaginator", "KeysetPaginator", "PageNumberPaginator", "Paginator",
           "TimeCursorPaginator", "paginate", "paginate_pages"]

P = TypeVar("P")  # a page as the client returns it
T = TypeVar("T")  # one item of a page


class Paginator(ABC, Generic[T]):
    """Reads the next cursor from a page and applies it to the next request."""

    def __init__(self) -> None:
        self.has_next_page = True

    @abstractmethod
    def update_state(self, page: Any, items: list[T]) -> list[T]:
        """Read the next cursor from `page`; return the items of it to yield."""

    @abstractmethod
    def update_request(self, request: dict[str, Any]) -> None:
        """Apply the cursor read last to `request` (changed in place)."""


def paginate(fetch: Callable[[dict[str, Any]], P], request: dict[str, Any],
             paginator: Paginator[T], items: Callable[[P], list[T]]) -> Iterator[T]:
    """Every item of every page: send `request`, yield what the paginator keeps, follow it."""
    for page in paginate_pages(fetch, request, paginator, items):
        yield from page


def paginate_pages(fetch: Callable[[dict[str, Any]], P], request: dict[str, Any],
                   paginator: Paginator[T], items: Callable[[P], list[T]],
                   ) -> Iterator[list[T]]:
    """The same loop, a page at a time (the items the paginator keeps; empty pages skipped),
    for callers that convert whole pages (to Arrow)."""
    while True:
        page = fetch(request)
        kept = paginator.update_state(page, items(page))
        if kept:
            yield kept
        if not paginator.has_next_page:
            return
        paginator.update_request(request)


class KeysetPaginator(Paginator[dict]):
    """GraphQL keyset paging: rows ordered by `key` first; the next page starts after a key.

    A full page may end in the middle of its last key's rows, so that key's rows are dropped
    and fetched again from the next page, which starts after the key before it. The request
    is the query's filter; the cursor goes in as `<key>_gt`.
    """

    def __init__(self, key: str, limit: int, where: str) -> None:
        super().__init__()
        self.key, self.limit, self.where = key, limit, where
        self.after: str | None = None

    def update_state(self, page: Any, items: list[dict]) -> list[dict]:
        if len(items) < self.limit:
            self.has_next_page = False
            return items
        last_key = items[-1]["dimensions"][self.key]
        complete = [r for r in items if r["dimensions"][self.key] != last_key]
        if not complete:
            raise QueryError(f"{self.where}: more than {self.limit} rows share "
                             f"{self.key}={last_key!r}; use a shorter window")
        self.after = complete[-1]["dimensions"][self.key]
        return complete

    def update_request(self, request: dict[str, Any]) -> None:
        request[f"{self.key}_gt"] = self.after


class TimeCursorPaginator(Paginator[dict]):
    """Stream's list videos: up to `limit` items created after a time, oldest first.

    Stream does not paginate: it filters by creation time. The cursor is rewound to the
    *start* of the last page's final `created` timestamp group, so items that share that
    timestamp are fetched again whether the API's `after` is inclusive or exclusive; items
    seen before are dropped by uid.
    """

    def __init__(self, page_size: int, where: str,
                 parse: Callable[[object], datetime | None]) -> None:
        super().__init__()
        self.page_size, self.where, self.parse = page_size, where, parse
        self.cursor: str | None = None
        self.seen: set[str] = set()

    def update_state(self, page: Any, items: list[dict]) -> list[dict]:
        fresh = [v for v in items if v["uid"] not in self.seen]
        self.seen.update(v["uid"] for v in fresh)
        if len(items) < self.page_size:
            self.has_next_page = False
            return fresh
        self.cursor = self._rewound(items)
        if not fresh:
            raise ApiError(f"more than {self.page_size} videos share the creation time "
                           f"{self.cursor}; list videos cannot page past them", url=self.where)
        return fresh

    def update_request(self, request: dict[str, Any]) -> None:
        request["after"] = self.cursor

    def _rewound(self, batch: list[dict]) -> str:
        times = [self._time(v) for v in batch]
        last = times[-1]
        earlier = [t for t in times if t < last]
        boundary = max(earlier) if earlier else last - timedelta(microseconds=1)
        if self.cursor is not None and boundary <= self._time({"created": self.cursor}):
            boundary = last - timedelta(microseconds=1)
        return boundary.isoformat().replace("+00:00", "Z")

    def _time(self, item: dict) -> datetime:
        moment = self.parse(item["created"])
        if moment is None:
            raise ApiError(f"{self.where}: a listed item without a creation time; cannot page "
                           "on", url=self.where)
        return moment


class ContinuationTokenPaginator(Paginator[T]):
    """S3 ListObjectsV2: follow `NextContinuationToken` while `IsTruncated`."""

    def __init__(self, bucket: str) -> None:
        super().__init__()
        self.bucket = bucket
        self.token: str | None = None

    def update_state(self, page: Any, items: list[T]) -> list[T]:
        self.has_next_page = bool(page.get("IsTruncated"))
        self.token = page.get("NextContinuationToken")
        return items

    def update_request(self, request: dict[str, Any]) -> None:
        if not self.token:
            raise R2Error(f"ListObjectsV2 on {self.bucket} was truncated without a "
                          "NextContinuationToken", bucket=self.bucket)
        request["ContinuationToken"] = self.token


class PageNumberPaginator(Paginator[T]):
    """Cloudflare's page-numbered listings (`page` + `per_page`, `result_info.total_count`),
    e.g. the alerting history: the next page while fewer items than the total were seen."""

    def __init__(self, per_page: int) -> None:
        super().__init__()
        self.per_page = per_page
        self.page = 1
        self.seen = 0

    def update_state(self, page: Any, items: list[T]) -> list[T]:
        self.seen += len(items)
        total = (page.result_info or {}).get("total_count", 0)
        self.has_next_page = bool(items) and self.seen < total
        return items

    def update_request(self, request: dict[str, Any]) -> None:
        self.page += 1
        request["page"] = self.page
