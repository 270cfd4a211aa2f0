"""Every structure model keeps referential integrity on awkward schemas, and keeps the statistics it
promises (degrees, NULL rates, no repeated parent combinations, forests for self-references)."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin.graph import RowGraph
from dbtwin.structure import structure_model
from dbtwin.structure.overlaps import implied_foreign_keys
from dbtwin.validate import find_problems, resolve_orphans


def _check_links(graph: RowGraph) -> None:
    for link in graph.links.values():
        fk = link.fk
        assert (link.child_rows >= 0).all() and (link.child_rows < graph.num_nodes[fk.child]).all()
        assert (link.parent_rows >= 0).all() and (link.parent_rows < graph.num_nodes[fk.parent]).all()
        assert len(np.unique(link.child_rows)) == len(link.child_rows)  # one parent per child per key


@pytest.mark.parametrize("model", ["degree", "sbm"])
@pytest.mark.parametrize("scale", [0.5, 1.0, 3.0])
def test_awkward_schema_integrity(company, model, scale):
    """Self-reference, two keys to one parent, composite key, nullable keys, a link table."""
    fitted = structure_model(model).fit(company, random_state=0)
    for seed in range(5):
        graph, _ = fitted.sample(scale, np.random.default_rng(seed))
        _check_links(graph)
        boss = graph.links["person.boss->person"]
        parent = np.full(graph.num_nodes["person"], -1)
        parent[boss.child_rows] = boss.parent_rows
        for start in range(graph.num_nodes["person"]):  # the self-reference is a forest: no cycles
            seen, node = set(), start
            while node >= 0:
                assert node not in seen
                seen.add(node)
                node = parent[node]
        # the link table never repeats a (person, project) pair: it is its primary key
        a = graph.links["assignment.person->person"]
        b = graph.links["assignment.project->project"]
        pp = np.full((graph.num_nodes["assignment"], 2), -1)
        pp[a.child_rows, 0], pp[b.child_rows, 1] = a.parent_rows, b.parent_rows
        assert len(np.unique(pp, axis=0)) == len(pp)


def test_degree_histogram_and_null_rate_are_kept(flights_jan):
    db, _ = resolve_orphans(flights_jan, "null")
    fitted = structure_model("degree").fit(db, random_state=0)
    graph, _ = fitted.sample(1.0, np.random.default_rng(0))
    real = RowGraph.from_database(db)
    for name in ("flights.carrier->airlines", "flights.tailnum->planes"):
        assert sorted(
            np.bincount(graph.links[name].parent_rows, minlength=graph.num_nodes[graph.links[name].fk.parent])
        ) == sorted(np.bincount(real.links[name].parent_rows, minlength=real.num_nodes[real.links[name].fk.parent]))
    n = graph.num_nodes["flights"]
    assert n - len(graph.links["flights.tailnum->planes"].child_rows) == int(db["flights"]["tailnum"].isna().sum())


def test_implied_key_follows_the_composite_one(flights_jan):
    db, _ = resolve_orphans(flights_jan, "drop")
    assert set(implied_foreign_keys(db.schema)) == {"flights.origin->airports"}
    for model in ("degree", "sbm"):
        graph, _ = structure_model(model).fit(db, random_state=0).sample(2.0, np.random.default_rng(1))
        origin = graph.links["flights.origin->airports"]
        weather = graph.links["flights.origin+time_hour->weather"]
        w_airport = np.full(graph.num_nodes["weather"], -1)
        link = graph.links["weather.origin->airports"]
        w_airport[link.child_rows] = link.parent_rows
        by_child = dict(zip(origin.child_rows, origin.parent_rows, strict=True))
        assert all(by_child[c] == w_airport[w] for c, w in zip(weather.child_rows, weather.parent_rows, strict=True))


def test_scale_changes_row_counts_but_not_kept_tables(chinook):
    fitted = structure_model("degree", fixed_tables=("genre", "media_type")).fit(chinook, random_state=0)
    graph, _ = fitted.sample(2.0, np.random.default_rng(0))
    assert graph.num_nodes["track"] == 7006 and graph.num_nodes["genre"] == 25
    _check_links(graph)


def test_sbm_keeps_block_pair_counts_exactly_at_scale_one(chinook):
    fitted = structure_model("sbm").fit(chinook, random_state=0)
    graph, picks = fitted.sample(1.0, np.random.default_rng(0))
    t = fitted.templates_
    for name in ("invoice.customer_id->customer", "track.genre_id->genre"):
        fk = graph.links[name].fk
        real = RowGraph.from_database(chinook).links[name]
        real_pairs = np.stack([t.blocks[fk.child][real.child_rows], t.blocks[fk.parent][real.parent_rows]], 1)
        syn = graph.links[name]
        syn_pairs = np.stack(
            [
                t.blocks[fk.child][picks[fk.child][syn.child_rows]],
                t.blocks[fk.parent][picks[fk.parent][syn.parent_rows]],
            ],
            1,
        )
        assert sorted(map(tuple, real_pairs)) == sorted(map(tuple, syn_pairs))


def test_real_structure_only_at_scale_one(chinook):
    fitted = structure_model("real").fit(chinook)
    graph, _ = fitted.sample(1.0, np.random.default_rng(0))
    assert graph.num_edges == RowGraph.from_database(chinook).num_edges
    with pytest.raises(ValueError, match="only scale=1"):
        fitted.sample(2.0, np.random.default_rng(0))


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown structure model 'nope'"):
        structure_model("nope")


def test_real_data_problem_free_after_generation(company):
    """A generated graph turned into tables passes validation (fresh keys, links resolved)."""
    graph, _ = structure_model("degree").fit(company, random_state=0).sample(2.0, np.random.default_rng(0))
    attrs = {}
    for t in company:
        n = graph.num_nodes[t]
        frame = company[t].drop(columns=sorted(company.schema.key_columns(t))).sample(n, replace=True, random_state=0)
        attrs[t] = frame.reset_index(drop=True)
    db = graph.to_database(attrs)
    assert find_problems(db) == []


@pytest.mark.parametrize("model", ["degree", "sbm"])
@pytest.mark.parametrize("scale", [0.5, 1.0, 2.0])
def test_overlapping_composite_keys_agree(model, scale):
    """bakeoff: challenges.(series, episode) -> episodes and challenges.(series, baker) -> bakers
    share ``series``; every sampled challenge's episode and baker belong to the same series."""
    from dbtwin import datasets
    from dbtwin.structure.overlaps import overlapping_foreign_keys

    db = datasets.load("bakeoff")
    pairs = overlapping_foreign_keys(db.schema)
    assert [(a.name, b.name) for a, b, _, _ in pairs] == [
        ("challenges.series+episode->episodes", "challenges.series+baker->bakers")
    ]
    fitted = structure_model(model).fit(db, random_state=0)
    graph, _ = fitted.sample(scale, np.random.default_rng(1))
    _check_links(graph)
    links = graph.links
    episode_series = np.full(graph.num_nodes["episodes"], -1)
    episode_series[links["episodes.series->series"].child_rows] = links["episodes.series->series"].parent_rows
    baker_series = np.full(graph.num_nodes["bakers"], -1)
    baker_series[links["bakers.series->series"].child_rows] = links["bakers.series->series"].parent_rows
    by_episode = np.full(graph.num_nodes["challenges"], -1)
    ep = links["challenges.series+episode->episodes"]
    by_episode[ep.child_rows] = episode_series[ep.parent_rows]
    by_baker = np.full(graph.num_nodes["challenges"], -1)
    bk = links["challenges.series+baker->bakers"]
    by_baker[bk.child_rows] = baker_series[bk.parent_rows]
    assert (by_episode == by_baker).all()
    # few rows are lost to the agreement, and no (episode, baker) pair repeats
    expected = round(db.num_rows("challenges") * scale)
    assert graph.num_nodes["challenges"] >= 0.9 * expected
    pairs_seen = np.stack([ep.parent_rows[np.argsort(ep.child_rows)], bk.parent_rows[np.argsort(bk.child_rows)]], 1)
    assert len(np.unique(pairs_seen, axis=0)) == len(pairs_seen)


