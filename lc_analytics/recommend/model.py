"""Recommendations and the action plan: the data every recommender produces and apply reads."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..errors import PlanFileError

if TYPE_CHECKING:
    from .evidence import EvidenceBase

PLAN_VERSION = 1

Kind = Literal["recording_retention", "recording_selectivity", "storage_runway",
               "r2_lifecycle", "bitrate_ingest", "billing_alert_backstop", "cache_rule"]
ActionKind = Literal["live_input.update", "video.schedule_deletion", "r2.lifecycle",
                     "notifications.policy", "zone.cache_rules", "manual"]


@dataclass(frozen=True)
class Recommendation:
    """One recommendation: what to change, why (evidence), and what it is worth per month.

    `saving_computation` shows the arithmetic behind `monthly_saving` (priced by the same
    engine as the bill); `evidence` holds the measured values, typed per kind (see
    `evidence.py`; a plan file keeps its `as_json()` form).
    """

    id: str  # stable: kind + target, so re-running recommend gives the same ids
    kind: str
    target_type: str  # live_input | broadcaster | video | bucket_prefix | account
    target: str
    action: str  # the proposed change, in words
    evidence: EvidenceBase
    rule: str  # the rule that fired, in words, with its thresholds
    monthly_saving: Decimal  # USD per month (negative never proposed)
    saving_computation: str
    viewer_impact: str
    confidence: str  # high | medium | low, with the reason in evidence.confidence_reason
    actions: tuple[Action, ...] = ()

    @property
    def target_name(self) -> str:
        """The target as people know it: a live input's name, bucket/prefix, the account."""
        if self.target_type == "account":
            return "the account"
        return str(getattr(self.evidence, "live_input_name", None) or self.target)

    def to_json(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d["evidence"] = self.evidence.as_json()
        d["monthly_saving"] = str(self.monthly_saving)
        d["actions"] = [a.to_json() for a in self.actions]
        return _jsonable(d)


@dataclass(frozen=True)
class Action:
    """One concrete change to one resource: its current value, proposed value, and why.

    `current` is what the account held when the plan was made; apply refuses the plan if
    the account no longer holds it (stale), and skips the action if it already holds
    `proposed` (idempotent).
    """

    id: str
    kind: str  # an ActionKind
    resource: str  # live input uid, video uid, or bucket name
    current: dict[str, Any]
    proposed: dict[str, Any]
    why: str
    recommendation_id: str

    def to_json(self) -> dict[str, Any]:
        return _jsonable(asdict(self))


@dataclass
class Plan:
    """A reviewed set of actions; nothing changes an account until `apply --yes`."""

    account_id: str
    created_at: datetime
    book: str
    recommendations: list[Recommendation] = field(default_factory=list)
    version: int = PLAN_VERSION

    @property
    def actions(self) -> list[Action]:
        return [a for r in self.recommendations for a in r.actions]

    @property
    def id(self) -> str:
        body = json.dumps([a.to_json() for a in self.actions], sort_keys=True)
        return hashlib.sha256(f"{self.account_id}{body}".encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "plan_id": self.id,
            "account_id": self.account_id,
            "created_at": self.created_at.isoformat(),
            "book": self.book,
            "monthly_saving": str(sum((r.monthly_saving for r in self.recommendations),
                                      Decimal(0))),
            "recommendations": [r.to_json() for r in self.recommendations],
        }

    def write(self, path: str | Path) -> Path:
        """Write the plan as JSON (never any secret: ids, values and reasons only)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=False) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> Plan:
        """Read a plan file; a malformed one is refused with the file and the problem."""
        from .evidence import EvidenceError  # evidence.py imports this module's neighbours

        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except OSError as exc:
            raise PlanFileError(f"cannot read plan {path}: {exc.strerror}", path=str(path)) \
                from exc
        except json.JSONDecodeError as exc:
            raise PlanFileError(f"plan {path} is not JSON (line {exc.lineno}): {exc.msg}",
                                path=str(path)) from exc
        try:
            if data["version"] != PLAN_VERSION:
                raise PlanFileError(f"plan {path} has version {data['version']}; this "
                                    f"lc-analytics reads version {PLAN_VERSION}", path=str(path))
            recs = [_recommendation(r) for r in data["recommendations"]]
            plan = cls(account_id=data["account_id"],
                       created_at=datetime.fromisoformat(data["created_at"]),
                       book=data["book"], recommendations=recs)
        except EvidenceError as exc:
            raise PlanFileError(f"plan {path}: {exc}", path=str(path)) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanFileError(f"plan {path} is not an lc-analytics plan ({exc!r}); run "
                                "`lc-analytics recommend` to write one", path=str(path)) from exc
        if data.get("plan_id") != plan.id:
            raise PlanFileError(f"plan {path} was edited after it was made (plan_id "
                                f"{data.get('plan_id')} does not match its actions); run "
                                "`lc-analytics recommend` again", path=str(path))
        return plan


def _recommendation(r: dict[str, Any]) -> Recommendation:
    from .evidence import evidence_from_json  # evidence.py builds on this module's neighbours

    return Recommendation(
        id=r["id"], kind=r["kind"], target_type=r["target_type"], target=r["target"],
        action=r["action"], evidence=evidence_from_json(r["kind"], r["evidence"], r["id"]),
        rule=r["rule"],
        monthly_saving=Decimal(r["monthly_saving"]),
        saving_computation=r["saving_computation"], viewer_impact=r["viewer_impact"],
        confidence=r["confidence"],
        actions=tuple(Action(**a) for a in r["actions"]),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value
