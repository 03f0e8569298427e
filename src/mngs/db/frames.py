"""pandas helpers for DataFrame import/export: dtype to column kind, column values, frames from rows."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from .errors import ArgumentError, NotSupportedError

__all__ = ["build_frame", "column_values", "pandas", "series_kind"]

PANDAS_HINT = "pip install 'mngs-db[pandas]'"


def pandas() -> Any:
    """The pandas module, imported on first use; NotSupportedError naming the extra when missing."""
    try:
        import pandas
    except ImportError as exc:
        raise NotSupportedError(f"DataFrame support needs pandas: {PANDAS_HINT}") from exc
    return pandas


# -- DataFrame -> rows ---------------------------------------------------------------------
def series_kind(pd: Any, series: Any, name: str) -> str:
    """The column kind of a DataFrame column, from its dtype (or its values when object)."""
    dtype = series.dtype
    kind = getattr(dtype, "kind", "O")
    if kind == "b":
        return "boolean"
    if kind in "iu":
        return "integer"
    if kind == "f":
        return "float"
    if kind == "M":
        return "timestamptz" if getattr(dtype, "tz", None) is not None else "timestamp"
    if kind in "mc":
        raise ArgumentError(
            f"column {name!r} has dtype {dtype}, which has no SQL counterpart here: convert it first "
            "(e.g. .dt.total_seconds() for durations)"
        )
    if pd.api.types.is_string_dtype(dtype) and str(dtype) != "object":
        return "text"
    inferred = pd.api.types.infer_dtype(series, skipna=True)
    simple = {
        "string": "text", "empty": "text", "bytes": "bytes", "integer": "integer",
        "floating": "float", "mixed-integer-float": "float", "boolean": "boolean",
        "date": "date", "time": "time", "decimal": "decimal",
    }  # fmt: skip
    if inferred in simple:
        return simple[inferred]
    if inferred in ("datetime", "datetime64"):
        first = series[series.notna()].iloc[0]
        return "timestamptz" if getattr(first, "tzinfo", None) is not None else "timestamp"
    present = series[series.notna()]
    if len(present) and isinstance(present.iloc[0], (dict, list)):
        return "json"
    return "text"


def column_values(np: Any, series: Any, kind: str) -> list[Any]:
    """One column as Python values, missing ones (NaN, NaT, None, pd.NA) as None."""
    mask = series.isna().to_numpy()
    typed = str(series.dtype) != "object"
    if kind == "integer" and typed:
        values = series.to_numpy(dtype="int64" if series.dtype.kind == "i" else "uint64", na_value=0).tolist()
    elif kind == "float" and typed:
        values = series.to_numpy(dtype="float64", na_value=np.nan).tolist()
    elif kind == "boolean" and typed:
        values = series.to_numpy(dtype=bool, na_value=False).tolist()
    elif kind in ("timestamp", "timestamptz") and series.dtype.kind == "M":
        values = list(series.array.to_pydatetime())
    else:
        values = series.to_numpy(dtype=object).tolist()
        generic = np.generic
        for i, value in enumerate(values):
            if isinstance(value, generic):
                values[i] = value.item()
            elif hasattr(value, "to_pydatetime"):  # pandas Timestamp
                values[i] = value.to_pydatetime()
    if mask.any():
        for i in np.flatnonzero(mask).tolist():
            values[i] = None
    return values


# -- rows -> DataFrame ---------------------------------------------------------------------
def build_frame(pd: Any, names: list[str], chunks: Iterable[Sequence[tuple]]) -> Any:
    """A DataFrame of rows arriving in chunks, with typed columns: int64 (Int64 with NULLs),
    float64, bool (boolean with NULLs), datetime64, str; bytes, dates, Decimals and JSON values
    as Python objects. Each chunk becomes typed columns as it arrives, so the rows as Python
    objects never all exist at once; the columns are joined at the end."""
    parts: list[list[Any]] = [[] for _ in names]
    first = None  # the first chunk's frame: the result itself when no other chunk follows

    def keep(frame: Any) -> None:
        for i, column in enumerate(parts):  # copies: a view would keep the chunk's rows alive
            column.append(frame.iloc[:, i].copy())

    for rows in chunks:
        if rows:
            frame = _frame(pd, names, rows)
            if first is None and not parts[0]:
                first = frame
                continue
            if first is not None:
                keep(first)
                first = None
            keep(frame)
            del frame
    if first is not None:
        return first
    if not parts[0]:
        return _frame(pd, names, [])
    columns = []
    for i, name in enumerate(names):
        columns.append(_join(pd, name, parts[i]))
        parts[i] = []  # each column's chunks are freed as soon as it is joined
    out = pd.concat(columns, axis=1, ignore_index=True)
    out.columns = names
    return out


def _frame(pd: Any, names: list[str], rows: Sequence[tuple]) -> Any:
    """One chunk of rows as a DataFrame with the column types of :func:`build_frame`."""
    frame = pd.DataFrame.from_records(rows, columns=names, nrows=len(rows))
    if not rows:
        return frame
    infer = pd.api.types.infer_dtype
    for i in range(len(names)):
        column = frame.iloc[:, i]
        dtype = column.dtype
        if dtype.kind == "f" and column.hasnans:
            present = column.notna().to_numpy()
            if not present.any() or type(rows[int(present.argmax())][i]) is not int:
                continue  # a float column (its first value is no int), or only NULLs
            values = column.to_numpy()
            try:
                if abs(values[present]).max() < 2**53:  # exact in float64: convert in bulk
                    frame.isetitem(i, pd.array(values, dtype="Int64"))
                    continue
            except (TypeError, ValueError):
                continue  # not all integral: ints and floats mixed (SQLite)
            raw = [row[i] for row in rows]
            if infer(raw, skipna=True) == "integer":
                frame.isetitem(i, pd.array(raw, dtype="Int64"))
        elif str(dtype) == "object":
            inferred = infer(column, skipna=True)
            try:
                if inferred == "boolean":
                    frame.isetitem(i, pd.array(column.to_numpy(), dtype="boolean"))
                elif inferred == "integer":
                    frame.isetitem(i, pd.array(column.to_numpy(), dtype="Int64"))
            except (TypeError, ValueError, OverflowError):
                pass  # e.g. integers beyond 64 bits: kept as Python ints
    return frame


def _join(pd: Any, name: str, parts: list[Any]) -> Any:
    """One column from its chunks, with the dtype the whole column would have had."""
    dtypes = {part.dtype for part in parts}
    if len(dtypes) == 1:
        return pd.concat(parts, ignore_index=True)
    empty = [str(part.dtype) == "object" and not part.notna().any() for part in parts]
    kinds = {str(part.dtype) for part, none in zip(parts, empty) if not none}
    target: Any = None
    if kinds <= {"int64", "Int64"} and kinds:
        target = "Int64"
    elif kinds <= {"bool", "boolean"} and kinds:
        target = "boolean"
    elif len(kinds) == 1:  # e.g. float64, datetime64 or str, with chunks of only NULLs
        target = next(part.dtype for part, none in zip(parts, empty) if not none)
    if target is not None:
        return pd.concat([part.astype(target) for part in parts], ignore_index=True)
    # chunks typed differently (e.g. ints in one, floats in another): type the whole column
    values = [
        None if missing else value
        for part in parts
        for value, missing in zip(part.astype(object), part.isna())
    ]
    return _frame(pd, [name], [(value,) for value in values]).iloc[:, 0]
