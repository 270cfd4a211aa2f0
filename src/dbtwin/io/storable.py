"""What each destination can hold, checked before anything is written.

Every destination stores most databases exactly, but each has limits that would otherwise surface
half-way through a write as a driver's traceback, or not at all (a value silently changed):

* all: text that is not valid Unicode (lone surrogates) cannot be encoded;
* SQL servers and SQLite: times are stored to the microsecond, so nanoseconds would be cut;
* SQLite: names are compared without regard to case, and ``sqlite_`` names are reserved;
* PostgreSQL: identifiers of at most 63 bytes without control characters (its catalog is read back
  by parsing), no NUL character in text;
* MariaDB/MySQL: identifiers of at most 64 characters, without trailing spaces or characters beyond
  the Basic Multilingual Plane or control characters, column names compared without regard to case,
  no infinities;
* CSV: an empty string cannot be told apart from NULL (an empty field), no NUL character, times to
  the microsecond.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.errors import NotStorableError
from dbtwin.schema.model import StorageType

#: Longest identifier per SQL dialect, and whether it is counted in bytes (PostgreSQL) or characters.
IDENTIFIER_LIMITS: dict[str, tuple[int, str]] = {"postgresql": (63, "bytes"), "mysql": (64, "characters")}
_CASE_INSENSITIVE_COLUMNS = {"sqlite", "mysql"}
_SQL = {"sqlite", "postgresql", "mysql"}


def target_of(dialect_name: str) -> str:
    """The target name :func:`check_storable` uses for a SQLAlchemy dialect name."""
    return "mysql" if dialect_name in ("mysql", "mariadb") else dialect_name


def check_storable(db: Database, target: str) -> None:
    """Raise :class:`NotStorableError`, naming the table and column, for the first name or value that
    ``target`` (``parquet``, ``csv``, ``sqlite``, ``postgresql``, ``mysql``) cannot hold as it is."""
    target = target_of(target)
    if target in _SQL:
        _check_names(db, target)
    elif target == "csv":
        for name, table in db.schema.tables.items():
            for col in table.columns:
                if "\x00" in col.name:
                    raise NotStorableError(
                        f"column name '{name}.{col.name}' holds a NUL character, which CSV cannot store", name, col.name
                    )
    for name, table in db.schema.tables.items():
        frame = db[name]
        for col in table.columns:
            series = frame[col.name]
            where = f"column '{name}.{col.name}'"
            if col.dtype == StorageType.STRING:
                _check_text(series, where, target, name, col.name)
            elif col.dtype == StorageType.FLOAT64 and target == "mysql":
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                if np.isinf(values).any():
                    raise NotStorableError(
                        f"{where} holds infinite values, which MariaDB/MySQL cannot store; write to PostgreSQL, "
                        "SQLite or Parquet, or replace them",
                        name,
                        col.name,
                    )
            elif col.dtype == StorageType.DATETIME and (target in _SQL or target == "csv"):
                present = series.dropna()
                if len(present) and (present.dt.nanosecond != 0).any():
                    raise NotStorableError(
                        f"{where} holds times with nanoseconds, which {_label(target)} stores only to the "
                        "microsecond; write Parquet or round them",
                        name,
                        col.name,
                    )


def _check_text(series: pd.Series, where: str, target: str, table: str, column: str) -> None:
    present = series.dropna()
    if present.empty:
        return
    try:
        "".join(present.tolist()).encode("utf-8")
    except UnicodeEncodeError:
        raise NotStorableError(
            f"{where} holds text that is not valid Unicode (lone surrogates)", table, column
        ) from None
    if target in ("postgresql", "csv") and present.str.contains("\x00", regex=False).any():
        raise NotStorableError(
            f"{where} holds text with NUL characters (\\x00), which {_label(target)} cannot store; "
            "write to SQLite or Parquet, or remove them",
            table,
            column,
        )
    if target == "csv" and (present == "").any():
        raise NotStorableError(
            f"{where} holds empty strings, which CSV cannot tell apart from NULL; write Parquet instead",
            table,
            column,
        )


def _check_names(db: Database, target: str) -> None:
    seen_tables: dict[str, str] = {}
    for name, table in db.schema.tables.items():
        _check_identifier(name, target, f"table name '{name}'", name, None)
        if target == "sqlite":
            if name.lower().startswith("sqlite_"):
                raise NotStorableError(f"table name '{name}' is reserved by SQLite (sqlite_...)", name)
            other = seen_tables.setdefault(name.casefold(), name)
            if other != name:
                raise NotStorableError(
                    f"tables '{other}' and '{name}' differ only in case, which SQLite does not tell apart", name
                )
        seen_columns: dict[str, str] = {}
        for col in table.columns:
            _check_identifier(col.name, target, f"column name '{name}.{col.name}'", name, col.name)
            if target in _CASE_INSENSITIVE_COLUMNS:
                other = seen_columns.setdefault(col.name.casefold(), col.name)
                if other != col.name:
                    raise NotStorableError(
                        f"columns '{name}.{other}' and '{name}.{col.name}' differ only in case, which "
                        f"{_label(target)} does not tell apart",
                        name,
                        col.name,
                    )


def _check_identifier(text: str, target: str, what: str, table: str, column: str | None) -> None:
    if text == "" or "\x00" in text:
        raise NotStorableError(
            f"{what} is empty or holds a NUL character: {_label(target)} cannot create it", table, column
        )
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise NotStorableError(f"{what} is not valid Unicode", table, column) from None
    limit = IDENTIFIER_LIMITS.get(target)
    if limit is not None:
        longest, unit = limit
        length = size if unit == "bytes" else len(text)
        if length > longest:
            raise NotStorableError(
                f"{what} is {length} {unit} long; {_label(target)} allows at most {longest}: rename it in the "
                "source, or write to another kind of destination",
                table,
                column,
            )
    if target in ("postgresql", "mysql") and any(unicodedata.category(ch) == "Cc" for ch in text):
        raise NotStorableError(
            f"{what} holds control characters (such as a newline or tab), which {_label(target)}'s catalog "
            "cannot be read back by: rename it in the source",
            table,
            column,
        )
    if target == "mysql":
        if text != text.rstrip(" "):
            raise NotStorableError(f"{what} ends with a space, which MariaDB/MySQL does not allow", table, column)
        if any(ord(ch) > 0xFFFF for ch in text):
            raise NotStorableError(
                f"{what} holds characters beyond the Basic Multilingual Plane (such as emoji), which MariaDB/MySQL "
                "does not allow in names",
                table,
                column,
            )


def _label(target: str) -> str:
    return {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite", "csv": "CSV"}.get(target, target)


__all__ = ["IDENTIFIER_LIMITS", "check_storable", "target_of"]
