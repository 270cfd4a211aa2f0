"""Reading and writing whole databases in each format: SQLite files and SQLAlchemy URLs
(:mod:`dbtwin.io.sql`), Parquet/CSV directories (:mod:`dbtwin.io.files`). :func:`dbtwin.read` and
:func:`dbtwin.write` (:mod:`dbtwin.sources`) choose among them by the location given."""

from dbtwin.io.files import read_directory, write_directory
from dbtwin.io.sql import read_sql, write_sql

__all__ = ["read_directory", "read_sql", "write_directory", "write_sql"]
