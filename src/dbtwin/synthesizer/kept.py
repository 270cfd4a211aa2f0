"""Which tables a twin keeps as they are, and why.

A kept table's real rows are in every sample at every scale, keys and values byte for byte; they enter
the denoiser clean (never noised, in training or sampling) and the generated rows link to them. A table
is kept when the user asks (``keep``, or ``"keep": true`` on the table in the metadata), when it is a
lookup table (:func:`lookup_tables`, unless ``keep_lookups`` is off or the metadata says
``"keep": false``), or when it is the parent of a kept table: a kept row's references must resolve to
the same rows.
"""

from __future__ import annotations

from dbtwin.config import StructureConfig
from dbtwin.database import Database
from dbtwin.errors import OptionError
from dbtwin.schema.model import ColumnKind
from dbtwin.synthesizer.keys import structural_columns

#: A lookup table has at most this many rows ...
LOOKUP_ROWS = 100
#: ... and the rows of one child table that reference it are at least this many times as many.
LOOKUP_REFERENCES = 10


def lookup_tables(db: Database) -> dict[str, str]:
    """Tables a user would call lookup tables, each with the reason: referenced and without foreign keys
    of their own, and either a list of distinct values (every attribute a category, no value twice: the
    genres, the airlines) or small and much referenced (a 9-row status table behind 19,537 orders)."""
    schema, out = db.schema, {}
    for name, table in schema.tables.items():
        references = schema.foreign_keys_to(name)
        if schema.foreign_keys_of(name) or not references:
            continue
        attrs = [c for c in table.columns if c.name not in structural_columns(schema, name)]
        frame, rows = db[name], db.num_rows(name)
        if attrs and all(
            c.kind == ColumnKind.CATEGORICAL and frame[c.name].notna().all() and frame[c.name].is_unique for c in attrs
        ):
            out[name] = "a list of distinct values: every attribute a category, no value twice"
            continue
        child, children = max(((fk.child, db.num_rows(fk.child)) for fk in references), key=lambda c: c[1])
        if 0 < rows <= LOOKUP_ROWS and children >= LOOKUP_REFERENCES * rows:
            out[name] = f"a lookup table: {rows:,} rows, referenced by {children:,} rows of '{child}'"
    return out


def kept_tables(db: Database, settings: StructureConfig) -> dict[str, str]:
    """The tables ``db``'s twins keep, in schema order, each with the reason; a name in
    ``settings.keep`` that is no table of ``db`` raises :class:`OptionError` naming it."""
    schema = db.schema
    unknown = [t for t in settings.keep if t not in schema.tables]
    if unknown:
        raise OptionError(
            "keep", f"table '{unknown[0]}' is not in the database (its tables: {', '.join(schema.table_names)})"
        )
    why = {t: "asked for" for t in settings.keep}
    for name, table in schema.tables.items():
        if table.keep and name not in why:
            why[name] = 'marked "keep": true in the metadata'
    if settings.keep_lookups:
        for name, reason in lookup_tables(db).items():
            if schema.table(name).keep is not False:
                why.setdefault(name, reason)
    for table, fk in schema.with_parents(why).items():  # a kept row's parents come along
        if fk is not None:
            why[table] = f"parent of kept table '{fk.child}' through {fk}"
    return {t: why[t] for t in schema.table_names if t in why}


__all__ = ["LOOKUP_REFERENCES", "LOOKUP_ROWS", "kept_tables", "lookup_tables"]
