"""Plan → dry-run diff → apply through the API, refusing stale plans, with an audit log.

The recipe (`apply_plan`):
1. review: read each resource's live value from the account (GET live input / video,
   S3 GetBucketLifecycleConfiguration) and compare it with the value the plan recorded:
   equal → pending; already the proposed value → done (skipped: applying twice changes
   nothing); anything else → stale, and the whole plan is refused before any change;
2. check the API's rules before sending (scheduledDeletion at least 30 days after upload
   and not in the past; deleteRecordingAfterDays 30–1096);
3. without `yes`: print the diff (resource, field, recorded value, live value, proposed
   value, why) and change nothing;
4. with `yes`: send each pending change (PUT live input, POST video, PUT bucket lifecycle)
   through the same rate-limited clients as the sync; then, in one warehouse transaction,
   append every outcome to `apply_audit` and record what the account now holds for each
   changed resource (the API's answer, as the sync's own row functions turn it into
   `live_inputs`, `videos` and `r2_lifecycle_rules` rows), so a forecast or review made
   right after an apply already reflects it, without a sync.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from .. import facts
from ..alerts.backstop import policy_fields
from ..client.http import Clock, CloudflareClient
from ..client.s3 import R2Client
from ..errors import LcAnalyticsError, PlanError
from ..money import format_usd
from ..recommend.model import Action, Plan
from ..settings import Settings
from ..sources.r2 import lifecycle_row
from ..sources.stream import live_input_row, parse_time, video_row
from ..sources.zone import cache_rules_raw, put_cache_rules, rule_body
from ..warehouse import Transaction, Warehouse
from . import events
from .notifications import POLICIES, find_by_name, save_by_name

MIN_SCHEDULED_DELETION_DAYS = facts.MIN_SCHEDULED_DELETION_DAYS
RETENTION_RANGE = facts.RETENTION_DAYS_RANGE
ORDER = {"video.schedule_deletion": 0, "live_input.update": 1, "r2.lifecycle": 2,
         "notifications.policy": 3, "zone.cache_rules": 4, "events.destination": 5,
         "events.policy": 6, "stream.webhook": 7, "manual": 8}


@dataclass
class Review:
    """One action of the plan next to what the account holds now."""

    action: Action
    live: dict[str, Any] | None  # None for manual actions
    status: str  # pending | done | stale | manual
    detail: str = ""


@dataclass
class ApplyReport:
    """What an apply did (or, as a dry run, would do)."""

    plan_id: str
    dry_run: bool
    reviews: list[Review] = field(default_factory=list)
    applied: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)

    @property
    def pending(self) -> list[Review]:
        return [r for r in self.reviews if r.status == "pending"]


class _Account:
    """Reads and writes the resources a plan touches, through the client the sync reads with;
    what the account answers becomes rows by the datasets' own row functions (`sources/`)."""

    def __init__(self, settings: Settings, transport: httpx.BaseTransport | None,
                 clock: Clock | None) -> None:
        self.settings = settings
        self.client = CloudflareClient(settings, transport=transport, clock=clock)
        self._r2: R2Client | None = None

    @property
    def r2(self) -> R2Client:
        if self._r2 is None:
            self._r2 = R2Client(self.settings)
        return self._r2

    def read(self, action: Action) -> dict[str, Any]:
        if action.kind in events.KINDS:  # `setup events` plans
            return events.read(self.client, action)
        if action.kind == "live_input.update":
            live = self.client.get(
                self.client.account_path(f"stream/live_inputs/{action.resource}")).result
            return _project(live, action.proposed)
        if action.kind == "video.schedule_deletion":
            video = self.client.get(self.client.account_path(f"stream/{action.resource}")).result
            return {"scheduledDeletion": video.get("scheduledDeletion"),
                    "_uploaded": video.get("uploaded") or video.get("created")}
        if action.kind == "r2.lifecycle":
            return {"Rules": self.r2.raw_lifecycle(action.resource)}
        if action.kind == "zone.cache_rules":
            return {"rules": [rule_body(r) for r in cache_rules_raw(self.client,
                                                                   action.resource)[1]]}
        if action.kind == "notifications.policy":
            return policy_fields(find_by_name(self.client, POLICIES, action.resource))
        raise PlanError(f"action {action.id}: unknown kind {action.kind!r}")

    def write(self, action: Action) -> tuple[str, list[dict[str, Any]]]:
        """Send the change; return the warehouse table and rows the resource now has."""
        if action.kind in events.KINDS:
            return events.write(self.client, action)
        if action.kind == "live_input.update":
            page = self.client.put(
                self.client.account_path(f"stream/live_inputs/{action.resource}"),
                action.proposed)
            return "live_inputs", [live_input_row(page.result)]
        if action.kind == "video.schedule_deletion":
            page = self.client.post(self.client.account_path(f"stream/{action.resource}"),
                                    {"scheduledDeletion": action.proposed["scheduledDeletion"]})
            return "videos", [video_row(page.result)]
        if action.kind == "r2.lifecycle":
            self.r2.put_lifecycle(action.resource, _rules(action.proposed))
            return "r2_lifecycle_rules", [lifecycle_row(action.resource, rule)
                                          for rule in self.r2.raw_lifecycle(action.resource)]
        if action.kind == "zone.cache_rules":
            return "zone_cache_rules", put_cache_rules(self.client, action.resource,
                                                       action.proposed["rules"])
        if action.kind == "notifications.policy":  # the warehouse keeps no policies
            save_by_name(self.client, POLICIES, action.resource, action.proposed)
            return "", []
        raise PlanError(f"action {action.id}: unknown kind {action.kind!r}")

    def close(self) -> None:
        self.client.close()


