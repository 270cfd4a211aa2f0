"""dbtwin's own metadata JSON format (documented in docs/metadata.md).

```json
{"format": "dbtwin-metadata", "version": 1,
 "tables": {"album": {"primary_key": ["album_id"], "time_column": null,
                      "columns": {"album_id": {"dtype": "int64", "kind": "id", "nullable": false}}}},
 "foreign_keys": [{"name": "...", "child": "album", "columns": ["artist_id"],
                   "parent": "artist", "parent_columns": ["artist_id"]}]}
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbtwin.errors import SchemaError
from dbtwin.schema.model import Column, ForeignKey, Schema, Table

FORMAT_NAME = "dbtwin-metadata"
FORMAT_VERSION = 1


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """The schema as a JSON-ready dictionary in dbtwin's format."""
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "tables": {
            t.name: {
                "primary_key": list(t.primary_key),
                "time_column": t.time_column,
                "columns": {
                    c.name: {"dtype": c.dtype.value, "kind": c.kind.value, "nullable": c.nullable} for c in t.columns
                },
            }
            for t in schema.tables.values()
        },
        "foreign_keys": [
            {
                "name": fk.name,
                "child": fk.child,
                "columns": list(fk.columns),
                "parent": fk.parent,
                "parent_columns": list(fk.parent_columns),
            }
            for fk in schema.foreign_keys
        ],
    }


def schema_from_dict(data: dict[str, Any]) -> Schema:
    """Parse dbtwin's metadata format; raises :class:`SchemaError` naming the table/column at fault."""
    if data.get("format") != FORMAT_NAME:
        raise SchemaError(f'not a dbtwin metadata document (expected "format": "{FORMAT_NAME}")')
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise SchemaError(f"unsupported dbtwin metadata version {version!r} (this dbtwin reads {FORMAT_VERSION})")
    tables: dict[str, Table] = {}
    for tname, tdata in _mapping(data, "tables", "document").items():
        columns = []
        for cname, cdata in _mapping(tdata, "columns", f"table '{tname}'").items():
            try:
                columns.append(
                    Column(
                        name=cname,
                        dtype=cdata["dtype"],
                        kind=cdata["kind"],
                        nullable=bool(cdata.get("nullable", True)),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise SchemaError(
                    f'column \'{tname}.{cname}\' needs a valid "dtype" and "kind": {exc}', table=tname, column=cname
                ) from None
        pk = tdata.get("primary_key") or []
        if isinstance(pk, str):
            pk = [pk]
        tables[tname] = Table(tname, columns, tuple(pk), tdata.get("time_column"))
    fks = []
    for i, fdata in enumerate(data.get("foreign_keys", [])):
        try:
            fks.append(
                ForeignKey(
                    child=fdata["child"],
                    columns=tuple(_as_list(fdata["columns"])),
                    parent=fdata["parent"],
                    parent_columns=tuple(_as_list(fdata["parent_columns"])),
                    name=fdata.get("name", ""),
                )
            )
        except KeyError as exc:
            raise SchemaError(f"foreign key #{i} lacks the field {exc}", table=fdata.get("child")) from None
    schema = Schema(tables, fks)
    schema.check()
    return schema


def save_schema(schema: Schema, path: str | Path) -> None:
    """Write the schema as dbtwin metadata JSON (atomically)."""
    from dbtwin.io.atomic import atomic_write_text

    atomic_write_text(Path(path), json.dumps(schema_to_dict(schema), indent=2) + "\n")


def load_schema(path: str | Path) -> Schema:
    """Read a metadata JSON file in dbtwin's format or SDV's multi-table format."""
    from dbtwin.schema.sdv import is_sdv_metadata, schema_from_sdv

    data = json.loads(Path(path).read_text())
    if is_sdv_metadata(data):
        return schema_from_sdv(data)
    return schema_from_dict(data)


def _mapping(obj: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = obj.get(key)
    if not isinstance(value, dict):
        raise SchemaError(f'{where} needs a "{key}" object')
    return value


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)
