"""Reading and writing whole databases: SQLite files, SQLAlchemy URLs, Parquet/CSV directories."""

from dbtwin.io.files import read_directory, write_directory
from dbtwin.io.sources import preflight_destination, read, write
from dbtwin.io.sql import read_sql, write_sql

__all__ = ["preflight_destination", "read", "read_directory", "read_sql", "write", "write_directory", "write_sql"]
