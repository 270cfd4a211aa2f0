"""Safe file names for tables: a table's name is data, never a path.

A table named ``../../victim``, ``/abs``, ``con`` or ``a/b`` must land inside the destination
directory, in a file of its own. :func:`table_file_stem` percent-encodes every character outside
``[A-Za-z0-9_-]`` (the ``%`` sign included, so the encoding is injective and round-trips through
:func:`table_name_from_stem`); names whose encoding would be empty, hidden or too long for a file
system get a truncated stem plus a hash of the full name. The stems actually used are recorded in
``metadata.json`` (``"files"``), so reading never depends on decoding a file name.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePath
from urllib.parse import quote, unquote

from dbtwin.errors import SchemaError

#: Longest stem written, in bytes: file systems allow 255 bytes per name, and the suffix and the
#: temporary names written beside the file need room.
MAX_STEM_BYTES = 160
_SAFE = re.compile(r"^[A-Za-z0-9_\-%]+$")
#: Device names Windows reserves whatever the extension; written encoded so a copy to Windows works.
_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def table_file_stem(name: str) -> str:
    """The file stem (no suffix) that holds table ``name``; distinct names give distinct stems."""
    # every other character ('%', '.', '~', '/' and '\\' among them) as %XX: no stem is hidden, a path or
    # a hashed stem (those hold '~')
    stem = quote(name, safe="_-").replace(".", "%2E").replace("~", "%7E")
    if stem.lower() in _RESERVED:
        stem = "".join(f"%{b:02X}" for b in stem.encode())  # letters as %XX: quote() never writes that
    if not stem or len(stem.encode()) > MAX_STEM_BYTES:
        stem = _hashed(stem, name)
    return stem


def table_file_stems(names: list[str]) -> dict[str, str]:
    """Stems for all tables of a database, distinct even on case-insensitive file systems (``Album``
    and ``album`` on macOS or Windows): the later of two stems equal but for case gets a hash."""
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        stem = table_file_stem(name)
        if stem.casefold() in taken:
            stem = _hashed(stem, name)
        taken.add(stem.casefold())
        stems[name] = stem
    return stems


def _hashed(stem: str, name: str) -> str:
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return f"{stem[: MAX_STEM_BYTES - 20].rstrip('%')}~{digest}"


def table_name_from_stem(stem: str) -> str:
    """The table name a stem written by :func:`table_file_stem` encodes (hashed stems excepted)."""
    return unquote(stem)


def check_file_name(file_name: str, table: str, metadata_file: str) -> str:
    """``file_name`` as recorded in a metadata file, refused unless it is a plain name inside the
    directory (no separators, no ``..``): a metadata file must not make dbtwin read elsewhere."""
    if (
        not isinstance(file_name, str)
        or not file_name
        or file_name in (".", "..")
        or "/" in file_name
        or "\\" in file_name
        or "\x00" in file_name
        or PurePath(file_name).name != file_name
    ):
        raise SchemaError(
            f"{metadata_file}: the file recorded for table '{table}' ({file_name!r}) is not a plain file name "
            "in the directory",
            table=table,
        )
    return file_name


__all__ = ["MAX_STEM_BYTES", "check_file_name", "table_file_stem", "table_file_stems", "table_name_from_stem"]
