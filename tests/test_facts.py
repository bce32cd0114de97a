"""Cloudflare facts live once (lc_analytics/facts.py); the library reads them, never copies."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lc_analytics import facts
from lc_analytics.actions import apply
from lc_analytics.costs import r2_classes
from lc_analytics.errors import UsageError
from lc_analytics.recommend import _common, bitrate, retention, runway, selectivity
from lc_analytics.recommend.retention import retention_policies
from lc_analytics.sources import analytics, stream
from lc_analytics.warehouse import Warehouse

PKG = Path(facts.__file__).parent
#: Folders whose code must read the API's limits from facts, never write the number again.
READERS = ("recommend", "actions", "sources")


def test_the_api_limits_are_the_references():
    assert facts.MIN_SCHEDULED_DELETION_DAYS == 30  # §1.3
    assert facts.RETENTION_DAYS_RANGE == (30, 1096)  # §1.4, §6
    assert facts.STORAGE_BLOCK_MINUTES == 1000  # §3.1
    assert (facts.MAX_QUERY_WINDOW_DAYS, facts.STREAM_ANALYTICS_RETENTION_DAYS,
            facts.R2_ANALYTICS_RETENTION_DAYS) == (31, 90, 31)  # §2.1, §2.2
    assert (facts.REST_REQUESTS_PER_WINDOW, facts.GRAPHQL_QUERIES_PER_WINDOW,
            facts.RATE_LIMIT_WINDOW_SECONDS) == (1200, 300, 300.0)  # §1.9, §2.3


def test_every_reader_holds_the_fact_itself_not_a_copy():
    assert apply.MIN_SCHEDULED_DELETION_DAYS is facts.MIN_SCHEDULED_DELETION_DAYS
    assert apply.RETENTION_RANGE is facts.RETENTION_DAYS_RANGE
    assert _common.RETENTION_RANGE is facts.RETENTION_DAYS_RANGE
    assert _common.MIN_SCHEDULED_DELETION_DAYS is facts.MIN_SCHEDULED_DELETION_DAYS
    assert runway.BLOCK_MINUTES is facts.STORAGE_BLOCK_MINUTES
    assert bitrate.RECOMMENDED_ENCODES is facts.RECOMMENDED_ENCODES
    assert selectivity.MAX_OD_SHARE is facts.MAX_OD_SHARE
    assert analytics.MAX_WINDOW_DAYS is facts.MAX_QUERY_WINDOW_DAYS
    assert stream.PAGE_SIZE is facts.LIST_VIDEOS_PAGE_SIZE
    assert (retention.POLICIES[0], retention.POLICIES[-1]) == facts.RETENTION_DAYS_RANGE
    days = {name: d.retention_days for name, d in analytics.DATASETS.items()}
    assert days == {"minutes_viewed": facts.STREAM_ANALYTICS_RETENTION_DAYS,
                    "r2_storage": facts.R2_ANALYTICS_RETENTION_DAYS,
                    "r2_operations": facts.R2_ANALYTICS_RETENTION_DAYS,
                    "r2_object_reads": facts.R2_ANALYTICS_RETENTION_DAYS}


def _literal_ints(path: Path) -> set[int]:
    tree = ast.parse(path.read_text())
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and type(n.value) is int}


def test_no_module_repeats_the_retention_range_limit():
    """1096 (the longest deleteRecordingAfterDays) is written once, in facts.py."""
    offenders = [str(p.relative_to(PKG)) for folder in READERS
                 for p in sorted((PKG / folder).rglob("*.py")) if 1096 in _literal_ints(p)]
    assert offenders == []


def test_r2_classes_re_exports_the_facts_table():
    assert r2_classes.CLASS_A is facts.R2_CLASS_A
    assert r2_classes.CLASS_B is facts.R2_CLASS_B
    assert r2_classes.FREE is facts.R2_FREE
    assert frozenset({401, 403}) == r2_classes.NOT_BILLED_STATUS_CODES
    assert r2_classes.op_class is facts.r2_op_class
    # §3.2: listing is Class A (dear), reads Class B, deletes free, an unknown action Class A.
    assert [facts.r2_op_class(a) for a in ("ListObjectsV2", "LifecycleStorageTierTransition",
                                           "HeadObject", "AbortMultipartUpload", "Nope")] \
        == ["A", "A", "B", "free", "A"]
    assert not facts.R2_CLASS_A & facts.R2_CLASS_B
    assert not (facts.R2_CLASS_A | facts.R2_CLASS_B) & facts.R2_FREE


def test_the_sandbox_keeps_its_own_table():
    """The sandbox checks the library, so it must not read the library's facts."""
    sandbox = PKG / "sandbox"
    importers = [str(p.relative_to(PKG)) for p in sorted(sandbox.rglob("*.py"))
                 if "facts" in {getattr(n, "module", None) or "" for n in
                                ast.walk(ast.parse(p.read_text()))
                                if isinstance(n, ast.ImportFrom)}
                 or "from ... import facts" in p.read_text()
                 or "from .. import facts" in p.read_text()]
    assert importers == []


@pytest.mark.parametrize("policies", [(29,), (1097,), ()])
def test_a_policy_outside_the_api_range_is_refused(synced, policies):
    with pytest.raises(UsageError, match="30 to 1096 days"):
        retention_policies(Warehouse(synced[1], read_only=True), policies=policies)
