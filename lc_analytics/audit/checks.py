"""The production checklist, one function per item: each asks the account through the API
(or the warehouse) and returns pass, fail or "cannot tell" with its evidence.

Nothing here changes the account: every call is a read.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .. import readmodel
from ..client.http import CloudflareClient
from ..errors import ApiError, AuthError, ConfigError, LcAnalyticsError
from ..settings import Settings
from ..warehouse import Warehouse

PASS, FAIL, UNKNOWN = "pass", "fail", "cannot tell"
#: storage runway below this many days fails (issue 16: the alert's default threshold)
RUNWAY_THRESHOLD_DAYS = 14
#: a sync older than this fails "the sync ran in the last day"
SYNC_MAX_AGE = timedelta(days=1)
#: the permission groups the toolkit uses: reading Stream, analytics, billing, notifications
#: and zone analytics (CDN); editing Stream (apply plans), notifications (the billing-alert
#: backstop, live-event setup) and zone cache rules (a cache-rule plan). The zone groups'
#: names are the dashboard's (Zone > Analytics > Read, Zone > Cache Rules > Edit) as the
#: API is assumed to spell them (unverified in the reference).
NEEDED_GROUPS = frozenset({"Stream Read", "Stream Write", "Account Analytics Read",
                           "Billing Read", "Notifications Read", "Notifications Write",
                           "Zone Analytics Read", "Zone Cache Rules Edit"})
#: a live input whose `meta` holds this key documents why it keeps recordings forever
RETENTION_REASON_KEY = "retention_reason"


@dataclass(frozen=True)
class Check:
    """One checklist item's outcome."""

    key: str
    title: str
    status: str  # PASS | FAIL | UNKNOWN
    evidence: str


@dataclass
class AuditContext:
    """What the checks read from: the API client, the settings, the warehouse (optional)."""

    settings: Settings
    client: CloudflareClient | None
    warehouse: Warehouse | None
    now: datetime
    r2: Any = None  # an R2Inventory, or None without R2 credentials
    budgets: Path | None = None  # the budgets file of `alerts check`, if there is one
    cache: dict[str, Any] = field(default_factory=dict)

    def policies(self) -> list[dict[str, Any]]:
        """The account's Notifications policies (read once)."""
        if "policies" not in self.cache:
            assert self.client is not None
            page = self.client.get(self.client.account_path("alerting/v3/policies"))
            self.cache["policies"] = [p for p in page.result or [] if isinstance(p, dict)]
        return self.cache["policies"]


def _api(ctx: AuditContext, key: str, title: str, needs: str,
         body: Callable[[], tuple[str, str]]) -> Check:
    """Run `body` against the API; a refused or missing API becomes "cannot tell"."""
    if ctx.client is None:
        return Check(key, title, UNKNOWN, "no API token or account id is set "
                                          "(CLOUDFLARE_STREAM_API_TOKEN, CLOUDFLARE_ACCOUNT_ID)")
    try:
        status, evidence = body()
    except AuthError as exc:
        return Check(key, title, UNKNOWN, f"the token may not read this (needs '{needs}'): "
                                          f"HTTP {exc.status}")
    except ApiError as exc:
        return Check(key, title, UNKNOWN, f"the API did not answer: {exc}")
    return Check(key, title, status, evidence)


def stream_webhook(ctx: AuditContext) -> Check:
    """Stream webhook URL set (GET stream/webhook; the secret is never shown)."""
    def body() -> tuple[str, str]:
        assert ctx.client is not None
        try:
            hook = ctx.client.get(ctx.client.account_path("stream/webhook")).result or {}
        except ApiError as exc:
            if exc.status != 404:
                raise
            return FAIL, "no Stream webhook URL is set (GET stream/webhook answered 404)"
        url = hook.get("notificationUrl")
        if not url:
            return FAIL, "the Stream webhook has no notificationUrl"
        parts = urlsplit(str(url))
        return PASS, f"notificationUrl is set ({parts.scheme}://{parts.hostname}/...), " \
                     f"modified {hook.get('modified')}"
    return _api(ctx, "stream_webhook", "Stream webhook URL set", "Stream Read", body)


def live_notifications(ctx: AuditContext) -> Check:
    """An enabled `stream_live_notifications` policy exists."""
    def body() -> tuple[str, str]:
        found = [p for p in ctx.policies()
                 if p.get("alert_type") == "stream_live_notifications" and p.get("enabled")]
        if not found:
            return FAIL, ("no enabled stream_live_notifications policy: nobody is told when a "
                          "live input connects, disconnects or errors")
        names = ", ".join(f"{p.get('name')!r} ({_inputs(p)})" for p in found)
        return PASS, f"{len(found)} policy(ies): {names}"
    return _api(ctx, "live_notifications", "Live-input notifications policy present",
                "Notifications Read", body)


