"""Cloudflare's GraphQL Analytics API emulated over a SimulatedAccount (reference section 2).

The query is parsed and validated by graphql-core against `schema.graphql`; the dataset
resolvers filter the account's daily frames with pandas, group them by exactly the requested
dimensions, aggregate (`sum` or `max`), order, and cut at `limit`; graphql-core's executor
then completes those rows a whole column at a time (`_ColumnarExecutor`), not field by field.

Responses follow Cloudflare's shape: `{"data": ..., "errors": null}` on success, and on any
error `{"data": null, "errors": [{"message", "path", "extensions": {"code", "timestamp"}}]}`.
HTTP statuses (errors page, reference 2.3):

    400  parse errors, unknown fields and other validation errors, bad variables,
         `limit must be positive number and not greater than 10000`,
         `query time range is too large: ...`, `cannot request data older than 12w6d`,
         a dataset queried without a time range, ordering by an unrequested dimension
    403  the token lacks Account Analytics Read (`not authorized for that account`)
    200  with `errors`: an accountTag the token cannot see (GraphQL-level authz error)
    500  anything unexpected inside a resolver

>>> from lc_analytics.sandbox import SimulatedAccount
>>> acct = SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))
>>> api = GraphQLEndpoint(acct)
>>> status, body = api.execute({"query": "{ viewer { __typename } }"}, {"analytics:read"})
>>> status, body["data"]
(200, {'viewer': {'__typename': 'viewer'}})
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from importlib.resources import files
from typing import Any

import numpy as np
import pandas as pd
from graphql import (
    DocumentNode,
    Executor,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLFloat,
    GraphQLIncludeDirective,
    GraphQLInt,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    GraphQLSkipDirective,
    GraphQLSyntaxError,
    GraphQLType,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariablesInAllowedPositionRule,
    build_schema,
    execute_sync,
    get_named_type,
    is_leaf_type,
    is_non_null_type,
    is_object_type,
    parse,
    specified_rules,
    type_from_ast,
    validate,
)
from graphql.execution.values import get_directive_values
from graphql.validation.rules.variables_in_allowed_position import allowed_variable_usage

from . import graphql_zone, live_minutes
from .account import SimulatedAccount

__all__ = ["ANALYTICS_READ", "DATASETS", "MAX_PAGE_SIZE", "Dataset", "GraphQLEndpoint"]

ANALYTICS_READ = "analytics:read"
MAX_PAGE_SIZE = 10_000
DAY = pd.Timedelta(days=1)
STREAM_RETENTION = pd.Timedelta(days=90)  # reference 2.1
R2_RETENTION = pd.Timedelta(days=31)  # reference 2.2

# Cloudflare's lowercase scalars stand in for the built-in ones: `$t: String!` may be passed
# where `string` is expected (client code in the wild does both).
_SCALAR_ALIASES = {"string": "string", "String": "string",
                   "uint64": "int", "uint16": "int", "Int": "int"}
_FILTER_OPS = ("neq", "gt", "geq", "lt", "leq", "in", "notin")


# --- datasets --------------------------------------------------------------------------
@dataclass(frozen=True)
class Dataset:
    """One adaptive-groups dataset: how to load its frame, its fields and its limits.

    A frame holds `_ts` (the day's start, UTC) for the `date`/`datetime` dimensions, one
    column per other dimension, and one `<group>_<field>` column per metric.
    """

    name: str
    load: Callable[[SimulatedAccount], pd.DataFrame]
    dimensions: tuple[str, ...]
    metrics: dict[str, tuple[str, ...]]  # "sum"/"max" -> fields; the group names the aggregate
    count: bool
    not_older_than: pd.Timedelta
    max_duration: pd.Timedelta = pd.Timedelta(days=31)
    max_page_size: int = MAX_PAGE_SIZE
    # the frame of a query grouped by `datetime` (account, lo, hi), built for its window
    # only; None: the day frame serves it
    by_minute: Callable[[SimulatedAccount, pd.Timestamp, pd.Timestamp],
                        pd.DataFrame] | None = None
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = [f"dimensions_{d}" for d in self.dimensions] + ["count"] * self.count
        names += [f"{g}_{f}" for g, fs in self.metrics.items() for f in fs]
        object.__setattr__(self, "fields", tuple(names))

    def metric_columns(self) -> dict[str, str]:
        """Every metric column and its aggregate, e.g. {"sum_requests": "sum"}."""
        return {f"{g}_{f}": g for g, fs in self.metrics.items() for f in fs}

    def settings(self) -> dict[str, Any]:
        """The dataset's entry in the discovery `settings` node (durations in seconds)."""
        return {
            "enabled": True,
            "availableFields": list(self.fields),
            "maxDuration": int(self.max_duration.total_seconds()),
            "maxNumberOfFields": len(self.fields),
            "maxPageSize": self.max_page_size,
            "notOlderThan": int(self.not_older_than.total_seconds()),
        }


def _stream_frame(account: SimulatedAccount) -> pd.DataFrame:
    """Minutes viewed per day x video x country x creator, for the days the API still serves
    (a 3-year account is never expanded whole: older queries are refused anyway)."""
    first = (account.now - STREAM_RETENTION).floor("D")
    mv = account.minutes_viewed_between(first.date(), (account.now.floor("D") - DAY).date())
    return pd.DataFrame({
        "_ts": mv["date"], "uid": mv["uid"], "clientCountryName": mv["country"],
        "creator": mv["creator"], "sum_minutesViewed": mv["minutes_viewed"],
    })


def _r2_storage_frame(account: SimulatedAccount) -> pd.DataFrame:
    """One storage snapshot per bucket per day, for the days R2 still keeps."""
    now = account.now.floor("D")
    st = account.r2_storage_daily(now - R2_RETENTION, now - DAY)
    return pd.DataFrame({
        "_ts": st["date"], "bucketName": st["bucket"],
        "max_payloadSize": st["payload_size"], "max_metadataSize": st["metadata_size"],
        "max_objectCount": st["object_count"], "max_uploadCount": st["upload_count"],
    })


def _r2_operations_frame(account: SimulatedAccount) -> pd.DataFrame:
    """Requests per day x bucket x object x action x status, for the days R2 still keeps."""
    ops = account.r2_operations()
    ops = ops[ops["date"] >= account.now.floor("D") - R2_RETENTION]
    return pd.DataFrame({
        "_ts": ops["date"], "bucketName": ops["bucket"], "objectName": ops["object_name"],
        "actionType": ops["action_type"], "actionStatus": ops["action_status"],
        "responseStatusCode": ops["response_status_code"].astype(np.int64),
        "sum_requests": ops["requests"],
    }).reset_index(drop=True)


DATASETS: dict[str, Dataset] = {ds.name: ds for ds in (
    Dataset("streamMinutesViewedAdaptiveGroups", _stream_frame,
            ("date", "datetime", "uid", "clientCountryName", "creator"),
            {"sum": ("minutesViewed",)}, count=True, not_older_than=STREAM_RETENTION,
            by_minute=live_minutes.minute_frame),
    Dataset("r2StorageAdaptiveGroups", _r2_storage_frame,
            ("bucketName", "datetime", "date"),
            {"max": ("payloadSize", "metadataSize", "objectCount", "uploadCount")},
            count=False, not_older_than=R2_RETENTION),
    Dataset("r2OperationsAdaptiveGroups", _r2_operations_frame,
            ("actionType", "actionStatus", "bucketName", "objectName", "responseStatusCode",
             "datetime", "date"),
            {"sum": ("requests",)}, count=False, not_older_than=R2_RETENTION),
)}


# --- errors ----------------------------------------------------------------------------
class _QueryFailure(GraphQLError):
    """A request the API refuses; carries its HTTP status and Cloudflare error code."""

    def __init__(self, message: str, code: str, status: int = 400) -> None:
        super().__init__(message, extensions={"code": code})
        self.code = code
        self.status = status


def _classify(error: GraphQLError) -> tuple[GraphQLError, str, int]:
    """An error that came out of execution, with its Cloudflare code and HTTP status."""
    original = error.original_error
    if isinstance(original, _QueryFailure):
        return error, original.code, original.status
    if error.path is None:
        return error, "validation", 400  # bad variable values or operation name
    return error, "internal", 500


def _format_error(error: GraphQLError, code: str, timestamp: str) -> dict[str, Any]:
    """One entry of the `errors` array, in Cloudflare's shape (path indices as strings)."""
    out: dict[str, Any] = {
        "message": error.message,
        "path": [str(p) for p in error.path] if error.path else None,
    }
    if error.locations:
        out["locations"] = [loc.formatted for loc in error.locations]
    out["extensions"] = {"code": code, "timestamp": timestamp}
    return out


# --- scalars and schema ----------------------------------------------------------------
def _date_in(value: Any) -> pd.Timestamp:
    """Coerce a `Date` input (YYYY-MM-DD) to the day's start, UTC."""
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-":
        raise TypeError(f"Date must be a string YYYY-MM-DD, got {value!r}")
    return pd.Timestamp(date.fromisoformat(value)).tz_localize("UTC")


def _time_in(value: Any) -> pd.Timestamp:
    """Coerce a `Time` input (RFC 3339 with an offset) to a UTC timestamp."""
    if not isinstance(value, str):
        raise TypeError(f"Time must be an RFC 3339 string, got {value!r}")
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None or "T" not in value.upper():
        raise TypeError(f"Time must be RFC 3339 with a time offset, got {value!r}")
    return pd.Timestamp(parsed).tz_convert("UTC")


def _date_out(value: Any) -> str:
    """Serialize a `Date` (rows already carry YYYY-MM-DD strings)."""
    return value if isinstance(value, str) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _time_out(value: Any) -> str:
    """Serialize a `Time` as RFC 3339 UTC with a `Z`."""
    if isinstance(value, str):
        return value
    return pd.Timestamp(value).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _string(value: Any) -> str:
    """Coerce Cloudflare's `string` both ways: strings only."""
    if not isinstance(value, str):
        raise TypeError(f"string cannot represent {value!r}")
    return value


def _unsigned(bits: int) -> Callable[[Any], int]:
    """Coercion for `uint<bits>`: integers in range, never booleans."""
    top = 2 ** bits

    def coerce(value: Any) -> int:
        if type(value) is int and 0 <= value < top:  # the common case, cheaply
            return value
        if isinstance(value, bool) or not isinstance(value, int | np.integer) \
                or not 0 <= value < top:
            raise TypeError(f"uint{bits} cannot represent {value!r}")
        return int(value)
    return coerce


def _set_scalar(schema: GraphQLSchema, name: str, out: Callable, inp: Callable) -> None:
    """Give a scalar built from SDL its coercions (graphql-core 3.2 and 3.3 names)."""
    scalar: Any = schema.type_map[name]
    scalar.serialize = scalar.coerce_output_value = out
    scalar.parse_value = scalar.coerce_input_value = inp


@cache
def schema() -> GraphQLSchema:
    """The emulated schema: `schema.graphql` with scalars and resolvers bound."""
    sdl = files(__package__).joinpath("schema.graphql").read_text(encoding="utf-8")
    built = build_schema(sdl)
    kwargs: Any = built.to_kwargs()  # add the built-in scalars the SDL never names (`$n: Int!`)
    built = GraphQLSchema(**{**kwargs, "types": (*kwargs["types"], GraphQLInt, GraphQLFloat)})
    _set_scalar(built, "Date", _date_out, _date_in)
    _set_scalar(built, "Time", _time_out, _time_in)
    _set_scalar(built, "string", _string, _string)
    _set_scalar(built, "uint64", _unsigned(64), _unsigned(64))
    _set_scalar(built, "uint16", _unsigned(16), _unsigned(16))
    query: Any = built.query_type
    query.fields["viewer"].resolve = lambda _root, _info: {}
    viewer: Any = built.type_map["viewer"]
    viewer.fields["accounts"].resolve = _resolve_accounts
    acct: Any = built.type_map["account"]
    acct.fields["settings"].resolve = lambda _acct, _info: {
        name: ds.settings() for name, ds in DATASETS.items()}
    for name, ds in DATASETS.items():
        acct.fields[name].resolve = _dataset_resolver(ds)
    graphql_zone.bind(built)
    return built


class _VariablesInAllowedPosition(ValidationRule):
    """The spec's variable-position rule, with Cloudflare's scalar aliases interchangeable."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.definitions: dict[str, Any] = {}

    def enter_operation_definition(self, operation: OperationDefinitionNode, *_: Any) -> None:
        self.definitions = {d.variable.name.value: d
                            for d in operation.variable_definitions or ()}

    def leave_operation_definition(self, operation: OperationDefinitionNode, *_: Any) -> None:
        context = self.context
        for usage in context.get_recursive_variable_usages(operation):
            var_def = self.definitions.get(usage.node.name.value)
            if var_def is None or usage.type is None:
                continue
            var_type = type_from_ast(context.schema, var_def.type)
            if var_type is None:
                continue
            if not allowed_variable_usage(context.schema, _alias(var_type, usage.type),
                                          var_def.default_value, usage.type,
                                          usage.default_value):
                self.report_error(GraphQLError(
                    f"Variable '${usage.node.name.value}' of type '{var_type}' used"
                    f" in position expecting type '{usage.type}'.", [var_def, usage.node]))


def _alias(var_type: GraphQLType, location: GraphQLType) -> GraphQLType:
    """`var_type` with its named type replaced by the location's when they are aliases."""
    var_named, loc_named = get_named_type(var_type), get_named_type(location)
    group = _SCALAR_ALIASES.get(var_named.name)
    if var_named is loc_named or group is None or group != _SCALAR_ALIASES.get(loc_named.name):
        return var_type

    def swap(t: Any) -> Any:
        if isinstance(t, GraphQLNonNull):
            return GraphQLNonNull(swap(t.of_type))
        if isinstance(t, GraphQLList):
            return GraphQLList(swap(t.of_type))
        return loc_named
    return swap(var_type)


_RULES = tuple(r if r is not VariablesInAllowedPositionRule else _VariablesInAllowedPosition
               for r in specified_rules)


# --- resolvers -------------------------------------------------------------------------
def _resolve_accounts(_viewer: Any, info: Any, filter: dict) -> list[object]:
    """`accounts(filter: {accountTag})`: exactly the one simulated account."""
    endpoint: GraphQLEndpoint = info.context
    if ANALYTICS_READ not in endpoint.permissions:
        raise _QueryFailure("not authorized for that account", "authz", status=403)
    tag = filter.get("accountTag")
    if not tag:
        raise _QueryFailure("accounts filter must set accountTag (one account per query)",
                            "bad_request")
    if tag != endpoint.account.account_id:
        raise _QueryFailure("not authorized for that account", "authz", status=200)
    return [object()]


def _dataset_resolver(ds: Dataset) -> Callable[..., _Rows]:
    """The resolver of one dataset field: its arguments and selection go to the engine."""

    def resolve(_acct: Any, info: Any, limit: int, filter: dict | None = None,
                orderBy: list[str] | None = None) -> _Rows:
        endpoint: GraphQLEndpoint = info.context
        requested = _requested(info)
        minutes = ds.by_minute is not None and "datetime" in requested.get("dimensions", ())
        return _run_query(None if minutes else endpoint.frame(ds), ds, filter or {}, limit,
                          orderBy or [], requested, endpoint.account.now, endpoint.groups,
                          endpoint.account)
    resolve.__doc__ = f"Resolve `{ds.name}`."
    return resolve


def _requested(info: Any) -> dict[str, set[str]]:
    """What a dataset field selects: {"dimensions": {...}, "sum": {...}, "count": set()}."""
    groups: dict[str, set[str]] = {}
    for node in info.field_nodes:
        for child in _fields(node.selection_set, info):
            names = {f.name.value for f in _fields(child.selection_set, info)}
            groups.setdefault(child.name.value, set()).update(names)
    return groups


def _fields(selection_set: SelectionSetNode | None, info: Any) -> Iterator[FieldNode]:
    """The fields of a selection set, through fragments, honouring @skip and @include."""
    for node in selection_set.selections if selection_set else ():
        if not _included(node, info.variable_values):
            continue
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, info)
        elif isinstance(node, FragmentSpreadNode):
            fragment = info.fragments.get(node.name.value)
            if fragment is not None:
                yield from _fields(fragment.selection_set, info)


