"""The values of each protected column seen fewer than ``text_min_count`` times, kept as keyed hashes
so that no sample shows one (a generated name or a placeholder that happens to equal a rare real
value is drawn again) without the model file listing them.

The hashes are keyed BLAKE2b (8 bytes) under a random key saved beside them: whoever holds the model
directory can test a guessed value against them, as they can ask the model for its categories, so a
model directory is shared no more widely than the data it was fitted on.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dbtwin.encode.columns import _json_value
from dbtwin.schema.model import ColumnKind, Schema, StorageType


def value_key(value: Any) -> str:
    """One text per value that JSON round trips and pandas dtypes keep equal (1, 1.0 and np.int64(1))."""
    value = _json_value(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, str) else json.dumps(value)


@dataclass
class RareValues:
    """Per (table, column): sorted uint64 hashes of its rare real values."""

    key: str = field(default_factory=lambda: secrets.token_hex(16))
    hashes: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)

    def _hash(self, values: Iterable[Any]) -> np.ndarray:
        keyed = hashlib.blake2b(digest_size=8, key=bytes.fromhex(self.key))  # copied: keyed once, not per value
        digests = []
        for v in values:
            one = keyed.copy()
            one.update(value_key(v).encode())
            digests.append(one.digest())
        return np.frombuffer(b"".join(digests), dtype="<u8").astype(np.uint64)

    def add(self, table: str, column: str, values: Iterable[Any]) -> None:
        self.hashes[(table, column)] = np.unique(self._hash(values))

    def contains(self, table: str, column: str, values: list[Any]) -> np.ndarray:
        """Whether each value is a rare real value of ``table.column`` (False for None)."""
        known = self.hashes.get((table, column))
        out = np.zeros(len(values), dtype=bool)
        present = [i for i, v in enumerate(values) if _json_value(v) is not None]
        if known is None or not len(known) or not present:
            return out
        hashed = self._hash(values[i] for i in present)
        out[present] = np.isin(hashed, known)
        return out

    def to_arrays(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON config (the key and which array is which column) and the hash arrays."""
        names = sorted(self.hashes)
        config = {"key": self.key, "columns": [list(n) for n in names]}
        return config, {f"rare/{i}": self.hashes[n] for i, n in enumerate(names)}

    @classmethod
    def from_arrays(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> RareValues:
        columns = [tuple(c) for c in config["columns"]]
        hashes = {(t, c): np.asarray(arrays[f"rare/{i}"], dtype=np.uint64) for i, (t, c) in enumerate(columns)}
        return cls(str(config["key"]), hashes)


def is_protected(kind: ColumnKind, dtype: StorageType, rare_categories: bool = True) -> bool:
    """Whether a column of this kind and storage shows only values seen ``text_min_count`` times."""
    if kind == ColumnKind.TEXT or (kind == ColumnKind.ID and dtype == StorageType.STRING):
        return True
    return rare_categories and kind == ColumnKind.CATEGORICAL


@dataclass(frozen=True)
class Protection:
    """Which values a twin may show: none seen fewer than ``min_count`` times in a protected column
    (:func:`is_protected`) outside the ``exempt`` tables (those copied whole by design)."""

    min_count: int = 3
    rare_categories: bool = True
    exempt: tuple[str, ...] = ()

    def covers(self, schema: Schema, table: str, column: str) -> bool:
        if table in self.exempt or column in schema.key_columns(table):
            return False
        col = schema.table(table).column(column)
        return is_protected(col.kind, col.dtype, self.rare_categories)
