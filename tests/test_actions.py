"""Apply: dry run by default, stale plans refused, API rules enforced, idempotent, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pandas as pd
import pytest

from lc_analytics.actions import apply_plan, render
from lc_analytics.errors import PlanError
from lc_analytics.recommend.evidence import NoteEvidence
from lc_analytics.recommend.model import Action, Plan, Recommendation
from lc_analytics.sandbox.runtime import Sandbox
from lc_analytics.warehouse import Warehouse

from .conftest import END

THUMBS = "lc-thumbnails"


@pytest.fixture
def sandbox(account):
    with Sandbox(account) as sb:
        yield sb


def _rfc3339(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _plan(sb: Sandbox, *, deletion_days: int = 45) -> Plan:
    acct = sb.account
    unwatched = next(p.target for p in acct.planted if p.kind == "unwatched_recordings"
                     and not p.healthy)
    videos = acct.visible_videos()
    old = videos[(videos["live_input"] == unwatched) & (videos["state"] == "ready")].iloc[0]
    when = max(old["uploaded"] + pd.Timedelta(days=deletion_days), acct.now + pd.Timedelta(days=1))
    rules = sb.r2.client().get_bucket_lifecycle_configuration(Bucket=THUMBS)["Rules"]
    new_rule = {"ID": "expire-shows-30d", "Status": "Enabled", "Filter": {"Prefix": "shows/"},
                "Expiration": {"Days": 30}}
    actions = (
        Action("a-li", "live_input.update", unwatched, {"deleteRecordingAfterDays": None},
               {"deleteRecordingAfterDays": 30}, "recordings are never watched on demand", "r1"),
        Action("a-v", "video.schedule_deletion", old["uid"], {"scheduledDeletion": None},
               {"scheduledDeletion": _rfc3339(when)}, "older than the 30-day policy", "r1"),
        Action("a-r2", "r2.lifecycle", THUMBS, {"Rules": rules},
               {"Rules": [*rules, new_rule]}, "shows/ is never read after 7 days", "r2"),
        Action("a-m", "manual", "account", {}, {"prepaid_capacity_minutes": 36000},
               "lower prepaid capacity once the recordings are gone", "r1"),
    )
    rec = Recommendation("r1", "recording_selectivity", "live_input", unwatched, "retain 30 d",
                         NoteEvidence(note="made by hand"), "rule", Decimal("15.00"),
                         "3 blocks x $5", "none", "high", actions)
    return Plan(acct.account_id, datetime(2026, 7, 1, tzinfo=UTC), "cloudflare", [rec])


def _state(sb: Sandbox, plan: Plan):
    a = {x.id: x for x in plan.actions}
    li = sb.account.visible_live_inputs().set_index("uid").at[a["a-li"].resource,
                                                             "delete_recording_after_days"]
    sched = sb.account.visible_videos().set_index("uid").at[a["a-v"].resource,
                                                           "scheduled_deletion"]
    rules = sb.r2.client().get_bucket_lifecycle_configuration(Bucket=THUMBS)["Rules"]
    return (None if pd.isna(li) else int(li), None if pd.isna(sched) else sched,
            sorted(r["ID"] for r in rules))


def test_dry_run_lists_every_change_and_changes_nothing(sandbox, tmp_path):
    plan = _plan(sandbox)
    path = plan.write(tmp_path / "plan.json")
    plan = Plan.read(path)
    before = _state(sandbox, plan)
    report = apply_plan(plan, sandbox.settings(), transport=sandbox.transport)
    assert _state(sandbox, plan) == before
    assert [r.status for r in report.reviews] == ["pending", "pending", "pending", "manual"]
    text = render(plan, report)
    assert "deleteRecordingAfterDays: null -> 30   (account now: null)" in text
    assert "why: recordings are never watched on demand" in text
    assert "Dry run: nothing changed. 3 change(s) would be applied" in text
    assert "prepaid_capacity_minutes" in text


def test_apply_changes_the_account_once_and_audits_every_action(sandbox, tmp_path):
    plan = _plan(sandbox)
    db = tmp_path / "wh.duckdb"
    wh = Warehouse(db)
    report = apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport,
                        warehouse=wh)
    assert report.applied == ["a-v", "a-li", "a-r2"]
    li, sched, rules = _state(sandbox, plan)
    assert li == 30 and sched is not None and "expire-shows-30d" in rules
    # the lifecycle change reaches the simulation as R2 would act on it
    sandbox.r2.read_lifecycle_into_account()
    assert "expire-shows-30d" in set(sandbox.account.lifecycle["rule_id"])
    # a second apply changes nothing
    again = apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport,
                       warehouse=wh)
    assert again.applied == [] and sorted(again.already) == ["a-li", "a-r2", "a-v"]
    audit = wh.query("SELECT action_id, status FROM apply_audit ORDER BY applied_at, action_id")
    assert audit["status"].tolist().count("applied") == 3
    assert audit["status"].tolist().count("already") == 3
    assert set(audit["action_id"]) == {"a-li", "a-v", "a-r2", "a-m"}


def test_a_stale_plan_is_refused_before_any_change(sandbox):
    plan = _plan(sandbox)
    li = next(a for a in plan.actions if a.kind == "live_input.update").resource
    sandbox.account.update_live_input(li, delete_recording_after_days=60)  # someone else
    before = _state(sandbox, plan)
    with pytest.raises(PlanError, match="stale") as err:
        apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport)
    assert li in str(err.value) and '"deleteRecordingAfterDays": 60' in str(err.value)
    assert _state(sandbox, plan) == before


def test_a_deletion_earlier_than_the_api_allows_is_refused(sandbox):
    plan = _plan(sandbox, deletion_days=10)
    acct = sandbox.account
    # make the video young enough that now + 1 day is under 30 days after its upload
    young = acct.visible_videos().query("state == 'ready'").iloc[-1]
    action = next(a for a in plan.actions if a.kind == "video.schedule_deletion")
    bad = Action(action.id, action.kind, young["uid"], {"scheduledDeletion": None},
                 {"scheduledDeletion": _rfc3339(young["uploaded"] + pd.Timedelta(days=10))},
                 action.why, action.recommendation_id)
    rec = plan.recommendations[0]
    plan.recommendations[0] = Recommendation(**{**rec.__dict__, "actions": (bad,)})
    with pytest.raises(PlanError, match="less than 30 days after its upload"):
        apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport)
    assert pd.isna(acct.visible_videos().set_index("uid").at[young["uid"],
                                                             "scheduled_deletion"])


def test_a_plan_for_another_account_is_refused(sandbox):
    plan = _plan(sandbox)
    plan.account_id = "f" * 32
    with pytest.raises(PlanError, match="was made for account"):
        apply_plan(plan, sandbox.settings(), transport=sandbox.transport)


def test_an_edited_plan_file_is_refused(sandbox, tmp_path):
    path = _plan(sandbox).write(tmp_path / "plan.json")
    path.write_text(path.read_text().replace('"deleteRecordingAfterDays": 30',
                                             '"deleteRecordingAfterDays": 31'))
    with pytest.raises(Exception, match="edited after it was made"):
        Plan.read(path)


def test_scheduled_deletion_dates_are_compared_as_instants(sandbox):
    plan = _plan(sandbox)
    apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport)
    # the API answers in its own RFC 3339 spelling; the plan's spelling differs
    report = apply_plan(plan, sandbox.settings(), transport=sandbox.transport,
                        now=datetime(2026, 7, 1, tzinfo=UTC) + timedelta(hours=1))
    assert {r.action.id: r.status for r in report.reviews}["a-v"] == "done"


# --- what apply leaves in the warehouse ----------------------------------------------------

_SEEN = ["first_seen", "last_seen", "missing_since"]


def _held(db, table: str, key: list[str]) -> pd.DataFrame:
    """What the warehouse says the account holds now (inventory bookkeeping left out)."""
    df = Warehouse(db, read_only=True).query(
        f"SELECT * FROM {table} WHERE missing_since IS NULL")
    return df.drop(columns=_SEEN).sort_values(key).reset_index(drop=True)


def test_apply_records_its_changes_so_forecasts_match_a_fresh_sync(sandbox, tmp_path):
    from lc_analytics.costs.runway import storage_runway_daily
    from lc_analytics.recommend import make_plan
    from lc_analytics.recommend._common import stream_month
    from lc_analytics.sync import sync

    acct = sandbox.account

    def sync_into(db):
        sync(sandbox.settings(db_path=db), transport=sandbox.transport,
             now=lambda: acct.now.to_pydatetime(), progress="none")
        return db

    applied = sync_into(tmp_path / "applied.duckdb")
    plan = make_plan(Warehouse(applied), plan_path=tmp_path / "plan.json")
    # one change of each kind the API applies: the recommenders' plan plus a lifecycle rule
    # removed (a change a sync would see as a rule gone missing)
    kinds = {a.kind for a in plan.actions}
    assert {"video.schedule_deletion", "live_input.update"} <= kinds
    rules = sandbox.r2.client().get_bucket_lifecycle_configuration(Bucket=THUMBS)["Rules"]
    extra = Action("a-drop", "r2.lifecycle", THUMBS, {"Rules": rules}, {"Rules": rules[1:]},
                   "drop a rule", "r-drop")
    plan.recommendations.append(Recommendation(
        "r-drop", "r2_lifecycle", "bucket_prefix", THUMBS, "drop a rule",
        NoteEvidence(note="by hand"), "rule",
        Decimal(0), "", "none", "high", (extra,)))
    before = storage_runway_daily(Warehouse(applied, read_only=True), horizon_days=62)
    report = apply_plan(plan, sandbox.settings(), yes=True, transport=sandbox.transport,
                        warehouse=Warehouse(applied))
    assert len(report.applied) == sum(a.kind != "manual" for a in plan.actions)
    fresh = sync_into(tmp_path / "fresh.duckdb")

    for table, key in (("live_inputs", ["uid"]), ("videos", ["uid"]),
                       ("r2_lifecycle_rules", ["bucket", "rule_id"])):
        pd.testing.assert_frame_equal(_held(applied, table, key), _held(fresh, table, key))
    wh_a, wh_f = Warehouse(applied, read_only=True), Warehouse(fresh, read_only=True)
    after = storage_runway_daily(wh_a, horizon_days=62)
    pd.testing.assert_frame_equal(after, storage_runway_daily(wh_f, horizon_days=62))
    assert not after["projected_minutes"].equals(before["projected_minutes"])  # it moved
    a_month, f_month = stream_month(wh_a, END), stream_month(wh_f, END)
    # equal up to the order floating-point sums were taken in
    assert a_month.baseline.tolist() == pytest.approx(f_month.baseline.tolist(), rel=1e-12)
    dropped = rules[0]["ID"]
    gone = wh_a.query("SELECT missing_since FROM r2_lifecycle_rules WHERE bucket = ? AND "
                      "rule_id = ?", [THUMBS, dropped])["missing_since"]
    assert gone.notna().all() and len(gone) == 1
