"""The spool's de-duplication memory: content ids with when each was received, bounded.

One mechanism for both places that remember ids: the receiver's (and poller's) in-memory set
of the records it stored, and the compacted base's `seen` (the ids of the events compaction
let go). Both forget the ids received more than `window` seconds before the newest one, and
keep at most the newest `limit` (`spool.DEDUP_SECONDS`, `spool.DEDUP_MAX`), so a receiver
that runs for months holds no more than a compacted base does.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping


class Recent:
    """Ids and their receipt times (seconds), oldest first, bounded by age and count.

    >>> r = Recent({"a": 1.0, "b": 5.0}, window=10.0, limit=2)
    >>> r.add("c", 12.0); "a" in r, "b" in r, "c" in r
    (False, True, True)
    >>> r.add("d", 13.0); r.as_dict()
    {'c': 12.0, 'd': 13.0}
    """

    def __init__(self, received: Mapping[str, float], *, window: float, limit: int,
                 newest: float = 0.0) -> None:
        self.window, self.limit = window, limit
        self._at: OrderedDict[str, float] = OrderedDict(
            (i, at) for at, i in sorted((at, i) for i, at in received.items()))
        self.newest = max([newest, *self._at.values()])
        self._forget()

    def __contains__(self, ident: object) -> bool:
        return ident in self._at

    def __len__(self) -> int:
        return len(self._at)

    def __iter__(self) -> Iterator[str]:
        return iter(self._at)

    def add(self, ident: str, at: float) -> None:
        """Remember `ident` as received at `at` (ids are kept in the order they arrive: an
        earlier `at` than the newest, from a clock that stepped back, is forgotten in turn)."""
        self._at[ident] = max(at, self._at.pop(ident, at))
        self.newest = max(self.newest, at)
        self._forget()

    def discard(self, ident: str) -> None:
        self._at.pop(ident, None)

    def as_dict(self) -> dict[str, float]:
        """{id: received_at}, oldest first."""
        return dict(self._at)

    def _forget(self) -> None:
        """Drop the oldest ids while they are too many or older than the window allows."""
        cutoff = self.newest - self.window
        while self._at and (len(self._at) > self.limit
                            or next(iter(self._at.values())) < cutoff):
            self._at.popitem(last=False)
