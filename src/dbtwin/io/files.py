"""A database as a directory: one Parquet or CSV file per table plus ``metadata.json``.

``metadata.json`` may be dbtwin's format or SDV's multi-table format; without it the schema is
detected from the data (types, kinds, primary and foreign keys) and the guesses are logged for the
user to confirm. CSV files are read as text first so that no value is lost to type guessing; an empty
field is NULL.

File names are derived from table names by :mod:`dbtwin.io.filenames` (never used as paths) and
recorded in ``metadata.json`` under ``"files"``; a directory written by dbtwin is read through that
record. Replacing a directory (``replace=True``) replaces dbtwin's own files only: the table files
and ``metadata.json`` of the database written before, and files of the same names; anything else in
the directory is left alone.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from dbtwin.atomic import atomic_directory
from dbtwin.database import Database
from dbtwin.errors import DestinationNotEmptyError, InvalidFileError, SchemaError, UnsupportedSourceError
from dbtwin.io.filenames import check_file_name, table_file_stems
from dbtwin.io.parquet import ParquetTableWriter, read_parquet_file
from dbtwin.io.shards import Sharded, in_shards
from dbtwin.io.storable import check_storable
from dbtwin.jsonfile import read_json
from dbtwin.schema.detect import detect_schema
from dbtwin.schema.dtypes import decimal_text, has_nan_values, nan_values
from dbtwin.schema.metadata_json import FORMAT_NAME, schema_from_dict, schema_to_dict
from dbtwin.schema.model import Schema, StorageType
from dbtwin.schema.sdv import is_sdv_metadata, schema_from_sdv

log = logging.getLogger(__name__)

METADATA_FILE = "metadata.json"
#: The key of ``metadata.json`` that maps each table to the file that holds it.
FILES_KEY = "files"
FileFormat = Literal["parquet", "csv"]
FILE_FORMATS: tuple[str, ...] = ("parquet", "csv")
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}


def table_files(path: Path) -> dict[str, Path]:
    """Table name -> data file for every Parquet or CSV file directly in ``path`` (the file's stem)."""
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
    document, meta_file = _metadata_document(path, metadata)
    recorded = _recorded_files(document, meta_file) if document is not None else None
    if recorded is not None:
        files = {t: path / f for t, f in recorded.items()}
        absent = [t for t, f in files.items() if not f.is_file()]
        if absent:
            raise SchemaError(
                f"{meta_file}: table '{absent[0]}' is recorded in file '{recorded[absent[0]]}', which '{path}' lacks",
                table=absent[0],
            )
    else:
        files = table_files(path)
    if not files and not isinstance(metadata, Schema):
        raise UnsupportedSourceError(f"directory '{path}' holds no .parquet or .csv table files")
    declared = _declared_columns(document, metadata) if recorded is not None else {}
    raw = {name: _read_file(file, name, declared.get(name)) for name, file in files.items()}
    if isinstance(metadata, Schema):
        schema: Schema | None = metadata
    elif document is not None:
        schema = schema_from_sdv(document, raw) if is_sdv_metadata(document) else schema_from_dict(document)
    else:
        schema = None
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


def write_directory(
    db: Database | Sharded, path: str | Path, file_format: FileFormat = "parquet", replace: bool = False
) -> None:
    """Write one file per table and ``metadata.json``; a database in shards a shard at a time.

    A new or empty directory is written as a temporary directory renamed into place. An existing
    directory that holds files is refused unless ``replace``; then only dbtwin's own files are
    replaced (see the module docstring), each new file written in full before any old one moves.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file format must be 'parquet' or 'csv', not {file_format!r}")
    path = Path(path)
    if isinstance(db, Database):
        check_storable(db, file_format)
    stems = table_file_stems(db.schema.table_names)
    names = {t: f"{stem}.{file_format}" for t, stem in stems.items()}
    if holds_files(path, replace):
        _replace_in_directory(db, path, file_format, names)
        return
    with atomic_directory(path, replace=replace) as tmp:
        _write_files(db, tmp, file_format, names)


def holds_files(path: Path, replace: bool) -> bool:
    """Whether ``path`` is a directory that already holds files; refused unless ``replace``."""
    if not (path.is_dir() and any(path.iterdir())):
        return False
    if not replace:
        raise DestinationNotEmptyError(
            f"directory '{path}' already holds files; pass --replace (replace=True) to replace dbtwin's files in it"
        )
    return True


def _write_files(db: Database | Sharded, directory: Path, file_format: str, names: dict[str, str]) -> None:
    whole = in_shards(db)
    parquet: dict[str, ParquetTableWriter] = {}
    try:
        for i, shard in whole.shards():
            if whole.count > 1:  # a single database was checked before anything was written
                check_storable(shard, file_format)
            for table in whole.table_names:
                if not whole.written(i, table):
                    continue
                file, frame = directory / names[table], shard[table]
                if file_format == "csv":
                    _to_csv(frame, whole.schema, table, file, append=i > 0)
                    continue
                if table not in parquet:
                    parquet[table] = ParquetTableWriter(file, whole.schema.table(table), whole.sizing[table])
                parquet[table].append(frame)
            shard = frame = None  # dropped before the next shard is read
    finally:
        for writer in parquet.values():
            writer.close()
    document = schema_to_dict(whole.schema) | {FILES_KEY: names}
    (directory / METADATA_FILE).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def own_files(path: Path) -> set[str]:
    """Names of the files in ``path`` that belong to the database written there before: its
    ``metadata.json`` and the table files that metadata names (or, without a record, the files named
    after its tables)."""
    meta = path / METADATA_FILE
    if not meta.is_file():
        return set()
    try:
        document = read_json(meta, "metadata file")
        recorded = _recorded_files(document, meta)
    except (InvalidFileError, SchemaError):
        return {METADATA_FILE}
    if recorded is None:
        tables = document.get("tables") if isinstance(document, dict) else None
        stems = set(tables) if isinstance(tables, dict) else set()
        recorded = {f.stem: f.name for f in path.iterdir() if f.is_file() and f.stem in stems}
    return {METADATA_FILE, *recorded.values()}


def _replace_in_directory(db: Database | Sharded, path: Path, file_format: str, names: dict[str, str]) -> None:
    doomed = (own_files(path) | set(names.values()) | {METADATA_FILE}) & {p.name for p in path.iterdir()}
    clash = [n for n in doomed if not (path / n).is_file()]
    if clash:
        raise DestinationNotEmptyError(f"'{path / clash[0]}' is in the way of a table file and is not a file")
    new = Path(tempfile.mkdtemp(prefix=".dbtwin-", suffix=".new", dir=path))
    old = Path(tempfile.mkdtemp(prefix=".dbtwin-", suffix=".old", dir=path))
    moved: list[str] = []
    placed: list[str] = []
    try:
        _write_files(db, new, file_format, names)
        for name in sorted(doomed):
            (path / name).replace(old / name)
            moved.append(name)
        for name in [*names.values(), METADATA_FILE]:
            (new / name).replace(path / name)
            placed.append(name)
    except BaseException:
        for name in placed:  # put the directory back as it was
            (path / name).unlink(missing_ok=True)
        for name in moved:
            (old / name).replace(path / name)
        shutil.rmtree(old, ignore_errors=True)  # empty again: nothing of dbtwin's is left behind
        raise
    finally:
        shutil.rmtree(new, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    log.info("replaced %d file(s) in '%s'", len(doomed), path)


def _metadata_document(path: Path, metadata: str | Path | Schema | None) -> tuple[Any, Path | None]:
    if isinstance(metadata, Schema):
        file = path / METADATA_FILE
        return (read_json(file, "metadata file"), file) if file.is_file() else (None, None)
    file = Path(metadata) if metadata is not None else path / METADATA_FILE
    if not file.exists():
        if metadata is not None:
            raise UnsupportedSourceError(f"metadata file '{file}' does not exist")
        return None, None
    document = read_json(file, "metadata file")
    if not isinstance(document, dict):
        raise InvalidFileError(f"metadata file '{file}' must hold a JSON object")
    return document, file


def _recorded_files(document: Any, meta_file: Path | None) -> dict[str, str] | None:
    """The table -> file record of a dbtwin metadata document, each name checked to be a plain file."""
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME or FILES_KEY not in document:
        return None
    record = document[FILES_KEY]
    if not isinstance(record, dict):
        raise SchemaError(f'{meta_file}: "{FILES_KEY}" must map each table to its file name')
    where = str(meta_file)
    return {str(t): check_file_name(f, str(t), where) for t, f in record.items()}


def _declared_columns(document: Any, metadata: str | Path | Schema | None) -> dict[str, list[str]]:
    """Column names per table in declared order (CSV headers are matched to them by position)."""
    if isinstance(metadata, Schema):
        return {t: tb.column_names for t, tb in metadata.tables.items()}
    tables = document.get("tables") if isinstance(document, dict) else None
    if not isinstance(tables, dict):
        return {}
    return {t: list(d.get("columns", {})) for t, d in tables.items() if isinstance(d, dict)}


def _read_file(file: Path, table: str, columns: list[str] | None) -> pd.DataFrame:
    try:
        if _SUFFIXES.get(file.suffix.lower(), "parquet") == "parquet":
            return read_parquet_file(file, table)
        # blank lines are rows: a one-column table writes a NULL or a space as one
        frame = pd.read_csv(
            file, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8", skip_blank_lines=False
        )
    except pd.errors.ParserError as exc:
        raise InvalidFileError(f"table '{table}' (file '{file}'): {_parser_message(exc)}") from None
    except pd.errors.EmptyDataError:
        raise InvalidFileError(f"table '{table}' (file '{file}') is empty: not even a header line") from None
    except UnicodeDecodeError as exc:
        raise InvalidFileError(f"table '{table}' (file '{file}') is not UTF-8 text (byte {exc.start})") from None
    except (OSError, ValueError) as exc:  # pyarrow's errors derive from these
        raise InvalidFileError(f"table '{table}': cannot read '{file}': {exc}") from None
    if columns is not None and len(columns) == frame.shape[1]:
        frame.columns = columns  # written by dbtwin in this order; pandas renames empty or repeated headers
    else:
        _refuse_renamed_headers(file, table)
    return frame


def _refuse_renamed_headers(file: Path, table: str) -> None:
    """A CSV header that repeats a name or leaves one empty (which pandas would rename silently)."""
    header = pd.read_csv(file, header=None, nrows=1, dtype=str, keep_default_na=False, encoding="utf-8")
    names = header.iloc[0].tolist() if len(header) else []
    seen: set[str] = set()
    for name in names:
        if name == "" or name in seen:
            what = "an empty column name" if name == "" else f"the column name '{name}' twice"
            raise InvalidFileError(f"table '{table}' (file '{file}') has {what} in its header; name each column once")
        seen.add(name)


def _parser_message(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1]
    return text.removeprefix("Error tokenizing data. C error: ").replace("Expected", "expected")


def _to_csv(frame: pd.DataFrame, schema: Schema, name: str, file: Path, append: bool = False) -> None:
    """``frame`` as CSV in ``file``; with ``append``, added to the rows already there (no header)."""
    out = frame.copy()
    for col in schema.table(name).columns:
        if col.dtype == StorageType.DATETIME:
            out[col.name] = out[col.name].dt.strftime("%Y-%m-%d %H:%M:%S.%f").str.removesuffix(".000000")
        elif col.dtype == StorageType.DECIMAL:  # every digit, no exponent
            out[col.name] = out[col.name].map(decimal_text, na_action="ignore")
        elif col.dtype == StorageType.FLOAT64 and has_nan_values(out[col.name]):  # NaN as text, NULL as empty
            nan = nan_values(out[col.name])
            out[col.name] = out[col.name].astype(object).where(~nan, "NaN")
    # RFC 4180 line ends: a field holding a lone "\r" is quoted too (with "\n" ends it would split the row)
    mode = {"mode": "a", "header": False} if append else {"mode": "w"}
    out.to_csv(file, index=False, encoding="utf-8", lineterminator="\r\n", **mode)
