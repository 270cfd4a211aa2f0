"""What a training checkpoint belongs to: a digest of the data, the schema and the parameters.

An interrupted fit is resumed only by a fit of the same rows, schema and hyperparameters (the seed
included); anything else would silently continue someone else's training.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd

from dbtwin.config import SynthesizerConfig
from dbtwin.database import Database
from dbtwin.schema.metadata_json import schema_to_dict

#: Options that change when training stops or where it runs, not what a step learns: a resumed fit
#: may differ in them.
RESUMABLE_CHANGES = ("max_minutes", "device", "prefetch", "device_batches")


def fit_fingerprint(db: Database, config: SynthesizerConfig) -> str:
    """A hex digest of ``db`` (every value, in order), its schema and ``config``'s options."""
    digest = hashlib.sha256()
    options = config.fingerprint(ignore=RESUMABLE_CHANGES)
    digest.update(json.dumps({"schema": schema_to_dict(db.schema), "options": options}, sort_keys=True).encode())
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
