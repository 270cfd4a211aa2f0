"""dbtwin's own metadata JSON format (documented in docs/metadata.md).

```json
{"format": "dbtwin-metadata", "version": 1,
 "tables": {"album": {"primary_key": ["album_id"], "time_column": null,
                      "columns": {"album_id": {"dtype": "int64", "kind": "id", "nullable": false},
                                  "title": {"dtype": "string", "kind": "text", "semantic": "free_text"}}}},
 "foreign_keys": [{"name": "...", "child": "album", "columns": ["artist_id"],
                   "parent": "artist", "parent_columns": ["artist_id"]}]}
```
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbtwin.errors import SchemaError
from dbtwin.schema.model import Column, ForeignKey, RelationSettings, Schema, Table

FORMAT_NAME = "dbtwin-metadata"
FORMAT_VERSION = 1


def schema_to_dict(schema: Schema) -> dict[str, Any]:
    """The schema as a JSON-ready dictionary in dbtwin's format."""
    out = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "tables": {
            t.name: {
                "primary_key": list(t.primary_key),
                "time_column": t.time_column,
                **({"keep": t.keep} if t.keep is not None else {}),
                "columns": {c.name: _column_dict(c) for c in t.columns},
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
    if not schema.relations.is_default:
        settings = schema.relations
        out["relations"] = {"discover": settings.discover, "off": settings.off, "declared": settings.declared}
        if settings.near:
            out["relations"]["near"] = settings.near
    return out


def schema_from_dict(data: dict[str, Any]) -> Schema:
    """Parse dbtwin's metadata format; raises :class:`SchemaError` naming the table/column at fault."""
    if data.get("format") != FORMAT_NAME:
        raise SchemaError(f'not a dbtwin metadata document (expected "format": "{FORMAT_NAME}")')
    version = data.get("version")
    if version != FORMAT_VERSION:
        raise SchemaError(f"unsupported dbtwin metadata version {version!r} (this dbtwin reads {FORMAT_VERSION})")
    tables: dict[str, Table] = {}
    for tname, tdata in _mapping(data, "tables", "document").items():
        if not isinstance(tdata, dict):
            raise SchemaError(f"table '{tname}' must be described by a JSON object", table=tname)
        columns = []
        for cname, cdata in _mapping(tdata, "columns", f"table '{tname}'").items():
            try:
                if not isinstance(cdata, dict):
                    raise TypeError("a column is described by a JSON object")
                columns.append(
                    Column(
                        name=cname,
                        dtype=cdata["dtype"],
                        kind=cdata["kind"],
                        nullable=bool(cdata.get("nullable", True)),
                        semantic=_semantic(cdata.get("semantic")),
                        precision=_digits(cdata.get("precision"), "precision"),
                        scale=_digits(cdata.get("scale"), "scale"),
                    )
                )
            except (KeyError, ValueError, TypeError) as exc:
                raise SchemaError(
                    f'column \'{tname}.{cname}\' needs a valid "dtype" and "kind": {exc}', table=tname, column=cname
                ) from None
        pk = tdata.get("primary_key") or []
        if isinstance(pk, str):
            pk = [pk]
        time_column = tdata.get("time_column")
        if not _strings(pk) or not (time_column is None or isinstance(time_column, str)):
            raise SchemaError(
                f'table \'{tname}\': "primary_key" must be a list of column names and "time_column" a name or null',
                table=tname,
            )
        keep = tdata.get("keep")
        if keep is not None and not isinstance(keep, bool):
            raise SchemaError(f"table '{tname}': \"keep\" must be true, false or null, not {keep!r}", table=tname)
        tables[tname] = Table(tname, columns, tuple(pk), time_column, keep)
    fks = []
    foreign_keys = data.get("foreign_keys", [])
    if not isinstance(foreign_keys, list):
        raise SchemaError('"foreign_keys" must be a list')
    for i, fdata in enumerate(foreign_keys):
        if not isinstance(fdata, dict):
            raise SchemaError(f"foreign key #{i} must be a JSON object")
        try:
            fk = ForeignKey(
                child=fdata["child"],
                columns=tuple(_as_list(fdata["columns"])),
                parent=fdata["parent"],
                parent_columns=tuple(_as_list(fdata["parent_columns"])),
                name=fdata.get("name", ""),
            )
        except KeyError as exc:
            raise SchemaError(f"foreign key #{i} lacks the field {exc}", table=fdata.get("child")) from None
        except TypeError:
            raise SchemaError(f"foreign key #{i}: columns must be lists of names", table=fdata.get("child")) from None
        if not all(isinstance(v, str) for v in (fk.child, fk.parent, fk.name)) or not (
            _strings(fk.columns) and _strings(fk.parent_columns)
        ):
            raise SchemaError(f"foreign key #{i}: tables, columns and name must be strings")
        fks.append(fk)
    schema = Schema(tables, fks, _relations(data.get("relations", {})))
    schema.check()
    return schema


def _column_dict(col: Column) -> dict[str, Any]:
    out: dict[str, Any] = {"dtype": col.dtype.value, "kind": col.kind.value, "nullable": col.nullable}
    if col.semantic is not None:
        out["semantic"] = col.semantic
    for name in ("precision", "scale"):
        if getattr(col, name) is not None:
            out[name] = getattr(col, name)
    return out


def _digits(value: Any, name: str) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000):
        raise TypeError(f'"{name}" is a number of digits from 0 to 1000')
    return value


def _semantic(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise TypeError('"semantic" is a type name such as "email" or "none"')
    return value


def _relations(data: Any) -> RelationSettings:
    """The optional "relations" object; its rules are checked against the data when fitting."""
    if not isinstance(data, dict):
        raise SchemaError('"relations" must be a JSON object')
    unknown = sorted(set(data) - {"discover", "off", "declared", "near"})
    if unknown:
        raise SchemaError(f'"relations" has unknown field(s) {unknown} (known: discover, off, declared, near)')
    off, declared, near = data.get("off", []), data.get("declared", []), data.get("near", [])
    if not isinstance(data.get("discover", True), bool):
        raise SchemaError('"relations.discover" must be true or false')
    for name, patterns in (("off", off), ("near", near)):
        if not isinstance(patterns, list) or not all(_is_pattern(p) for p in patterns):
            raise SchemaError(f'"relations.{name}" must be a list of objects with "kind", "table" and/or "column"')
    if not isinstance(declared, list) or not all(isinstance(d, dict) for d in declared):
        raise SchemaError('"relations.declared" must be a list of relation objects')
    return RelationSettings(bool(data.get("discover", True)), list(off), list(declared), list(near))


def _is_pattern(value: Any) -> bool:
    return isinstance(value, dict) and set(value) <= {"kind", "table", "column"}


def save_schema(schema: Schema, path: str | Path, replace: bool = False) -> None:
    """Write the schema as dbtwin metadata JSON (atomically); an existing file is replaced only when
    ``replace``."""
    from dbtwin.atomic import atomic_write_text

    atomic_write_text(Path(path), json.dumps(schema_to_dict(schema), indent=2) + "\n", replace=replace)


def load_schema(path: str | Path) -> Schema:
    """Read a metadata JSON file in dbtwin's format or SDV's multi-table format."""
    from dbtwin.jsonfile import read_json
    from dbtwin.schema.sdv import is_sdv_metadata, schema_from_sdv

    data = read_json(path, "metadata file")
    if not isinstance(data, dict):
        raise SchemaError(f"metadata file '{path}' must hold a JSON object")
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


def _strings(values: Any) -> bool:
    return isinstance(values, list | tuple) and all(isinstance(v, str) for v in values)
