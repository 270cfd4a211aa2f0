"""Hypothesis strategies for small databases with awkward schemas and values.

Names come from the whole Unicode range plus SQL keywords, quotes, path characters and long names;
schemas have self-references, composite and nullable keys, cycles through nullable keys; columns
hold every storage type with NULLs, extremes, infinities, NaN beside NULL, decimals at full precision
(up to 38 digits, scales 0 to 12) and empty strings. Every database drawn
is valid for dbtwin (unique primary keys, foreign keys that resolve), so what a reader or writer does
with it is the behaviour under test.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from decimal import Decimal, localcontext

import numpy as np
import pandas as pd
from hypothesis import strategies as st

from dbtwin import Database
from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

SPECIAL_NAMES = [
    "select",
    "order",
    "group",
    "table",
    "from",
    "where",
    "user",
    "key",
    "index",
    "default",
    "null",
    "id",
    "ID",
    "Id",
    "a'b",
    'a"b',
    "a`b",
    "a]b",
    "[/x]",
    "%s",
    "%(x)s",
    ":p",
    "?",
    "a b",
    " lead",
    "trail ",
    "../../victim",
    "/abs",
    "a/b",
    "a\\b",
    "..",
    ".",
    ".hidden",
    "con",
    "NUL",
    "x.y",
    "a___b",
    "a#b",
    "<t>",
    "名前",
    "Ünïcödé",
    "😀",
    "\t",
    "a\nb",
    "-1",
    "0",
    "e" * 63,
    "é" * 32,
    "k" * 65,
    "n" * 120,
]


def examples(default: int) -> int:
    """Examples per property: ``default`` in CI, ``DBTWIN_FUZZ_EXAMPLES`` for a longer hunt."""
    return int(os.environ.get("DBTWIN_FUZZ_EXAMPLES", default))


names = st.one_of(st.sampled_from(SPECIAL_NAMES), st.text(min_size=1, max_size=12))
#: Names a SQL server takes (no control characters, at most 60 bytes): most drawn databases get written.
server_names = names.filter(lambda s: len(s.encode()) <= 60 and s.isprintable() and s.strip() == s and s)

INT64_EXTREMES = [0, 1, -1, 2**31, -(2**31), 2**53 + 1, 2**63 - 1, -(2**63)]
FLOAT_SPECIALS = [0.0, -0.0, 1.5, 5e-324, 1.7976931348623157e308, -1.7976931348623157e308, float("inf"), float("-inf")]
STRING_SPECIALS = ["", " ", "NULL", "null", "NaN", "None", "a\x00b", "'", '"', "\\", "\n", "\r\n", "😀", "é" * 100]


@dataclass(frozen=True)
class Plan:
    """The shape of one table before values are drawn."""

    name: str
    columns: list[tuple[str, StorageType]]
    key: list[tuple[str, StorageType]]  # primary-key columns (empty: no primary key)


def decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    """Decimals of at most ``precision`` digits, ``scale`` of them after the point, extremes included."""
    with localcontext() as exact_context:  # the default 28 digits would round 10**28 - 1e-10 up to 1E+28
        exact_context.prec = precision + 2
        largest = Decimal(10) ** (precision - scale) - Decimal(1).scaleb(-scale)
        smallest = -largest
    exact = st.decimals(min_value=smallest, max_value=largest, places=scale, allow_nan=False, allow_infinity=False)
    return st.one_of(st.sampled_from([largest, smallest, Decimal(0).scaleb(-scale)]), exact)


def _values(draw, dtype: StorageType, n: int, nullable: bool, scale: tuple[int, int] = (38, 10)) -> list:
    null = st.none() if nullable else st.nothing()
    if dtype == StorageType.INT64:
        element = st.one_of(st.sampled_from(INT64_EXTREMES), st.integers(-1000, 1000), null)
    elif dtype == StorageType.DECIMAL:
        element = st.one_of(decimals(*scale), null)
    elif dtype == StorageType.FLOAT64:  # NaN is a value, apart from NULL (None)
        element = st.one_of(st.sampled_from(FLOAT_SPECIALS), st.floats(allow_nan=True), null)
    elif dtype == StorageType.BOOL:
        element = st.one_of(st.booleans(), null)
    elif dtype == StorageType.DATETIME:
        lo, hi = pd.Timestamp("1700-01-01").to_pydatetime(), pd.Timestamp("2200-01-01").to_pydatetime()
        moments = st.datetimes(min_value=lo, max_value=hi)
        element = st.one_of(moments, null)
    else:
        element = st.one_of(st.sampled_from(STRING_SPECIALS), st.text(max_size=20), null)
    return draw(st.lists(element, min_size=n, max_size=n))


def _key_values(draw, dtypes: list[StorageType], n: int) -> list[tuple]:
    """``n`` distinct key tuples."""
    parts = []
    for dtype in dtypes:
        if dtype == StorageType.INT64:
            parts.append(st.one_of(st.sampled_from(INT64_EXTREMES), st.integers(-(2**63), 2**63 - 1)))
        else:
            parts.append(st.one_of(st.sampled_from(STRING_SPECIALS[:8]), st.text(min_size=0, max_size=10)))
    return draw(st.lists(st.tuples(*parts), min_size=n, max_size=n, unique=True))


def _frame_column(dtype: StorageType, values: list) -> pd.Series:
    if dtype == StorageType.INT64:
        return pd.Series(pd.array(values, dtype="Int64"))
    if dtype == StorageType.FLOAT64:
        numbers = np.array([np.nan if v is None else v for v in values], dtype="float64")
        if any(v is not None and np.isnan(v) for v in values):  # NaN values beside NULLs: kept apart
            return pd.Series(pd.arrays.FloatingArray(numbers, np.array([v is None for v in values])))
        return pd.Series(numbers, dtype="float64")
    if dtype == StorageType.DECIMAL:
        return pd.Series(values, dtype=object)
    if dtype == StorageType.BOOL:
        return pd.Series(pd.array(values, dtype="boolean"))
    if dtype == StorageType.DATETIME:
        return pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
    return pd.Series(values, dtype=object)


_KIND = {
    StorageType.INT64: ColumnKind.INTEGER,
    StorageType.FLOAT64: ColumnKind.FLOAT,
    StorageType.BOOL: ColumnKind.BOOLEAN,
    StorageType.DATETIME: ColumnKind.DATETIME,
    StorageType.STRING: ColumnKind.CATEGORICAL,
    StorageType.DECIMAL: ColumnKind.FLOAT,
}
storage_types = st.sampled_from(list(StorageType))


@st.composite
def databases(draw, max_tables: int = 3, max_rows: int = 8, names: st.SearchStrategy[str] = names) -> Database:
    """A valid database of 1 to ``max_tables`` tables with awkward ``names``, keys and values."""
    table_names = draw(st.lists(names, min_size=1, max_size=max_tables, unique_by=str.casefold))
    n_rows = {t: draw(st.integers(1, max_rows)) for t in table_names}
    plans: dict[str, Plan] = {}
    for t in table_names:
        key_size = draw(st.sampled_from([0, 1, 1, 1, 2]))
        key_types = [draw(st.sampled_from([StorageType.INT64, StorageType.STRING])) for _ in range(key_size)]
        col_names = draw(st.lists(names, min_size=key_size + 1, max_size=key_size + 4, unique_by=str.casefold))
        key = list(zip(col_names[:key_size], key_types, strict=True))
        attrs = [(c, draw(storage_types)) for c in col_names[key_size:]]
        plans[t] = Plan(t, attrs, key)
    keys = {t: _key_values(draw, [d for _, d in p.key], n_rows[t]) for t, p in plans.items() if p.key}
    frames: dict[str, dict[str, pd.Series]] = {}
    tables: dict[str, Table] = {}
    fks: list[ForeignKey] = []
    order = list(plans)
    for i, (t, plan) in enumerate(plans.items()):
        n = n_rows[t]
        columns = [Column(c, d, ColumnKind.ID, False) for c, d in plan.key]
        data = {c: _frame_column(d, [k[j] for k in keys[t]]) for j, (c, d) in enumerate(plan.key)} if plan.key else {}
        taken = {c.casefold() for c, _ in plan.key} | {c.casefold() for c, _ in plan.columns}
        # foreign keys: to any table with a key (itself too); to a later table (a cycle) only when nullable
        for parent in draw(st.lists(st.sampled_from(order), max_size=2, unique=True)):
            if parent not in keys:
                continue
            later = order.index(parent) >= i
            nullable = later or draw(st.booleans())
            fk_cols = []
            for c, d in plans[parent].key:
                base = f"{parent[:20]}_{c[:20]}"
                while base.casefold() in taken:
                    base += "_"
                taken.add(base.casefold())
                fk_cols.append((base, d))
            picks = draw(st.lists(st.integers(0, n_rows[parent] - 1), min_size=n, max_size=n))
            present = draw(st.lists(st.booleans(), min_size=n, max_size=n)) if nullable else [True] * n
            if parent == t:  # a forest: each row references itself or an earlier row, never a cycle of rows
                picks = [min(p, r) for r, p in enumerate(picks)]
            for j, (c, d) in enumerate(fk_cols):
                values = [keys[parent][p][j] if ok else None for p, ok in zip(picks, present, strict=True)]
                data[c] = _frame_column(d, values)
                columns.append(Column(c, d, ColumnKind.ID, nullable))
            fks.append(ForeignKey(t, tuple(c for c, _ in fk_cols), parent, tuple(c for c, _ in plans[parent].key)))
        for c, d in plan.columns:
            nullable = draw(st.booleans())
            size = (draw(st.integers(1, 38)), 0) if d == StorageType.DECIMAL else (38, 10)
            if d == StorageType.DECIMAL:
                size = (size[0], draw(st.integers(0, min(size[0], 12))))
            data[c] = _frame_column(d, _values(draw, d, n, nullable, size))
            column = Column(c, d, _KIND[d], nullable)
            if d == StorageType.DECIMAL:
                column.precision, column.scale = size
            columns.append(column)
        frames[t] = data
        tables[t] = Table(t, columns, tuple(c for c, _ in plan.key))
    schema = Schema(tables, fks)
    return Database.from_frames({t: pd.DataFrame(frames[t], index=pd.RangeIndex(n_rows[t])) for t in plans}, schema)


__all__ = ["SPECIAL_NAMES", "databases", "examples", "names", "server_names"]
