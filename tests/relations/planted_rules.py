"""Random databases with exact rules planted in them, for testing discovery and keeping on schemas
nobody picked by hand.

:func:`planted_database` draws 2 to 5 tables in a random tree of foreign keys, with random names
(spaces, accents, SQL words, capitals), a random mix of attribute types with NULLs, and then plants
each kind of rule (about two in three of the kinds per database) at random tables and columns:

* formulas: a product of two numbers (``a * b``), a constant factor and offset (``1.8 * a + 32``, over a
  column with NULLs: NULL in, NULL out), a rate times a product (``0.2 * (a * b)``);
* aggregates of a child (a count and a sum), a copy of a parent's label;
* dependencies on a whole-number code, on the month of a date, and on a parent's code (through a key);
* the year of a datetime; a child's datetime within its parent's year (a period), on a 6-hourly grid
  (a step), after its parent's start and before its parent's end (orders both ways);
* a line number within each parent (a numbering) and a balance that is the running sum of amounts
  along dated rows within each parent.

Each planted rule is returned as the rule dbtwin would describe it, so that a test can look for it
among the rules found, check it on samples, and break it on one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.relations import Aggregate, Copy, Dependency, Formula, Numbering, Order, Part, Ref, Rule
from dbtwin.relations.rules import Period, Running, Step
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

NAMES = [
    "order",
    "Kunde",
    "línea de pedido",
    "Straße",
    "user",
    "select",
    "ITEMS",
    "météo",
    "group by",
    "Δ values",
    "x_1",
    "camelCase",
    "名前",
    "a b c",
    "from",
    "Ñandú",
]
WORDS = ["red", "green", "blue", "amber", "violet", "ochre", "teal", "sand", "coal", "snow"]
SEASONS = {12: "winter", 1: "winter", 2: "winter", 3: "spring", 4: "spring", 5: "spring"}
SEASONS.update({6: "summer", 7: "summer", 8: "summer", 9: "autumn", 10: "autumn", 11: "autumn"})
#: Constant factors and offsets of planted formulas (a unit conversion, a percentage, a tax rate).
SCALES = ("1.8", "2.54", "0.2", "100", "0.01", "1.5", "-2")
OFFSETS = ("0", "32", "-3.5", "10")
#: Every kind of rule a planted database may hold.
PLANTS = (
    "product",
    "affine",
    "rate",
    "count",
    "sum",
    "copy",
    "code",
    "season",
    "through",
    "year",
    "period",
    "step",
    "after",
    "before",
    "numbering",
    "running",
)

F, INT, S, D = StorageType.FLOAT64, StorageType.INT64, StorageType.STRING, StorageType.DATETIME


@dataclass
class _Table:
    name: str
    frame: pd.DataFrame
    columns: list[Column]
    key: str
    parent: int | None = None
    link: str | None = None  # the foreign key column to the parent
    names: set[str] = field(default_factory=set)

    def new_name(self, rng: np.random.Generator, stem: str) -> str:
        while True:
            name = f"{rng.choice(NAMES)} {stem}" if rng.random() < 0.5 else f"{stem}_{rng.integers(1000)}"
            if name not in self.names:
                self.names.add(name)
                return name

    def add(self, name: str, values, dtype: StorageType, kind: ColumnKind) -> None:
        self.frame[name] = values
        self.columns.append(Column(name, dtype, kind))


def planted_database(seed: int) -> tuple[Database, list[Rule]]:
    """A random database and the rules planted in it (as dbtwin describes them)."""
    rng = np.random.default_rng(seed)
    tables = _tables(rng)
    planted: list[Rule] = []
    kinds = [k for k in PLANTS if rng.random() < 0.7]
    for kind in kinds:
        rule = PLANTERS[kind](rng, tables)
        if rule is not None:
            planted.append(rule)
    schema = Schema(
        {t.name: Table(t.name, t.columns, (t.key,)) for t in tables},
        [
            ForeignKey(t.name, (t.link,), tables[t.parent].name, (tables[t.parent].key,))
            for t in tables
            if t.parent is not None
        ],
    )
    db = Database.from_frames({t.name: t.frame for t in tables}, schema)
    return db, [_named(rule, schema) for rule in planted]


def _named(rule: Rule, schema: Schema) -> Rule:
    """The planted rule with its foreign keys named as the schema names them."""
    by_child = {fk.child: fk.name for fk in schema.foreign_keys}
    for name in ("left", "right", "determinant", "value", "earlier"):
        ref = getattr(rule, name, None)
        if isinstance(ref, Ref) and ref.path:
            setattr(rule, name, Ref(ref.column, (by_child[ref.path[0]],), ref.part))
    if isinstance(rule, Aggregate | Copy):
        rule.foreign_key = by_child[rule.foreign_key]
    return rule


def _tables(rng: np.random.Generator) -> list[_Table]:
    count = int(rng.integers(2, 6))
    tables: list[_Table] = []
    used: set[str] = set()
    for i in range(count):
        name = str(rng.choice([n for n in NAMES if n not in used]))
        used.add(name)
        parent = None if i == 0 else int(rng.integers(0, i))
        rows = (
            int(rng.integers(120, 250))
            if parent is None
            else min(int(len(tables[parent].frame) * rng.uniform(2, 4)), 1500)
        )
        table = _Table(name, pd.DataFrame(index=pd.RangeIndex(rows)), [], "")
        table.key = table.new_name(rng, "id")
        table.add(table.key, pd.array(rng.permutation(rows) + 1, dtype="Int64"), INT, ColumnKind.ID)
        if parent is not None:
            table.parent = parent
            table.link = table.new_name(rng, "ref")
            parent_keys = tables[parent].frame[tables[parent].key].to_numpy()
            table.add(table.link, pd.array(rng.choice(parent_keys, size=rows), dtype="Int64"), INT, ColumnKind.ID)
        _attributes(rng, table)
        tables.append(table)
    return tables


def _attributes(rng: np.random.Generator, table: _Table) -> None:
    """Attributes every table has: a 1-decimal measure with NULLs, a whole quantity, a code, a label,
    a date, a year, a start and an end."""
    n = len(table.frame)
    measure = np.round(rng.uniform(1, 100, size=n), 1)
    measure[rng.random(n) < 0.1] = np.nan
    table.add(table.new_name(rng, "measure"), measure, F, ColumnKind.FLOAT)
    table.add(table.new_name(rng, "qty"), pd.array(rng.integers(1, 20, size=n), dtype="Int64"), INT, ColumnKind.INTEGER)
    table.add(
        table.new_name(rng, "code"), pd.array(rng.integers(100, 130, size=n), dtype="Int64"), INT, ColumnKind.INTEGER
    )
    labels = pd.Series(rng.choice(WORDS, size=n), dtype=object)
    labels[rng.random(n) < 0.05] = None
    table.add(table.new_name(rng, "label"), labels, S, ColumnKind.CATEGORICAL)
    day = pd.Timestamp("2001-01-01") + pd.to_timedelta(rng.integers(0, 7000, size=n), unit="D")
    table.add(table.new_name(rng, "day"), day, D, ColumnKind.DATETIME)
    table.add(
        table.new_name(rng, "year"), pd.array(rng.integers(2000, 2020, size=n), dtype="Int64"), INT, ColumnKind.INTEGER
    )
    start = pd.Timestamp("2010-01-01") + pd.to_timedelta(rng.integers(0, 3000 * 24, size=n), unit="h")
    table.add(table.new_name(rng, "start"), start, D, ColumnKind.DATETIME)
    end = start + pd.to_timedelta(rng.integers(24, 24 * 60, size=n), unit="h")
    table.add(table.new_name(rng, "end"), end, D, ColumnKind.DATETIME)


def _column(table: _Table, stem: str) -> str:
    """The attribute of ``table`` made for ``stem`` (its name holds the stem)."""
    return next(c.name for c in table.columns if stem in c.name and c.kind != ColumnKind.ID)


def _child(rng: np.random.Generator, tables: list[_Table]) -> _Table | None:
    children = [t for t in tables if t.parent is not None]
    return children[int(rng.integers(len(children)))] if children else None


def _any(rng: np.random.Generator, tables: list[_Table]) -> _Table:
    return tables[int(rng.integers(len(tables)))]


def _parent_values(tables: list[_Table], child: _Table, column: str) -> pd.Series:
    parent = tables[child.parent]
    by_key = parent.frame.set_index(parent.key)[column]
    return by_key.reindex(child.frame[child.link].astype("int64").to_numpy()).reset_index(drop=True)


# ------------------------------------------------------------------------------------ planters
def _product(rng, tables) -> Rule:
    t = _any(rng, tables)
    a, b = _column(t, "measure"), _column(t, "qty")
    name = t.new_name(rng, "amount")
    t.add(name, np.round(t.frame[a].to_numpy() * t.frame[b].astype(float).to_numpy(), 1), F, ColumnKind.FLOAT)
    return Formula(t.name, name, "*", Ref(a), Ref(b), 1)


def _affine(rng, tables) -> Rule:
    t = _any(rng, tables)
    a = _column(t, "measure")
    scale, offset = str(rng.choice(SCALES)), str(rng.choice(OFFSETS))
    name = t.new_name(rng, "converted")
    t.add(name, np.round(t.frame[a].to_numpy() * float(scale) + float(offset), 3), F, ColumnKind.FLOAT)
    return Formula(t.name, name, "*", Ref(a), None, 3, scale=scale, offset=offset)


def _rate(rng, tables) -> Rule:
    t = _any(rng, tables)
    a, b = _column(t, "measure"), _column(t, "qty")
    name = t.new_name(rng, "tax")
    value = 0.2 * t.frame[a].to_numpy() * t.frame[b].astype(float).to_numpy()
    t.add(name, np.round(value, 2), F, ColumnKind.FLOAT)
    return Formula(t.name, name, "*", Ref(a), Ref(b), 2, scale="0.2")


def _count(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    parent = tables[child.parent]
    counts = child.frame.groupby(child.link).size().reindex(parent.frame[parent.key].astype("int64")).fillna(0)
    name = parent.new_name(rng, "n")
    parent.add(name, pd.array(counts.astype(int).to_numpy(), dtype="Int64"), INT, ColumnKind.INTEGER)
    return Aggregate(parent.name, name, child.name, "count", (), 0, 0.0)


def _sum(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    parent = tables[child.parent]
    qty = _column(child, "qty")
    sums = child.frame.groupby(child.link)[qty].sum().reindex(parent.frame[parent.key].astype("int64")).fillna(0)
    name = parent.new_name(rng, "total")
    parent.add(name, pd.array(sums.astype(int).to_numpy(), dtype="Int64"), INT, ColumnKind.INTEGER)
    return Aggregate(parent.name, name, child.name, "sum", (qty,), 0, 0.0)


def _copy(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    label = _column(tables[child.parent], "label")
    name = child.new_name(rng, "copied")
    child.add(name, _parent_values(tables, child, label).astype(object), S, ColumnKind.CATEGORICAL)
    return Copy(child.name, name, child.name, label)


def _coded(rng: np.random.Generator, codes: pd.Series) -> pd.Series:
    """A label per code value (a few codes share one), NULL where the code is."""
    distinct = sorted(int(c) for c in codes.dropna().unique())
    names = {c: f"{rng.choice(WORDS)}-{rng.integers(5)}" for c in distinct}
    return pd.Series([None if pd.isna(c) else names[int(c)] for c in codes], dtype=object)


def _code(rng, tables) -> Rule:
    t = _any(rng, tables)
    code = _column(t, "code")
    name = t.new_name(rng, "code name")
    t.add(name, _coded(rng, t.frame[code]), S, ColumnKind.CATEGORICAL)
    return Dependency(t.name, name, Ref(code))


def _season(rng, tables) -> Rule:
    t = _any(rng, tables)
    day = _column(t, "day")
    name = t.new_name(rng, "season")
    t.add(name, pd.Series(t.frame[day].dt.month.map(SEASONS), dtype=object), S, ColumnKind.CATEGORICAL)
    return Dependency(t.name, name, Ref(day, (), "month"))


def _through(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    code = _column(tables[child.parent], "code")
    name = child.new_name(rng, "grade")
    child.add(name, _coded(rng, _parent_values(tables, child, code)), S, ColumnKind.CATEGORICAL)
    return Dependency(child.name, name, Ref(code, (child.name,)))


def _year(rng, tables) -> Rule:
    t = _any(rng, tables)
    day = _column(t, "day")
    name = t.new_name(rng, "yr")
    t.add(name, pd.array(t.frame[day].dt.year.to_numpy(), dtype="Int64"), INT, ColumnKind.INTEGER)
    return Part(t.name, name, Ref(day), "year")


def _period(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    year = _column(tables[child.parent], "year")
    years = _parent_values(tables, child, year).astype(int).to_numpy()
    stamps = pd.to_datetime(pd.DataFrame({"year": years, "month": 1, "day": 1}))
    stamps += pd.to_timedelta(rng.integers(0, 365 * 24, size=len(years)), unit="h")
    stamps = stamps.where(stamps.dt.year == years, stamps - pd.Timedelta(days=1))  # leap years
    name = child.new_name(rng, "seen")
    child.add(name, stamps.to_numpy(), D, ColumnKind.DATETIME)
    return Period(child.name, name, part="year", value=Ref(year, (child.name,)))


def _step(rng, tables) -> Rule:
    t = _any(rng, tables)
    n = len(t.frame)
    stamps = pd.Timestamp("2015-06-01") + pd.to_timedelta(rng.integers(0, 4 * 900, size=n) * 6, unit="h")
    name = t.new_name(rng, "reading")
    t.add(name, stamps, D, ColumnKind.DATETIME)
    return Step(t.name, name, seconds=21600)


def _after(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    start = _column(tables[child.parent], "start")
    since = _parent_values(tables, child, start).to_numpy()
    name = child.new_name(rng, "after")
    child.add(
        name,
        since + pd.to_timedelta(rng.integers(0, 500, size=len(since)), unit="h").to_numpy(),
        D,
        ColumnKind.DATETIME,
    )
    return Order(child.name, name, Ref(start, (child.name,)))


def _before(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    end = _column(tables[child.parent], "end")
    until = _parent_values(tables, child, end).to_numpy()
    name = child.new_name(rng, "before")
    child.add(
        name,
        until - pd.to_timedelta(rng.integers(0, 500, size=len(until)), unit="h").to_numpy(),
        D,
        ColumnKind.DATETIME,
    )
    return Order(child.name, name, Ref(end, (child.name,)), above=False)


def _numbering(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    shuffled = pd.Series(rng.random(len(child.frame)))
    numbers = shuffled.groupby(child.frame[child.link].to_numpy()).rank(method="first").astype(int)
    name = child.new_name(rng, "line")
    child.add(name, pd.array(numbers.to_numpy(), dtype="Int64"), INT, ColumnKind.INTEGER)
    return Numbering(child.name, name, group=(child.link,), start=1)


def _running(rng, tables) -> Rule | None:
    child = _child(rng, tables)
    if child is None:
        return None
    n = len(child.frame)
    at = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.permutation(n) * 37, unit="min")
    amount = np.round(rng.uniform(-50, 200, size=n), 2)
    frame = pd.DataFrame({"g": child.frame[child.link].to_numpy(), "at": at, "amount": amount})
    balance = frame.sort_values("at").groupby("g")["amount"].cumsum().reindex(frame.index).round(2)
    at_name, amount_name, name = child.new_name(rng, "at"), child.new_name(rng, "paid"), child.new_name(rng, "balance")
    child.add(at_name, at, D, ColumnKind.DATETIME)
    child.add(amount_name, amount, F, ColumnKind.FLOAT)
    child.add(name, balance.to_numpy(), F, ColumnKind.FLOAT)
    return Running(child.name, name, of=amount_name, group=(child.link,), order=(at_name,), decimals=2)


PLANTERS = {
    "product": _product,
    "affine": _affine,
    "rate": _rate,
    "count": _count,
    "sum": _sum,
    "copy": _copy,
    "code": _code,
    "season": _season,
    "through": _through,
    "year": _year,
    "period": _period,
    "step": _step,
    "after": _after,
    "before": _before,
    "numbering": _numbering,
    "running": _running,
}