def test_sbm_fits_a_table_whose_parent_table_is_empty():
    """A child table large enough for blocks whose foreign key points into an empty table (every key
    NULL): its rows are clustered on their values, and a sample keeps it without links."""
    import pandas as pd

    from dbtwin.database import Database
    from dbtwin.schema import Column, ColumnKind, ForeignKey, Schema, StorageType, Table

    i, f = StorageType.INT64, StorageType.FLOAT64
    schema = Schema(
        {
            "kind": Table("kind", [Column("id", i, ColumnKind.ID, False)], ("id",)),
            "item": Table(
                "item",
                [
                    Column("id", i, ColumnKind.ID, False),
                    Column("kind", i, ColumnKind.ID),
                    Column("w", f, ColumnKind.FLOAT),
                ],
                ("id",),
            ),
        },
        [ForeignKey("item", ("kind",), "kind", ("id",))],
    )
    frames = {
        "kind": pd.DataFrame({"id": pd.Series([], dtype="int64")}),
        "item": pd.DataFrame(
            {"id": range(300), "kind": pd.Series([None] * 300, dtype="Int64"), "w": np.arange(300.0) % 7}
        ),
    }
    db = Database.from_frames(frames, schema)
    values = {"item": (np.arange(300) % 7).astype(np.float32)[:, None]}
    fitted = structure_model("sbm").fit(db, random_state=0, features=values)
    assert len(np.unique(fitted.templates_.blocks["item"])) > 1
    graph, _ = fitted.sample(1.0, np.random.default_rng(0))
    assert graph.num_nodes == {"kind": 0, "item": 300} and len(graph.links["item.kind->kind"].child_rows) == 0
