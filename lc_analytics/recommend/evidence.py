"""Typed evidence per recommendation kind: the measured values a recommendation carries.

A recommender builds its kind's dataclass where it measures (never a dict read back by
string keys). `as_json()` gives its fields as plain JSON (the plan file and the
`recommendations` table keep that form); `evidence_from_json` reads a plan's JSON back once,
and a missing or mistyped value is an `EvidenceError` naming the recommendation and the field.
`summary()` is the one sentence a report shows. A new kind: a frozen, keyword-only dataclass
subclassing `EvidenceBase`, registered with `@evidence_for("kind")`.

>>> e = AbortRuleEvidence(bucket="media", pending_multipart_uploads=2, existing_rules=(),
...                       confidence_reason="no abort rule")
>>> evidence_from_json("r2_lifecycle", e.as_json(), "r2_lifecycle:media/") == e
True
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ._evidence_base import (
    EVIDENCE_TYPES,
    EvidenceBase,
    EvidenceError,
    NoteEvidence,
    evidence_for,
    evidence_from_json,
)

if TYPE_CHECKING:
    from .model import Recommendation


# --- the Stream recording changes (selectivity, retention) ----------------------------------

@dataclass(frozen=True, kw_only=True)
class StreamChangeEvidence(EvidenceBase):
    """What a change to Stream recordings frees in the next billing month, and its price."""

    live_input: str
    live_input_name: str | None
    broadcasters: tuple[str, ...]
    current_delete_recording_after_days: int | None
    minutes_freed: float
    billing_month: str
    minutes_freed_by_month_end: dict[str, float]
    recorded_minutes_per_day: float
    rate_days: int
    minutes_freed_by_day: tuple[float, ...]
    month_end_saving: Decimal
    baseline: dict[str, Any]  # StreamMonth.evidence(): the month's stored minutes unchanged
    account_level: dict[str, Any]  # MonthSaving.figures: the engine's two bills
    scheduled_deletions: dict[str, Any]  # count, first, last
    confidence_reason: str


@evidence_for("recording_selectivity")
@dataclass(frozen=True, kw_only=True)
class SelectivityEvidence(StreamChangeEvidence):
    recording_mode: str
    window_days: int
    recordings_in_window: int
    minutes_viewed_in_window: float
    on_demand_minutes_in_window: float
    on_demand_share: float
    stored_recordings: int
    stored_minutes_scheduled: float
    recorded_minutes_per_month: float
    alternative_30_day_retention: dict[str, Any]

    def summary(self) -> str:
        return (f"{self.recordings_in_window} recordings in {self.window_days} days: "
                f"{self.minutes_viewed_in_window:,.0f} minutes viewed, "
                f"{self.on_demand_share:.1%} of them on demand; frees "
                f"{self.minutes_freed:,.0f} stored minutes")


@evidence_for("recording_retention")
@dataclass(frozen=True, kw_only=True)
class RetentionEvidence(StreamChangeEvidence):
    policy_days: int
    stored_recordings: int
    stored_minutes: float
    recordings_older_than_policy_now: int
    minutes_older_than_policy_now: float
    lookback_days: int
    od_minutes_lookback: float
    lost_minutes_lookback: float
    lost_share_lookback: float
    recent_days: int
    od_minutes_recent: float
    lost_minutes_recent: float
    lost_share_recent: float
    exposed_recordings: int
    policies: tuple[dict[str, Any], ...]  # every policy evaluated for the input
    saving_realised: str

    def summary(self) -> str:
        now = self.current_delete_recording_after_days
        return (f"keep recordings {self.policy_days} days instead of "
                f"{'forever' if now is None else f'{now} days'}: frees "
                f"{self.minutes_freed:,.0f} stored minutes; on-demand minutes "
                f"that would have been lost: {self.lost_share_lookback:.1%} "
                f"(last {self.lookback_days} days), "
                f"{self.lost_share_recent:.1%} (last {self.recent_days})")


# --- the storage runway ----------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class RunwayOption:
    """One way to keep going: buy blocks, after applying some recommendations first."""

    option: str
    blocks: int
    capacity_minutes: float
    monthly_cost: Decimal  # engine: capacity cost above what is held now
    peak_minutes: float
    exhaustion_without_purchase: str | None
    relies_on: tuple[str, ...]  # recommendation ids applied first


@evidence_for("storage_runway")
@dataclass(frozen=True, kw_only=True)
class RunwayEvidence(EvidenceBase):
    snapshot_at: str
    stored_minutes: float
    capacity_minutes: float
    exhaustion_date: str | None
    days_until_exhaustion: int | None
    exhaustion_interval: tuple[str | None, str | None]
    added_minutes_per_day: float
    net_growth_per_day: float
    horizon_days: int
    method: str
    options: tuple[RunwayOption, ...]
    chosen: str
    capacity_cost_avoided_vs_buying_only: Decimal
    relies_on_recommendations: tuple[str, ...]
    relies_on_actions: dict[str, Any]
    information_only: bool
    confidence_reason: str

    def summary(self) -> str:
        lo, hi = self.exhaustion_interval
        return (f"{self.stored_minutes:,.0f} of {self.capacity_minutes:,.0f}"
                f" prepaid minutes used, growing {self.net_growth_per_day:,.0f} a "
                f"day: full on {self.exhaustion_date} (80%: {lo} to {hi})")


# --- R2 lifecycle ----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class R2RuleEvidence(EvidenceBase):
    """What every lifecycle rule's pricing records: the prefix and the engine's deltas."""

    bucket: str
    prefix: str
    rule: str
    transition_days: int | None
    expire_days: int | None
    objects: int
    standard_gb_month_delta: float
    ia_gb_month_delta: float
    retrieval_gb_delta: float
    transitions_per_month_delta: int
    sku_cost_delta: dict[str, str]
    marginal_saving: Decimal
    priced_month: str
    lifecycle_action: str
    confidence_reason: str
    notes: tuple[str, ...]


@evidence_for("r2_lifecycle")
@dataclass(frozen=True, kw_only=True)
class LifecycleEvidence(R2RuleEvidence):
    """A proposed new rule for a prefix (the objects it covers and their reads)."""

    existing_transition_days: int | None
    existing_expire_days: int | None
    bytes_stored: int
    bytes_by_age_days: dict[str, int]
    reads_by_age_days: dict[str, int]
    reads_window: tuple[str, str] | None
    reads_at_or_after_expiry: int
    exposed_object_days: int | None
    reads_moved_to_ia: int
    backlog_transitions_once: int

    @property
    def age_days(self) -> int | None:
        """The expiry age, else the transition age."""
        return self.expire_days or self.transition_days

    def summary(self) -> str:
        first, last = self.reads_window or ("?", "?")
        return (f"{self.objects:,} objects, {self.bytes_stored / 1e9:,.1f} GB; "
                f"{self.reads_at_or_after_expiry:,} reads at ages >= {self.age_days} "
                f"days between {first} and {last}")


@evidence_for("r2_lifecycle")
@dataclass(frozen=True, kw_only=True)
class RuleChangeEvidence(R2RuleEvidence):
    """A change to an existing lifecycle rule: the objects it covers and what moves."""

    existing_rule: str
    new_transition_days: int | None
    ia_objects: int
    ia_bytes: int
    operations_blocks_saving: Decimal

    def summary(self) -> str:
        return (f"{self.objects:,} objects under the rule, {self.ia_objects:,} of them in "
                f"Infrequent Access; the change moves Standard "
                f"{self.standard_gb_month_delta:+.3f} GB-month, IA "
                f"{self.ia_gb_month_delta:+.3f} GB-month, IA retrieval "
                f"{self.retrieval_gb_delta:+.3f} GB")


@evidence_for("r2_lifecycle")
@dataclass(frozen=True, kw_only=True)
class AbortRuleEvidence(EvidenceBase):
    """R2's default multipart-abort rule restored on a bucket that lost it."""

    bucket: str
    pending_multipart_uploads: int | None
    existing_rules: tuple[str | None, ...]
    information_only: bool = True
    confidence_reason: str

    def summary(self) -> str:
        pending = ("unknown" if self.pending_multipart_uploads is None
                   else f"{self.pending_multipart_uploads:,}")
        return (f"bucket {self.bucket} has no rule aborting incomplete multipart uploads "
                f"({len(self.existing_rules)} other rule(s)); {pending} upload(s) pending on "
                "the latest synced day")


