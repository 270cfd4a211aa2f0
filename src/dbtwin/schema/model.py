"""The relational schema: tables, columns, primary keys and foreign keys as typed dataclasses.

A column has two properties that are easy to confuse and are therefore kept apart:

* ``dtype`` says how values are *stored* (``int64``, ``float64``, ``string``, ``bool``, ``datetime``);
  it decides the SQL type, the Parquet type and the pandas dtype.
* ``kind`` says how values are *modelled* (``integer``, ``float``, ``categorical``, ``boolean``,
  ``datetime``, ``text``, ``id``); an integer column can be categorical, a string column can be an id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

from dbtwin.errors import SchemaError
from dbtwin.schema.components import strongly_connected


class ColumnKind(StrEnum):
    """How a column is modelled."""

    INTEGER = "integer"
    FLOAT = "float"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    ID = "id"


class SemanticType(StrEnum):
    """What a text column holds."""

    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    FULL_NAME = "full_name"
    EMAIL = "email"
    PHONE = "phone"
    STREET_ADDRESS = "street_address"
    CITY = "city"
    STATE = "state"
    POSTAL_CODE = "postal_code"
    COUNTRY = "country"
    COMPANY = "company"
    URL = "url"
    IP_ADDRESS = "ip_address"
    IBAN = "iban"
    CARD_NUMBER = "card_number"
    FREE_TEXT = "free_text"  # titles, names of things, comments: a text model trained on the column
    CODE = "code"  # identifier-like strings (tail numbers, codes): placeholders of the same shape
    NONE = "none"  # a plain category: rare values become frequent ones


class StorageType(StrEnum):
    """How a column's values are stored."""

    INT64 = "int64"
    FLOAT64 = "float64"
    STRING = "string"
    BOOL = "bool"
    DATETIME = "datetime"
    #: exact decimal numbers (SQL NUMERIC/DECIMAL, Parquet decimal128/256), held as ``decimal.Decimal``
    DECIMAL = "decimal"


#: Kinds each storage type may carry. An ``id`` may be stored as integer or string.
ALLOWED_KINDS: dict[StorageType, frozenset[ColumnKind]] = {
    StorageType.INT64: frozenset({ColumnKind.INTEGER, ColumnKind.CATEGORICAL, ColumnKind.ID, ColumnKind.FLOAT}),
    StorageType.FLOAT64: frozenset({ColumnKind.FLOAT, ColumnKind.INTEGER, ColumnKind.CATEGORICAL}),
    StorageType.STRING: frozenset({ColumnKind.CATEGORICAL, ColumnKind.TEXT, ColumnKind.ID}),
    StorageType.BOOL: frozenset({ColumnKind.BOOLEAN, ColumnKind.CATEGORICAL}),
    StorageType.DATETIME: frozenset({ColumnKind.DATETIME}),
    StorageType.DECIMAL: frozenset({ColumnKind.FLOAT, ColumnKind.INTEGER, ColumnKind.CATEGORICAL}),
}


@dataclass
class Column:
    """One column of a table."""

    name: str
    dtype: StorageType
    kind: ColumnKind
    nullable: bool = True
    #: what a string column holds (:class:`dbtwin.semantic.detect.SemanticType`: ``"email"``,
    #: ``"city"``, ``"free_text"``, ``"none"``...); None: detected from the name and values when fitting
    semantic: str | None = None
    #: digits in all and after the point of a ``decimal`` column, as its source declares them (None:
    #: not declared; the values decide)
    precision: int | None = None
    scale: int | None = None

    def __post_init__(self) -> None:
        self.dtype = StorageType(self.dtype)
        self.kind = ColumnKind(self.kind)


@dataclass
class ForeignKey:
    """A (possibly composite) reference from ``child.columns`` to ``parent.parent_columns``.

    ``parent_columns`` must be the parent's primary key. One child may hold several foreign keys to
    the same parent (flights.origin and flights.dest to airports), and ``child == parent`` is a
    self-reference (employee.reports_to).
    """

    child: str
    columns: tuple[str, ...]
    parent: str
    parent_columns: tuple[str, ...]
    name: str = ""

    def __post_init__(self) -> None:
        self.columns = tuple(self.columns)
        self.parent_columns = tuple(self.parent_columns)
        if not self.name:
            self.name = f"{self.child}.{'+'.join(self.columns)}->{self.parent}"

    @property
    def is_self_reference(self) -> bool:
        return self.child == self.parent

    def __str__(self) -> str:
        return f"{self.child}({', '.join(self.columns)}) -> {self.parent}({', '.join(self.parent_columns)})"


@dataclass
class Table:
    """A table: its columns in order, its primary key (possibly empty or composite), a time column."""

    name: str
    columns: list[Column]
    primary_key: tuple[str, ...] = ()
    time_column: str | None = None
    #: True: kept as it is in every sample (its real rows); False: never kept as a lookup table;
    #: None: as the synthesizer's settings say
    keep: bool | None = None

    def __post_init__(self) -> None:
        self.primary_key = tuple(self.primary_key)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for col in self.columns:
            if col.name == name:
                return col
        raise SchemaError(f"table '{self.name}' has no column '{name}'", table=self.name, column=name)

    def has_column(self, name: str) -> bool:
        return any(c.name == name for c in self.columns)


