"""The durable spool beside the warehouse: append-only JSON lines, fsynced before anyone is
told "stored", so a DuckDB lock held by a sync never loses or delays an event.

    <warehouse dir>/<warehouse name>.spool/events.jsonl           live-input events, recording
                                                                  webhooks (being appended to)
    <warehouse dir>/<warehouse name>.spool/samples.jsonl          live viewer counts and gaps
    <warehouse dir>/<warehouse name>.spool/events.000007.jsonl    sealed segments (the sync
                                                                  rotated them; no more writes)
    <warehouse dir>/<warehouse name>.spool/events.base.jsonl      what compaction kept

Each line is one record `{"id", "kind", "received_at", ...}`; `id` is the SHA-256 of the
record's content (kind + body), so the same event delivered twice is stored once. A line cut
short by a crash (never acknowledged: the fsync comes after the whole line) is dropped before
the next write, and readers only ever take whole lines.

The spool does not grow for ever: the sync seals the files being appended to (`seal`: a
rename under the spool's lock, so no write is in flight), takes every record in, commits, and
only then compacts the sealed segments it read (`compact`) into the base file, which keeps
what the poller and the metrics still need (each input's last live-input event, its last
viewer sample) and the counts of the events it let go. The base's first line names the
segments it absorbed, and readers skip those, so a kill at any point loses nothing that was
acknowledged and counts nothing twice: before the commit the segments are still there (the
next sync reads them again; the warehouse upserts on natural keys), after it the new base
is in place (written aside, fsynced, renamed) before any segment is deleted.

De-duplication survives compaction and restarts: the base also remembers the content ids of
the events it let go (`seen`, with when each was received), so a sender's redelivery of one of
them after a receiver restart is acknowledged and not stored (nor counted) again. The memory
is bounded: ids received more than `DEDUP_SECONDS` before the newest one, and beyond the
newest `DEDUP_MAX`, are forgotten. A running receiver's (and poller's) memory of what it
stored is bounded the same way, by the same mechanism (`dedup.Recent`).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .dedup import Recent

FILES = {"event": "events.jsonl", "sample": "samples.jsonl"}
LOCK = ".lock"
DEDUP_SECONDS = 7 * 86_400  # let-go events' ids are remembered for a week of receipts ...
DEDUP_MAX = 100_000  # ... and at most this many (about 7 MB of base)


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


@contextmanager
def locked(folder: Path, exclusive: bool = True) -> Iterator[None]:
    """The spool's lock (flock on `<folder>/.lock`): writers and the sync's seal and compact
    take it exclusively, readers shared; it is released when its holder dies. A reader that
    may not create the lock file (a read-only view of the spool) reads without it."""
    fd = None
    try:
        fd = os.open(Path(folder) / LOCK, os.O_RDWR | os.O_CREAT, 0o600)
    except PermissionError:
        if exclusive:
            raise
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the flock


@dataclass
class Spool:
    """Appends records to the spool's files, each one fsynced before `append` returns; the
    ids it stored are remembered (bounded: `_memory`) with their `received_at` or `clock()`."""

    folder: Path
    clock: Callable[[], float] = time.time
    _seen: dict[str, Recent] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.folder = Path(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        with locked(self.folder):
            for name in FILES.values():
                path = self.folder / name
                path.touch(mode=0o600, exist_ok=True)
                _drop_torn_tail(path)
        now = self.clock()
        for kind in FILES:
            known = remembered(self.folder, kind)  # compacted away
            known.update({r["id"]: _received(r) or now for r in read_records(self.folder, kind)})
            self._seen[kind] = _memory(known)
        _fsync_dir(self.folder)

    def append(self, kind: str, body: Any, **extra: Any) -> tuple[str, bool]:
        """Store `body` durably as a `kind` record; (id, True) if new, (id, False) if the same
        content was already stored (nothing is written then)."""
        return self.append_many(kind, [body], **extra)[0]

    def append_many(self, kind: str, bodies: list[Any], **extra: Any) -> list[tuple[str, bool]]:
        """Store several records with one write and one fsync (the poller's round)."""
        out, lines = [], []
        at = _received(extra) or self.clock()
        with self._lock:
            for body in bodies:
                ident = content_id(kind, body)
                new = ident not in self._seen[kind]
                if new:
                    self._seen[kind].add(ident, at)
                    lines.append(json.dumps({"id": ident, "kind": kind, **extra, "body": body},
                                            sort_keys=True, separators=(",", ":")) + "\n")
                out.append((ident, new))
            if lines:
                try:
                    self._write("".join(lines).encode(), kind)
                except BaseException:
                    for i in (i for i, n in out if n):
                        self._seen[kind].discard(i)
                    raise
        return out

    def _write(self, data: bytes, kind: str) -> None:
        path = self.folder / FILES[kind]
        with locked(self.folder):  # the sync cannot seal the file in the middle of a write
            _drop_torn_tail(path)  # another writer's crash mid-line
            _write_durably(path, data, os.O_APPEND)

    def count(self, kind: str) -> int:
        """How many distinct ids of `kind` the spool remembers (held, or let go: `_memory`)."""
        return len(self._seen[kind])


def read_records(folder: str | Path, kind: str) -> Iterator[dict[str, Any]]:
    """Every whole record of `kind` in the spool at `folder` (none if it does not exist): the
    base, the sealed segments it has not absorbed, then the file being appended to."""
    folder = Path(folder)
    if not folder.is_dir():
        return iter(())
    with locked(folder, exclusive=False):
        return iter(list(_records(folder, kind)))


def _records(folder: Path, kind: str) -> Iterator[dict[str, Any]]:
    meta, kept = _base(folder, kind)
    yield from kept
    absorbed = set(meta.get("absorbed", ()))
    for seg in segments(folder, kind):
        if seg.name not in absorbed:
            yield from _lines(seg)
    yield from _lines(folder / FILES[kind])


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    try:
        fh = path.open("rb")
    except FileNotFoundError:
        return
    with fh:
        for raw in fh:
            if not raw.endswith(b"\n"):
                return  # a line still being written, or cut short by a crash
            yield json.loads(raw)


def _base(folder: Path, kind: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The base file's meta line and its kept records ({} and [] without a base)."""
    lines = list(_lines(base_path(folder, kind)))
    if lines and lines[0].get("kind") == "meta":
        return lines[0], lines[1:]
    return {}, lines


def base_path(folder: Path, kind: str) -> Path:
    return Path(folder) / FILES[kind].replace(".jsonl", ".base.jsonl")


def segments(folder: Path, kind: str) -> list[Path]:
    """The sealed segments of `kind`, oldest first."""
    stem = FILES[kind].removesuffix(".jsonl")
    pattern = re.compile(rf"{re.escape(stem)}\.(\d{{6,}})\.jsonl")
    found = [(int(m.group(1)), p) for p in Path(folder).iterdir()
             if (m := pattern.fullmatch(p.name))]
    return [p for _, p in sorted(found)]


def seal(folder: str | Path) -> dict[str, list[str]]:
    """Rotate each kind's file being appended to into a new sealed segment (if it holds
    anything); the names of every sealed segment not yet absorbed, per kind."""
    folder = Path(folder)
    out: dict[str, list[str]] = {k: [] for k in FILES}
    if not folder.is_dir():
        return out
    with locked(folder):
        for kind, name in FILES.items():
            active = folder / name
            _drop_torn_tail(active)
            existing = segments(folder, kind)
            absorbed = set(_base(folder, kind)[0].get("absorbed", ()))
            if active.exists() and active.stat().st_size:
                # numbers are never reused: the base names the segments it absorbed
                used = [int(n.split(".")[1]) for n in absorbed | {p.name for p in existing}]
                n = max(used, default=0) + 1
                sealed = folder / f"{name.removesuffix('.jsonl')}.{n:06d}.jsonl"
                os.rename(active, sealed)
                fd = os.open(active, os.O_WRONLY | os.O_CREAT, 0o600)
                os.close(fd)
                existing.append(sealed)
            out[kind] = [p.name for p in existing if p.name not in absorbed]
        _fsync_dir(folder)
    return out


def compact(folder: str | Path, sealed: dict[str, list[str]]) -> dict[str, int]:
    """Absorb the `sealed` segments (read and committed by the caller) into each kind's base:
    keep what `keep` needs, count the events let go; then delete the segments. Returns the
    records let go per kind."""
    folder = Path(folder)
    out = {}
    with locked(folder):
        for kind, names in sealed.items():
            out[kind] = _compact_kind(folder, kind, names)
        _fsync_dir(folder)
    return out


def _compact_kind(folder: Path, kind: str, names: list[str]) -> int:
    meta, kept = _base(folder, kind)
    for name in meta.get("absorbed", ()):  # a compaction killed before its deletes
        (folder / name).unlink(missing_ok=True)
    names = [n for n in names if (folder / n).exists()]
    if not names:
        return 0
    records = kept + [r for n in names for r in _lines(folder / n)]
    retained = keep(kind, records)
    ids = {r["id"] for r in retained}
    gone = [r for r in records if r["id"] not in ids]
    dropped = Counter(meta.get("dropped", {}))
    dropped.update(k for r in gone if kind == "event" and not (k := event_key(r)).startswith("|"))
    head = {"kind": "meta", "absorbed": names, "dropped": dict(sorted(dropped.items()))}
    if kind == "event":
        head["seen"] = _remember(meta.get("seen", {}), gone, records)
    tmp = base_path(folder, kind).with_suffix(".tmp")
    data = "".join(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n"
                   for r in [head, *retained]).encode()
    _write_durably(tmp, data, os.O_TRUNC)
    os.replace(tmp, base_path(folder, kind))
    _fsync_dir(folder)  # the new base is durable before any segment goes
    for n in names:
        (folder / n).unlink()
    return len(gone)


def _remember(seen: dict[str, float], gone: list[dict[str, Any]],
              records: list[dict[str, Any]]) -> dict[str, float]:
    """{id: received_at} of the let-go records to keep de-duplicating: the earlier ones and
    `gone`, less those received over `DEDUP_SECONDS` before the newest record, and beyond the
    newest `DEDUP_MAX`.

    >>> _remember({"a": 1.0}, [{"id": "b", "received_at": 2.0}], [])
    {'a': 1.0, 'b': 2.0}
    >>> _remember({"a": 1.0}, [{"id": "b", "received_at": 1.0 + DEDUP_SECONDS + 1}], [])
    {'b': 604802.0}
    """
    out = dict(seen)
    for r in gone:
        out[r["id"]] = max(_received(r), out.get(r["id"], 0.0))
    return _memory(out, max(map(_received, records), default=0.0)).as_dict()


def _memory(received: dict[str, float], newest: float = 0.0) -> Recent:
    """`received` bounded by `DEDUP_SECONDS` before the newest receipt and `DEDUP_MAX`."""
    return Recent(received, window=DEDUP_SECONDS, limit=DEDUP_MAX, newest=newest)


def _received(r: Mapping[str, Any]) -> float:
    at = r.get("received_at")
    return float(at) if isinstance(at, int | float) else 0.0


def remembered(folder: str | Path, kind: str) -> dict[str, float]:
    """{id: received_at} of the records compaction let go and still de-duplicates."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    with locked(folder, exclusive=False):
        return dict(_base(folder, kind)[0].get("seen", {}))


def keep(kind: str, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What compaction keeps: each live input's last live-input events (all those at its
    latest `updated_at`: the poller's "is it live?") and its last viewer sample (the
    metrics' gauge); recording webhooks and older records are let go."""
    last: dict[str, str] = {}
    for r in records:
        uid, at = _subject(kind, r)
        if uid is not None and at >= last.get(uid, ""):
            last[uid] = at
    out, seen = [], set()
    for r in records:
        uid, at = _subject(kind, r)
        if uid is not None and at == last[uid] and r["id"] not in seen:
            seen.add(r["id"])
            out.append(r)
    return out


def _subject(kind: str, r: dict[str, Any]) -> tuple[str | None, str]:
    body = r.get("body")
    if not isinstance(body, dict):
        return None, ""
    if kind == "sample":
        return body.get("live_input_uid"), str(body.get("at", ""))
    data = body.get("data")
    if not isinstance(data, dict) or not str(data.get("event_type", "")).startswith(
            "live_input."):
        return None, ""
    return data.get("input_id"), str(data.get("updated_at", ""))


def event_key(r: dict[str, Any]) -> str:
    """`event_type|error_code` of a spooled live-input event ('' parts when absent)."""
    body = r.get("body")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return "|"
    code = ((data.get("live_input_errored") or {}).get("error") or {}).get("code") or ""
    return f"{data.get('event_type') or ''}|{code}"


def dropped_events(folder: str | Path) -> dict[str, int]:
    """Events compaction let go, by `event_type|error_code` (the metrics' counter adds them)."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}
    with locked(folder, exclusive=False):
        return dict(_base(folder, "event")[0].get("dropped", {}))


def _write_durably(path: Path, data: bytes, mode: int) -> None:
    """Write `data` to `path` (created 0600; `mode` os.O_APPEND or os.O_TRUNC) and fsync it
    before returning: what a 2xx answers for is on disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _drop_torn_tail(path: Path) -> None:
    """Cut an unfinished last line (a crash mid-write: it was never acknowledged)."""
    if not path.exists():
        return
    size = path.stat().st_size
    if not size:
        return
    with path.open("r+b") as fh:
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return
        data = path.read_bytes()
        fh.truncate(data.rfind(b"\n") + 1)
        fh.flush()
        os.fsync(fh.fileno())


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