def _included(node: Any, variables: Any) -> bool:
    """False when @skip(if: true) or @include(if: false) drops the node."""
    skip = get_directive_values(GraphQLSkipDirective, node, variables)
    include = get_directive_values(GraphQLIncludeDirective, node, variables)
    return not (skip and skip.get("if")) and not (include and include.get("if") is False)


# --- the query engine ------------------------------------------------------------------
def _run_query(frame: pd.DataFrame | None, ds: Dataset, flt: dict, limit: int,
               order_by: list[str], requested: dict[str, set[str]], now: pd.Timestamp,
               cache: dict | None = None, account: SimulatedAccount | None = None) -> _Rows:
    """Check limits, filter, group by the requested dimensions, aggregate, order, cut.

    Predicates on a grouping dimension (a keyset cursor such as `uid_gt`) select whole
    groups, so they are applied after the aggregation; the ordered groups of the rest of the
    query are kept in `cache` (per frame), and each page of a keyset walk is a cut of them.
    No `frame` (a query grouped by `datetime`): the dataset's `by_minute` builds one for the
    query's window, kept for the next pages (`_minute_frame`).
    """
    _check_limit(limit, ds)
    lo, hi = _time_range(flt, now)
    _check_window(lo, hi, ds, now)
    dims = [d for d in ds.dimensions if d in requested.get("dimensions", ())]
    if frame is None:  # grouped by `datetime`: only the window's minutes are built
        assert ds.by_minute is not None and account is not None
        frame = _minute_frame(ds, account, lo, hi, cache)
    keys = list(dict.fromkeys(_column(d) for d in dims))
    pre, post = _split_filter(flt, keys)
    key = (ds.name, tuple(keys), repr(pre), tuple(order_by), lo, hi)
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] is frame:
        grouped = hit[1]
    else:
        ts = frame["_ts"]
        rows = frame[(ts >= lo).to_numpy() & (ts <= hi).to_numpy()]  # cheap cut to the window
        rows = rows[_mask(rows, pre)]
        grouped = _order(_aggregate(rows, keys, ds), order_by, keys, ds)
        _keep(cache, key, (frame, grouped))
    if post:
        grouped = grouped[_mask(grouped, post)]
    return _records(grouped.head(limit), dims, requested, ds)