def apply_plan(plan: Plan, settings: Settings, *, yes: bool = False,
               transport: httpx.BaseTransport | None = None, clock: Clock | None = None,
               now: datetime | None = None, warehouse: Warehouse | None = None) -> ApplyReport:
    """Review a plan against the live account; apply it only when `yes` is given.

    >>> report = apply_plan(Plan.read("plan.json"), Settings.from_env())  # doctest: +SKIP
    >>> print(render(plan, report))   # the dry-run diff                  # doctest: +SKIP
    """
    if settings.account_id and plan.account_id != settings.account_id:
        raise PlanError(f"plan {plan.id} was made for account {plan.account_id}, not "
                        f"{settings.account_id} (CLOUDFLARE_ACCOUNT_ID)")
    account = _Account(settings, transport, clock)
    try:
        report = ApplyReport(plan.id, dry_run=not yes)
        report.reviews = [_review(account, a) for a in
                          sorted(plan.actions, key=lambda a: ORDER.get(a.kind, 9))]
        moment = now or account.client.server_date or datetime.now(UTC)
        _check_rules(report.reviews, moment)
        stale = [r for r in report.reviews if r.status == "stale"]
        if stale:
            raise PlanError(
                f"plan {plan.id} is stale: {len(stale)} resource(s) changed since it was made "
                "(run `lc-analytics recommend` again):\n" + "\n".join(
                    f"  - {r.action.kind} {r.action.resource}: {r.detail}" for r in stale))
        report.already = [r.action.id for r in report.reviews if r.status == "done"]
        if yes:
            _apply(account, plan, report, warehouse, moment)
        return report
    finally:
        account.close()


def _review(account: _Account, action: Action) -> Review:
    if action.kind == "manual":
        return Review(action, None, "manual", "done by a person, not through the API")
    live = account.read(action)
    shown = {k: v for k, v in live.items() if not k.startswith("_")}
    if _same(shown, action.proposed, action.kind):
        return Review(action, live, "done", "already holds the proposed value")
    if _same(shown, action.current, action.kind):
        return Review(action, live, "pending")
    return Review(action, live, "stale",
                  f"plan recorded {_show(action.current)}, account now holds {_show(shown)}")


def _check_rules(reviews: list[Review], now: datetime) -> None:
    problems = []
    for r in reviews:
        a = r.action
        if r.status != "pending":
            continue
        if a.kind == "video.schedule_deletion":
            when = parse_time(a.proposed.get("scheduledDeletion"))
            uploaded = parse_time((r.live or {}).get("_uploaded"))
            if when is None:
                problems.append(f"{a.resource}: a plan never removes a scheduled deletion")
            elif uploaded and when < uploaded + timedelta(days=MIN_SCHEDULED_DELETION_DAYS):
                problems.append(f"video {a.resource}: scheduledDeletion {when:%Y-%m-%d} is "
                                f"less than {MIN_SCHEDULED_DELETION_DAYS} days after its upload "
                                f"({uploaded:%Y-%m-%d}); the API refuses it")
            elif when < now:
                problems.append(f"video {a.resource}: scheduledDeletion {when:%Y-%m-%d} is in "
                                "the past")
        if a.kind == "live_input.update" and "deleteRecordingAfterDays" in a.proposed:
            days = a.proposed["deleteRecordingAfterDays"]
            if days is not None and not RETENTION_RANGE[0] <= int(days) <= RETENTION_RANGE[1]:
                problems.append(f"live input {a.resource}: deleteRecordingAfterDays {days} is "
                                f"outside {RETENTION_RANGE[0]}–{RETENTION_RANGE[1]}")
    if problems:
        raise PlanError("the plan breaks the API's rules:\n" + "\n".join(
            f"  - {p}" for p in problems))


