"""Per-row templates of the real database, what the structure models draw links from: each row's block,
each child row's parent block, each parent row's number of children, the keys whose combination never
repeats, and the real links of the kept tables; and the rows a sample is given as they are."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dbtwin.database import Database
from dbtwin.graph.row_graph import ForeignKeyEdges, RowGraph
from dbtwin.schema.model import Schema


@dataclass
class Templates:
    """Per-row templates of the real database (arrays are row-aligned with each table)."""

    blocks: dict[str, np.ndarray]  # table -> block of each row
    child_target: dict[str, np.ndarray]  # fk name -> parent block of each child row, -1 for none
    parent_degree: dict[str, np.ndarray]  # fk name -> number of children of each parent row
    unique_links: dict[str, list[str]]  # table -> foreign keys whose combination never repeats
    fixed: set[str]  # tables kept as they are, at their real size (their parents kept too)
    #: fk name -> the real parent row of each row of a kept table (-1: none), for its kept parents
    kept_links: dict[str, np.ndarray] = field(default_factory=dict)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {f"blocks/{t}": v for t, v in self.blocks.items()}
        out |= {f"child_target/{k}": v for k, v in self.child_target.items()}
        out |= {f"parent_degree/{k}": v for k, v in self.parent_degree.items()}
        out |= {f"kept_links/{k}": v for k, v in self.kept_links.items()}
        return out

    @classmethod
    def from_arrays(
        cls, arrays: dict[str, np.ndarray], unique_links: dict[str, list[str]], fixed: set[str]
    ) -> Templates:
        groups = ("blocks", "child_target", "parent_degree", "kept_links")
        parts: dict[str, dict[str, np.ndarray]] = {g: {} for g in groups}
        for key, value in arrays.items():
            group, name = key.split("/", 1)
            parts[group][name] = np.asarray(value, dtype=np.int64)
        return cls(*(parts[g] for g in groups[:3]), unique_links, fixed, parts["kept_links"])

    def check(self, schema: Schema, sizes: dict[str, int]) -> None:
        """Raise ValueError naming the array that does not fit ``schema`` and the real ``sizes``: a
        template of every table and foreign key, one entry per real row, no negative block or degree."""
        for table in schema.table_names:
            _check_array(self.blocks, table, f"blocks/{table}", sizes[table], 0)
        for fk in schema.foreign_keys:
            _check_array(self.child_target, fk.name, f"child_target/{fk.name}", sizes[fk.child], -1)
            _check_array(self.parent_degree, fk.name, f"parent_degree/{fk.name}", sizes[fk.parent], 0)
            if fk.child in self.fixed and fk.name in self.kept_links:
                _check_array(self.kept_links, fk.name, f"kept_links/{fk.name}", sizes[fk.child], -1)
                if len(self.kept_links[fk.name]) and self.kept_links[fk.name].max() >= sizes[fk.parent]:
                    raise ValueError(f"array 'kept_links/{fk.name}' points past the rows of '{fk.parent}'")


def _check_array(arrays: dict[str, np.ndarray], key: str, label: str, rows: int, lowest: int) -> None:
    if key not in arrays:
        raise ValueError(f"array '{label}' is missing")
    values = arrays[key]
    if values.ndim != 1 or len(values) != rows:
        raise ValueError(f"array '{label}' has {values.size} entries, not one per real row ({rows})")
    if len(values) and values.min() < lowest:
        raise ValueError(f"array '{label}' holds {int(values.min())}, below its least value {lowest}")


def real_links(db: Database) -> dict[str, ForeignKeyEdges]:
    return RowGraph.from_database(db).links


def build_templates(db: Database, blocks: dict[str, np.ndarray], fixed: set[str]) -> Templates:
    links = real_links(db)
    child_target, parent_degree, unique = {}, {}, {}
    for fk in db.schema.foreign_keys:
        link = links[fk.name]
        target = np.full(db.num_rows(fk.child), -1, dtype=np.int64)
        target[link.child_rows] = blocks[fk.parent][link.parent_rows] if not fk.is_self_reference else 0
        child_target[fk.name] = target
        parent_degree[fk.name] = np.bincount(link.parent_rows, minlength=db.num_rows(fk.parent)).astype(np.int64)
    for table in db.schema.table_names:
        unique[table] = _unique_foreign_keys(db, table, links)
    kept_links = {
        fk.name: parent_row_array(links[fk.name], db.num_rows(fk.child))
        for fk in db.schema.foreign_keys
        if fk.child in fixed
    }
    return Templates(blocks, child_target, parent_degree, unique, fixed, kept_links)


def _unique_foreign_keys(db: Database, table: str, links: dict[str, ForeignKeyEdges]) -> list[str]:
    """The foreign keys whose combination of parents must not repeat: those that make up the primary
    key of a link table, or else all of them when the real rows never repeat a combination."""
    fks = [fk for fk in db.schema.foreign_keys_of(table) if not fk.is_self_reference]
    pk = set(db.schema.table(table).primary_key)
    if pk and pk <= {c for fk in fks for c in fk.columns}:
        return [fk.name for fk in fks if set(fk.columns) & pk]
    if len(fks) < 2:
        return []
    combos = np.stack([parent_row_array(links[fk.name], db.num_rows(table)) for fk in fks], axis=1)
    complete = (combos >= 0).all(axis=1)
    if len(np.unique(combos[complete], axis=0)) == complete.sum():
        return [fk.name for fk in fks]
    return []


def parent_row_array(link: ForeignKeyEdges, n_child: int) -> np.ndarray:
    """The parent row of each of ``n_child`` child rows (-1: none)."""
    out = np.full(n_child, -1, dtype=np.int64)
    out[link.child_rows] = link.parent_rows
    return out


@dataclass
class GivenRows:
    """Rows a sample must hold as they are (generation around given rows): per table its number of
    rows, and per foreign key of those tables the parent row of each row (-1: none); the parents of a
    given table are given too."""

    rows: dict[str, int]
    links: dict[str, np.ndarray]


def given_sizes(
    schema: Schema, templates: Templates, real_sizes: dict[str, int], given: GivenRows | None
) -> dict[str, int]:
    """The rows of the given tables and of the tables below them: a table under given rows has as many
    rows per parent row as the real one, at the smallest ratio of its parents' (sampled to real) rows."""
    if not given:
        return {}
    ratio: dict[str, float] = {}
    sizes: dict[str, int] = {}
    for table in schema.topological_order():
        n_real = real_sizes[table]
        if table in given.rows:
            sizes[table] = given.rows[table]
        elif table not in templates.fixed:
            parents = [ratio[fk.parent] for fk in schema.foreign_keys_of(table) if fk.parent in ratio]
            if not parents:
                continue
            sizes[table] = round(n_real * min(parents))
        else:
            continue
        ratio[table] = sizes[table] / n_real if n_real else 1.0
    return sizes
