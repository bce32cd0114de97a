"""Fetch ahead: run a producer (pages from the API) in one background thread, a bounded
queue between it and the caller, so the next page is fetched while the last is written."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterable
from typing import TypeVar

__all__ = ["prefetch"]

T = TypeVar("T")
_END = object()


def prefetch(items: Iterable[T], depth: int = 2) -> Generator[T, None, None]:
    """Yield `items` in order, produced by a background thread at most `depth` ahead.

    The producer is the only thread that touches the API client (its rate limiters and
    retries are unchanged); the caller decodes and writes. An exception in the producer is
    raised in the caller at the point it happened; if the caller stops early (an error, an
    interrupt, `break`), the producer stops at its next item.

    >>> list(prefetch(iter(range(5)), depth=1))
    [0, 1, 2, 3, 4]
    """
    q: queue.Queue = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for item in items:
                if not put((item, None)):
                    return
        except BaseException as exc:  # handed to the caller, raised there
            put((_END, exc))
            return
        put((_END, None))

    worker = threading.Thread(target=run, name="lc-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if item is _END:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
