"""Believable values for the rare ones: which columns a sample must fill in, and how.

Every text column, and every categorical one unless rare categories are kept, shows only values seen
at least ``text_min_count`` times in the real data; the model draws the rest as "another value"
(:class:`~dbtwin.encode.columns.CategoricalEncoder`). When sampling, :meth:`ValuePlan.apply` fills
those rows by the column's semantic type:

* personal types (names, e-mails, addresses, phones, ...) from Faker in the locale of the row's
  country column, consistent within the row (e-mail from the name; a state or postal code that
  depends on the city is drawn again with a new city);
* free text from the column's own :class:`~dbtwin.semantic.text_model.TextModel`;
* codes as placeholders of the real values' shapes; plain categories as a frequent category.

A filled value is never a rare real value (:class:`~dbtwin.encode.rare.RareValues`), nor one of
the frequent categories (which would shift their shares), and is unique where the real column is.
Tables copied whole by design (dimension tables) are exempt.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from dbtwin.database import Database
from dbtwin.encode.columns import _fill_shape, _json_value, text_counts
from dbtwin.encode.rare import Protection, RareValues, value_key
from dbtwin.schema.dtypes import to_storage
from dbtwin.schema.model import Schema, StorageType
from dbtwin.semantic.column_plan import ColumnPlan, column_plan, column_with, fill_type, learn_writing, presence
from dbtwin.semantic.detect import PERSONAL, SemanticType, detect_type
from dbtwin.semantic.fake import DEFAULT_LOCALE, emails, fake_values, fill_phone
from dbtwin.semantic.locales import locale_of

#: The order columns of a row are filled in: the country (it sets the locale) first, what depends on
#: a city after the city, e-mails after the names they are built from.
FILL_ORDER = [
    SemanticType.COUNTRY,
    SemanticType.CITY,
    SemanticType.STATE,
    SemanticType.POSTAL_CODE,
    SemanticType.STREET_ADDRESS,
    SemanticType.PHONE,
    SemanticType.FIRST_NAME,
    SemanticType.LAST_NAME,
    SemanticType.FULL_NAME,
    SemanticType.COMPANY,
    SemanticType.EMAIL,
    SemanticType.URL,
    SemanticType.IP_ADDRESS,
    SemanticType.IBAN,
    SemanticType.CARD_NUMBER,
    SemanticType.FREE_TEXT,
    SemanticType.CODE,
    SemanticType.NONE,
]
_ROUNDS = 12  # draws of a value that came out forbidden before it is spelled from the shapes
_SHAPED_ROUNDS = 12  # draws from the shapes before a value still forbidden is numbered (one letter: 1/26 each)


@dataclass
class ValuePlan:
    """Every protected column's plan, the semantic types of all string columns, the exempt tables."""

    types: dict[str, dict[str, SemanticType]]
    columns: list[ColumnPlan]
    exempt: list[str]
    rare: RareValues
    default_locale: str = DEFAULT_LOCALE
    min_count: int = 3

    # --------------------------------------------------------------------------------------- fit
    @classmethod
    def fit(
        cls,
        db: Database,
        protection: Protection,
        follows: dict[tuple[str, str], str] | None = None,
        skip: set[tuple[str, str]] | None = None,
    ) -> ValuePlan:
        """Plans for the columns of ``db`` that ``protection`` covers; ``follows`` maps a column to the
        column it depends on (a dependency rule); ``skip`` columns are filled otherwise (copies)."""
        exempt, min_count = list(protection.exempt), protection.min_count
        determinants: dict[str, set[str]] = {}
        for (table, _), column in (follows or {}).items():
            determinants.setdefault(table, set()).add(column)
        types = semantic_types(db.schema, db, exempt)
        rare = RareValues()
        plans = []
        for table, columns in protected_columns(db.schema, protection).items():
            for name in columns:
                if (table, name) in (skip or set()):
                    continue
                series = db[table][name]
                counts, originals = _counts_and_originals(series)
                if all(c >= min_count for c in counts.values()) or not has_frequent_or_text(series, counts, min_count):
                    continue
                semantic = fill_type(
                    db.schema.table(table).column(name).kind,
                    types.get(table, {}).get(name, SemanticType.NONE),
                    any(c >= min_count for c in counts.values()),
                )
                plans.append(column_plan(table, name, semantic, series, counts, originals, min_count))
                learn_writing(plans[-1], db[table], types.get(table, {}), min_count)
                plans[-1].follows = (follows or {}).get((table, name))
                # a determinant's new values stay distinct, so that what depends on it cannot disagree
                plans[-1].unique |= name in determinants.get(table, set())
                country = column_with(types.get(table, {}), SemanticType.COUNTRY)
                if plans[-1].follows and country and country != name:
                    plans[-1].presence = presence(db[table], name, country, min_count)
                rare.add(table, name, [originals[k] for k, c in counts.items() if c < min_count])
        order = {s: i for i, s in enumerate(FILL_ORDER)}
        # by what the column holds (a country replaced by a frequent one still goes first: its row's
        # other values take their locale from it)
        plans.sort(key=lambda p: (p.table, order[types.get(p.table, {}).get(p.column, p.semantic)]))
        return cls(types, plans, sorted(exempt), rare, _default_locale(db, types), min_count)

    # ------------------------------------------------------------------------------------- apply
    def apply(self, db: Database, rng: np.random.Generator, skip: Collection[str] = ()) -> dict[str, int]:
        """Fill in ``db`` (in place) every value outside its column's frequent ones, but in the tables
        ``skip`` names (rows given as they are); returns how many values each ``table.column`` had filled."""
        filled: dict[str, int] = {}
        by_table: dict[str, list[ColumnPlan]] = {}
        for plan in self.columns:
            by_table.setdefault(plan.table, []).append(plan)
        for table, plans in by_table.items():
            if table not in db.tables or table in skip or not len(db[table]):
                continue
            frame = db[table]
            redrawn: dict[str, np.ndarray] = {}
            for plan in plans:
                values = frame[plan.column].to_numpy(dtype=object)
                present = pd.notna(frame[plan.column]).to_numpy()
                frequent = {value_key(v) for v in plan.frequent}
                need = present & np.array(
                    [value_key(v) not in frequent if p else False for v, p in zip(values, present, strict=True)]
                )
                if plan.follows in redrawn:
                    again = redrawn[plan.follows]
                    present = self._present(plan, frame, present, again, rng)
                    need = present & (need | again)
                    values[again & ~present] = None
                rows = np.flatnonzero(need)
                if len(rows):
                    values[rows] = self._draw(plan, frame, rows, frequent, rng)
                    dtype = db.schema.table(table).column(plan.column).dtype
                    frame[plan.column] = to_storage(pd.Series(values, index=frame.index), dtype).array
                redrawn[plan.column] = need
                filled[f"{table}.{plan.column}"] = len(rows)
        return filled

    def _draw(
        self, plan: ColumnPlan, frame: pd.DataFrame, rows: np.ndarray, frequent: set[str], rng: np.random.Generator
    ) -> np.ndarray:
        out = np.empty(len(rows), dtype=object)
        todo = np.arange(len(rows))
        kept = {value_key(v) for v in frame[plan.column].dropna()} if plan.unique else set()
        for round_ in range(_ROUNDS + _SHAPED_ROUNDS):
            if round_ >= _ROUNDS:
                drawn = self._shaped(plan, len(todo), rng)
            else:
                drawn = self._values(plan, frame, rows[todo], rng, round_)
            out[todo] = drawn
            keys = [value_key(v) for v in drawn]
            bad = self.rare.contains(plan.table, plan.column, list(drawn))
            if plan.semantic != SemanticType.NONE:
                bad |= np.array([k in frequent for k in keys], dtype=bool)
            if plan.unique:
                seen = set(kept)
                for i, k in enumerate(keys):
                    bad[i] |= k in seen
                    seen.add(k)
                kept |= {k for k, b in zip(keys, bad, strict=True) if not b}
            todo = todo[bad]
            if not len(todo):
                break
        for i in todo:  # still forbidden after every round (a one-letter shape): numbered until it is not
            base, n = str(out[i]), 1
            while self._forbidden(plan, f"{base}{n}", frequent, kept):
                n += 1
            out[i] = f"{base}{n}"
            kept.add(value_key(out[i]))
        return out

    def _forbidden(self, plan: ColumnPlan, value: str, frequent: set[str], kept: set[str]) -> bool:
        key = value_key(value)
        return bool(self.rare.contains(plan.table, plan.column, [value])[0]) or key in frequent or key in kept

    def _values(
        self, plan: ColumnPlan, frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator, round_: int
    ) -> list[Any]:
        semantic = plan.semantic
        if semantic == SemanticType.NONE:
            if not plan.frequent:
                return self._shaped(plan, len(rows), rng)
            p = np.asarray(plan.weights, dtype=np.float64)
            return [plan.frequent[i] for i in rng.choice(len(p), size=len(rows), p=p / p.sum())]
        if semantic == SemanticType.CODE:
            if plan.text is not None and round_ < _ROUNDS // 2:  # spelled like the real codes
                return plan.text.sample(len(rows), rng, novel=True)
            return self._shaped(plan, len(rows), rng)
        if semantic == SemanticType.FREE_TEXT and plan.text is not None:
            return plan.text.sample(len(rows), rng, novel=round_ >= 3)
        if semantic in (SemanticType.FIRST_NAME, SemanticType.LAST_NAME) and len(plan.words) > 1:
            return self._several_names(plan, frame, rows, rng)
        if semantic == SemanticType.EMAIL and plan.email is not None:
            return emails(self._names(plan.table, frame, rows), self._locales(plan.table, frame, rows), plan.email, rng)
        if semantic == SemanticType.PHONE and plan.phone_shapes:
            return self._phones(plan, frame, rows, rng)
        if semantic == SemanticType.FULL_NAME and round_ == 0:
            names = self._names(plan.table, frame, rows)
            if all(n is not None for n in names):
                return [f"{a} {b}" for a, b in names]
        if semantic in PERSONAL:
            return fake_values(semantic, self._locales(plan.table, frame, rows), rng, short=plan.short)
        return self._shaped(plan, len(rows), rng)

    def _several_names(
        self, plan: ColumnPlan, frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator
    ) -> list[str]:
        """Names of as many words as the real column's values have (given names and middle names)."""
        counts = [int(k) for k in plan.words]
        p = np.array(list(plan.words.values()), dtype=np.float64)
        picks = np.array(counts)[rng.choice(len(counts), size=len(rows), p=p / p.sum())]
        locales = self._locales(plan.table, frame, rows)
        parts = [fake_values(plan.semantic, locales, rng) for _ in range(max(picks))]
        return [" ".join(parts[j][i] for j in range(k)) for i, k in enumerate(picks)]

    def _phones(self, plan: ColumnPlan, frame: pd.DataFrame, rows: np.ndarray, rng: np.random.Generator) -> list[str]:
        """Phones in the shapes real phones of each row's country have (any country's where it has none)."""
        country = self._column_of(plan.table, SemanticType.COUNTRY)
        keys = [value_key(v) for v in frame[country].to_numpy(dtype=object)[rows]] if country else [""] * len(rows)
        out = []
        for key in keys:
            shapes, weights = plan.phone_shapes.get(key, plan.phone_shapes[""])
            p = np.asarray(weights, dtype=np.float64)
            out.append(fill_phone(shapes[int(rng.choice(len(p), p=p / p.sum()))], rng))
        return out

    def _present(
        self, plan: ColumnPlan, frame: pd.DataFrame, present: np.ndarray, again: np.ndarray, rng: np.random.Generator
    ) -> np.ndarray:
        """Which rows drawn again hold a value: as often as rows of their country do in the real data."""
        country = self._column_of(plan.table, SemanticType.COUNTRY)
        if not plan.presence or country is None:
            return present
        overall = plan.presence.get("", float(present.mean()))
        shares = np.array([plan.presence.get(value_key(v), overall) for v in frame[country].to_numpy(dtype=object)])
        return np.where(again, rng.random(len(shares)) < shares, present)

    def _shaped(self, plan: ColumnPlan, n: int, rng: np.random.Generator) -> list[str]:
        if not plan.shapes:
            return [_fill_shape("Aaaaaa", rng) for _ in range(n)]
        p = np.asarray(plan.shape_weights, dtype=np.float64)
        return [_fill_shape(plan.shapes[i], rng) for i in rng.choice(len(p), size=n, p=p / p.sum())]

    def _column_of(self, table: str, semantic: SemanticType) -> str | None:
        return column_with(self.types.get(table, {}), semantic)

    def _locales(self, table: str, frame: pd.DataFrame, rows: np.ndarray) -> list[str]:
        country = self._column_of(table, SemanticType.COUNTRY)
        if country is None:
            return [self.default_locale] * len(rows)
        values = frame[country].to_numpy(dtype=object)[rows]
        return [locale_of(v) or self.default_locale for v in values]

    def _names(self, table: str, frame: pd.DataFrame, rows: np.ndarray) -> list[tuple[str, str] | None]:
        """Each row's (first, last) name, from its name columns (a full name split at its last space)."""
        first = self._column_of(table, SemanticType.FIRST_NAME)
        last = self._column_of(table, SemanticType.LAST_NAME)
        full = self._column_of(table, SemanticType.FULL_NAME)
        if first and last:
            pairs = zip(
                frame[first].to_numpy(dtype=object)[rows], frame[last].to_numpy(dtype=object)[rows], strict=True
            )
            return [(str(a), str(b)) if pd.notna(a) and pd.notna(b) else None for a, b in pairs]
        if full:
            out: list[tuple[str, str] | None] = []
            for value in frame[full].to_numpy(dtype=object)[rows]:
                parts = str(value).rsplit(" ", 1) if pd.notna(value) else []
                out.append((parts[0], parts[1]) if len(parts) == 2 else None)
            return out
        return [None] * len(rows)

    # -------------------------------------------------------------------------------- persistence
    def to_dict(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON config and the rare values' hash arrays."""
        rare, arrays = self.rare.to_arrays()
        config = {
            "types": {t: {c: s.value for c, s in cols.items()} for t, cols in self.types.items()},
            "columns": [p.to_dict() for p in self.columns],
            "exempt": self.exempt,
            "rare": rare,
            "default_locale": self.default_locale,
            "min_count": self.min_count,
        }
        return config, arrays

    @classmethod
    def from_dict(cls, config: dict[str, Any], arrays: dict[str, np.ndarray]) -> ValuePlan:
        return cls(
            {t: {c: SemanticType(s) for c, s in cols.items()} for t, cols in config["types"].items()},
            [ColumnPlan.from_dict(p) for p in config["columns"]],
            list(config["exempt"]),
            RareValues.from_arrays(config["rare"], arrays),
            str(config["default_locale"]),
            int(config["min_count"]),
        )


def protected_columns(schema: Schema, protection: Protection) -> dict[str, list[str]]:
    """Per table: the columns that ``protection`` covers (no rare real value shown)."""
    out: dict[str, list[str]] = {}
    for name, table in schema.tables.items():
        cols = [c.name for c in table.columns if protection.covers(schema, name, c.name)]
        if cols:
            out[name] = cols
    return out


def dependents(rules: list) -> dict[tuple[str, str], str]:
    """Each column a dependency derives from another column of its own row -> that column."""
    from dbtwin.relations.rules import Dependency

    return {
        (r.table, r.column): r.determinant.column for r in rules if isinstance(r, Dependency) and not r.determinant.path
    }


def copied(rules: list) -> set[tuple[str, str]]:
    """Columns copied from another table's row: they take that row's filled-in values."""
    from dbtwin.relations.rules import Copy

    return {(r.table, r.column) for r in rules if isinstance(r, Copy)}


def has_frequent_or_text(series: pd.Series, counts: Counter, min_count: int) -> bool:
    """Whether rare values of a column can be replaced: it holds text (a placeholder or a generated
    value can stand in) or some value seen ``min_count`` times (a frequent category can)."""
    return series.dtype == object or any(c >= min_count for c in counts.values())


def semantic_types(schema: Schema, db: Database | None, exempt: list[str] = ()) -> dict[str, dict[str, SemanticType]]:
    """The semantic type of every string column outside the keys: the metadata's where it sets one,
    otherwise detected from the column's name and values."""
    out: dict[str, dict[str, SemanticType]] = {}
    for name, table in schema.tables.items():
        if name in exempt:
            continue
        keys = schema.key_columns(name)
        for col in table.columns:
            if col.name in keys or col.dtype != StorageType.STRING:
                continue
            if col.semantic is not None:
                semantic = SemanticType(col.semantic)
            elif db is not None:
                semantic = detect_type(name, col.name, db[name][col.name])
            else:
                continue
            out.setdefault(name, {})[col.name] = semantic
    return out


def _default_locale(db: Database, types: dict[str, dict[str, SemanticType]]) -> str:
    """The most common locale of the database's country columns (``en_US`` where it has none)."""
    counts: Counter = Counter()
    for table, cols in types.items():
        for column, semantic in cols.items():
            if semantic == SemanticType.COUNTRY:
                counts.update(loc for loc in map(locale_of, db[table][column].dropna()) if loc)
    return counts.most_common(1)[0][0] if counts else DEFAULT_LOCALE


def _counts_and_originals(series: pd.Series) -> tuple[Counter, dict[str, Any]]:
    """How often each value of ``series`` is seen, by :func:`value_key`, and the value each key stands
    for, both in the order first seen (text counted by hashing the whole column at once)."""
    present = series.dropna().to_numpy(dtype=object)
    counts = text_counts(present, value_key)
    if counts is not None:
        return counts, {k: k for k in counts}  # a text's key is the text
    counts = Counter(value_key(v) for v in present)
    return counts, {value_key(v): _json_value(v) for v in series.dropna().unique()}
