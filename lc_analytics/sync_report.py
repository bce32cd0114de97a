"""What a sync reports: its `SyncReport` (rows, requests, retries, time) and its progress."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from datetime import date

__all__ = ["Progress", "SyncReport"]


@dataclass
class SyncReport:
    """What one sync did: rows per table, requests, retries, listing calls, windows, time."""

    run_id: str
    rows: dict[str, int] = field(default_factory=dict)
    windows: dict[str, list[tuple[date, date]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # one summary line per source
    #: what the run did not fetch, and why: {source, subject, skipped, reason} (`sync_skips`)
    skips: list[dict] = field(default_factory=list)
    # what a source could not sync and why (a plan's limits, a setting not set)
    not_synced: dict[str, list[str]] = field(default_factory=dict)
    requests: int = 0
    graphql_requests: int = 0
    retries: int = 0
    listing_calls: int = 0
    duration_seconds: float = 0.0

    def summary_lines(self) -> list[str]:
        lines = [f"{source}: {note}" for source, note in self.notes.items()]
        lines += [f"skipped {s['source']} {s['subject']} ({s['skipped']:,}): {s['reason']}"
                  for s in self.skips]
        lines += [f"{source}: not synced: {why}" for source, whys in self.not_synced.items()
                  for why in whys]
        lines.append("rows: " + ", ".join(f"{t} {n:,}" for t, n in sorted(self.rows.items())))
        lines.append(f"requests {self.requests} (GraphQL {self.graphql_requests}), retries "
                     f"{self.retries}, R2 listing calls {self.listing_calls}, "
                     f"{self.duration_seconds:.1f}s")
        return lines


class Progress:
    """Progress reporting: a bar per source on a terminal, or one line per source."""

    def __init__(self, mode: str = "auto") -> None:
        if mode == "auto":
            mode = "bar" if sys.stderr.isatty() else "none"
        self.mode = mode
        self._bar = None

    def start(self, source: str, total: int | None, unit: str) -> None:
        if self.mode == "bar":
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=source, unit=unit, leave=True, file=sys.stderr)

    def advance(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def done(self, source: str, line: str) -> None:
        """Close the source's bar; in `lines` mode print its one summary line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self.mode == "lines":
            print(f"{source}: {line}", flush=True)
