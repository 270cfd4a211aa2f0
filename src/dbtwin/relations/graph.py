"""Which columns rules derive and which they read: a directed graph that must stay acyclic.

A rule reads its inputs and writes its target; sampling applies rules in an order where every input
is final before it is read (children's columns before the parent's aggregate, a parent's value
before the child that copies it), which exists only while the graph has no cycle.
"""

from __future__ import annotations

from dbtwin.relations.rules import Rule
from dbtwin.schema.model import Schema

Column = tuple[str, str]


class ColumnGraph:
    """Edges from each column a rule reads to the column it writes."""

    def __init__(self) -> None:
        self._out: dict[Column, set[Column]] = {}
        self._derived: set[Column] = set()
        self._written: set[Column] = set()
        self._set: set[Column] = set()
        self._alone: set[Column] = set()

    def derived(self, column: Column) -> bool:
        """Whether a rule computes ``column`` (it is not generated)."""
        return column in self._derived

    def can_add(self, rule: Rule, schema: Schema) -> bool:
        """Whether ``rule`` may join: its target not derived already (an order's not derived at all,
        and not an input of a rule that derives from it; one rule with holes at most; a rule that
        must be alone on its column, such as a numbering, with no other), and no cycle."""
        target = rule.target
        if target in self._derived or (rule.derives and target in self._written):
            return False
        if rule.holes and target in self._set:  # one rule sets a generated column
            return False
        if target in self._alone or (rule.alone and target in self._written):
            return False  # a rule that must be alone on its column (a numbering), and another
        return not any(i == target or self._reaches(target, i) for i in rule.inputs(schema))

    def add(self, rule: Rule, schema: Schema) -> None:
        for i in rule.inputs(schema):
            self._out.setdefault(i, set()).add(rule.target)
        self._written.add(rule.target)
        if rule.alone:
            self._alone.add(rule.target)
        if rule.holes:
            self._set.add(rule.target)
        if rule.derives:
            self._derived.add(rule.target)

    def _reaches(self, start: Column, goal: Column) -> bool:
        seen, stack = {start}, [start]
        while stack:
            for nxt in self._out.get(stack.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
        return False


def application_order(rules: list[Rule], schema: Schema) -> list[Rule]:
    """``rules`` so that each comes after every rule that writes a column it reads, and after the rules
    listed before it that write its own column (a period, then orders, then a grid)."""
    writers: dict[Column, list[int]] = {}
    for i, rule in enumerate(rules):
        writers.setdefault(rule.target, []).append(i)
    done: set[int] = set()
    order: list[Rule] = []
    visiting: set[int] = set()

    def visit(i: int) -> None:
        if i in done:
            return
        if i in visiting:
            raise ValueError(f"relations form a cycle through {rules[i].describe(schema)}")
        visiting.add(i)
        for column in rules[i].inputs(schema):
            for j in writers.get(column, []):
                visit(j)
        for j in writers[rules[i].target]:  # rules that repair one column run in the order they were accepted
            if j < i:
                visit(j)
        visiting.discard(i)
        done.add(i)
        order.append(rules[i])

    for i in range(len(rules)):
        visit(i)
    return order