# --- bitrate ---------------------------------------------------------------------------------

@evidence_for("bitrate_ingest")
@dataclass(frozen=True, kw_only=True)
class BitrateEvidence(EvidenceBase):
    live_input: str
    live_input_name: str | None
    recordings: int
    ingest_mbps_median: float
    ingest_mbps_p10_p90: tuple[float, float]
    resolution: str
    width: int | None
    height: int | None
    recommended_encode_mbps: float
    requirement_mbps: tuple[float, float]
    target: dict[str, Any]  # resolution, bitrate_mbps
    reasons: tuple[str, ...]
    minutes_viewed: float
    low_bandwidth_minutes: float
    low_bandwidth_share: float
    minutes_by_country: dict[str, float]
    low_bandwidth_threshold_mbps: float
    bandwidth_source: str
    mp4_exports: dict[str, Any]  # the exports' objects, bytes and the engine's two bills
    delivery: dict[str, Any]  # bytes delivered and the AWS egress price (information)
    viewer_data_gb_per_hour: dict[str, float]
    stream_bill: str
    information_only: bool
    priced_month: str
    usage_notes: tuple[str, ...]
    confidence_reason: str

    def summary(self) -> str:
        return (f"sends {self.resolution} at {self.ingest_mbps_median:.1f} Mbps "
                f"(recommended {self.recommended_encode_mbps:g}); "
                f"{self.low_bandwidth_share:.0%} of its "
                f"{self.minutes_viewed:,.0f} minutes come from low-bandwidth countries")


