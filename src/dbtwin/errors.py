"""Exceptions raised by dbtwin.

Every error that concerns one place in the data names the table (and the column, where there is one),
so that a user can find and fix it without reading a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


class DbtwinError(Exception):
    """Base class of every error dbtwin raises on purpose."""


def driver_message(exc: BaseException) -> str:
    """The first line of what a database driver said (SQLAlchemy wraps it in ``exc.orig``)."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


class SchemaError(DbtwinError):
    """The schema (metadata) is inconsistent: unknown tables or columns, bad keys, bad kinds."""

    def __init__(self, message: str, table: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.table = table
        self.column = column


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the data. ``count`` is the number of rows (or values) concerned."""

    code: str
    table: str
    column: str | None
    message: str
    count: int = 0
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        return self.message if self.severity == "error" else f"warning: {self.message}"


class DataValidationError(DbtwinError):
    """The data break the schema's rules. ``problems`` lists every one found, not only the first."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{len(problems)} problem(s) found in the data:\n{lines}")


class UnsupportedSourceError(DbtwinError):
    """A source or destination string names nothing dbtwin can read or write."""


class DestinationNotEmptyError(DbtwinError):
    """Writing would overwrite existing data and the caller did not ask to replace it."""


class InvalidFileError(DbtwinError):
    """A file dbtwin reads is malformed: bad JSON (named with its line and column), a truncated
    database, a model file whose fields do not fit together. The message names the file and field."""


class OptionError(DbtwinError):
    """An argument or command-line option has a value dbtwin cannot use; the message names it."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option


class DatabaseRefusedError(DbtwinError):
    """A database server refused a write (a constraint, a limit of its own); the message is the
    server's, in the user's table names; nothing was left written."""

    def __init__(self, message: str, table: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.table = table
        self.column = column


class NotStorableError(DbtwinError):
    """The destination cannot hold a name or value of the database as it is (an identifier too long
    for the server, a NUL byte in PostgreSQL text, infinity in MariaDB, an empty string in CSV, ...).
    Raised before anything is written; names the table and column."""

    def __init__(self, message: str, table: str | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.table = table
        self.column = column
