"""A database as a directory: one Parquet or CSV file per table plus ``metadata.json``.

``metadata.json`` may be dbtwin's format or SDV's multi-table format; without it the schema is
detected from the data (types, kinds, primary and foreign keys) and the guesses are logged for the
user to confirm. CSV files are read as text first so that no value is lost to type guessing; an empty
field is NULL.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Literal

import pandas as pd

from dbtwin.database import Database
from dbtwin.errors import SchemaError, UnsupportedSourceError
from dbtwin.io.atomic import atomic_directory
from dbtwin.schema.detect import detect_schema
from dbtwin.schema.metadata_json import schema_from_dict, schema_to_dict
from dbtwin.schema.model import Schema, StorageType
from dbtwin.schema.sdv import is_sdv_metadata, schema_from_sdv

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
FileFormat = Literal["parquet", "csv"]
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def table_files(path: Path) -> dict[str, Path]:
    """Table name -> data file for every Parquet or CSV file directly in ``path``."""
    found: dict[str, Path] = {}
    for file in sorted(path.iterdir()):
        if file.is_file() and file.suffix.lower() in _SUFFIXES and not file.name.startswith("."):
            if file.stem in found:
                raise SchemaError(
                    f"table '{file.stem}' has two files: {found[file.stem].name} and {file.name}", table=file.stem
                )
            found[file.stem] = file
    return found


def read_directory(path: str | Path, metadata: str | Path | Schema | None = None) -> Database:
    """Read a directory of Parquet/CSV files; the schema comes from ``metadata``, then from
    ``metadata.json`` in the directory, then from detection."""
    path = Path(path)
    if not path.is_dir():
        raise UnsupportedSourceError(f"'{path}' is not a directory")
    files = table_files(path)
    if not files:
        raise UnsupportedSourceError(f"directory '{path}' holds no .parquet or .csv table files")
    raw = {name: _read_file(file) for name, file in files.items()}
    schema = _resolve_metadata(path, metadata, raw)
    if schema is None:
        detection = detect_schema(raw)
        log.warning(
            "no metadata.json in '%s': schema detected from the data; check it with `dbtwin inspect` "
            "and save a corrected copy with --save-metadata",
            path,
        )
        schema = detection.schema
    missing = [t for t in schema.table_names if t not in raw]
    if missing:
        raise SchemaError(f"metadata declares table '{missing[0]}' but '{path}' has no file for it", table=missing[0])
    extra = [t for t in raw if t not in schema.tables]
    if extra:
        log.warning("files for tables %s are not in the metadata and are left out", extra)
    return Database.from_frames({t: raw[t] for t in schema.table_names}, schema)


def write_directory(db: Database, path: str | Path, file_format: FileFormat = "parquet", replace: bool = False) -> None:
    """Write one file per table and ``metadata.json``, atomically (a temporary directory renamed into place)."""
    if file_format not in ("parquet", "csv"):
        raise ValueError(f"file format must be 'parquet' or 'csv', not {file_format!r}")
    with atomic_directory(Path(path), replace=replace) as tmp:
        for name, frame in db.tables.items():
            if file_format == "parquet":
                frame.to_parquet(tmp / f"{name}.parquet", index=False, compression="zstd")
            else:
                _to_csv(frame, db.schema, name, tmp / f"{name}.csv")
        (tmp / METADATA_FILE).write_text(json.dumps(schema_to_dict(db.schema), indent=2) + "\n")


def _read_file(file: Path) -> pd.DataFrame:
    if _SUFFIXES[file.suffix.lower()] == "parquet":
        return pd.read_parquet(file)
    return pd.read_csv(file, dtype=str, keep_default_na=False, na_values=[""])


def _resolve_metadata(path: Path, metadata: str | Path | Schema | None, raw: dict[str, pd.DataFrame]) -> Schema | None:
    if isinstance(metadata, Schema):
        return metadata
    file = Path(metadata) if metadata is not None else path / METADATA_FILE
    if not file.exists():
        if metadata is not None:
            raise UnsupportedSourceError(f"metadata file '{file}' does not exist")
        return None
    data = json.loads(file.read_text())
    if is_sdv_metadata(data):
        return schema_from_sdv(data, raw)
    return schema_from_dict(data)


def _to_csv(frame: pd.DataFrame, schema: Schema, name: str, file: Path) -> None:
    out = frame.copy()
    for col in schema.table(name).columns:
        if col.dtype == StorageType.DATETIME:
            out[col.name] = out[col.name].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str.removesuffix(".000000")
    out.to_csv(file, index=False)
