"""The stages behind the Synthesizer: each fitted and inspected on its own from the prepared
database, each saved under its own fields, the facade no more than their loop; models saved before
the typed config still load."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from dbtwin.config import SynthesizerConfig
from dbtwin.errors import DataValidationError
from dbtwin.synthesizer import Synthesizer
from dbtwin.synthesizer.stages import (
    STAGE_CLASSES,
    EncodersStage,
    KeysStage,
    RelationsStage,
    Stages,
    StructureStage,
    ValuesStage,
    prepare,
)

SMALL = {"train_steps": 3, "sample_steps": 2, "hidden": 8, "batch_size": 16, "progress": False}


def test_stages_fit_on_their_own_from_the_prepared_database(chinook):
    config = SynthesizerConfig(random_state=0)
    prepared = prepare(chinook, None, "drop")
    assert set(prepared.fixed_tables) == {"genre", "media_type", "playlist"}  # lookup tables, found once
    stages = Stages(schema=prepared.schema, fixed_tables=list(prepared.fixed_tables))
    stages.relations = RelationsStage().fit(prepared, config, stages)
    assert "total" in stages.relations.derived_columns("invoice")  # invoice.total sums its lines
    stages.encoders = EncodersStage().fit(prepared, config, stages)
    num, _ = stages.encoders.real
    assert num["invoice"].shape[0] == chinook.num_rows("invoice")
    invoice = stages.encoders.encoders["invoice"]
    encoded = {e.column for e in [*invoice.numeric, *invoice.categorical, *invoice.constant]}
    assert "invoice_date" in encoded and not {"total", "billing_country"} & encoded  # derived: computed
    stages.values = ValuesStage().fit(prepared, config, stages)
    stages.keys = KeysStage().fit(prepared, config, stages)
    stages.structure = StructureStage().fit(prepared, config, stages)
    graph, blocks = stages.structure.sample(0.5, np.random.default_rng(0))
    assert graph.num_nodes["invoice"] < chinook.num_rows("invoice")
    assert blocks is None or set(blocks) == set(stages.structure.blocks)


def test_invalid_data_are_refused_before_any_stage(company):
    broken = company.tables["person"].copy()
    broken.loc[0, "id"] = broken.loc[1, "id"]  # a duplicate primary key
    from dbtwin import Database

    db = Database.from_frames({**company.tables, "person": broken}, company.schema)
    with pytest.raises(DataValidationError, match="person"):
        prepare(db, None, "drop")


def test_each_stage_saves_its_own_fields_and_the_model_is_their_union(company, tmp_path):
    synth = Synthesizer(random_state=0, **SMALL).fit(company)
    synth.save(tmp_path / "m")
    fields = json.loads((tmp_path / "m" / "config.json").read_text())
    owned: dict[str, str] = {}
    (tmp_path / "scratch").mkdir()
    for stage in synth.stages_.fitted():
        for key in stage.save(tmp_path / "scratch"):
            assert key not in owned, f"{key} saved by {owned.get(key)} and {stage.name}"
            owned[key] = stage.name
    assert set(fields) == {"format", "version", "config", "schema", *owned}
    assert [s.name for s in synth.stages_.fitted()] == list(STAGE_CLASSES)


def test_a_model_saved_with_params_before_the_typed_config_loads(company, tmp_path):
    synth = Synthesizer(random_state=2, num_hops=1, **SMALL).fit(company)
    synth.save(tmp_path / "m")
    old = tmp_path / "old"
    shutil.copytree(tmp_path / "m", old)
    fields = json.loads((old / "config.json").read_text())
    fields["params"] = fields.pop("config") and synth.config.flat()  # as models were saved before
    (old / "config.json").write_text(json.dumps(fields))
    loaded = Synthesizer.load(old)
    assert loaded.config == synth.config
    assert loaded.sample(random_state=1).total_rows == synth.sample(random_state=1).total_rows


def _count_resolutions(monkeypatch) -> dict[str, int]:
    import dbtwin.database as database

    counts: dict[str, int] = {}
    resolve = database.parent_positions

    def counting(child, parent, fk):
        counts[fk.name] = counts.get(fk.name, 0) + 1
        return resolve(child, parent, fk)

    monkeypatch.setattr(database, "parent_positions", counting)
    return counts


def test_each_foreign_key_is_resolved_once_per_fit(chinook, monkeypatch):
    """Validation, orphans, relations, structure, sequences and the training graph share one
    resolution of each foreign key (67 for Chinook's 11 before)."""
    counts = _count_resolutions(monkeypatch)
    Synthesizer(random_state=0, **SMALL).fit(chinook)
    assert counts == {fk.name: 1 for fk in chinook.schema.foreign_keys}


def test_orphans_dropped_make_one_more_resolution_of_the_data_left(company, monkeypatch):
    child = company.tables["assignment"].copy()
    child.loc[0, "project"] = 10**6  # an orphan: the row is dropped
    from dbtwin import Database

    db = Database(company.schema, {**company.tables, "assignment": child})
    counts = _count_resolutions(monkeypatch)
    Synthesizer(random_state=0, **SMALL).fit(db)
    # the orphan check of the data as given, one per drop round (the drop, then the check that nothing
    # more is orphaned), then once on the data left, which every stage shares
    assert set(counts.values()) == {4}, counts
    assert set(counts) == {fk.name for fk in company.schema.foreign_keys}
