"""What every kind's typed evidence shares: the base class, the registry of kinds, the
evidence of a hand-written recommendation, and reading a plan's evidence JSON back once.

A kind's evidence is a frozen, keyword-only dataclass subclassing `EvidenceBase` and
registered with `@evidence_for("kind")` (the kinds are in `evidence.py`).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar, Union

import numpy as np

from ..errors import EvidenceError
from ._common import as_json


class EvidenceBase:
    """What every kind's evidence offers: its report sentence and its JSON form."""

    confidence_reason: str

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.generic):  # a numpy scalar from a DataFrame: plain Python
                object.__setattr__(self, f.name, value.item())

    def summary(self) -> str:
        raise NotImplementedError

    def as_json(self) -> dict[str, Any]:
        """The fields as plain JSON (Decimal as text, tuples as lists)."""
        return dict(as_json(dataclasses.asdict(self)))  # type: ignore[call-overload]


E = TypeVar("E", bound=type[EvidenceBase])
#: recommendation kind -> the evidence classes it records (a kind may have several shapes)
EVIDENCE_TYPES: dict[str, tuple[type[EvidenceBase], ...]] = {}


def evidence_for(kind: str) -> Callable[[E], E]:
    """Register an evidence dataclass as (one of) the shape(s) of `kind`'s evidence."""
    def register(cls: E) -> E:
        EVIDENCE_TYPES[kind] = (*EVIDENCE_TYPES.get(kind, ()), cls)
        return cls
    return register


@dataclass(frozen=True, kw_only=True)
class NoteEvidence(EvidenceBase):
    """The evidence of a recommendation written by hand (no recommender measured it): what
    the writer noted. Read back for any kind whose JSON holds just these fields."""

    note: str
    confidence_reason: str = "written by hand"

    def summary(self) -> str:
        return self.note


def evidence_from_json(kind: str, data: Mapping[str, Any], rec_id: str) -> EvidenceBase:
    """The typed evidence of a recommendation `rec_id` of `kind` from its JSON form (a plan
    file); a missing value or one of the wrong type is an `EvidenceError` naming both."""
    shapes = EVIDENCE_TYPES.get(kind, ())
    if not shapes and set(data) - {f.name for f in dataclasses.fields(NoteEvidence)}:
        raise EvidenceError(f"recommendation {rec_id} has an unknown kind {kind!r}")
    shapes = (*shapes, NoteEvidence)
    # of a kind's shapes, the one whose fields the JSON holds most of (ties: the kind's own)
    cls = max(shapes, key=lambda c: sum(f.name in data
                                        for f in dataclasses.fields(c)))  # type: ignore[arg-type]
    try:
        return _build(cls, data)
    except KeyError as exc:
        raise EvidenceError(f"recommendation {rec_id} ({kind}) has no evidence value "
                            f"{exc.args[0]!r}; run `lc-analytics recommend` again") from exc
    except (TypeError, ValueError, InvalidOperation) as exc:
        raise EvidenceError(f"recommendation {rec_id} ({kind}) has evidence of the wrong "
                            f"type: {exc}") from exc


def _build(cls: type, data: Mapping[str, Any]) -> Any:
    if not isinstance(data, Mapping):
        raise TypeError(f"{cls.__name__} needs an object, got {data!r}")
    hints = typing.get_type_hints(cls)
    values = {f.name: _value(hints[f.name], data[f.name], f.name)
              for f in dataclasses.fields(cls)
              if f.name in data or f.default is dataclasses.MISSING}
    return cls(**values)


def _value(tp: Any, value: Any, name: str) -> Any:
    """`value` (plain JSON) as the annotated type `tp`."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _value(next(a for a in args if a is not type(None)), value, name)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value)  # type: ignore[arg-type]
    if origin is tuple:
        items = list(value) if isinstance(value, list | tuple) else _bad(name, value)
        kinds = [args[0]] * len(items) if args[-1:] == (...,) else list(args)
        if len(kinds) != len(items):
            raise ValueError(f"{name} has {len(items)} values, not {len(kinds)}")
        return tuple(_value(k, v, name) for k, v in zip(kinds, items, strict=True))
    if origin is dict:
        return dict(value) if isinstance(value, Mapping) else _bad(name, value)
    if tp is bool or tp is str:
        return value if isinstance(value, tp) else _bad(name, value)
    if tp is Decimal:
        return Decimal(str(value))
    if isinstance(value, bool | str) and tp in (int, float):
        return _bad(name, value)  # "ninety" is not a number of days
    return tp(value)


def _bad(name: str, value: Any) -> Any:
    raise TypeError(f"{name} = {value!r}")


__all__ = ["EVIDENCE_TYPES", "EvidenceBase", "EvidenceError", "NoteEvidence", "evidence_for",
           "evidence_from_json"]