def _minute_frame(ds: Dataset, account: SimulatedAccount, lo: pd.Timestamp, hi: pd.Timestamp,
                  cache: dict | None) -> pd.DataFrame:
    """`ds.by_minute` of the window, kept in `cache` while the account neither moves nor
    changes: every page of a keyset walk over the window reads the same minutes."""
    assert ds.by_minute is not None
    key, state = ("minutes", ds.name, lo, hi), account._state()
    hit = cache.get(key) if cache is not None else None
    if hit is not None and hit[0] is state and hit[1] == account.now:
        return hit[2]
    frame = ds.by_minute(account, lo, hi)
    _keep(cache, key, (state, account.now, frame))
    return frame


_GROUPS_KEPT = 4  # ordered aggregates kept per endpoint (one per dataset a sync walks)


def _keep(cache: dict | None, key: tuple, value: tuple) -> None:
    """Keep `value` under `key` (no cache: nothing), the oldest entry going past the bound."""
    if cache is None:
        return
    if len(cache) >= _GROUPS_KEPT:
        cache.pop(next(iter(cache)))
    cache[key] = value


def _split_filter(flt: dict, keys: list[str]) -> tuple[dict, dict]:
    """(the filter on rows, the top-level predicates on grouping keys other than time).

    >>> _split_filter({"date_geq": "2026-06-01", "uid_gt": "b", "actionType": "x"}, ["uid"])
    ({'date_geq': '2026-06-01', 'actionType': 'x'}, {'uid_gt': 'b'})
    """
    pre: dict[str, Any] = {}
    post: dict[str, Any] = {}
    for name, value in flt.items():
        dimension = _split(name)[0] if name not in ("AND", "OR") else ""
        on_key = dimension not in ("", "date", "datetime") and _column(dimension) in keys
        (post if on_key else pre)[name] = value
    return pre, post