# --- billing alerts (lc_analytics.alerts.backstop) -------------------------------------------

@evidence_for("billing_alert_backstop")
@dataclass(frozen=True, kw_only=True)
class BackstopEvidence(EvidenceBase):
    """A service budget mirrored as Cloudflare's own billing_usage_alert policy."""

    budget: str
    service: str
    monthly_usd: Decimal
    destination: str | None  # the webhook destination's name
    policy_exists: bool
    confidence_reason: str = "mirrors a service budget of the budgets file"

    def summary(self) -> str:
        state = "exists and is corrected" if self.policy_exists else "is created"
        return (f"{self.service} budget {self.budget} (${self.monthly_usd}/month): its "
                f"Cloudflare billing alert policy {state}, delivered to {self.destination}")


@evidence_for("live_events_setup")
@dataclass(frozen=True, kw_only=True)
class EventsSetupEvidence(EvidenceBase):
    """`setup events`: where live-input events and recording webhooks will be sent, and the
    URLs the account sends to now that the plan replaces."""

    url: str
    replaces: tuple[str, ...] = ()
    confidence_reason: str = "setup requested with --url"

    def summary(self) -> str:
        now = f"; replaces {', '.join(self.replaces)}" if self.replaces else ""
        return f"send live-input events and recording webhooks to {self.url}{now}"


Evidence = (SelectivityEvidence | RetentionEvidence | RunwayEvidence | LifecycleEvidence
            | RuleChangeEvidence | AbortRuleEvidence | BitrateEvidence | BackstopEvidence
            | EventsSetupEvidence | NoteEvidence)


def evidence_of(rec: Recommendation) -> EvidenceBase:
    """The typed evidence of `rec` (what its recommender built).

    >>> evidence_of(rec).summary()                                    # doctest: +SKIP
    '80 recordings in 90 days: 44,423 minutes viewed, 0.0% of them on demand; ...'
    """
    return rec.evidence


__all__ = ["EVIDENCE_TYPES", "AbortRuleEvidence", "BackstopEvidence", "BitrateEvidence", "Evidence",
           "EvidenceBase", "EvidenceError", "LifecycleEvidence", "NoteEvidence",
           "RetentionEvidence", "RuleChangeEvidence", "RunwayEvidence", "RunwayOption",
           "SelectivityEvidence",
           "StreamChangeEvidence", "evidence_for", "evidence_from_json", "evidence_of"]