def _inputs(policy: dict[str, Any]) -> str:
    ids = (policy.get("filters") or {}).get("input_id")
    return f"{len(ids)} input(s)" if ids else "every input"


def billing_alert(ctx: AuditContext) -> Check:
    """A `billing_usage_alert` policy, or budgets with alert delivery configured."""
    title = "Billing alert policy or budgets with alert delivery"

    def body() -> tuple[str, str]:
        found = [p for p in ctx.policies()
                 if p.get("alert_type") == "billing_usage_alert" and p.get("enabled")]
        if found:
            return PASS, "billing_usage_alert policy(ies): " + ", ".join(
                f"{p.get('name')!r} (product {(p.get('filters') or {}).get('product')}, "
                f"limit {(p.get('filters') or {}).get('limit')})" for p in found)
        return _budgets(ctx)
    if ctx.client is None:
        status, evidence = _budgets(ctx)
        return Check("billing_alert", title, status, evidence)
    return _api(ctx, "billing_alert", title, "Notifications Read", body)


def _budgets(ctx: AuditContext) -> tuple[str, str]:
    """Budgets (a budgets file, `alerts check`) with alert delivery (LC_ANALYTICS_ALERT_URLS).
    The URLs carry credentials: only their number is shown."""
    from ..alerts import load_budgets

    urls = ctx.settings.alert_urls
    count = len([u for u in re.split(r"[,\s]+", urls.reveal()) if u]) if urls else 0
    if ctx.budgets is None:
        return FAIL, ("no billing_usage_alert policy, and no budgets file (budgets.toml) "
                      "for `lc-analytics alerts check`")
    try:
        budgets = load_budgets(ctx.budgets)
    except ConfigError as exc:
        return FAIL, f"no billing_usage_alert policy, and the budgets file is invalid: {exc}"
    if not count:
        return FAIL, (f"no billing_usage_alert policy; {len(budgets)} budget(s) in "
                      f"{ctx.budgets} but no alert delivery (LC_ANALYTICS_ALERT_URLS is not set)")
    return PASS, (f"no billing_usage_alert policy, but {len(budgets)} budget(s) in "
                  f"{ctx.budgets} delivered to {count} alert URL(s) by `alerts check`")


def recording_retention(ctx: AuditContext) -> Check:
    """Every recording live input has deleteRecordingAfterDays or a documented reason."""
    def body() -> tuple[str, str]:
        assert ctx.client is not None
        result = ctx.client.get(ctx.client.account_path("stream/live_inputs")).result or {}
        items = result.get("liveInputs", []) if isinstance(result, dict) else result
        recording, missing = 0, []
        for item in items:
            full = ctx.client.get(ctx.client.account_path(
                f"stream/live_inputs/{item['uid']}")).result or {}
            if (full.get("recording") or {}).get("mode", "off") == "off":
                continue
            recording += 1
            meta = full.get("meta") or {}
            if full.get("deleteRecordingAfterDays") is None and not meta.get(
                    RETENTION_REASON_KEY):
                missing.append(f"{meta.get('name') or 'unnamed'} ({item['uid']})")
        if missing:
            return FAIL, (f"{len(missing)} of {recording} recording live input(s) keep "
                          "recordings forever with no reason given (meta."
                          f"{RETENTION_REASON_KEY}): " + ", ".join(missing))
        return PASS, (f"all {recording} recording live input(s) have deleteRecordingAfterDays "
                      f"or a meta.{RETENTION_REASON_KEY}")
    return _api(ctx, "recording_retention", "Every recording input has a retention",
                "Stream Read", body)


def export_lifecycle(ctx: AuditContext) -> Check:
    """Buckets holding exports (name containing 'export') have enabled lifecycle rules that
    move or expire objects."""
    key, title = "export_lifecycle", "Buckets holding exports have lifecycle rules"
    if ctx.r2 is None:
        return Check(key, title, UNKNOWN, "no R2 credentials (R2_ACCESS_KEY_ID, "
                                          "R2_SECRET_ACCESS_KEY, R2 endpoint) are set")
    try:
        buckets = [b for b in ctx.r2.buckets() if "export" in b]
        # R2's default rule (abort incomplete multipart uploads) moves and deletes nothing
        rules = {b: sum(1 for r in ctx.r2.lifecycle_rules(b) if r["enabled"] and (
            r["transition_days"] is not None or r["expire_days"] is not None))
            for b in buckets}
    except LcAnalyticsError as exc:
        return Check(key, title, UNKNOWN, f"R2 refused the listing: {exc}")
    if not buckets:
        return Check(key, title, UNKNOWN, "no bucket's name says it holds exports")
    bare = [b for b, n in rules.items() if n == 0]
    listed = ", ".join(f"{b}: {n} rule(s)" for b, n in rules.items())
    return Check(key, title, FAIL if bare else PASS,
                 (f"without lifecycle rules: {', '.join(bare)}; " if bare else "") + listed)