def _check_limit(limit: int, ds: Dataset) -> None:
    """Refuse a page size outside 1..maxPageSize."""
    if not 0 < limit <= ds.max_page_size:
        raise _QueryFailure(
            f"limit must be positive number and not greater than {ds.max_page_size}", "quota")


def _time_range(flt: dict, now: pd.Timestamp) -> tuple[pd.Timestamp, pd.Timestamp]:
    """[lo, hi) the filter spans through its date/datetime bounds (top level and AND)."""
    lows, highs = [], []
    for key, value in _conjuncts(flt):
        if value is None:
            continue
        kind, op = _split(key)
        if kind not in ("date", "datetime"):
            continue
        step = DAY if kind == "date" else pd.Timedelta(0)
        if op == "in" and value:
            lows.append(min(value))
            highs.append(max(value) + step)
        elif op in ("eq", "geq"):
            lows.append(value)
        elif op == "gt":
            lows.append(value + step)
        if op in ("eq", "leq"):
            highs.append(value + step)
        elif op == "lt":
            highs.append(value)
    if not lows:
        raise _QueryFailure(
            "a time range is required: filter on date or datetime "
            "(e.g. date_geq and date_lt)", "bad_request")
    return max(lows), min(highs) if highs else now


def _conjuncts(flt: dict) -> Iterator[tuple[str, Any]]:
    """Every (key, value) the filter ANDs together, through nested AND lists."""
    for key, value in flt.items():
        if key == "AND":
            for sub in value or ():
                yield from _conjuncts(sub)
        elif key != "OR":
            yield key, value


