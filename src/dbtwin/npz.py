"""Named arrays in ``.npz`` files whose names may be anything a table or foreign key is called.

An ``.npz`` is a zip archive with one member per array, and a member name holding a NUL character or
``..`` does not survive the archive; names are therefore percent-encoded into plain ASCII on the way
in and decoded on the way out. Never pickles.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote

import numpy as np


def save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` to ``path`` (compressed), their names encoded."""
    np.savez_compressed(path, **{quote(name, safe=""): value for name, value in arrays.items()})


def load_arrays(path: Path) -> dict[str, np.ndarray]:
    """The arrays :func:`save_arrays` wrote, under their original names (no pickles are loaded)."""
    with np.load(path, allow_pickle=False) as data:
        return {unquote(name): data[name] for name in data.files}


__all__ = ["load_arrays", "save_arrays"]