@dataclass
class RelationSettings:
    """What the metadata says about exact relations (docs/metadata.md): whether to search for them,
    which rules not to keep (``off``: objects with any of ``kind``, ``table``, ``column``), which
    to declare (``declared``: rules in their JSON form, checked against the data when fitting) and
    which rules broken by a few rows to keep all the same (``near``, patterns like ``off``)."""

    discover: bool = True
    off: list[dict] = field(default_factory=list)
    declared: list[dict] = field(default_factory=list)
    #: patterns (like ``off``) of rules to keep though a few real rows break them
    near: list[dict] = field(default_factory=list)

    @property
    def is_default(self) -> bool:
        return self.discover and not self.off and not self.declared and not self.near


@dataclass
class Schema:
    """Tables and the foreign keys between them (and what the metadata says about exact relations)."""

    tables: dict[str, Table] = field(default_factory=dict)
    foreign_keys: list[ForeignKey] = field(default_factory=list)
    relations: RelationSettings = field(default_factory=RelationSettings)

    # ------------------------------------------------------------------ lookup
    def table(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise SchemaError(f"unknown table '{name}'", table=name) from None

    @property
    def table_names(self) -> list[str]:
        return list(self.tables)

    def foreign_keys_of(self, child: str) -> list[ForeignKey]:
        """Foreign keys held by ``child``."""
        return [fk for fk in self.foreign_keys if fk.child == child]

    def foreign_keys_to(self, parent: str) -> list[ForeignKey]:
        """Foreign keys that point at ``parent``."""
        return [fk for fk in self.foreign_keys if fk.parent == parent]

    def key_columns(self, table: str) -> set[str]:
        """Columns of ``table`` that belong to its primary key or to one of its foreign keys."""
        cols = set(self.table(table).primary_key)
        for fk in self.foreign_keys_of(table):
            cols.update(fk.columns)
        return cols

    def foreign_key(self, name: str) -> ForeignKey:
        for fk in self.foreign_keys:
            if fk.name == name:
                return fk
        raise SchemaError(f"unknown foreign key '{name}'")

    # --------------------------------------------------------------- structure
    def check(self) -> None:
        """Raise :class:`SchemaError` on the first structural inconsistency (names the table/column)."""
        for problem in self.problems():
            raise problem

    def problems(self) -> Iterator[SchemaError]:
        """Every structural inconsistency of the schema, as errors that name the table and column."""
        for tname, table in self.tables.items():
            yield from _table_problems(tname, table)
        seen_fk_names: set[str] = set()
        for fk in self.foreign_keys:
            if fk.name in seen_fk_names:
                yield SchemaError(f"foreign key name '{fk.name}' is used twice", table=fk.child)
            seen_fk_names.add(fk.name)
            yield from self._foreign_key_problems(fk)

    def _foreign_key_problems(self, fk: ForeignKey) -> Iterator[SchemaError]:
        """What is wrong with one foreign key: unknown tables or columns, a reference to no primary
        key, column types that differ."""
        if fk.child not in self.tables:
            yield SchemaError(f"foreign key {fk} starts at unknown table '{fk.child}'", table=fk.child)
            return
        if fk.parent not in self.tables:
            yield SchemaError(
                f"foreign key {fk} points at unknown table '{fk.parent}'",
                table=fk.child,
                column=fk.columns[0] if fk.columns else None,
            )
            return
        child, parent = self.tables[fk.child], self.tables[fk.parent]
        if not fk.columns or len(fk.columns) != len(fk.parent_columns):
            yield SchemaError(
                f"foreign key {fk} has {len(fk.columns)} child column(s) but {len(fk.parent_columns)} parent column(s)",
                table=fk.child,
            )
            return
        for col in fk.columns:
            if not child.has_column(col):
                yield SchemaError(
                    f"foreign key {fk} names unknown column '{fk.child}.{col}'", table=fk.child, column=col
                )
        for col in fk.parent_columns:
            if not parent.has_column(col):
                yield SchemaError(
                    f"foreign key {fk} names unknown parent column '{fk.parent}.{col}'",
                    table=fk.parent,
                    column=col,
                )
        if all(parent.has_column(c) for c in fk.parent_columns) and set(fk.parent_columns) != set(parent.primary_key):
            yield SchemaError(
                f"foreign key {fk} must reference the primary key of '{fk.parent}' "
                f"({', '.join(parent.primary_key) or 'none declared'})",
                table=fk.parent,
                column=fk.parent_columns[0],
            )
        for ccol, pcol in zip(fk.columns, fk.parent_columns, strict=True):
            if child.has_column(ccol) and parent.has_column(pcol):
                cd, pd_ = child.column(ccol).dtype, parent.column(pcol).dtype
                if cd != pd_:
                    yield SchemaError(
                        f"foreign key column '{fk.child}.{ccol}' is stored as {cd.value} but the "
                        f"column it references, '{fk.parent}.{pcol}', is stored as {pd_.value}",
                        table=fk.child,
                        column=ccol,
                    )

    def with_parents(self, tables: Iterable[str]) -> dict[str, ForeignKey | None]:
        """``tables`` and every table above them, each with the foreign key it was first reached
        through (None for ``tables`` themselves), in the order they were reached."""
        found: dict[str, ForeignKey | None] = dict.fromkeys(tables)
        pending = list(found)
        while pending:
            table = pending.pop()
            for fk in self.foreign_keys_of(table):
                if fk.parent not in found:
                    found[fk.parent] = fk
                    pending.append(fk.parent)
        return found

    def parents_of(self, table: str) -> list[str]:
        """Distinct parent tables of ``table``, self-references excluded."""
        return sorted({fk.parent for fk in self.foreign_keys_of(table) if not fk.is_self_reference})

    def cycles(self) -> list[list[str]]:
        """Groups of two or more tables that reference each other in a cycle (self-references excluded)."""
        return [sorted(c) for c in strongly_connected(self.table_names, self.parents_of) if len(c) > 1]

    def topological_order(self) -> list[str]:
        """Tables with parents before children. Tables in one cycle are kept together, in name order."""
        components = strongly_connected(self.table_names, self.parents_of)
        # Tarjan's algorithm emits a component only after every component it depends on (its parents).
        return [t for comp in components for t in sorted(comp)]

    def depth(self) -> int:
        """Length of the longest chain of foreign keys (child -> parent -> grandparent ...).

        Self-references do not add depth; tables in one cycle are counted as one level.
        """
        components = strongly_connected(self.table_names, self.parents_of)
        level: dict[str, int] = {}
        for comp in components:  # parents' components come first
            best = 0
            for t in comp:
                for p in self.parents_of(t):
                    if p not in comp:
                        best = max(best, level[p] + 1)
            for t in comp:
                level[t] = best
        return max(level.values(), default=0)

    def roots(self) -> list[str]:
        """Tables with no parent (self-references aside)."""
        return [t for t in self.table_names if not self.parents_of(t)]

    def subset(self, tables: Iterable[str]) -> Schema:
        """The schema restricted to ``tables`` and the foreign keys among them."""
        keep = list(tables)
        for t in keep:
            self.table(t)
        return Schema(
            tables={t: self.tables[t] for t in keep},
            foreign_keys=[fk for fk in self.foreign_keys if fk.child in keep and fk.parent in keep],
        )


def _semantic_problems(table: str, col: Column) -> Iterator[SchemaError]:
    if col.semantic is None:
        return
    known = sorted(s.value for s in SemanticType)
    if col.semantic not in known:
        yield SchemaError(
            f"column '{table}.{col.name}' has unknown semantic type '{col.semantic}' (known: {', '.join(known)})",
            table=table,
            column=col.name,
        )
    elif col.dtype != StorageType.STRING and col.semantic != "none":
        yield SchemaError(
            f"column '{table}.{col.name}' is stored as {col.dtype.value}; only string columns take a semantic type",
            table=table,
            column=col.name,
        )


def _table_problems(tname: str, table: Table) -> Iterator[SchemaError]:
    """What is wrong with one table: its name, duplicate columns, unknown key or time columns, kinds
    its storage cannot have, semantic types."""
    if tname != table.name:
        yield SchemaError(f"table registered as '{tname}' is named '{table.name}'", table=tname)
    names = table.column_names
    for dup in sorted({n for n in names if names.count(n) > 1}):
        yield SchemaError(f"table '{tname}' has column '{dup}' twice", table=tname, column=dup)
    for pk in table.primary_key:
        if not table.has_column(pk):
            yield SchemaError(f"primary key of table '{tname}' names unknown column '{pk}'", table=tname, column=pk)
    if table.time_column is not None:
        if not table.has_column(table.time_column):
            yield SchemaError(
                f"time column of table '{tname}' names unknown column '{table.time_column}'",
                table=tname,
                column=table.time_column,
            )
        elif table.column(table.time_column).dtype != StorageType.DATETIME:
            yield SchemaError(
                f"time column '{tname}.{table.time_column}' is not stored as a datetime",
                table=tname,
                column=table.time_column,
            )
    for col in table.columns:
        yield from _semantic_problems(tname, col)
        if col.kind not in ALLOWED_KINDS[col.dtype]:
            yield SchemaError(
                f"column '{tname}.{col.name}' stored as {col.dtype.value} cannot have kind "
                f"'{col.kind.value}' (allowed: {sorted(k.value for k in ALLOWED_KINDS[col.dtype])})",
                table=tname,
                column=col.name,
            )
