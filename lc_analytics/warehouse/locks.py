"""Who holds a warehouse: the sync lock (one sync per file) and the processes that have it open."""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from ..errors import WarehouseLockedError

_POLL_SECONDS = 0.05


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    """The lock file that guards syncs of `db_path`: `<db>.sync.lock` next to it."""
    db = Path(db_path).expanduser().absolute()
    return db.with_name(db.name + ".sync.lock")


@contextmanager
def sync_lock(db_path: str | os.PathLike[str], timeout: float = 5.0) -> Iterator[Path]:
    """Hold the sync lock of `db_path` for the block; yields the lock file's path.

    A second holder (another process, or another open of the file in this one) waits up to
    `timeout` seconds, then gets WarehouseLockedError naming the holder's pid and start
    time. The lock is an `fcntl.flock`, so the kernel releases it if the holder dies; the
    lock file itself is left in place (deleting lock files invites races).

    Example:
        >>> with sync_lock("data/warehouse.duckdb", timeout=5):   # doctest: +SKIP
        ...     run_the_sync()
    """
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, db_path, timeout)
        try:
            _write_holder(fd)
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, db_path: str | os.PathLike[str], timeout: float) -> None:
    deadline = time.monotonic() + max(timeout, 0.0)
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                break
            time.sleep(_POLL_SECONDS)
    holder = _read_holder(path)
    pid, started = holder.get("pid"), holder.get("started_at")
    who = f"pid {pid}, started {started}" if pid else "holder unknown"
    command = describe_process(pid) if isinstance(pid, int) else None
    if command:
        who += f": {command}"
    raise WarehouseLockedError(
        f"another sync is running on {Path(db_path).expanduser().absolute()} ({who}); "
        f"waited {timeout:g}s for {path}",
        path=str(path),
        pid=pid,
        started_at=started,
    )


def _write_holder(fd: int) -> None:
    info = {"pid": os.getpid(), "started_at": datetime.now(UTC).isoformat(timespec="seconds")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)


def _read_holder(path: Path) -> dict[str, object]:
    try:
        data = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe_process(pid: int) -> str | None:
    """The command line of process `pid` (from /proc), shortened; None if it is not visible.

    >>> describe_process(os.getpid()) is not None or not Path("/proc").exists()
    True
    """
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = " ".join(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return text if len(text) <= 120 else text[:117] + "..."


def file_holders(path: str | os.PathLike[str]) -> list[tuple[int, str]]:
    """Other processes that have `path` (or its `.wal`) open: [(pid, command line)], by pid.

    Scans /proc/*/fd like `fuser`; processes of other users are not visible unless we run
    as root, and an empty list is returned where /proc does not exist.

    >>> file_holders("/nonexistent/warehouse.duckdb")
    []
    """
    target = Path(path).expanduser().absolute()
    names = {str(target), str(target) + ".wal"}
    found: list[tuple[int, str]] = []
    try:
        procs = [p for p in Path("/proc").iterdir() if p.name.isdigit()]
    except OSError:
        return []
    for proc in procs:
        pid = int(proc.name)
        if pid == os.getpid():
            continue
        try:
            fds = list((proc / "fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(fd)
            except OSError:
                continue
            if link in names:
                found.append((pid, describe_process(pid) or "?"))
                break
    return sorted(found)