def _apply(account: _Account, plan: Plan, report: ApplyReport, warehouse: Warehouse | None,
           now: datetime) -> None:
    audit: list[dict[str, Any]] = []
    changed: list[tuple[Action, str, list[dict[str, Any]]]] = []
    apply_id = uuid.uuid4().hex
    try:
        for r in report.reviews:
            status, error = {"done": "already", "manual": "manual"}.get(r.status, ""), None
            if r.status == "pending":
                try:
                    changed.append((r.action, *account.write(r.action)))
                    status = "applied"
                    report.applied.append(r.action.id)
                except LcAnalyticsError as exc:
                    status, error = "failed", str(exc)
                    raise
                finally:
                    audit.append(_audit_row(apply_id, report.plan_id, r, status, error, now))
            else:
                audit.append(_audit_row(apply_id, report.plan_id, r, status, None, now))
    finally:
        if warehouse is not None and audit:
            with warehouse.transaction() as tx:
                tx.upsert("apply_audit", audit)
                for action, table, rows in changed:
                    _record(tx, action, table, rows, now)


def _record(tx: Transaction, action: Action, table: str, rows: list[dict[str, Any]],
            now: datetime) -> None:
    """Store what the account holds after `action` as a sync would store it."""
    if not table:
        return
    tx.upsert(table, rows, seen_at=now)
    if table == "zone_cache_rules":
        tx.mark_missing(table, now, scope={"zone_id": action.resource})
    if table == "r2_lifecycle_rules":  # rules the change removed, as a listing marks them
        tx.mark_missing(table, now, scope={"bucket": action.resource},
                        keep=("rule_id", [row["rule_id"] for row in rows]))


def _audit_row(apply_id: str, plan_id: str, r: Review, status: str, error: str | None,
               now: datetime) -> dict[str, Any]:
    live = {k: v for k, v in (r.live or {}).items() if not k.startswith("_")}
    return {"apply_id": apply_id, "applied_at": now, "plan_id": plan_id, "action_id": r.action.id,
            "kind": r.action.kind, "resource": r.action.resource,
            "recommendation_id": r.action.recommendation_id,
            "before_json": json.dumps(live, sort_keys=True, default=str),
            "after_json": json.dumps(r.action.proposed, sort_keys=True, default=str),
            "status": status, "error": error}


def render(plan: Plan, report: ApplyReport) -> str:
    """The dry-run diff: every resource, its recorded, live and proposed values, and why."""
    saving = sum((rec.monthly_saving for rec in plan.recommendations), start=0)
    made = plan.created_at.strftime("%Y-%m-%d %H:%MZ")
    lines = [f"Plan {plan.id} for account {plan.account_id}, made {made} with {plan.book}: "
             f"{len(plan.actions)} action(s), estimated saving {format_usd(saving)}/month"]
    for r in report.reviews:
        a = r.action
        lines.append(f"  [{r.status}] {a.kind} {a.resource}  ({a.recommendation_id})")
        if r.status != "manual":
            live = {k: v for k, v in (r.live or {}).items() if not k.startswith("_")}
            for key in sorted(set(a.proposed) | set(a.current)):
                lines.append(f"      {key}: {_show(a.current.get(key))} -> "
                             f"{_show(a.proposed.get(key))}   (account now: "
                             f"{_show(live.get(key))})")
        else:
            lines.append(f"      {_show(a.proposed)}")
        lines.append(f"      why: {a.why}")
    pending = len(report.pending)
    if report.dry_run:
        lines.append(f"Dry run: nothing changed. {pending} change(s) would be applied "
                     f"({len(report.already)} already in place); re-run with --yes to apply.")
    else:
        lines.append(f"Applied {len(report.applied)} change(s); {len(report.already)} were "
                     "already in place; manual steps are listed above.")
    return "\n".join(lines)


# --- comparing values ---------------------------------------------------------------------

def _project(obj: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    """The parts of `obj` at the keys of `shape` (nested), e.g. {"recording": {"mode"}}."""
    out: dict[str, Any] = {}
    for key, sub in shape.items():
        value = obj.get(key) if isinstance(obj, dict) else None
        out[key] = _project(value or {}, sub) if isinstance(sub, dict) else value
    return out


def _rules(value: Any) -> list[dict[str, Any]]:
    rules = value.get("Rules", []) if isinstance(value, dict) else list(value or [])
    return [json.loads(r) if isinstance(r, str) else r for r in rules]


def _canonical(value: Any, kind: str) -> str:
    if kind == "r2.lifecycle":
        rules = sorted(_rules(value), key=lambda r: str(r.get("ID", "")))
        return json.dumps(rules, sort_keys=True, default=str)
    if kind == "zone.cache_rules":  # the API names new rules: compare them without ids
        rules = [{k: v for k, v in r.items() if k != "id"}
                 for r in (value or {}).get("rules", [])]
        return json.dumps(rules, sort_keys=True, default=str)
    if kind == "video.schedule_deletion":
        when = parse_time((value or {}).get("scheduledDeletion"))
        return "" if when is None else when.astimezone(UTC).isoformat()
    return json.dumps(value, sort_keys=True, default=str)


def _same(a: Any, b: Any, kind: str) -> bool:
    return _canonical(a, kind) == _canonical(b, kind)


def _show(value: Any) -> str:
    if value is None:
        return "null"
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 120 else text[:117] + "..."
