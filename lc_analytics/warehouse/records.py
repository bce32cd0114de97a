"""Records (dicts, a DataFrame or an Arrow table) turned into checked Arrow batches."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeAlias

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import WarehouseError
from .catalog import _ident, _names, _Table
from .connections import _translate

#: dicts, a DataFrame, an Arrow table, or an iterable of Arrow tables / record batches
Records: TypeAlias = (Iterable[Mapping[str, Any]] | pd.DataFrame | pa.Table
                      | Iterable[pa.Table] | Iterable[pa.RecordBatch])


def _batches(records: Records, size: int) -> Iterator[pd.DataFrame | pa.Table | list[Any]]:
    if isinstance(records, pd.DataFrame):
        for start in range(0, len(records), size):
            yield records.iloc[start:start + size]
    elif isinstance(records, pa.Table):
        for start in range(0, records.num_rows, size):
            yield records.slice(start, size)
    elif isinstance(records, Mapping | str | bytes):
        raise WarehouseError(
            f"records must be an iterable of dicts, a DataFrame or an Arrow table, "
            f"not a single {type(records).__name__}"
        )
    else:
        iterator = iter(records)
        first = next(iterator, None)
        if isinstance(first, pa.Table | pa.RecordBatch):
            yield from _arrow_batches(itertools.chain([first], iterator), size)
            return
        iterator = itertools.chain([] if first is None else [first], iterator)
        while chunk := list(itertools.islice(iterator, min(size, DICT_BATCH_ROWS))):
            yield chunk


#: dict records are converted this many at a time at most: a dict per row costs ~1-3 KB, so a
#: 50,000-row batch of a large listing (videos, objects) held 100+ MB for a moment
DICT_BATCH_ROWS = 10_000


def _arrow_batches(tables: Iterator[Any], size: int) -> Iterator[pa.Table]:
    """A stream of Arrow tables (a page each) regrouped into batches of `size` rows: written
    as they come, never a whole window at once, and few enough statements to be cheap."""
    held: list[pa.Table] = []
    rows = 0
    for item in tables:
        table = item if isinstance(item, pa.Table) else pa.Table.from_batches([item])
        held.append(table)
        rows += table.num_rows
        if rows >= size:
            whole = pa.concat_tables(held, promote_options="permissive")
            full = whole.num_rows - whole.num_rows % size
            for start in range(0, full, size):
                yield whole.slice(start, size)
            held, rows = ([whole.slice(full)], whole.num_rows - full) if full < whole.num_rows \
                else ([], 0)
    if rows:
        yield pa.concat_tables(held, promote_options="permissive")


def _to_arrow(info: _Table, batch: pd.DataFrame | pa.Table | list[Any], offset: int) -> pa.Table:
    if isinstance(batch, pd.DataFrame):
        names = [str(c) for c in batch.columns]
        _check_columns(info, names, "DataFrame columns")
        arrays = [_arrow_column(batch.iloc[:, i]) for i in range(len(names))]
    elif isinstance(batch, pa.Table):
        names = batch.column_names
        _check_columns(info, names, "Arrow table columns")
        arrays = [_arrow_column(batch.column(i).to_pylist()) if pa.types.is_nested(t)
                  else batch.column(i) for i, t in enumerate(batch.schema.types)]
    else:
        fast = _from_dicts(info, batch, offset)
        if fast is not None:
            _check_not_null(info, fast, offset)
            return fast
        names = _record_columns(info, batch, offset)
        arrays = [_arrow_column([r.get(n) for r in batch]) for n in names]
    table = pa.table(arrays, names=names)
    _check_not_null(info, table, offset)
    return table


def _from_dicts(info: _Table, batch: list[Any], offset: int) -> pa.Table | None:
    """Plain dicts whose values Arrow types together, converted in C++ (no per-row Python);
    None to take the general path (other mappings, mixed types, nested values)."""
    if not batch or set(map(type, batch)) != {dict}:
        return None
    required = set(info.required)
    for keys in set(map(tuple, batch)):
        if not required <= set(keys) <= info.writable:
            return None  # the general path names the first offending record
    try:
        table = pa.Table.from_struct_array(pa.array(batch, from_pandas=True))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        return None
    if any(pa.types.is_nested(t) for t in table.schema.types):
        return None
    return table.select([c for c in info.columns if c in table.column_names])


def _record_columns(info: _Table, batch: list[Any], offset: int) -> list[str]:
    """Validate every record's keys (each distinct key set once); return the union."""
    present: set[str] = set()
    last: set[str] | None = None
    for i, record in enumerate(batch):
        if not isinstance(record, Mapping):
            raise WarehouseError(
                f"{info.name}: record {offset + i} is a {type(record).__name__}, not a dict",
                table=info.name,
            )
        keys = record.keys()
        if last is not None and keys == last:
            continue
        _check_columns(info, keys, f"record {offset + i}")
        last = set(keys)
        present |= last
    return [c for c in info.columns if c in present]


