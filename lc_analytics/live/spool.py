"""The durable spool beside the warehouse: append-only JSON lines, fsynced before anyone is
told "stored", so a DuckDB lock held by a sync never loses or delays an event.

    <warehouse dir>/<warehouse name>.spool/events.jsonl    live-input events, recording webhooks
    <warehouse dir>/<warehouse name>.spool/samples.jsonl   live viewer counts and gaps

Each line is one record `{"id", "kind", "received_at", ...}`; `id` is the SHA-256 of the
record's content (kind + body), so the same event delivered twice is stored once. A line cut
short by a crash (never acknowledged: the fsync comes after the whole line) is dropped when
the spool is next opened for writing, and readers only ever take whole lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES = {"event": "events.jsonl", "sample": "samples.jsonl"}


def spool_dir(db_path: str | Path) -> Path:
    """The spool folder beside the warehouse file `db_path`.

    >>> spool_dir("data/lc.duckdb").as_posix()
    'data/lc.spool'
    """
    db = Path(db_path)
    return db.with_name(f"{db.stem}.spool")


def content_id(kind: str, body: Any) -> str:
    """The id of a record: SHA-256 over its kind and canonical JSON body.

    >>> content_id("event", {"b": 1, "a": 2}) == content_id("event", {"a": 2, "b": 1})
    True
    """
    canonical = json.dumps([kind, body], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass
class Spool:
    """Appends records to the spool's files, each one fsynced before `append` returns."""

    folder: Path
    _seen: dict[str, set[str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        for kind, name in FILES.items():
            path = self.folder / name
            path.touch(mode=0o600, exist_ok=True)
            _drop_torn_tail(path)
            self._seen[kind] = {r["id"] for r in read_records(self.folder, kind)}
        _fsync_dir(self.folder)

    def append(self, kind: str, body: Any, **extra: Any) -> tuple[str, bool]:
        """Store `body` durably as a `kind` record; (id, True) if new, (id, False) if the same
        content was already stored (nothing is written then)."""
        return self.append_many(kind, [body], **extra)[0]

    def append_many(self, kind: str, bodies: list[Any], **extra: Any) -> list[tuple[str, bool]]:
        """Store several records with one write and one fsync (the poller's round)."""
        out, lines = [], []
        with self._lock:
            for body in bodies:
                ident = content_id(kind, body)
                new = ident not in self._seen[kind]
                if new:
                    self._seen[kind].add(ident)
                    lines.append(json.dumps({"id": ident, "kind": kind, **extra, "body": body},
                                            sort_keys=True, separators=(",", ":")) + "\n")
                out.append((ident, new))
            if lines:
                try:
                    self._write("".join(lines).encode(), kind)
                except BaseException:
                    self._seen[kind].difference_update(i for i, n in out if n)
                    raise
        return out

    def _write(self, data: bytes, kind: str) -> None:
        fd = os.open(self.folder / FILES[kind], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def count(self, kind: str) -> int:
        """How many distinct records of `kind` the spool holds."""
        return len(self._seen[kind])


def read_records(folder: str | Path, kind: str) -> Iterator[dict[str, Any]]:
    """Every whole record of `kind` in the spool at `folder` (none if it does not exist)."""
    path = Path(folder) / FILES[kind]
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return  # a line still being written, or cut short by a crash
            yield json.loads(raw)


def _drop_torn_tail(path: Path) -> None:
    """Cut an unfinished last line (a crash mid-write: it was never acknowledged)."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as fh:
            fh.truncate(data.rfind(b"\n") + 1)
            fh.flush()
            os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
