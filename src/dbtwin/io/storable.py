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
from dbtwin.schema.dtypes import decimal_size, has_nan_values
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
            elif col.dtype == StorageType.FLOAT64 and target in ("sqlite", "mysql") and has_nan_values(series):
                raise NotStorableError(
                    f"{where} holds NaN values apart from NULL, which {_label(target)} cannot keep apart (it "
                    "would store them as NULL); write to Parquet or PostgreSQL, or replace them",
                    name,
                    col.name,
                )
            elif col.dtype == StorageType.FLOAT64 and target == "mysql":
                values = series.to_numpy(dtype=np.float64, na_value=np.nan)
                if np.isinf(values).any():
                    raise NotStorableError(
                        f"{where} holds infinite values, which MariaDB/MySQL cannot store; write to PostgreSQL, "
                        "SQLite or Parquet, or replace them",
                        name,
                        col.name,
                    )
            elif col.dtype == StorageType.DECIMAL:
                _check_decimal(col, series, where, target, name)
            elif col.dtype == StorageType.DATETIME and (target in _SQL or target == "csv"):
                present = series.dropna()
                if len(present) and (present.dt.nanosecond != 0).any():
                    raise NotStorableError(
                        f"{where} holds times with nanoseconds, which {_label(target)} stores only to the "
                        "microsecond; write Parquet or round them",
                        name,
                        col.name,
                    )


#: Largest decimal precision and scale per destination (digits).
DECIMAL_LIMITS: dict[str, tuple[int, int]] = {"mysql": (65, 38), "postgresql": (1000, 1000), "parquet": (76, 76)}


def _check_decimal(col, series: pd.Series, where: str, target: str, table: str) -> None:
    limit = DECIMAL_LIMITS.get(target)
    if limit is None:  # SQLite and CSV keep decimals as text: any size
        return
    precision, scale = decimal_size(series, col.precision, col.scale)
    if precision > limit[0] or scale > limit[1]:
        raise NotStorableError(
            f"{where} holds decimals of {precision} digits, {scale} after the point; {_label(target)} holds at "
            f"most {limit[0]} digits, {limit[1]} after the point: write to SQLite, CSV or PostgreSQL",
            table,
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


#: Names MariaDB/MySQL store as reserved device names in their file names; a foreign key to a table
#: of such a name is refused by InnoDB ("Foreign key constraint is incorrectly formed").
_DEVICE_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def _check_names(db: Database, target: str) -> None:
    if target == "mysql":
        for fk in db.schema.foreign_keys:
            if fk.parent.lower() in _DEVICE_NAMES:
                raise NotStorableError(
                    f"table name '{fk.parent}' is a reserved device name, and MariaDB/MySQL cannot create foreign keys "
                    "to a table of that name: rename it in the source, or write to another kind of destination",
                    fk.parent,
                )
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
        if column is not None and "`" in text:  # SQLAlchemy reads such a name back with the quote doubled
            raise NotStorableError(
                f"{what} holds a backtick (`), which MariaDB/MySQL's catalog gives back doubled: rename it",
                table,
                column,
            )
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
    labels = {"postgresql": "PostgreSQL", "mysql": "MariaDB/MySQL", "sqlite": "SQLite", "csv": "CSV"}
    labels["parquet"] = "Parquet"
    return labels.get(target, target)


__all__ = ["IDENTIFIER_LIMITS", "check_storable", "target_of"]
