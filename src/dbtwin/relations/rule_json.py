"""Rules in their JSON form (the saved model, the metadata's declared rules): read, and checked against
a schema so that a bad one is refused naming its table and column."""

from __future__ import annotations

from dataclasses import fields
from decimal import Decimal, InvalidOperation
from typing import Any

from dbtwin.errors import SchemaError
from dbtwin.relations.rules import (
    AGGREGATES,
    OPERATIONS,
    PARTS,
    RULE_TYPES,
    Aggregate,
    Copy,
    Formula,
    Numbering,
    Part,
    Period,
    Ref,
    Rule,
    Running,
    Step,
)
from dbtwin.schema.model import Schema, StorageType

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


__all__ = ["REF_FIELDS", "check_rule", "decimal_text", "rule_from_dict"]
