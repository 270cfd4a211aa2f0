"""Reading JSON files that users may have edited by hand: a syntax error names the file, the line and
the column instead of ending in a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dbtwin.errors import InvalidFileError


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The parsed content of ``path``; :class:`InvalidFileError` names the file (and where the syntax
    breaks) when it cannot be read or is not valid JSON."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidFileError(f"{what} '{path}' is not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InvalidFileError(f"cannot read {what} '{path}': {exc.strerror or exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidFileError(
            f"{what} '{path}' is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidFileError(f"{what} '{path}' nests too deeply to be read") from None


__all__ = ["read_json"]
