"""Shared fixtures: a pinned sandbox account (shared read-only, or fresh when a test mutates)."""

from __future__ import annotations

from datetime import date

import pytest

from lc_analytics.sandbox import SimulatedAccount

END = date(2026, 6, 30)  # tests pin the simulated "today"; the clock then reads 2026-07-01T00:00Z
SEED = 7


@pytest.fixture(scope="session")
def shared_account() -> SimulatedAccount:
    """One small account for the whole run. Tests must not mutate it or move its clock."""
    return SimulatedAccount.build("small", seed=SEED, end=END)


@pytest.fixture
def account() -> SimulatedAccount:
    """A fresh small account a test may edit or advance."""
    return SimulatedAccount.build("small", seed=SEED, end=END)


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
