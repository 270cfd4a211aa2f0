"""The SQL definition of the tables dbtwin writes: each column's type on each server, keys, foreign keys
(deferred ones created after the rows where the server allows), and the comments that carry dbtwin's
storage types, kinds and time column back on reading (:mod:`dbtwin.io.sql`)."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import mysql

from dbtwin.database import Database
from dbtwin.errors import SchemaError
from dbtwin.io.sql_values import SQLITE_DECIMAL
from dbtwin.schema.dtypes import decimal_size, decimal_text
from dbtwin.schema.model import Column, ForeignKey, StorageType

#: Longest string key we create as an indexed VARCHAR (MariaDB indexes at most 3072 bytes of utf8mb4).
MAX_KEY_LENGTH = 768


def _sql_type(col: Column, frame: pd.DataFrame, is_key: bool, dialect: sa.Dialect) -> sa.types.TypeEngine:
    if col.dtype == StorageType.INT64:
        return sa.BigInteger()
    if col.dtype == StorageType.FLOAT64:
        return sa.Double()
    if col.dtype == StorageType.BOOL:
        return sa.Boolean()
    if col.dtype == StorageType.DATETIME:
        return sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
    if col.dtype == StorageType.DECIMAL:
        precision, scale = decimal_size(frame[col.name], col.precision, col.scale)
        return sa.Numeric(precision, scale).with_variant(SqliteDecimal(precision, scale), "sqlite")
    lengths = frame[col.name].dropna().map(len)
    longest = int(lengths.max()) if len(lengths) else 0
    if is_key:
        if longest > MAX_KEY_LENGTH:
            raise SchemaError(
                f"key column '{col.name}' holds strings of {longest} characters; keys longer than "
                f"{MAX_KEY_LENGTH} cannot be indexed by every database",
                column=col.name,
            )
        length = max(64, 1 << max(longest - 1, 0).bit_length())
        # keys compare byte for byte on MariaDB/MySQL too ('a' and 'A', 'a' and 'a ' are distinct keys)
        collation = "utf8mb4_nopad_bin" if getattr(dialect, "is_mariadb", False) else "utf8mb4_bin"
        return sa.String(length).with_variant(mysql.VARCHAR(length, collation=collation), "mysql", "mariadb")
    return sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")


class SqliteDecimal(sa.types.UserDefinedType):
    """An exact decimal in SQLite: declared ``DECIMAL_TEXT(p, s)`` (TEXT affinity keeps every digit,
    which NUMERIC affinity would cut to 15) and stored as plain text."""

    cache_ok = True

    def __init__(self, precision: int, scale: int) -> None:
        self.precision, self.scale = precision, scale

    def get_col_spec(self, **_kw) -> str:
        return f"{SQLITE_DECIMAL}({self.precision}, {self.scale})"

    def bind_processor(self, dialect):
        return lambda value: None if value is None else decimal_text(value)


def table_definitions(
    db: Database, dialect: sa.Dialect, db_schema: str | None, deferred: list[ForeignKey], names: dict[str, str]
) -> sa.MetaData:
    """Tables named by ``names`` (final or temporary), their foreign keys pointing at those names.
    Foreign keys reference column objects, never ``"table.column"`` strings, so names with dots work."""
    comments = dialect.supports_comments
    meta = sa.MetaData(schema=db_schema)
    deferred_names = {id(fk) for fk in deferred}
    tables: dict[str, sa.Table] = {}
    for name, table in db.schema.tables.items():
        keys = db.schema.key_columns(name)
        columns = [
            sa.Column(
                sa.sql.quoted_name(col.name, quote=True),  # every name quoted: reserved words differ by server
                _sql_type(col, db[name], col.name in keys, dialect),
                nullable=col.nullable and col.name not in table.primary_key,
                comment=f"dbtwin:dtype={col.dtype.value},kind={col.kind.value}" if comments else None,
            )
            for col in table.columns
        ]
        constraints: list[sa.schema.SchemaItem] = []
        if table.primary_key:
            constraints.append(sa.PrimaryKeyConstraint(*table.primary_key))
        comment = f"dbtwin:time_column={quote(table.time_column, safe='')}" if comments and table.time_column else None
        tables[name] = sa.Table(
            sa.sql.quoted_name(names[name], quote=True), meta, *columns, *constraints, comment=comment
        )
    for fk in db.schema.foreign_keys:
        parent = tables[fk.parent]
        tables[fk.child].append_constraint(
            sa.ForeignKeyConstraint(
                list(fk.columns),
                [parent.c[c] for c in fk.parent_columns],
                use_alter=id(fk) in deferred_names and dialect.name != "sqlite",
            )
        )
    return meta