def _check_columns(info: _Table, names: Iterable[Any], where: str) -> None:
    names = list(names)
    unknown = [n for n in names if n not in info.writable]
    if unknown:
        managed = [n for n in unknown if n in info.columns]
        if managed:
            what = f"column(s) {_names(managed)} are set by the warehouse; leave them out"
        else:
            what = (f"unknown column(s) {_names(unknown)}; "
                    f"the table has {', '.join(sorted(info.writable))}")
        raise WarehouseError(f"{info.name}: {what} ({where})", table=info.name, columns=unknown)
    missing = [c for c in info.required if c not in names]
    if missing:
        raise WarehouseError(
            f"{info.name}: missing column(s) {_names(missing)} ({where}); every column "
            "without a default is required: pass None where a value is unknown",
            table=info.name,
            columns=missing,
        )


def _arrow_column(values: pd.Series | list[Any]) -> pa.Array | pa.ChunkedArray:
    """One column as Arrow; values Arrow cannot type together are passed as text for DuckDB."""
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError):
        array = None
    if array is None or pa.types.is_nested(array.type):
        items = values.tolist() if isinstance(values, pd.Series) else values
        array = pa.array([_text(v) for v in items], type=pa.string())
    return array


def _text(value: Any) -> str | None:
    if value is None or value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping | list | tuple):
        return json.dumps(value, sort_keys=True, default=str)
    if isinstance(value, Decimal | int | float):
        return str(value)
    return str(value)


def _check_not_null(info: _Table, table: pa.Table, offset: int) -> None:
    for name in table.column_names:
        column = info.columns[name]
        if column.nullable or column.default is not None:
            continue
        values = table.column(name)
        if values.null_count:
            index = pc.index(pc.is_null(values), True).as_py()
            key = {k: table.column(k)[index].as_py() for k in info.key if k in table.column_names}
            raise WarehouseError(
                f"{info.name}.{name} is NOT NULL but {values.null_count} record(s) have no "
                f"value (first: record {offset + index}, key {key})",
                table=info.name,
                column=name,
            )


def _conversion_error(info: _Table, arrow: pa.Table, exc: duckdb.Error) -> WarehouseError:
    """Find which column DuckDB could not cast (in a scratch database) and name it."""
    scratch = duckdb.connect(":memory:")
    try:
        scratch.execute("SET TimeZone = 'UTC'")
        scratch.register("b", arrow)
        for name in arrow.column_names:
            col, typ = _ident(name), info.columns[name].type
            row = scratch.execute(
                f"SELECT {col}::VARCHAR FROM b WHERE {col} IS NOT NULL "
                f"AND TRY_CAST({col} AS {typ}) IS NULL LIMIT 1"
            ).fetchone()
            if row:
                return WarehouseError(
                    f"{info.name}.{name}: cannot store {row[0]!r} as {typ}",
                    table=info.name,
                    column=name,
                    value=row[0],
                )
    except duckdb.Error:
        pass
    finally:
        scratch.close()
    return _translate(exc, f"upsert into {info.name}")
