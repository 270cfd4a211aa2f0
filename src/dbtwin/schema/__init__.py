"""Schema model, metadata formats, detection and validation."""

from dbtwin.schema.detect import Detection, detect_schema, infer_kind, infer_storage
from dbtwin.schema.metadata_json import load_schema, save_schema, schema_from_dict, schema_to_dict
from dbtwin.schema.model import Column, ColumnKind, ForeignKey, Schema, StorageType, Table
from dbtwin.schema.sdv import schema_from_sdv, schema_to_sdv

__all__ = [
    "Column",
    "ColumnKind",
    "Detection",
    "ForeignKey",
    "Schema",
    "StorageType",
    "Table",
    "detect_schema",
    "infer_kind",
    "infer_storage",
    "load_schema",
    "save_schema",
    "schema_from_dict",
    "schema_from_sdv",
    "schema_to_dict",
    "schema_to_sdv",
]
