"""The row graph: edges per foreign key, CSR adjacency, and the way back to tables."""

from __future__ import annotations

import numpy as np
import pytest

from dbtwin.errors import DataValidationError
from dbtwin.graph import RowGraph
from tests.conftest import assert_same_database


def test_edges_match_foreign_keys(chinook):
    graph = RowGraph.from_database(chinook)
    assert graph.num_nodes["playlist_track"] == 8715
    assert len(graph.edge_types()) == 22
    # every invoice line links to exactly its invoice
    ei = graph.edge_index(("invoice_line", "invoice_id", "invoice"))
    lines, invoices = chinook["invoice_line"], chinook["invoice"]
    assert (lines["invoice_id"].to_numpy()[ei[0]] == invoices["invoice_id"].to_numpy()[ei[1]]).all()
    assert ei.shape[1] == len(lines)
    # the root employee has no boss: 7 self-reference edges for 8 employees
    assert graph.edge_index(("employee", "reports_to", "employee")).shape[1] == 7
    csr = graph.csr(("customer", "rev_customer_id", "invoice"))
    per_customer = chinook["invoice"]["customer_id"].value_counts()
    assert csr.degree().tolist() == per_customer.reindex(chinook["customer"]["customer_id"]).tolist()


def test_orphans_and_nulls_give_no_edges(flights_jan):
    graph = RowGraph.from_database(flights_jan)
    n = flights_jan.num_rows("flights")
    assert graph.edge_index(("flights", "tailnum", "planes")).shape[1] == n - 4324 - 155
    assert graph.edge_index(("flights", "origin_time_hour", "weather")).shape[1] == n - 52


def test_graph_back_to_database(chinook, company):
    for db in (chinook, company):
        graph = RowGraph.from_database(db)
        attrs = {t: db[t].drop(columns=sorted(db.schema.key_columns(t))) for t in db}
        assert_same_database(db, graph.to_database(attrs))


def test_generated_graph_gets_fresh_keys(company):
    graph = RowGraph.from_database(company)
    graph.key_frames = {}
    attrs = {t: company[t].drop(columns=sorted(company.schema.key_columns(t))) for t in company}
    back = graph.to_database(attrs)
    assert back["person"]["id"].tolist() == [1, 2, 3, 4, 5]
    assert back["dept"]["code"].tolist() == ["dept-1", "dept-2"]
    # links are kept: row 0 (formerly id 5) still reports to row 1 (formerly id 4)
    assert back["person"]["boss"].tolist()[0] == 2
    assert back["assignment"]["person"].tolist() == [1, 2, 1, 3]


def test_duplicate_generated_keys_are_refused(company):
    graph = RowGraph.from_database(company)
    graph.links["assignment.project->project"].parent_rows = np.zeros(4, dtype=np.int64)  # all to project 10
    attrs = {t: company[t].drop(columns=sorted(company.schema.key_columns(t))) for t in company}
    with pytest.raises(DataValidationError, match=r"primary key \(person, project\) of table 'assignment'"):
        graph.to_database(attrs)


def test_hetero_data_export(chinook):
    data = RowGraph.from_database(chinook).to_hetero_data()
    assert data["track"].num_nodes == 3503
    assert data[("track", "album_id", "album")].edge_index.shape == (2, 3503)