def storage_runway(ctx: AuditContext) -> Check:
    """Prepaid Stream storage lasts longer than RUNWAY_THRESHOLD_DAYS (from the warehouse)."""
    key, title = "storage_runway", f"Storage runway above {RUNWAY_THRESHOLD_DAYS} days"
    if ctx.warehouse is None:
        return Check(key, title, UNKNOWN, "no warehouse to forecast from (run the sync)")
    from ..costs.review import runway_summary

    try:
        runway = runway_summary(ctx.warehouse)
    except LcAnalyticsError as exc:
        return Check(key, title, UNKNOWN, f"no forecast: {exc}")
    days = runway["days_until_exhaustion"]
    where = (f"{runway['stored_minutes']:,.0f} of {runway['capacity_minutes']:,.0f} minutes "
             f"stored")
    if days is None:
        return Check(key, title, PASS, f"{where}; not full within {runway['horizon_days']} "
                                       "days")
    status = PASS if days > RUNWAY_THRESHOLD_DAYS else FAIL
    return Check(key, title, status, f"{where}; full on {runway['exhaustion_date']} "
                                     f"({days} days)")


def sync_recent(ctx: AuditContext) -> Check:
    """The last successful sync finished within SYNC_MAX_AGE."""
    key, title = "sync_recent", "The sync ran in the last day"
    if ctx.warehouse is None:
        return Check(key, title, UNKNOWN, "no warehouse at LC_ANALYTICS_DB")
    last = readmodel.last_successful_sync(ctx.warehouse)
    if last is None:
        return Check(key, title, FAIL, "no successful sync recorded in the warehouse")
    age = ctx.now - last
    status = PASS if age <= SYNC_MAX_AGE else FAIL
    return Check(key, title, status, f"last successful sync finished {last:%Y-%m-%d %H:%M} "
                                     f"UTC, {age.total_seconds() / 3600:.1f} hours ago")


def token_scope(ctx: AuditContext) -> Check:
    """The token is active and holds no more than NEEDED_GROUPS (where that can be read)."""
    key, title = "token_scope", "The token holds no more than the toolkit needs"
    if ctx.client is None:
        return Check(key, title, UNKNOWN, "no API token is set")
    try:
        verified = ctx.client.get("/user/tokens/verify").result or {}
    except AuthError as exc:
        return Check(key, title, FAIL, f"the token does not verify (HTTP {exc.status})")
    if verified.get("status") != "active":
        return Check(key, title, FAIL, f"the token is {verified.get('status')!r}, not active")
    ident = str(verified.get("id", ""))
    try:
        token = ctx.client.get(f"/user/tokens/{ident}").result or {}
    except (AuthError, ApiError):
        return Check(key, title, UNKNOWN, (
            f"token {ident[:8]}... is active; its permissions cannot be listed without "
            "'API Tokens Read' (which the toolkit does not need), so extra permissions cannot "
            "be ruled out: check in the dashboard that it holds only "
            + ", ".join(sorted(NEEDED_GROUPS))))
    groups = {g.get("name") for p in token.get("policies") or []
              for g in p.get("permission_groups") or []}
    extra = sorted(str(g) for g in groups - NEEDED_GROUPS)
    if extra:
        return Check(key, title, FAIL, f"token {ident[:8]}... also holds: {', '.join(extra)}")
    return Check(key, title, PASS, f"token {ident[:8]}... holds only: "
                                   f"{', '.join(sorted(str(g) for g in groups))}")


CHECKS: tuple[Callable[[AuditContext], Check], ...] = (
    stream_webhook, live_notifications, billing_alert, recording_retention, export_lifecycle,
    storage_runway, sync_recent, token_scope)


def r2_inventory(settings: Settings) -> Any:
    """An R2 client for the listing checks, or None without R2 credentials."""
    from ..sources.r2 import R2Inventory

    try:
        return R2Inventory(settings)
    except ConfigError:
        return None
