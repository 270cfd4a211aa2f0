"""One column's plan for its rare values (:class:`ColumnPlan`), and how it is learnt from the real
column: its frequent values, the shapes of its rare ones, how it writes e-mails, phones and names, and
where a value is present at all."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd

from dbtwin.encode.columns import _shape
from dbtwin.encode.rare import value_key
from dbtwin.schema.model import ColumnKind
from dbtwin.semantic.detect import SemanticType
from dbtwin.semantic.fake import EmailStyle, email_style, phone_shape
from dbtwin.semantic.text_model import TextModel

#: Most shapes of rare values (and of phones) kept per column.
MAX_SHAPES = 200


@dataclass
class ColumnPlan:
    """How one column's rare values are filled in."""

    table: str
    column: str
    semantic: SemanticType
    frequent: list[Any]  # the values seen at least ``min_count`` times ...
    weights: list[float]  # ... and their counts
    unique: bool = False
    follows: str | None = None  # the column it depends on: drawn again where that one is
    short: bool = False  # written as short codes (state abbreviations)
    shapes: list[str] = field(default_factory=list)
    shape_weights: list[float] = field(default_factory=list)
    email: EmailStyle | None = None
    #: phones: per value of the table's country column ("" for any), real phones' shapes and counts
    phone_shapes: dict[str, tuple[list[str], list[float]]] = field(default_factory=dict)
    text: TextModel | None = None
    #: names: how many words a value has (given names: "George Thomas"), and how often
    words: dict[str, float] = field(default_factory=dict)
    #: with ``follows``: the share of rows holding a value, per value of the table's country column
    #: (US customers have a state, French ones none), for the rows drawn again
    presence: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("text", "email")}
        out["semantic"] = self.semantic.value
        out["text"] = self.text.to_dict() if self.text else None
        out["email"] = asdict(self.email) if self.email else None
        out["phone_shapes"] = {k: [list(a), list(b)] for k, (a, b) in self.phone_shapes.items()}
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnPlan:
        text = TextModel.from_dict(data["text"]) if data.get("text") else None
        email = EmailStyle(**data["email"]) if data.get("email") else None
        shapes = {k: (list(a), [float(x) for x in b]) for k, (a, b) in data.get("phone_shapes", {}).items()}
        return cls(
            **{**data, "semantic": SemanticType(data["semantic"]), "text": text, "email": email, "phone_shapes": shapes}
        )


def column_plan(
    table: str,
    column: str,
    semantic: SemanticType,
    series: pd.Series,
    counts: Counter,
    originals: dict[str, Any],
    min_count: int,
) -> ColumnPlan:
    frequent = sorted((k for k, c in counts.items() if c >= min_count), key=lambda k: -counts[k])
    present = [str(v) for v in series.dropna().to_numpy(dtype=object)]
    rare = [v for v in present if counts[value_key(v)] < min_count] if series.dtype == object else []
    plan = ColumnPlan(
        table,
        column,
        semantic,
        [originals[k] for k in frequent],
        [float(counts[k]) for k in frequent],
        unique=len(present) >= 20 and all(c == 1 for c in counts.values()),
    )
    shapes = Counter(_shape(v) for v in rare).most_common(MAX_SHAPES)
    plan.shapes, plan.shape_weights = [s for s, _ in shapes], [float(c) for _, c in shapes]
    if semantic == SemanticType.STATE:
        plan.short = sum(1 for v in present if len(v) <= 3 and v.isupper()) >= 0.8 * max(len(present), 1)
    if semantic in (SemanticType.FREE_TEXT, SemanticType.CODE):
        plan.text = TextModel.fit(present)
    if semantic in (SemanticType.FIRST_NAME, SemanticType.LAST_NAME):
        words = Counter(min(len(v.split()), 3) for v in present)
        plan.words = {str(k): float(c) for k, c in sorted(words.items()) if k}
    return plan


def learn_writing(plan: ColumnPlan, frame: pd.DataFrame, types: dict[str, SemanticType], min_count: int) -> None:
    """How the real column writes e-mails (styles from the row's own names, domains) or phones (shapes
    per country)."""
    values = frame[plan.column]
    present = values.notna().to_numpy()
    if plan.semantic == SemanticType.EMAIL:
        texts = [str(v) for v in values[present]]
        domains = Counter(v.rsplit("@", 1)[-1].lower() for v in texts if "@" in v)
        common = [(d, c) for d, c in domains.most_common(50) if c >= min_count]
        first, last = column_with(types, SemanticType.FIRST_NAME), column_with(types, SemanticType.LAST_NAME)
        styles: Counter = Counter()
        digits = 0
        if first and last:
            for v, a, b in zip(texts, frame[first][present], frame[last][present], strict=True):
                local = v.split("@", 1)[0]
                styles[email_style(local, str(a), str(b))] += 1
                digits += bool(re.search(r"\d$", local))
        named = {k: float(c) for k, c in styles.items() if k != "other"} or {"first.last": 1.0}
        plan.email = EmailStyle(
            styles=named,
            digits_share=round(digits / max(len(texts), 1), 4),
            domains=[d for d, _ in common],
            domain_weights=[float(c) for _, c in common],
            frequent_share=round(sum(c for _, c in common) / max(len(texts), 1), 4),
        )
    if plan.semantic == SemanticType.PHONE:
        country = column_with(types, SemanticType.COUNTRY)
        keys = frame[country].map(value_key, na_action="ignore") if country else pd.Series("", index=frame.index)
        shapes = pd.DataFrame(
            {"key": keys[present].fillna(""), "shape": [phone_shape(str(v)) for v in values[present]]}
        )
        groups = {"": shapes["shape"].value_counts().head(MAX_SHAPES)}
        for key, group in shapes.groupby("key"):
            if key and len(group) >= min_count:
                groups[str(key)] = group["shape"].value_counts().head(MAX_SHAPES)
        plan.phone_shapes = {k: (list(v.index), [float(c) for c in v]) for k, v in groups.items()}


#: Types a categorical column's rare values take from its frequent categories, not from a generator:
#: its values are a closed list (job titles, countries, codes of a fixed set), one more made up is no
#: better than a real one shown more often, and it matches nothing the real data holds.
_CLOSED = frozenset({SemanticType.FREE_TEXT, SemanticType.CODE, SemanticType.COUNTRY, SemanticType.NONE})


def fill_type(kind: ColumnKind, semantic: SemanticType, has_frequent: bool) -> SemanticType:
    """How a column's rare values are filled in: as its semantic type says, or as a frequent category
    for a categorical column whose type is closed."""
    return SemanticType.NONE if kind == ColumnKind.CATEGORICAL and has_frequent and semantic in _CLOSED else semantic


def column_with(types: dict[str, SemanticType], semantic: SemanticType) -> str | None:
    """The first column of a table's ``types`` that holds ``semantic``."""
    return next((c for c, s in types.items() if s == semantic), None)


def presence(frame: pd.DataFrame, column: str, country: str, min_count: int) -> dict[str, float]:
    """The share of rows with a value in ``column`` per frequent value of ``country`` ("" overall)."""
    present = frame[column].notna()
    keys = frame[country].map(value_key, na_action="ignore")
    groups = present.groupby(keys).agg(["mean", "size"])
    out = {str(k): round(float(m), 4) for k, (m, n) in groups.iterrows() if n >= min_count}
    out[""] = round(float(present.mean()), 4)
    return out
