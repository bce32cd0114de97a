"""Typed evidence per recommendation kind: the measured values a report states.

Each recommender stores its evidence as JSON (the plan file and the `recommendations` table
keep that form); `evidence_of` reads it back once into the kind's dataclass, and a missing
or mistyped value is an `EvidenceError` naming the recommendation and the field, never a
silently different sentence. Each dataclass has one `summary()` (the sentence a report
shows) and `as_json()` (its fields as plain JSON).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import PlanError
from .model import Recommendation


class EvidenceError(PlanError):
    """A recommendation's evidence lacks a value its kind always records."""


@dataclass(frozen=True)
class SelectivityEvidence:
    recordings_in_window: int
    window_days: int
    minutes_viewed_in_window: float
    on_demand_share: float
    minutes_freed: float

    def summary(self) -> str:
        return (f"{self.recordings_in_window} recordings in {self.window_days} days: "
                f"{self.minutes_viewed_in_window:,.0f} minutes viewed, "
                f"{self.on_demand_share:.1%} of them on demand; frees "
                f"{self.minutes_freed:,.0f} stored minutes")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RetentionEvidence:
    policy_days: int
    current_delete_recording_after_days: int | None
    minutes_freed: float
    lost_share_lookback: float
    lookback_days: int
    lost_share_recent: float
    recent_days: int

    def summary(self) -> str:
        now = self.current_delete_recording_after_days
        return (f"keep recordings {self.policy_days} days instead of "
                f"{'forever' if now is None else f'{now} days'}: frees "
                f"{self.minutes_freed:,.0f} stored minutes; on-demand minutes "
                f"that would have been lost: {self.lost_share_lookback:.1%} "
                f"(last {self.lookback_days} days), "
                f"{self.lost_share_recent:.1%} (last {self.recent_days})")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RunwayEvidence:
    stored_minutes: float
    capacity_minutes: float
    net_growth_per_day: float
    exhaustion_date: str | None
    exhaustion_interval: tuple[str | None, str | None]

    def summary(self) -> str:
        lo, hi = self.exhaustion_interval
        return (f"{self.stored_minutes:,.0f} of {self.capacity_minutes:,.0f}"
                f" prepaid minutes used, growing {self.net_growth_per_day:,.0f} a "
                f"day: full on {self.exhaustion_date} (80%: {lo} to {hi})")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class LifecycleEvidence:
    """A proposed or changed rule for a prefix (the objects it covers and their reads)."""

    rule: str
    objects: int
    bytes_stored: int
    age_days: int | None  # the expiry age, else the transition age
    reads_at_or_after_expiry: int
    reads_window: tuple[str, str] | None

    def summary(self) -> str:
        first, last = self.reads_window or ("?", "?")
        return (f"{self.objects:,} objects, {self.bytes_stored / 1e9:,.1f} GB; "
                f"{self.reads_at_or_after_expiry:,} reads at ages >= {self.age_days} "
                f"days between {first} and {last}")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class RuleChangeEvidence:
    """A change to an existing lifecycle rule: the objects it covers and what moves."""

    rule: str
    objects: int
    ia_objects: int
    standard_gb_month_delta: float
    ia_gb_month_delta: float
    retrieval_gb_delta: float

    def summary(self) -> str:
        return (f"{self.objects:,} objects under the rule, {self.ia_objects:,} of them in "
                f"Infrequent Access; the change moves Standard "
                f"{self.standard_gb_month_delta:+.3f} GB-month, IA "
                f"{self.ia_gb_month_delta:+.3f} GB-month, IA retrieval "
                f"{self.retrieval_gb_delta:+.3f} GB")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class BitrateEvidence:
    resolution: str
    ingest_mbps_median: float
    recommended_encode_mbps: float
    low_bandwidth_share: float
    minutes_viewed: float

    def summary(self) -> str:
        return (f"sends {self.resolution} at {self.ingest_mbps_median:.1f} Mbps "
                f"(recommended {self.recommended_encode_mbps:g}); "
                f"{self.low_bandwidth_share:.0%} of its "
                f"{self.minutes_viewed:,.0f} minutes come from low-bandwidth countries")

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


Evidence = (SelectivityEvidence | RetentionEvidence | RunwayEvidence | LifecycleEvidence
            | RuleChangeEvidence | BitrateEvidence)


def evidence_of(rec: Recommendation) -> Evidence | None:
    """The typed evidence of `rec`; None for a kind whose evidence has no measured values to
    state (the multipart-upload abort rule).

    >>> evidence_of(rec).summary()                                    # doctest: +SKIP
    '80 recordings in 90 days: 44,423 minutes viewed, 0.0% of them on demand; ...'
    """
    e = rec.evidence
    try:
        return _parse(rec.kind, e)
    except KeyError as exc:
        raise EvidenceError(f"recommendation {rec.id} ({rec.kind}) has no evidence value "
                            f"{exc.args[0]!r}; run `lc-analytics recommend` again") from exc
    except (TypeError, ValueError) as exc:
        raise EvidenceError(f"recommendation {rec.id} ({rec.kind}) has evidence of the wrong "
                            f"type: {exc}") from exc


def _parse(kind: str, e: Mapping[str, Any]) -> Evidence | None:
    if kind == "recording_selectivity":
        return SelectivityEvidence(int(e["recordings_in_window"]), int(e["window_days"]),
                                   float(e["minutes_viewed_in_window"]),
                                   float(e["on_demand_share"]), float(e["minutes_freed"]))
    if kind == "recording_retention":
        now = e["current_delete_recording_after_days"]
        return RetentionEvidence(int(e["policy_days"]), None if now is None else int(now),
                                 float(e["minutes_freed"]), float(e["lost_share_lookback"]),
                                 int(e["lookback_days"]), float(e["lost_share_recent"]),
                                 int(e["recent_days"]))
    if kind == "storage_runway":
        lo, hi = e["exhaustion_interval"]
        return RunwayEvidence(float(e["stored_minutes"]), float(e["capacity_minutes"]),
                              float(e["net_growth_per_day"]), e["exhaustion_date"], (lo, hi))
    if kind == "r2_lifecycle" and "bytes_stored" in e:
        age = e.get("expire_days") or e.get("transition_days")
        window = e["reads_window"]
        return LifecycleEvidence(str(e["rule"]), int(e["objects"]), int(e["bytes_stored"]),
                                 None if age is None else int(age),
                                 int(e["reads_at_or_after_expiry"] or 0),
                                 None if window is None else (str(window[0]), str(window[1])))
    if kind == "r2_lifecycle" and "existing_rule" in e:
        return RuleChangeEvidence(str(e["rule"]), int(e["objects"]), int(e["ia_objects"]),
                                  float(e["standard_gb_month_delta"]),
                                  float(e["ia_gb_month_delta"]),
                                  float(e["retrieval_gb_delta"]))
    if kind == "bitrate_ingest":
        return BitrateEvidence(str(e["resolution"]), float(e["ingest_mbps_median"]),
                               float(e["recommended_encode_mbps"]),
                               float(e["low_bandwidth_share"]), float(e["minutes_viewed"]))
    return None


__all__ = ["BitrateEvidence", "Evidence", "EvidenceError", "LifecycleEvidence",
           "RetentionEvidence", "RuleChangeEvidence", "RunwayEvidence", "SelectivityEvidence",
           "evidence_of"]
