"""Shared fixtures: a pinned sandbox account (shared read-only, or fresh when a test mutates)."""

from __future__ import annotations

import copy
import shutil
from datetime import date
from pathlib import Path

import pytest

from lc_analytics.sandbox import SimulatedAccount

END = date(2026, 6, 30)  # tests pin the simulated "today"; the clock then reads 2026-07-01T00:00Z
SEED = 7


@pytest.fixture(scope="session")
def shared_account() -> SimulatedAccount:
    """One small account for the whole run. Tests must not mutate it or move its clock."""
    return SimulatedAccount.build("small", seed=SEED, end=END)


@pytest.fixture(scope="session")
def _pristine_account() -> SimulatedAccount:
    """The template `account` copies: never handed to a test."""
    return SimulatedAccount.build("small", seed=SEED, end=END)


@pytest.fixture
def account(_pristine_account) -> SimulatedAccount:
    """A fresh small account a test may edit or advance (a deep copy of one built once:
    tests/test_fixtures.py checks that it equals a new build and shares nothing)."""
    return copy.deepcopy(_pristine_account)


@pytest.fixture(scope="session")
def synced(tmp_path_factory):
    """One full sync of a fresh small account: (sandbox, warehouse path, report).

    The sandbox is closed afterwards; tests read the warehouse and `sandbox.account` only.
    """
    from lc_analytics.sandbox import Sandbox
    from lc_analytics.sync import sync

    acct = SimulatedAccount.build("small", seed=SEED, end=END)
    db = tmp_path_factory.mktemp("wh") / "wh.duckdb"
    with Sandbox(acct) as sb:
        report = sync(sb.settings(db_path=db), transport=sb.transport,
                      now=lambda: acct.now.to_pydatetime(), progress="none")
    return sb, db, report


@pytest.fixture(scope="session")
def synced_recs(synced) -> tuple:
    """`recommend_all` on the session's synced warehouse, once (read-only: do not mutate)."""
    from lc_analytics.recommend import recommend_all
    from lc_analytics.warehouse import Warehouse

    return tuple(recommend_all(Warehouse(synced[1], read_only=True)))


def copy_warehouse(db: Path, folder: Path) -> Path:
    """A writable copy of the DuckDB file `db` (and its WAL, if any) as `folder`/wh.duckdb."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / "wh.duckdb"
    shutil.copy(db, dest)
    wal = db.with_name(db.name + ".wal")
    if wal.exists():
        shutil.copy(wal, dest.with_name(dest.name + ".wal"))
    return dest


@pytest.fixture
def synced_copy(synced, tmp_path) -> Path:
    """A writable warehouse holding one full sync of a fresh small account at the pinned
    clock, exactly what `sync` writes for `account` (a copy of the session's `synced`): for
    tests that sync on from there, or write, without paying for the first full sync again."""
    return copy_warehouse(synced[1], tmp_path / "synced")

