"""Import and export of SDV's multi-table metadata JSON, so SDV users can bring their metadata.

SDV describes a column by its ``sdtype`` and has no composite keys; dbtwin's storage types are taken
from the data where it is given (see :func:`dbtwin.schema.detect.infer_storage`).
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from dbtwin.errors import SchemaError
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

log = logging.getLogger(__name__)

_SDTYPE_KIND = {
    "id": ColumnKind.ID,
    "numerical": ColumnKind.FLOAT,
    "categorical": ColumnKind.CATEGORICAL,
    "boolean": ColumnKind.BOOLEAN,
    "datetime": ColumnKind.DATETIME,
}

#: SDV's PII sdtypes (Faker method names) and the semantic types they stand for; the first name of
#: each type is the one written on export.
_SDTYPE_SEMANTIC = {
    "first_name": "first_name",
    "last_name": "last_name",
    "name": "full_name",
    "email": "email",
    "phone_number": "phone",
    "street_address": "street_address",
    "address": "street_address",
    "city": "city",
    "administrative_unit": "state",
    "state": "state",
    "state_abbr": "state",
    "postcode": "postal_code",
    "zipcode": "postal_code",
    "country": "country",
    "country_code": "country",
    "company": "company",
    "url": "url",
    "ipv4_address": "ip_address",
    "ipv6_address": "ip_address",
    "iban": "iban",
    "credit_card_number": "card_number",
    "text": "free_text",
}
_SEMANTIC_SDTYPE = {sem: sd for sd, sem in reversed(list(_SDTYPE_SEMANTIC.items()))}


def is_sdv_metadata(data: dict[str, Any]) -> bool:
    """Whether a parsed JSON document looks like SDV multi-table metadata."""
    return "METADATA_SPEC_VERSION" in data or ("relationships" in data and "tables" in data)


def schema_from_sdv(data: dict[str, Any], tables: dict[str, pd.DataFrame] | None = None) -> Schema:
    """Build a :class:`Schema` from SDV multi-table metadata (and, optionally, the data it describes)."""
    from dbtwin.schema.detect import infer_storage

    if not isinstance(data.get("tables"), dict):
        raise SchemaError('SDV metadata needs a "tables" object')
    result: dict[str, Table] = {}
    for tname, tdata in data["tables"].items():
        columns = []
        for cname, cdata in (tdata.get("columns") or {}).items():
            sdtype = cdata.get("sdtype", "unknown")
            kind = _SDTYPE_KIND.get(sdtype, ColumnKind.TEXT)
            if sdtype == "numerical":
                rep = str(cdata.get("computer_representation", "Float"))
                kind = ColumnKind.INTEGER if "int" in rep.lower() else ColumnKind.FLOAT
            frame = (tables or {}).get(tname)
            if frame is not None and cname in frame.columns:
                dtype = infer_storage(frame[cname], table=tname)
            else:
                dtype = _default_storage(kind, cdata)
            if kind == ColumnKind.ID and dtype == StorageType.FLOAT64:
                dtype = StorageType.INT64
            semantic = _SDTYPE_SEMANTIC.get(sdtype) if dtype == StorageType.STRING else None
            columns.append(Column(cname, dtype, _compatible_kind(kind, dtype), semantic=semantic))
        pk = tdata.get("primary_key")
        pk_cols = tuple([pk] if isinstance(pk, str) else (pk or []))
        for col in columns:
            if col.name in pk_cols:
                col.nullable = False
        result[tname] = Table(tname, columns, pk_cols)
    fks = []
    for rel in data.get("relationships", []):
        try:
            child_cols = rel["child_foreign_key"]
            parent_cols = rel["parent_primary_key"]
            fks.append(
                ForeignKey(
                    child=rel["child_table_name"],
                    columns=tuple([child_cols] if isinstance(child_cols, str) else child_cols),
                    parent=rel["parent_table_name"],
                    parent_columns=tuple([parent_cols] if isinstance(parent_cols, str) else parent_cols),
                )
            )
        except KeyError as exc:
            raise SchemaError(f"SDV relationship {rel} lacks the field {exc}") from None
    schema = Schema(result, fks)
    schema.check()
    return schema


def schema_to_sdv(schema: Schema, drop_unsupported: bool = False) -> tuple[dict[str, Any], list[str]]:
    """SDV multi-table metadata (``METADATA_SPEC_VERSION`` ``V1``) for ``schema``.

    SDV has no composite keys. With ``drop_unsupported=False`` a composite key raises
    :class:`SchemaError`; with ``True`` it is left out and the returned notes say what was dropped.
    """
    notes: list[str] = []
    tables: dict[str, Any] = {}
    for t in schema.tables.values():
        entry: dict[str, Any] = {"columns": {c.name: _sdv_column(c) for c in t.columns}}
        if len(t.primary_key) == 1:
            entry["primary_key"] = t.primary_key[0]
        elif len(t.primary_key) > 1:
            msg = f"table '{t.name}' has a composite primary key ({', '.join(t.primary_key)}), which SDV cannot express"
            if not drop_unsupported:
                raise SchemaError(msg, table=t.name, column=t.primary_key[0])
            notes.append(msg + "; left out")
        for key_col in schema.key_columns(t.name):
            entry["columns"][key_col] = {"sdtype": "id"}
        tables[t.name] = entry
    relationships = []
    for fk in schema.foreign_keys:
        if len(fk.columns) != 1:
            msg = f"foreign key {fk} is composite, which SDV cannot express"
            if not drop_unsupported:
                raise SchemaError(msg, table=fk.child, column=fk.columns[0])
            notes.append(msg + "; left out")
            continue
        if len(schema.table(fk.parent).primary_key) != 1:
            continue
        relationships.append(
            {
                "parent_table_name": fk.parent,
                "parent_primary_key": fk.parent_columns[0],
                "child_table_name": fk.child,
                "child_foreign_key": fk.columns[0],
            }
        )
    for msg in notes:
        log.warning(msg)
    return {"METADATA_SPEC_VERSION": "V1", "tables": tables, "relationships": relationships}, notes


def _sdv_column(col: Column) -> dict[str, Any]:
    if col.semantic in _SEMANTIC_SDTYPE and col.semantic != "free_text":
        return {"sdtype": _SEMANTIC_SDTYPE[col.semantic], "pii": True}
    if col.kind == ColumnKind.INTEGER:
        return {"sdtype": "numerical", "computer_representation": "Int64"}
    if col.kind == ColumnKind.FLOAT:
        return {"sdtype": "numerical", "computer_representation": "Float"}
    if col.kind == ColumnKind.CATEGORICAL:
        return {"sdtype": "categorical"}
    if col.kind == ColumnKind.BOOLEAN:
        return {"sdtype": "boolean"}
    if col.kind == ColumnKind.DATETIME:
        return {"sdtype": "datetime", "datetime_format": "%Y-%m-%d %H:%M:%S"}
    if col.kind == ColumnKind.ID:
        return {"sdtype": "id"}
    return {"sdtype": "unknown", "pii": True}


def _default_storage(kind: ColumnKind, cdata: dict[str, Any]) -> StorageType:
    if kind == ColumnKind.INTEGER:
        return StorageType.INT64
    if kind == ColumnKind.FLOAT:
        return StorageType.FLOAT64
    if kind == ColumnKind.BOOLEAN:
        return StorageType.BOOL
    if kind == ColumnKind.DATETIME:
        return StorageType.DATETIME
    if kind == ColumnKind.ID and "regex_format" not in cdata:
        return StorageType.INT64
    return StorageType.STRING


def _compatible_kind(kind: ColumnKind, dtype: StorageType) -> ColumnKind:
    """SDV's sdtype and the data's storage can disagree (a categorical stored as integers is fine,
    'numerical' stored as strings is not representable): fall back to a kind the storage allows."""
    from dbtwin.schema.model import ALLOWED_KINDS

    if kind in ALLOWED_KINDS[dtype]:
        return kind
    return {
        StorageType.INT64: ColumnKind.INTEGER,
        StorageType.FLOAT64: ColumnKind.FLOAT,
        StorageType.STRING: ColumnKind.CATEGORICAL,
        StorageType.BOOL: ColumnKind.BOOLEAN,
        StorageType.DATETIME: ColumnKind.DATETIME,
    }[dtype]