def _check_window(lo: pd.Timestamp, hi: pd.Timestamp, ds: Dataset, now: pd.Timestamp) -> None:
    """Refuse a range that starts before retention or is wider than maxDuration."""
    if lo < now - ds.not_older_than:
        raise _QueryFailure(
            f"cannot request data older than {_duration(ds.not_older_than)}", "quota")
    if hi - lo > ds.max_duration:
        raise _QueryFailure(
            "query time range is too large: time range can't be wider than "
            f"{_duration(ds.max_duration)}", "quota")


def _duration(td: pd.Timedelta) -> str:
    """Cloudflare's compact duration, e.g. 90 days -> '12w6d'."""
    rest = int(td.total_seconds())
    parts = []
    for unit, size in (("w", 604_800), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        n, rest = divmod(rest, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"


def _split(key: str) -> tuple[str, str]:
    """`uid_gt` -> ("uid", "gt"); `uid` -> ("uid", "eq")."""
    name, _, op = key.rpartition("_")
    return (name, op) if name and op in _FILTER_OPS else (key, "eq")


def _column(dimension: str) -> str:
    """The frame column behind a dimension (`date` and `datetime` share `_ts`: the day start,
    or the minute in a `by_minute` frame)."""
    return "_ts" if dimension in ("date", "datetime") else dimension


def _mask(frame: pd.DataFrame, flt: dict) -> np.ndarray:
    """Boolean row mask of a filter (keys ANDed; AND and OR lists of sub-filters)."""
    mask = np.ones(len(frame), dtype=bool)
    for key, value in flt.items():
        if value is None:
            continue
        if key == "AND":
            for sub in value:
                mask &= _mask(frame, sub)
        elif key == "OR":
            if value:
                mask &= np.logical_or.reduce([_mask(frame, sub) for sub in value])
        else:
            name, op = _split(key)
            mask &= _compare(frame[_column(name)], op, value)
    return mask


def _compare(col: pd.Series, op: str, value: Any) -> np.ndarray:
    """One filter predicate on one column."""
    if op == "in":
        result = col.isin(value)
    elif op == "notin":
        result = ~col.isin(value)
    else:
        result = {"eq": col.__eq__, "neq": col.__ne__, "gt": col.__gt__, "geq": col.__ge__,
                  "lt": col.__lt__, "leq": col.__le__}[op](value)
    return result.to_numpy(dtype=bool)


def _aggregate(rows: pd.DataFrame, keys: list[str], ds: Dataset) -> pd.DataFrame:
    """One row per distinct key tuple, in key order: sums or maxima, `count` = underlying rows."""
    metrics = ds.metric_columns()
    if not keys and not len(rows):
        return pd.DataFrame(columns=[*metrics, *["count"] * ds.count])
    groups = rows.groupby(keys, observed=True) if keys else rows.assign(_all=0).groupby("_all")
    out = groups.agg(metrics)
    if ds.count:
        out["count"] = groups.size()
    out = out.reset_index(drop=not keys)
    sums = [c for c, agg in metrics.items() if agg == "sum"]
    if sums:  # groups with nothing to report are absent, as on Cloudflare
        out = out[(out[sums] != 0).any(axis=1)]
    return out


def _order(grouped: pd.DataFrame, order_by: list[str], keys: list[str],
           ds: Dataset) -> pd.DataFrame:
    """Sort by `orderBy`, then by the remaining grouping keys ascending (deterministic)."""
    by: list[str] = []
    ascending: list[bool] = []
    for item in order_by:
        name, _, direction = item.rpartition("_")
        col = _column(name)
        if name in ds.dimensions and col not in keys:
            raise _QueryFailure(
                f"cannot order by {name}: it is not one of the requested dimensions",
                "bad_request")
        if col not in by:
            by.append(col)
            ascending.append(direction == "ASC")
    for key in keys:
        if key not in by:
            by.append(key)
            ascending.append(True)
    if not by or grouped.empty or (by == keys and all(ascending)):
        return grouped  # `_aggregate` sorted the groups by their keys already
    return grouped.sort_values(by, ascending=ascending, kind="stable")


def _records(grouped: pd.DataFrame, dims: list[str], requested: dict[str, set[str]],
             ds: Dataset) -> _Rows:
    """The result rows, column by column (only the requested groups)."""
    columns: dict[str, Any] = {}
    if "dimensions" in requested:
        columns["dimensions"] = {d: _dimension_values(grouped, d) for d in dims}
    for group, names in ds.metrics.items():
        if group in requested:
            columns[group] = {n: grouped[f"{group}_{n}"].tolist() for n in names}
    if ds.count and "count" in requested:
        columns["count"] = grouped["count"].tolist()
    return _Rows(columns, len(grouped))


def _dimension_values(grouped: pd.DataFrame, dimension: str) -> list:
    """One dimension's values for the result rows, formatted for JSON."""
    if dimension in ("date", "datetime"):  # few distinct days: format each once
        codes, days = pd.factorize(grouped["_ts"])
        pattern = "%Y-%m-%d" if dimension == "date" else "%Y-%m-%dT%H:%M:%SZ"
        return np.asarray(days.strftime(pattern), dtype=object)[codes].tolist()
    return grouped[dimension].tolist()


class _Rows:
    """A dataset's result rows held as columns, e.g.
    `{"count": [...], "sum": {"minutesViewed": [...]}, "dimensions": {"uid": [...]}}`.

    Iterating yields the row dicts (`{"count": 1, "sum": {...}, ...}`) that graphql-core's
    standard completion reads field by field; `_ColumnarExecutor` reads the columns instead.
    """

    def __init__(self, columns: dict[str, Any], length: int) -> None:
        self.columns = columns
        self.length = length

    def __iter__(self) -> Iterator[dict]:
        parts = {name: col if isinstance(col, list) else _zip_rows(col, self.length)
                 for name, col in self.columns.items()}
        return iter(_zip_rows(parts, self.length))


def _zip_rows(columns: dict[str, list], length: int) -> list[dict]:
    """`length` dicts, the i-th holding each key with its column's i-th value."""
    rows: list[dict] = [{} for _ in range(length)]
    for key, column in columns.items():
        for row, value in zip(rows, column, strict=True):  # a column at a time is fastest
            row[key] = value
    return rows


# --- columnar completion ---------------------------------------------------------------
class _Unusual(Exception):
    """Something the columnar completion leaves to graphql-core's standard completion."""


class _ColumnarExecutor(Executor):
    """graphql-core's executor, completing a dataset's rows a column at a time.

    Why it exists: a 10,000-row page holds some 60,000 leaf fields, and completing each one
    through graphql-core (a resolver call, a ResolveInfo, a Path, a coercion) costs about ten
    times the query itself. The dataset resolvers return `_Rows`, and this executor completes
    them from their columns: graphql-core still collects every selection set (aliases,
    fragments, `__typename`, @skip/@include), and every leaf value still goes through its
    scalar's `coerce_output_value`, mapped over its column. Anything unusual (a null, a
    value its scalar refuses, a field with its own resolver, middleware) goes back to the
    standard completion, which answers exactly as it always has, errors included.
    """

    def complete_list_value(self, return_type: Any, field_details_list: Any, info: Any,
                            path: Any, result: Any, position_context: Any) -> Any:
        if isinstance(result, _Rows) and self.middleware_manager is None:
            try:
                return self._complete_column(return_type.of_type, field_details_list,
                                             result.columns, result.length)
            except Exception:  # _Unusual, or a scalar refusing a value: the standard
                pass  # completion below answers it, with the error where it belongs
        return super().complete_list_value(return_type, field_details_list, info, path,
                                           result, position_context)

    def _complete_column(self, type_: Any, field_details_list: Any, column: Any,
                         length: int) -> list:
        """The `length` completed values of one field of type `type_`: `column` is a list
        of leaf values or, for an object type, a dict of its fields' columns."""
        if is_non_null_type(type_):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList) and isinstance(column, list) \
                and all(isinstance(v, list) for v in column):
            return self._complete_nested(type_.of_type, field_details_list, column)
        if is_leaf_type(type_):
            if not isinstance(column, list) or None in column:
                raise _Unusual(f"no column of non-null {type_} values")
            values = list(map(type_.coerce_output_value, column))
            if None in values:  # also catches Undefined, which equals None
                raise _Unusual(f"{type_} serialized a value to null")
            return values
        if not is_object_type(type_) or not isinstance(column, dict) or type_.is_type_of:
            raise _Unusual(f"no column shape for {type_}")
        fields = self.collect_subfields(type_, field_details_list).grouped_field_set
        columns: dict[str, list] = {}  # response key (alias or name) -> completed values
        for key, details in fields.items():
            name = details[0].node.name.value
            field_def = type_.fields.get(name)
            if name == "__typename":
                columns[key] = [type_.name] * length
            elif field_def is not None and field_def.resolve is None and name in column:
                columns[key] = self._complete_column(field_def.type, details, column[name],
                                                     length)
            else:
                raise _Unusual(f"{type_}.{name} has no column")
        return _zip_rows(columns, length)

    def _complete_nested(self, item_type: Any, field_details_list: Any,
                         column: list[list]) -> list:
        """A list field per row (e.g. a `countryMap`): its items completed as one column
        across all rows, then split back per row."""
        flat = [item for items in column for item in items]
        if flat and all(isinstance(item, dict) for item in flat):
            keys = set().union(*flat)
            inner: Any = {k: [item.get(k) for item in flat] for k in keys}
        else:
            inner = flat
        done = self._complete_column(item_type, field_details_list, inner, len(flat))
        out, at = [], 0
        for items in column:
            out.append(done[at:at + len(items)])
            at += len(items)
        return out


# --- the endpoint ----------------------------------------------------------------------
class GraphQLEndpoint:
    """`POST /client/v4/graphql` for one simulated account.

    >>> from lc_analytics.sandbox import SimulatedAccount
    >>> acct = SimulatedAccount.build("small", seed=7, end=date(2026, 6, 30))
    >>> q = '''query ($t: string!) { viewer { accounts(filter: {accountTag: $t}) {
    ...   r2StorageAdaptiveGroups(limit: 10, filter: {date: "2026-06-30"}) {
    ...     dimensions { bucketName } max { objectCount } } } } }'''
    >>> status, body = GraphQLEndpoint(acct).execute(
    ...     {"query": q, "variables": {"t": acct.account_id}}, {"analytics:read"})
    >>> status, len(body["data"]["viewer"]["accounts"][0]["r2StorageAdaptiveGroups"])
    (200, 4)
    """

    def __init__(self, account: SimulatedAccount, *, columnar: bool = True) -> None:
        self.account = account
        self.columnar = columnar  # False: graphql-core's standard completion, field by field
        self._frames: dict[str, tuple[object, pd.Timestamp, pd.DataFrame]] = {}
        self.groups: dict = {}  # `_run_query`'s ordered aggregates, per frame
        self.zone_frames: dict[str, tuple[Any, pd.DataFrame]] = {}  # graphql_zone's cache
        self.permissions: set[str] = set()  # the current request's

    def execute(self, payload: dict, permissions: set[str]) -> tuple[int, dict]:
        """Answer one decoded JSON body with (HTTP status, JSON response)."""
        if not permissions & {ANALYTICS_READ, graphql_zone.ZONE_ANALYTICS_READ}:
            return self._fail(403, "not authorized for that account", "authz")
        self.permissions = permissions
        query, variables = payload.get("query"), payload.get("variables")
        if not isinstance(query, str) or not isinstance(variables, dict | None):
            return self._fail(400, "error parsing args: the body needs a string query and "
                                   "an object of variables", "parse")
        try:
            document = parse(query)
        except GraphQLSyntaxError as exc:
            return self._errors([(exc, "parse", 400)])
        problems = validate(schema(), document, list(_RULES))
        if problems:
            return self._errors([(e, "validation", 400) for e in problems])
        return self._run(document, variables, payload.get("operationName"))

    def frame(self, ds: Dataset) -> pd.DataFrame:
        """The dataset's frame, rebuilt whenever the account's state or clock moved."""
        state = self.account._state()  # replaced by the account on every edit and advance
        cached = self._frames.get(ds.name)
        if cached is not None and cached[0] is state and cached[1] == self.account.now:
            return cached[2]
        frame = ds.load(self.account)
        self._frames[ds.name] = (state, self.account.now, frame)
        return frame

    def _run(self, document: DocumentNode, variables: dict | None,
             operation_name: Any) -> tuple[int, dict]:
        result = execute_sync(schema(), document, context_value=self,
                              variable_values=variables, operation_name=operation_name,
                              executor_class=_ColumnarExecutor if self.columnar else None)
        if not result.errors:
            return 200, {"data": result.data, "errors": None}
        return self._errors([_classify(e) for e in result.errors])

    def _errors(self, errors: list[tuple[GraphQLError, str, int]]) -> tuple[int, dict]:
        stamp = self._timestamp()
        status = max(s for _, _, s in errors)
        body = [_format_error(e, code, stamp) for e, code, _ in errors]
        return status, {"data": None, "errors": body}

    def _fail(self, status: int, message: str, code: str) -> tuple[int, dict]:
        return status, {"data": None, "errors": [{
            "message": message, "path": None,
            "extensions": {"code": code, "timestamp": self._timestamp()}}]}

    def _timestamp(self) -> str:
        return self.account.now.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
