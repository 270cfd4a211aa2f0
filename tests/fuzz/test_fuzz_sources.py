"""Fuzzed sources dbtwin did not write: Parquet files, SQLite files and server tables with the types
and values that used to change silently. Every one is read with each value exact, or refused naming
the table and column; what is read then round-trips through every file destination or is refused
the same way; the command line ends in exit code 0 or 2, never a traceback."""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from hypothesis import event, given, settings
from hypothesis import strategies as st

from dbtwin import Database, read, write
from dbtwin.errors import DbtwinError
from tests.conftest import assert_same_database
from tests.fuzz.conftest import fresh
from tests.fuzz.strategies import decimals, examples
from tests.test_cli_safety import invoke

ROWS = 6
INT64_MAX = 2**63 - 1
#: Parquet column kinds dbtwin refuses whatever their values.
REFUSED_KINDS = {"list", "struct", "binary", "time"}


def _maybe(values: st.SearchStrategy, null: bool = True) -> st.SearchStrategy:
    return st.one_of(values, st.none()) if null else values


# ---------------------------------------------------------------------------------------- Parquet
@st.composite
def parquet_column(draw) -> tuple[str, pa.Array, list]:
    """A column kind, its Arrow array, and the values dbtwin should read (None where NULL)."""
    kind = draw(
        st.sampled_from(
            ["int64", "uint64", "float", "decimal", "string", "bool", "timestamp", "zoned", "date", *REFUSED_KINDS]
        )
    )
    if kind == "int64":
        values = draw(st.lists(_maybe(st.integers(-(2**63), INT64_MAX)), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.int64()), values
    if kind == "uint64":
        values = draw(st.lists(_maybe(st.integers(0, 2**64 - 1)), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.uint64()), values
    if kind == "float":
        element = st.one_of(st.floats(allow_nan=True), st.sampled_from([math.nan, math.inf, -math.inf]))
        values = draw(st.lists(_maybe(element), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.float64(), from_pandas=False), values
    if kind == "decimal":
        precision = draw(st.integers(1, 38))
        scale = draw(st.integers(0, min(precision, 12)))
        values = draw(st.lists(_maybe(decimals(precision, scale)), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.decimal128(precision, scale)), values
    if kind == "string":
        values = draw(st.lists(_maybe(st.text(max_size=8)), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.string()), values
    if kind == "bool":
        values = draw(st.lists(_maybe(st.booleans()), min_size=ROWS, max_size=ROWS))
        return kind, pa.array(values, pa.bool_()), values
    if kind in ("timestamp", "zoned", "date"):
        lo, hi = dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)
        moments = st.datetimes(min_value=lo, max_value=hi).map(lambda d: d.replace(microsecond=0))
        values = draw(st.lists(_maybe(moments), min_size=ROWS, max_size=ROWS))
        if kind == "date":
            days = [None if v is None else v.date() for v in values]
            return (
                kind,
                pa.array(days, pa.date32()),
                [None if v is None else dt.datetime(v.year, v.month, v.day) for v in values],
            )
        zone = "Asia/Kolkata" if kind == "zoned" else None
        stamps = [None if v is None else v.replace(tzinfo=dt.UTC) if zone else v for v in values]
        return kind, pa.array(stamps, pa.timestamp("us", tz=zone)), values
    if kind == "list":
        return kind, pa.array([[i] for i in range(ROWS)]), []
    if kind == "struct":
        return kind, pa.array([{"a": i} for i in range(ROWS)]), []
    if kind == "binary":
        return kind, pa.array([bytes([i]) for i in range(ROWS)], pa.binary()), []
    return kind, pa.array([dt.time(i) for i in range(ROWS)], pa.time64("us")), []


def _expected_refusal(kind: str, values: list) -> bool:
    present = [v for v in values if v is not None]
    if kind in REFUSED_KINDS:
        return True
    if kind == "uint64":
        return any(v > INT64_MAX for v in present)
    if kind in ("timestamp", "zoned", "date"):
        return any(not pd.Timestamp.min < pd.Timestamp(v) < pd.Timestamp.max for v in present)
    return False


def _same_value(kind: str, expected, got) -> bool:
    if expected is None:
        return got is None or got is pd.NA or got is pd.NaT
    if kind == "float" and math.isnan(expected):
        return isinstance(got, float) and math.isnan(got)
    if kind in ("timestamp", "zoned", "date"):
        return pd.Timestamp(got) == pd.Timestamp(expected)
    return (got == expected and type(got) is not float) or got == expected


def _check_refusal(exc: DbtwinError, tables: dict[str, list[str]]) -> None:
    table, column = getattr(exc, "table", None), getattr(exc, "column", None)
    problems = getattr(exc, "problems", None)
    if problems:
        table, column = problems[0].table, problems[0].column
    assert table in tables, f"refusal names no table: {exc}"
    assert column is None or column in tables[table], f"refusal names no column of '{table}': {exc}"


def _through_destinations(db: Database, work: Path) -> None:
    """``db`` to Parquet, CSV and SQLite and back: the same, or refused naming a table and column."""
    columns = {t: db.schema.table(t).column_names for t in db.schema.table_names}
    for name, fmt in (("p", "parquet"), ("c", "csv"), ("s.sqlite", None)):
        try:
            write(db, work / name, file_format=fmt)
        except DbtwinError as exc:
            event(f"{name}: refused")
            _check_refusal(exc, columns)
            continue
        assert_same_database(db, read(work / name, metadata=db.schema), check_kinds=False)


@settings(max_examples=examples(60))
@given(columns=st.lists(parquet_column(), min_size=1, max_size=4))
def test_parquet_sources_are_read_exactly_or_refused_by_name(workdir, columns):
    work = fresh(workdir / "w")
    src = fresh(work / "src")
    names = [f"c{i}" for i in range(len(columns))]
    pq.write_table(pa.table({n: arr for n, (_, arr, _) in zip(names, columns, strict=True)}), src / "t.parquet")
    refused = {n for n, (kind, _, values) in zip(names, columns, strict=True) if _expected_refusal(kind, values)}
    try:
        db = read(src)
    except DbtwinError as exc:
        event("refused")
        assert exc.table == "t" and exc.column in refused, exc
        result = invoke("inspect", src)
        assert result.exit_code == 2 and "Traceback" not in result.output
        return
    assert not refused, f"read although {refused} should be refused"
    event("read")
    frame = db["t"]
    for name, (kind, _, values) in zip(names, columns, strict=True):
        got = _nulls_as_read(values, frame[name].astype(object).tolist())
        for expected, value in zip(values, got, strict=True):
            assert _same_value(kind, expected, value), (name, kind, expected, value)
    _through_destinations(db, work)


def _nulls_as_read(expected: list, got: list) -> list:
    """``got`` with NULL as None: a float column without NaN values holds NULL as NaN (float64, its
    canonical form); one with NaN values keeps them apart from NULL (pd.NA)."""
    nan_values = any(isinstance(v, float) and math.isnan(v) for v in expected)
    return [None if v is pd.NA or (not nan_values and isinstance(v, float) and math.isnan(v)) else v for v in got]


# ----------------------------------------------------------------------------------------- SQLite
SQLITE_TYPES = ["INTEGER", "REAL", "NUMERIC", "NUMERIC(10,2)", "TEXT", "BOOLEAN", "DATE", "DATETIME", ""]
sqlite_values = st.one_of(
    st.none(),
    st.integers(-(2**63), INT64_MAX),
    st.floats(allow_nan=False),
    st.sampled_from(["yes", "no", "2020-01-02", "three", "", "0", "1", "2.5"]),
    st.sampled_from([0, 1, 2]),
    st.text(max_size=6),
)


@settings(max_examples=examples(60))
@given(
    declared=st.lists(st.sampled_from(SQLITE_TYPES), min_size=1, max_size=4),
    data=st.data(),
)
def test_sqlite_sources_are_read_with_every_value_or_refused_by_name(workdir, declared, data):
    work = fresh(workdir / "w")
    names = [f"c{i}" for i in range(len(declared))]
    rows = [data.draw(st.tuples(*[sqlite_values] * len(names))) for _ in range(ROWS)]
    path = work / "src.sqlite"
    with sqlite3.connect(path) as conn:
        columns = ", ".join(f'"{n}" {t}' for n, t in zip(names, declared, strict=True))
        conn.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {columns})")
        conn.executemany(
            f"INSERT INTO t VALUES ({', '.join('?' * (len(names) + 1))})", [(i, *r) for i, r in enumerate(rows)]
        )
        stored = {n: [r[0] for r in conn.execute(f'SELECT "{n}" FROM t ORDER BY id')] for n in names}
    try:
        db = read(path, metadata=None)
    except DbtwinError as exc:
        event("refused")
        _check_refusal(exc, {"t": ["id", *names]})
        return
    event("read")
    frame = db["t"].sort_values("id")
    for name in names:
        dtype = db.schema.table("t").column(name).dtype
        for before, after in zip(stored[name], frame[name].astype(object).tolist(), strict=True):
            assert _same_sqlite_value(before, after, dtype), (name, dtype, before, after)
    _through_destinations(db, work)


def _same_sqlite_value(before, after, dtype: str) -> bool:
    """What SQLite stored, read as ``dtype``, is the same value: nothing rounded, nothing coerced."""
    if before is None:
        return after is None or after is pd.NA or after is pd.NaT or (isinstance(after, float) and math.isnan(after))
    if dtype == "bool":
        return before in (0, 1) and after == bool(before)
    if dtype == "int64":
        return isinstance(before, int) and after == before
    if dtype == "float64":
        return float(before) == after and not isinstance(before, str)
    if dtype == "datetime":
        return isinstance(before, str) and pd.Timestamp(before) == pd.Timestamp(after)
    if dtype == "decimal":
        return Decimal(str(before)) == after
    return isinstance(after, str) and (after == before or not isinstance(before, str))


# ---------------------------------------------------------------------------------------- servers
def _pg_literal(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return (
            "'NaN'::float8"
            if math.isnan(value)
            else ("'Infinity'::float8" if value > 0 else "'-Infinity'::float8")
            if math.isinf(value)
            else repr(value)
        )
    return str(value)


@pytest.mark.servers
@settings(max_examples=examples(25))
@given(
    numbers=st.lists(_maybe(decimals(38, 10)), min_size=ROWS, max_size=ROWS),
    wide=st.lists(_maybe(st.integers(-(10**29), 10**29)), min_size=ROWS, max_size=ROWS),
    floats=st.lists(_maybe(st.one_of(st.floats(), st.just(math.nan))), min_size=ROWS, max_size=ROWS),
)
def test_postgres_numeric_wide_and_nan_columns_are_read_exactly(workdir, postgres_url, numbers, wide, floats):
    engine = sa.create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS t"))
            conn.execute(sa.text("CREATE TABLE t (id int PRIMARY KEY, n numeric(38,10), w numeric(30,0), f float8)"))
            for i, (n, w, f) in enumerate(zip(numbers, wide, floats, strict=True)):
                literals = ", ".join(_pg_literal(v) for v in (n, w, f))
                conn.execute(sa.text(f"INSERT INTO t VALUES ({i}, {literals})"))
    finally:
        engine.dispose()
    db = read(postgres_url)
    frame = db["t"].sort_values("id")
    assert frame["n"].tolist() == numbers
    assert [None if v is None or v is pd.NA else int(v) for v in frame["w"].astype(object).tolist()] == wide
    for expected, got in zip(floats, _nulls_as_read(floats, frame["f"].astype(object).tolist()), strict=True):
        assert _same_value("float", expected, got), (expected, got)
    _through_destinations(db, fresh(workdir / "w"))


@pytest.mark.servers
@settings(max_examples=examples(25))
@given(
    numbers=st.lists(_maybe(decimals(38, 10)), min_size=ROWS, max_size=ROWS),
    unsigned=st.lists(_maybe(st.integers(0, 2**64 - 1)), min_size=ROWS, max_size=ROWS),
    members=st.lists(_maybe(st.sets(st.sampled_from(["x", "y", "z"]))), min_size=ROWS, max_size=ROWS),
    flags=st.one_of(  # half the time only booleans, so that the read is checked as often as the refusal
        st.lists(_maybe(st.sampled_from([0, 1])), min_size=ROWS, max_size=ROWS),
        st.lists(_maybe(st.sampled_from([0, 1, 2, -1])), min_size=ROWS, max_size=ROWS),
    ),
    choices=st.lists(_maybe(st.sampled_from(["a", "b b", "", "%s"])), min_size=ROWS, max_size=ROWS),
)
def test_mariadb_decimal_unsigned_set_enum_and_tinyint_columns_are_read_exactly(
    workdir, mariadb_url, numbers, unsigned, members, flags, choices
):
    engine = sa.create_engine(mariadb_url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE IF EXISTS t"))
            conn.execute(
                sa.text(
                    "CREATE TABLE t (id int PRIMARY KEY, n DECIMAL(38,10), u BIGINT UNSIGNED, s SET('x','y','z'), "
                    "b BOOLEAN, e ENUM('a', 'b b', '', '%s'))"
                )
            )
            for i, (n, u, s, b, e) in enumerate(zip(numbers, unsigned, members, flags, choices, strict=True)):
                text = None if s is None else ",".join(sorted(s))
                row = {"i": i, "n": n, "u": u, "s": text, "b": b, "e": e}
                conn.execute(sa.text("INSERT INTO t VALUES (:i, :n, :u, :s, :b, :e)"), row)
    finally:
        engine.dispose()
    try:
        db = read(mariadb_url)
    except DbtwinError as exc:  # a BOOLEAN (TINYINT(1)) holding 2 or -1 is no boolean
        event("refused")
        assert (exc.table, exc.column) == ("t", "b") and any(b not in (None, 0, 1) for b in flags), exc
        return
    event("read")
    frame = db["t"].sort_values("id")
    assert frame["n"].tolist() == numbers
    assert [None if v is None or v is pd.NA else int(v) for v in frame["u"].astype(object).tolist()] == unsigned
    assert frame["s"].tolist() == [None if s is None else ",".join(sorted(s)) for s in members]
    assert [None if v is pd.NA else int(v) for v in frame["b"].astype(object).tolist()] == flags
    assert frame["e"].tolist() == choices
    _through_destinations(db, fresh(workdir / "w"))
