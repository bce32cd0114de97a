"""Explain recommendations: the words a report shows, computed once here.

`explain(rec, name)` turns one recommendation into an `Explanation` (its title, the target
by name, the saving as text through `lc_analytics.money.format_usd`, the evidence summary of
its typed evidence, and the next step as text); `recommendation_table`,
`recommendations_markdown` and `next_steps` render those explanations. A report shows what
these return and never recomputes a recommendation's evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from ..money import format_usd
from ..readmodel import live_inputs
from ..warehouse import Warehouse
from .model import Action, Recommendation

#: recommendation kind -> its name in a report
KIND_TITLES = {"recording_selectivity": "Stop recording", "recording_retention":
               "Shorter retention", "storage_runway": "Stream storage runs out",
               "r2_lifecycle": "R2 lifecycle rule", "bitrate_ingest": "Lower ingest bitrate"}
#: recommendation kind -> the verb of its next step
KIND_STEPS = {"recording_selectivity": "stop recording on", "recording_retention":
              "shorter retention on", "r2_lifecycle": "lifecycle rule on",
              "bitrate_ingest": "lower ingest bitrate on", "storage_runway": "storage for"}


@dataclass(frozen=True)
class Explanation:
    """What a report says about one recommendation (money stays Decimal; text is text)."""

    id: str
    kind: str
    title: str
    target: str
    target_name: str
    action: str
    monthly_saving: Decimal
    saving_text: str
    confidence: str
    evidence: str  # the measured values behind it, in one sentence
    rule: str
    viewer_impact: str
    next_step: str  # what to do, in words
    actions: int  # changes the API makes
    manual: int  # steps the API cannot take

    def as_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["monthly_saving"] = str(self.monthly_saving)
        return d


def explain(rec: Recommendation, target_name: str | None = None) -> Explanation:
    """One recommendation in words; `target_name` defaults to the recommendation's own.

    >>> explain(rec).title                                             # doctest: +SKIP
    'Stop recording'
    """
    name = target_name or rec.target_name
    return Explanation(
        id=rec.id, kind=rec.kind, title=KIND_TITLES.get(rec.kind, rec.kind),
        target=rec.target, target_name=name, action=rec.action,
        monthly_saving=rec.monthly_saving, saving_text=saving_text(rec),
        confidence=rec.confidence,
        evidence=rec.evidence.summary(), rule=rec.rule,
        viewer_impact=rec.viewer_impact,
        next_step=f"{KIND_STEPS.get(rec.kind, rec.kind)} {name} "
                  f"({format_usd(rec.monthly_saving)}/month)",
        actions=sum(a.kind != "manual" for a in rec.actions),
        manual=sum(a.kind == "manual" for a in rec.actions))


def saving_text(rec: Recommendation) -> str:
    """'$40.00/month', or why a recommendation saves nothing."""
    if rec.monthly_saving > 0:
        return f"{format_usd(rec.monthly_saving)}/month"
    return "no saving: a deadline" if rec.kind == "storage_runway" else "no saving"


def target_names(wh: Warehouse, recs: Iterable[Recommendation]) -> dict[str, str]:
    """Recommendation id -> a readable target (a live input's name, bucket/prefix, account):
    the recommendation's own `target_name`, else the name the warehouse lists for the uid.

    >>> target_names(wh, recs)                                         # doctest: +SKIP
    """
    li = live_inputs(wh, history=True)
    names = dict(zip(li["uid"], li["name"], strict=True))
    return {r.id: (r.target_name if r.target_name != r.target else None)
            or names.get(r.target) or r.target for r in recs}


def ranked(recs: Iterable[Recommendation]) -> list[Recommendation]:
    """The order a review lists recommendations in: the storage runway first (a deadline),
    then the largest monthly saving first.

    >>> [r.kind for r in ranked(recs)][:1]                             # doctest: +SKIP
    ['storage_runway']
    """
    return sorted(recs, key=lambda r: (r.kind != "storage_runway", -r.monthly_saving, r.id))


TABLE_COLUMNS = ["rank", "id", "kind", "title", "target", "target_name", "action",
                 "monthly_saving", "saving_text", "confidence", "evidence", "rule",
                 "viewer_impact", "actions", "manual"]


def recommendation_table(wh: Warehouse, recs: Sequence[Recommendation]) -> pd.DataFrame:
    """One row per recommendation, in `ranked` order: its rank and its `Explanation`
    (title, target_name, saving_text, evidence sentence, ...; monthly_saving stays Decimal).

    >>> recommendation_table(wh, recommend_all(wh))                    # doctest: +SKIP
    """
    names = target_names(wh, recs)
    rows = [{"rank": i + 1, **asdict(explain(r, names[r.id]))}
            for i, r in enumerate(ranked(recs))]
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def recommendations_markdown(table: pd.DataFrame) -> str:
    """The recommendations of `recommendation_table` as numbered Markdown entries.

    >>> print(recommendations_markdown(recommendation_table(wh, recs)))  # doctest: +SKIP
    """
    if not len(table):
        return "No recommendation: every rule was checked and none fired."
    parts = []
    for r in table.itertuples():
        parts.append(
            f"**{r.rank}. {r.title}: {r.target_name}** — **{r.saving_text}**, "
            f"{r.confidence} confidence  \n"
            f"{r.action}  \n"
            f"*Evidence:* {r.evidence}.  \n"
            f"*Rule:* {r.rule}.  \n"
            f"*Viewers:* {r.viewer_impact}  \n"
            f"<sub>`{r.id}`</sub>")
    return "\n\n".join(parts)


def next_steps(recs: Sequence[Recommendation], runway: Mapping[str, Any],
               names: Mapping[str, str] | None = None) -> str:
    """What to do next, as a numbered Markdown list: the deadline first, then the plan
    (recommend, review, apply), then the manual steps the API cannot take.

    >>> print(next_steps(recs, runway_summary(wh)))                    # doctest: +SKIP
    """
    names = dict(names or {})
    steps = _deadline_step(runway) + _plan_steps(recs, names)
    for r in ranked(recs):
        steps += [manual_step(r, a, names.get(r.id, r.target)) for a in r.actions
                  if a.kind == "manual"]
    capacity = [r for r in recs if r.kind in ("recording_selectivity", "recording_retention")]
    if capacity:
        steps.append(
            "Stream storage savings ("
            f"{format_usd(sum((r.monthly_saving for r in capacity), Decimal(0)))}/month)"
            " are realised as prepaid capacity you no longer buy: once the scheduled "
            "deletions have run, lower (or do not raise) the capacity in the dashboard.")
    if not steps:
        return "Nothing to do: no recommendation fired and storage does not run out within " \
               f"{runway['horizon_days']} days."
    return "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))


def _deadline_step(runway: Mapping[str, Any]) -> list[str]:
    exhaustion = runway["exhaustion_date"]
    if exhaustion is None:
        return []
    return [f"**Before {exhaustion}** ({runway['days_until_exhaustion']} days): "
            "prepaid Stream storage runs out and new live streams are refused. The "
            "plan below slows the growth; buy the blocks the runway recommendation "
            "names in the Cloudflare dashboard."]


def _plan_steps(recs: Sequence[Recommendation], names: Mapping[str, str]) -> list[str]:
    api = [r for r in recs if any(a.kind != "manual" for a in r.actions)]
    if not api:
        return []
    top = sorted(api, key=lambda r: -r.monthly_saving)[:3]
    listed = "; ".join(explain(r, names.get(r.id, r.target)).next_step for r in top)
    n_actions = sum(a.kind != "manual" for r in api for a in r.actions)
    return [
        "Write the plan: `lc-analytics recommend` stores these recommendations in the "
        "warehouse and writes the plan file it prints (PLAN).",
        f"Review it: `lc-analytics apply PLAN` is a dry run listing each of its "
        f"{n_actions:,} change(s), the resource and why; nothing changes. Top: {listed}.",
        "Apply what you accept: `lc-analytics apply PLAN --yes` (a plan the account has "
        "moved away from is refused as stale: run `recommend` again).",
    ]


def manual_step(rec: Recommendation, action: Action, target: str) -> str:
    """A manual action of `rec` as a sentence: how, and the values to set."""
    proposed = action.proposed
    how = str(proposed.get("how") or rec.action).rstrip(".")
    if rec.kind == "storage_runway":
        return f"By hand, Stream storage: {how}."
    values = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in proposed.items() if k != "how")
    return f"By hand, {target}: {how}" + (f" (set {values})." if values else ".")


__all__ = ["KIND_TITLES", "Explanation", "explain", "manual_step", "next_steps", "ranked",
           "recommendation_table", "recommendations_markdown", "saving_text", "target_names"]
