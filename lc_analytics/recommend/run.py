"""Run every recommender in order and hand back one list (and a table of it).

The recipe (`recommend_all`):
1. selectivity: live inputs whose recordings nobody watches on demand (recording off);
2. retention: a deleteRecordingAfterDays per remaining live input, its saving priced after
   the minutes step 1 frees, so the 1,000-minute blocks are counted once across both;
3. runway: if prepaid capacity runs out within the horizon, the cheapest mix of steps 1-2
   and capacity purchase;
4. R2 lifecycle rules per bucket and prefix;
5. bitrate and ingest per live input.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from ..costs.pricebook import PriceBook
from ..errors import ConfigError, UsageError
from ..warehouse import Warehouse
from ._common import clock, resolve
from .bitrate import recommend_bitrate
from .lifecycle import recommend_lifecycle
from .model import Plan, Recommendation
from .retention import recommend_retention
from .runway import recommend_runway
from .selectivity import recommend_selectivity, selected_minutes

RECOMMENDERS: tuple[Callable[..., list[Recommendation]], ...] = (
    recommend_selectivity, recommend_retention, recommend_runway, recommend_lifecycle,
    recommend_bitrate)
_INTERNAL = {"wh", "book", "as_of", "skip_live_inputs", "freed_before", "freeing"}


def recommend_all(wh: Warehouse, *, book: PriceBook | str | None = None,
                  as_of: date | str | None = None, **params: Any) -> list[Recommendation]:
    """Every recommendation for the warehouse, in the order of the recipe above.

    `params` are the recommenders' parameters by name (e.g. `max_lost_share=0.05`,
    `horizon_days=60`); each goes to every recommender that takes it.

    >>> recs = recommend_all(Warehouse("data/demo.duckdb", read_only=True))  # doctest: +SKIP
    >>> to_frame(recs)[["kind", "target", "monthly_saving"]]                 # doctest: +SKIP
    """
    _check_params(params)
    book, day = resolve(wh, book, as_of)
    common = {"book": book, "as_of": day}
    sel = recommend_selectivity(wh, **common, **_for(recommend_selectivity, params))
    ret = recommend_retention(wh, **common, **_for(recommend_retention, params),
                              skip_live_inputs={r.target for r in sel},
                              freed_before=selected_minutes(sel))
    runway = recommend_runway(wh, **common, **_for(recommend_runway, params),
                              freeing=sel + ret)
    lifecycle = recommend_lifecycle(wh, **common, **_for(recommend_lifecycle, params))
    bitrate = recommend_bitrate(wh, **common, **_for(recommend_bitrate, params))
    return sel + ret + runway + lifecycle + bitrate


def to_frame(recs: Iterable[Recommendation]) -> pd.DataFrame:
    """One row per recommendation (monthly_saving stays Decimal; evidence stays a dict).

    >>> to_frame([]).columns.tolist()[:4]
    ['id', 'kind', 'target_type', 'target']
    """
    cols = ["id", "kind", "target_type", "target", "action", "monthly_saving",
            "saving_computation", "viewer_impact", "confidence", "rule", "actions", "evidence"]
    rows = [{"id": r.id, "kind": r.kind, "target_type": r.target_type, "target": r.target,
             "action": r.action, "monthly_saving": r.monthly_saving,
             "saving_computation": r.saving_computation, "viewer_impact": r.viewer_impact,
             "confidence": r.confidence, "rule": r.rule, "actions": len(r.actions),
             "evidence": r.evidence} for r in recs]
    return pd.DataFrame(rows, columns=cols)


def parameters() -> dict[str, dict[str, Any]]:
    """Each recommender's parameters and their defaults (for reports and the README)."""
    return {f.__name__: {name: p.default for name, p in inspect.signature(f).parameters.items()
                         if name not in _INTERNAL and p.kind is p.KEYWORD_ONLY}
            for f in RECOMMENDERS}


def _for(func: Callable[..., Any], params: dict[str, Any]) -> dict[str, Any]:
    accepted = inspect.signature(func).parameters
    return {k: v for k, v in params.items() if k in accepted and k not in _INTERNAL}


def _check_params(params: dict[str, Any]) -> None:
    known = {name for f in RECOMMENDERS for name in inspect.signature(f).parameters} - _INTERNAL
    unknown = sorted(set(params) - known)
    if unknown:
        raise UsageError(f"unknown recommender parameter(s): {', '.join(unknown)}; known: "
                        f"{', '.join(sorted(known))}")


__all__ = ["parameters", "recommend_all", "to_frame"]


def make_plan(wh: Warehouse, *, plan_path: str | Path | None = None,
              book: PriceBook | str | None = None, as_of: date | str | None = None,
              **params: Any) -> Plan:
    """Run every recommender, store the recommendations, and write the action plan.

    The recommendations go to the warehouse's `recommendations` table (one row each, keyed
    by the run's time); the plan file holds only ids, values and reasons, never a secret.

    >>> plan = make_plan(Warehouse("data/demo.duckdb"), plan_path="plan.json")  # doctest: +SKIP
    >>> len(plan.actions), plan.id                                             # doctest: +SKIP
    """
    book, day = resolve(wh, book, as_of)
    account = wh.account_id()
    if account is None:
        raise ConfigError([f"warehouse {wh.path} holds no account yet: run `lc-analytics sync`"
                           " first"])
    recs = recommend_all(wh, book=book, as_of=day, **params)
    plan = Plan(account_id=account, created_at=clock(day).to_pydatetime(), book=book.label,
                recommendations=recs)
    rows = [{"run_at": plan.created_at, "id": r.id, "kind": r.kind,
             "target_type": r.target_type, "target": r.target, "action": r.action,
             "rule": r.rule, "monthly_saving": r.monthly_saving,
             "saving_computation": r.saving_computation, "viewer_impact": r.viewer_impact,
             "confidence": r.confidence,
             "evidence_json": json.dumps(r.to_json()["evidence"], sort_keys=True),
             "actions_json": json.dumps([a.to_json() for a in r.actions], sort_keys=True),
             "plan_id": plan.id, "book": plan.book} for r in recs]
    if rows:
        with wh.transaction() as tx:
            tx.upsert("recommendations", rows)
    if plan_path is not None:
        plan.write(plan_path)
    return plan
