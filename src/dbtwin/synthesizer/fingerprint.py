"""What a training checkpoint belongs to: a digest of the data, the schema and the parameters.

An interrupted fit is resumed only by a fit of the same rows, schema and hyperparameters (the seed
included); anything else would silently continue someone else's training.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pandas as pd

from dbtwin.database import Database
from dbtwin.schema.metadata_json import schema_to_dict

#: Parameters that change when training stops but not what a step learns: a resumed fit may differ.
RESUMABLE_CHANGES = ("max_minutes", "progress", "device")


def fit_fingerprint(db: Database, params: dict[str, Any]) -> str:
    """A hex digest of ``db`` (every value, in order), its schema and ``params``."""
    digest = hashlib.sha256()
    kept = {k: v for k, v in params.items() if k not in RESUMABLE_CHANGES}
    digest.update(json.dumps({"schema": schema_to_dict(db.schema), "params": kept}, sort_keys=True).encode())
    for name in db.schema.table_names:
        frame = db[name]
        digest.update(f"{name}\x00{len(frame)}\x00".encode("utf-8", "surrogatepass"))
        if len(frame.columns) and len(frame):
            try:
                hashed = pd.util.hash_pandas_object(frame, index=False)
            except TypeError:  # values pandas cannot hash as they are: hash their text
                hashed = pd.util.hash_pandas_object(frame.astype(str), index=False)
            digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


__all__ = ["RESUMABLE_CHANGES", "fit_fingerprint"]
