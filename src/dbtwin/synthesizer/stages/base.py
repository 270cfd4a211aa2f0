"""What every stage of the synthesizer shares: the database prepared once, the stage protocol, the
stages fitted so far, and the reading of a stage's fields from a model file.

A stage learns one part of the model from the prepared database (``fit``), saves it under its own
fields of ``config.json`` and its own array files (``save``), and reads them back (``load``). The
:class:`~dbtwin.synthesizer.Synthesizer` runs them in order and passes each the stages before it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

from dbtwin.config import StructureConfig, SynthesizerConfig
from dbtwin.database import Database
from dbtwin.errors import DataValidationError, DbtwinError, InvalidFileError
from dbtwin.schema.model import Schema
from dbtwin.synthesizer.kept import kept_tables
from dbtwin.validate import find_problems, resolve_orphans

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prepared:
    """The database as fitted, prepared once: the metadata applied, orphans resolved, validated; and
    the tables its twins keep as they are, each with the reason (:mod:`dbtwin.synthesizer.kept`)."""

    db: Database
    kept: dict[str, str] = field(default_factory=dict)

    @property
    def schema(self) -> Schema:
        return self.db.schema

    @property
    def fixed_tables(self) -> tuple[str, ...]:
        """The kept tables, in schema order: their rows enter every sample as they are."""
        return tuple(self.kept)

    @property
    def modelled_rows(self) -> int:
        """Rows of the tables the model generates (all but the kept tables)."""
        return sum(self.db.num_rows(t) for t in self.schema.table_names if t not in self.kept)


def prepare(db: Database, metadata: Schema | None, orphans: str, structure: StructureConfig | None = None) -> Prepared:
    """``db`` prepared for fitting (see :class:`Prepared`), its kept tables chosen as ``structure`` says
    (by default: its lookup tables); invalid data raise :class:`DataValidationError`, a kept table that
    is not in ``db`` :class:`OptionError`."""
    if metadata is not None:
        db = Database.from_frames(db.tables, metadata)
    db = db.keep_positions()  # every foreign key resolved once from here on (the caller's db untouched)
    if orphans != "keep":
        resolved, report = resolve_orphans(db, orphans)  # type: ignore[arg-type]
        for action in report.actions:
            log.warning("orphans: %s", action)
        db = db if resolved is db else resolved.keep_positions()  # rows dropped or keys set NULL: anew
    errors = [p for p in find_problems(db) if p.severity == "error"]
    if errors:
        raise DataValidationError(errors)
    kept = kept_tables(db, structure or StructureConfig())
    for table, reason in kept.items():
        log.info("table '%s' kept as it is: %s", table, reason)
    return Prepared(db, kept)


@dataclass
class Stages:
    """The stages of one synthesizer, in the order they are fitted (None until fitted or loaded)."""

    # typed loosely: each stage's module imports this one (RelationsStage, EncodersStage, ...)
    kept: Any = None
    relations: Any = None
    encoders: Any = None
    values: Any = None
    keys: Any = None
    structure: Any = None
    features: Any = None
    #: the schema the stages were fitted on and the tables copied whole
    schema: Schema | None = None
    fixed_tables: list[str] = field(default_factory=list)

    def fitted(self) -> Iterator[Stage]:
        for name in ORDER:
            stage = getattr(self, name)
            if stage is not None:
                yield stage


#: The stages' attribute names in :class:`Stages`, in the order they are fitted and saved.
ORDER = ("kept", "relations", "encoders", "values", "keys", "structure", "features")


class Stage(Protocol):
    """One part of the model: fitted on the prepared database, saved under its own fields."""

    #: its attribute in :class:`Stages`
    name: ClassVar[str]

    def fit(self, prepared: Prepared, config: SynthesizerConfig, stages: Stages) -> Stage: ...

    def save(self, directory: Path) -> dict[str, Any]:
        """Write the stage's arrays into ``directory``; its fields of ``config.json``."""
        ...

    @classmethod
    def load(cls, directory: Path, fields: dict[str, Any], stages: Stages) -> Stage:
        """The stage saved in ``directory`` with ``fields`` (the whole ``config.json``)."""
        ...


@contextmanager
def reading(file: Path, name: str) -> Iterator[None]:
    """Errors raised while reading field ``name`` of ``file`` become one :class:`InvalidFileError`."""
    try:
        yield
    except InvalidFileError:
        raise
    except DbtwinError as exc:
        raise InvalidFileError(f"{file}: field '{name}' is not valid: {exc}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError, OSError) as exc:
        detail = f"missing {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {short(exc)}"
        raise InvalidFileError(f"{file}: field '{name}' is missing or malformed ({detail})") from None


def short(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] + ("..." if len(text) > 200 else "")


def same_tables(file: Path, name: str, found: set[str], tables: list[str]) -> None:
    """Refuse a field that does not hold exactly the schema's tables."""
    if found != set(tables):
        odd = sorted(found ^ set(tables))
        raise InvalidFileError(f"{file}: field '{name}' does not cover the schema's tables (differs in {odd[:3]})")


def mapping(fields: dict[str, Any], key: str) -> dict[str, Any]:
    value = fields[key]
    if not isinstance(value, dict):
        raise TypeError(f"'{key}' must be a JSON object")
    return value


CONFIG_FILE = "config.json"
