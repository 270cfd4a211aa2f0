"""Exact relations: rules a real database keeps on every row, found when fitting and kept when sampling."""

from dbtwin.relations.compute import Kept, keeping
from dbtwin.relations.derive import apply_rules
from dbtwin.relations.discover import Discovery, discover
from dbtwin.relations.rule_json import rule_from_dict
from dbtwin.relations.rules import (
    Aggregate,
    Copy,
    Dependency,
    Formula,
    Numbering,
    Order,
    Part,
    Ref,
    Rule,
)

__all__ = [
    "Aggregate",
    "Copy",
    "Dependency",
    "Discovery",
    "Formula",
    "Kept",
    "Numbering",
    "Order",
    "Part",
    "Ref",
    "Rule",
    "apply_rules",
    "discover",
    "keeping",
    "rule_from_dict",
]
