"""The :class:`Synthesizer`: structure model plus graph-conditional mixed-type diffusion over all tables.

``fit`` validates the database (orphans resolved by a policy), encodes every table, learns the
structure model and trains the denoiser; ``sample`` draws a new structure at any scale, denoises all
rows of all tables together, decodes them, fills the keys and checks the result before returning it.
A fitted synthesizer is saved as a directory: ``config.json`` plus weight and array files, never a pickle.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dbtwin.atomic import atomic_directory
from dbtwin.config import FLAT_NAMES, SynthesizerConfig
from dbtwin.database import Database
from dbtwin.diffusion import GaussianScheduler, MaskedScheduler
from dbtwin.encode.rare import Protection
from dbtwin.encode.table import TableEncoder
from dbtwin.errors import DataValidationError, DbtwinError, OptionError
from dbtwin.graph import RowGraph
from dbtwin.graph.sequences import Sequence, add_sequences, find_sequences, order_times
from dbtwin.nn import HeteroDenoiser, TableSpec
from dbtwin.nn.device import resolve_device
from dbtwin.npz import save_arrays
from dbtwin.privacy.budget import PrivacyBudget, default_delta, privacy_report
from dbtwin.privacy.dp_sgd import DPConfig
from dbtwin.privacy.structure_noise import noised_templates
from dbtwin.privacy.structure_noise import sensitivity as structure_sensitivity
from dbtwin.relations import Copy, Rule, apply_rules
from dbtwin.relations.report import fit_relations, relations_to_dict
from dbtwin.schema.metadata_json import schema_to_dict
from dbtwin.schema.model import Schema
from dbtwin.semantic.plan import ValuePlan, copied, dependents
from dbtwin.structure import structure_model
from dbtwin.structure.base import StructureModel
from dbtwin.synthesizer.fingerprint import fit_fingerprint
from dbtwin.synthesizer.generation import denoise_graph
from dbtwin.synthesizer.keys import (
    dimension_tables,
    fresh_keys,
    key_formats,
    key_steps,
    make_unique,
    structural_columns,
    surrogate_key,
)
from dbtwin.synthesizer.model_file import MODEL_FORMAT, MODEL_VERSION, load_synthesizer
from dbtwin.synthesizer.training import TrainConfig, Trainer, TrainState, planned_steps
from dbtwin.validate import find_problems, resolve_orphans

log = logging.getLogger(__name__)

#: Peak memory of sampling per synthetic row, measured: 2.44 GB for nycflights13's 310k rows (logits
#: computed only for the rows a step unmasks; 14.1 GB before).
BYTES_PER_SAMPLED_ROW = 8_000


class NotFittedError(DbtwinError):
    """The synthesizer must be fitted (or loaded) first."""


class Synthesizer:
    """Learns a generative model of a whole relational database and samples synthetic twins of it.

    Every option lives in one :class:`~dbtwin.config.SynthesizerConfig` (``self.config``),
    given whole (``config=``) or by the flat names of :data:`~dbtwin.config.FLAT_NAMES`
    as keywords, which override it: ``Synthesizer(structure="degree", num_hops=0, max_minutes=2)``.
    The same names read and set the config as attributes (``synth.sample_steps = 20``). The options,
    by stage (their meaning and defaults are documented in :mod:`dbtwin.config`):

    - structure: ``structure`` (``"sbm"``, ``"degree"`` or ``"real"``), ``block_inputs``;
    - denoiser: ``num_hops`` (K), ``hidden``, ``degree_inputs``;
    - training: ``budget`` (``"steps"``, the default: ``train_steps``, by default chosen from the data,
      the same model on every machine, ``max_minutes`` a cap whose cut is reported; ``"time"``: train
      for ``max_minutes``), ``batch_size``, ``learning_rate``, ``fanout``, ``checkpoint_every``,
      ``device`` (``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:N"``; not part of the saved model), ...;
    - sampling: ``sample_steps``;
    - relations: ``relations`` (find and keep exact rules), ``sequences``, ``orphans``;
    - values: ``text_min_count``, ``rare_categories``;
    - privacy: ``epsilon``, ``delta`` ((ε, δ)-DP per row: DP-SGD for a denoiser of rows alone and
      noised degree histograms; docs/privacy.md);
    - ``random_state``: the seed of everything random in ``fit`` (and the default of ``sample``).

    Args:
        metadata: the schema; by default the one the database carries.
        config: the whole configuration (default: every option at its default).
        progress: show progress bars.
        **options: options by their flat names, overriding ``config``.
    """

    def __init__(
        self,
        metadata: Schema | None = None,
        *,
        config: SynthesizerConfig | None = None,
        progress: bool = True,
        **options: Any,
    ) -> None:
        self.metadata = metadata
        self.progress = progress
        self.config = (config or SynthesizerConfig()).replace(**options)

    def __getattr__(self, name: str) -> Any:
        config = self.__dict__.get("config")
        if config is not None and name in FLAT_NAMES:
            return config.get(name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        if name in FLAT_NAMES and "config" in self.__dict__:
            self.__dict__["config"] = self.config.replace(**{name: value})
        else:
            super().__setattr__(name, value)

    def _params(self) -> dict[str, Any]:
        """Every option by its flat name (saved as the model's ``params``)."""
        return self.config.flat()

    # ---------------------------------------------------------------------------------------- fit
    def fit(self, db: Database, checkpoint_dir: str | Path | None = None) -> Synthesizer:
        """Learn ``db``. With ``checkpoint_dir``, training checkpoints there and resumes from it."""
        started = time.monotonic()
        device = resolve_device(self.device)
        db = self._prepare(db)
        self.schema_ = db.schema
        self.fixed_tables_ = dimension_tables(db)
        protection = Protection(self.text_min_count, self.rare_categories, tuple(self.fixed_tables_))
        self.discovery_ = fit_relations(db, self.relations, protection, self.random_state)
        self.rules_: list[Rule] = self.discovery_.rules
        self.encoders_ = {
            t: TableEncoder.fit(
                table,
                db[t],
                self._not_generated(t),
                None if t in self.fixed_tables_ else self.text_min_count,
                self.rare_categories,
            )
            for t, table in db.schema.tables.items()
        }
        self.values_ = ValuePlan.fit(db, protection, follows=dependents(self.rules_), skip=copied(self.rules_))
        num, cat = self._features(db)
        self.fixed_features_ = {t: (num[t], cat[t]) for t in self.fixed_tables_}
        self.key_formats_ = key_formats(db)
        self.key_steps_ = key_steps(db)
        private = self.epsilon is not None
        if private and self.structure == "real":
            raise OptionError("structure", "'real' copies the real links, which no differential privacy covers")
        if private and self.structure != "degree":
            log.warning(
                "differential privacy: the '%s' structure is replaced by 'degree' (noised degree histograms)",
                self.structure,
            )
        structure = "degree" if private else self.structure
        self.structure_ = structure_model(structure, fixed_tables=tuple(self.fixed_tables_))
        features = value_features(num, cat, self.encoders_) if self._groups_by_values(self.structure_) else None
        self.structure_.fit(db, random_state=self.random_state, features=features)
        budget = self._plan_privacy(db) if private else None
        self.row_blocks_ = self._row_blocks()
        self.sequences_: list[Sequence] = self._find_sequences(db)
        graph = add_sequences(RowGraph.from_database(db), self.sequences_, db)
        specs = {t: TableSpec(e.num_numeric, e.cardinalities) for t, e in self.encoders_.items()}
        with torch.random.fork_rng():  # seeded initialisation without touching the caller's global RNG
            torch.manual_seed(int(np.random.SeedSequence(self.random_state).generate_state(1)[0]))
            model = HeteroDenoiser(
                specs,
                graph.edge_types(),
                hidden=self.hidden,
                num_layers=0 if private else self.num_hops,
                degree_inputs=self.degree_inputs and not private,
                block_counts={t: int(b.max()) + 1 for t, b in self.row_blocks_.items()},
            )
        self.gaussian_, self.masked_ = GaussianScheduler(), MaskedScheduler()
        steps = budget.steps if budget is not None else self.train_steps
        if steps is None and self.budget == "steps":
            rows = sum(db.num_rows(t) for t in db.schema.table_names if t not in self.fixed_tables_)
            steps = planned_steps(rows, self.batch_size)
        private = DPConfig(budget.sampling_rate, budget.noise_multiplier, budget.clip) if budget else None
        config = TrainConfig.from_settings(self.config.training, steps, private)
        trainer = Trainer(
            model,
            graph,
            num,
            cat,
            set(self.fixed_tables_),
            self.gaussian_,
            self.masked_,
            config,
            self.random_state,
            blocks={t: torch.from_numpy(b) for t, b in self.row_blocks_.items()},
            device=device,
        )
        fingerprint = fit_fingerprint(db, self._params()) if checkpoint_dir is not None else ""
        self.train_state_: TrainState = trainer.fit(
            Path(checkpoint_dir) if checkpoint_dir else None, self.progress, fingerprint
        )
        self.model_ = trainer.ema
        self.privacy_ = privacy_report(budget, self.train_state_.step) if budget else None
        if self.privacy_:
            log.info("differential privacy: (%.3g, %.2g)-DP spent", self.privacy_["epsilon_spent"], budget.delta)
        self.fit_seconds_ = time.monotonic() - started
        return self

    def _plan_privacy(self, db: Database) -> PrivacyBudget:
        """The noise levels of a DP fit, and the structure's histograms noised with them."""
        rows = sum(db.num_rows(t) for t in db.schema.table_names if t not in self.fixed_tables_)
        delta = self.delta if self.delta is not None else default_delta(rows)
        steps = self.train_steps or planned_steps(rows, self.batch_size)
        rate = min(1.0, self.batch_size / max(rows, 1))
        try:
            budget = PrivacyBudget.plan(float(self.epsilon), delta, steps, rate, structure_sensitivity(db.schema))
        except ValueError:
            raise OptionError(
                "epsilon",
                f"{self.epsilon:g} is too small a budget: no amount of noise keeps this fit (its structure "
                f"and {steps} DP-SGD steps) within it at delta {delta:.2g}; try 0.5 or more",
            ) from None
        rng = np.random.default_rng(np.random.SeedSequence(self.random_state).spawn(2)[1])
        self.structure_.templates_ = noised_templates(
            self.structure_.templates_, db.schema, budget.structure_sigma, rng
        )
        return budget

    def _find_sequences(self, db: Database) -> list[Sequence]:
        if not self.sequences:
            return []
        generated = {t: self._not_generated(t) for t in db.schema.tables}
        found = [s for s in find_sequences(db, generated) if s.table not in self.fixed_tables_]
        for seq in found:
            log.info("sequence: rows of %s ordered by %s within %s", seq.table, seq.time_column, seq.foreign_key)
        return found

    def _groups_by_values(self, structure: StructureModel) -> bool:
        """Whether ``structure`` is given the rows' encoded values: a block model, with ``block_inputs``."""
        return self.block_inputs and structure.takes_features and self.epsilon is None

    def _row_blocks(self) -> dict[str, np.ndarray]:
        """The block of every real row, per table with more than one block, when the denoiser takes them."""
        templates = getattr(self.structure_, "templates_", None)
        if not self.block_inputs or templates is None:
            return {}
        return {
            t: b.astype(np.int64)
            for t, b in templates.blocks.items()
            if len(b) and b.max() > 0 and t not in self.fixed_tables_
        }

    def blocks_of(self, picks: dict[str, np.ndarray] | None) -> dict[str, torch.Tensor] | None:
        """The block of every synthetic row (that of the real row whose template it took, ``picks``),
        for a denoiser that takes blocks; None otherwise."""
        if not self.row_blocks_ or picks is None:
            return None
        return {t: torch.from_numpy(b[picks[t]]) for t, b in self.row_blocks_.items()}

    def _not_generated(self, table: str) -> set[str]:
        """Columns the denoiser does not generate: keys filled by the structure, derived columns."""
        return structural_columns(self.schema_, table) | self.derived_columns(table)

    def derived_columns(self, table: str) -> set[str]:
        """Columns of ``table`` that rules compute from others."""
        return {r.column for r in getattr(self, "rules_", []) if r.derives and r.table == table}

    def _prepare(self, db: Database) -> Database:
        """The database as fitted: the given metadata applied, orphans resolved, validated."""
        if self.metadata is not None:
            db = Database.from_frames(db.tables, self.metadata)
        if self.orphans != "keep":
            db, report = resolve_orphans(db, self.orphans)
            for action in report.actions:
                log.warning("orphans: %s", action)
        errors = [p for p in find_problems(db) if p.severity == "error"]
        if errors:
            raise DataValidationError(errors)
        return db

    def with_structure(self, structure: str, db: Database) -> Synthesizer:
        """A copy that draws its links with another structure model (fitted here on ``db``, the data
        this synthesizer was fitted on) and shares the trained denoiser: structures compared without
        training again."""
        self._check_fitted()
        started = time.monotonic()
        other = copy.copy(self)
        other.structure = structure
        other.structure_ = structure_model(structure, fixed_tables=tuple(self.fixed_tables_))
        prepared = self._prepare(db)
        features = (
            value_features(*self._features(prepared), self.encoders_)
            if self._groups_by_values(other.structure_)
            else None
        )
        other.structure_.fit(prepared, random_state=self.random_state, features=features)
        other.fit_seconds_ = getattr(self, "fit_seconds_", 0.0) + time.monotonic() - started
        return other

    def _features(self, db: Database) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
        num, cat = {}, {}
        for t, enc in self.encoders_.items():
            scores, codes = enc.transform(db[t])
            num[t] = torch.from_numpy(scores.astype(np.float32))
            cat[t] = torch.from_numpy(codes)
        return num, cat

    # ------------------------------------------------------------------------------------- sample
    def sample(self, scale: float = 1.0, random_state: int | None = None) -> Database:
        """A synthetic database with about ``scale`` times the real rows per table (dimension tables
        keep their size), validated: unique primary keys, every foreign key resolves, NULLs only where
        the real schema allows them."""
        self._check_fitted()
        self.check_scale(scale)
        seed = self.random_state if random_state is None else random_state
        seed_seq = np.random.SeedSequence(seed)
        rng = np.random.default_rng(seed_seq.spawn(1)[0])
        generator = torch.Generator().manual_seed(int(seed_seq.generate_state(1)[0]))
        graph, picks = self.structure_.sample(scale, rng)
        add_sequences(graph, self.sequences_)
        blocks = self.blocks_of(picks)
        fixed_num = {t: f[0] for t, f in self.fixed_features_.items()}
        fixed_cat = {t: f[1] for t, f in self.fixed_features_.items()}
        x_num, x_cat = denoise_graph(
            self.model_,
            graph,
            fixed_num,
            fixed_cat,
            self.gaussian_,
            self.masked_,
            self.sample_steps,
            generator,
            fanout=self.fanout,
            progress=self.progress,
            blocks=blocks,
            device=resolve_device(self.device),
        )
        attributes: dict[str, pd.DataFrame] = {}
        for t, enc in self.encoders_.items():
            frame = enc.inverse(x_num[t].double().numpy(), x_cat[t].numpy(), rng)
            key = surrogate_key(self.schema_, t)
            if key is not None:
                frame[key] = fresh_keys(
                    self.schema_.table(t).column(key).dtype, len(frame), self.key_formats_.get(t), rng
                )
            for seq in self.sequences_:
                if seq.table == t:
                    order_times(frame, graph, seq)
            for column in self.derived_columns(t):
                frame[column] = None  # computed below, once every column it reads is final
            attributes[t] = frame
        db = graph.to_database(attributes, prepare=self._unique_keys)
        apply_rules(db, self.rules_, rng)
        self.values_.apply(db, rng)  # believable values for the rare ones, then copies of them again
        apply_rules(db, [r for r in self.rules_ if isinstance(r, Copy)], rng)
        errors = [p for p in find_problems(db) if p.severity == "error"]
        if errors:
            raise DataValidationError(errors)
        return db

    def expected_rows(self, scale: float) -> int:
        """About how many rows :meth:`sample` draws at ``scale`` (dimension tables keep their size)."""
        sizes = getattr(self.structure_, "sizes_", {})
        fixed = set(self.fixed_tables_)
        return int(sum(n if t in fixed else n * scale for t, n in sizes.items()))

    def check_scale(self, scale: float, option: str = "scale") -> None:
        """Refuse a ``scale`` that is not a finite positive number, that the structure model cannot
        draw, or whose rows would not fit in this machine's memory while sampling."""
        self._check_fitted()
        if not isinstance(scale, int | float) or not math.isfinite(scale) or scale <= 0:
            raise OptionError(option, f"must be a finite number above 0, not {scale!r}")
        if self.structure == "real" and scale != 1.0:
            raise OptionError(option, "the 'real' structure keeps the real row counts: only 1 is possible")
        rows = self.expected_rows(scale)
        need, have = rows * BYTES_PER_SAMPLED_ROW, physical_memory()
        if have and need > have:
            raise OptionError(
                option,
                f"{scale:g} asks for about {rows:,} rows, about {need / 2**30:,.0f} GiB while sampling "
                f"(~{BYTES_PER_SAMPLED_ROW // 1000} KB a row), more than this machine's {have / 2**30:,.0f} GiB",
            )

    def _unique_keys(self, table: str, frame: pd.DataFrame) -> pd.DataFrame:
        steps = self.key_steps_.get(table)
        if not steps:
            return frame
        t = self.schema_.table(table)
        from dbtwin.schema.dtypes import to_storage

        for col in steps:
            frame[col] = to_storage(frame[col], t.column(col).dtype)
        return make_unique(frame, t.primary_key, steps, {c.name: c.dtype for c in t.columns})

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError("this Synthesizer is not fitted yet: call fit(db) or Synthesizer.load(directory)")

    # -------------------------------------------------------------------------------- persistence
    def save(self, directory: str | Path, replace: bool = False) -> None:
        """Write the fitted synthesizer as ``config.json`` + ``weights.pt`` + arrays, atomically."""
        self._check_fitted()
        refuse_foreign_directory(Path(directory), replace)
        with atomic_directory(Path(directory), replace=replace) as tmp:
            structure = self.structure_.save(tmp)
            torch.save({k: v.detach().cpu() for k, v in self.model_.state_dict().items()}, tmp / "weights.pt")
            fixed = {}
            for t, (n, c) in self.fixed_features_.items():
                fixed[f"{t}/num"], fixed[f"{t}/cat"] = n.numpy(), c.numpy()
            save_arrays(tmp / "fixed_tables.npz", fixed)
            if self.row_blocks_:
                save_arrays(tmp / "row_blocks.npz", self.row_blocks_)
            values, rare = self.values_.to_dict()
            save_arrays(tmp / "rare_values.npz", rare)
            config = {
                "format": MODEL_FORMAT,
                "version": MODEL_VERSION,
                "config": self.config.to_dict(),
                "schema": schema_to_dict(self.schema_),
                "encoders": {t: e.to_dict() for t, e in self.encoders_.items()},
                "structure": structure,
                "denoiser": self.model_.config(),
                "gaussian": self.gaussian_.to_dict(),
                "masked": self.masked_.to_dict(),
                "fixed_tables": self.fixed_tables_,
                "key_formats": self.key_formats_,
                "key_steps": self.key_steps_,
                "relations": relations_to_dict(self.discovery_, self.schema_),
                "sequences": [q.to_dict() for q in self.sequences_],
                "values": values,
                "differential_privacy": self.privacy_,
                "training": {
                    "steps": self.train_state_.step,
                    "seconds": round(self.train_state_.seconds, 2),
                    "stopped": self.train_state_.stopped,
                    "rows": self.train_state_.rows,
                    "rows_per_second": round(self.train_state_.rows_per_second, 1),
                    "nodes": self.train_state_.nodes,
                    "threads": torch.get_num_threads(),
                    "history": self.train_state_.history,
                },
            }
            (tmp / "config.json").write_text(json.dumps(config, indent=1) + "\n")

    @classmethod
    def load(cls, directory: str | Path) -> Synthesizer:
        """Load a saved synthesizer (no code from the directory is executed). A missing, tampered or
        foreign file raises :class:`InvalidFileError` naming the file and the field."""
        return load_synthesizer(cls, Path(directory))


def value_features(
    num: dict[str, torch.Tensor], cat: dict[str, torch.Tensor], encoders: dict[str, TableEncoder], max_codes: int = 16
) -> dict[str, np.ndarray]:
    """Per table, its encoded values as one numeric matrix for a block model: the numeric scores and
    a one-hot of each categorical with at most ``max_codes`` codes (wider ones are left out)."""
    out = {}
    for t, enc in encoders.items():
        parts = [num[t].numpy().astype(np.float64)] if num[t].shape[1] else []
        for j, k in enumerate(enc.cardinalities):
            if k <= max_codes:
                parts.append(np.eye(k)[cat[t][:, j].numpy().clip(0, k - 1)])
        if parts:
            out[t] = np.concatenate(parts, axis=1)
    return out


def physical_memory() -> int:
    """Bytes of memory of this machine (0 where the system does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def is_model_directory(path: Path) -> bool:
    """Whether ``path`` holds a model dbtwin saved (its ``config.json`` says so)."""
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("format") == MODEL_FORMAT


def refuse_foreign_directory(path: Path, replace: bool) -> None:
    """A model is saved into a new or empty directory, or over an earlier model with ``replace``;
    never over a directory that holds anything else (``--replace`` must not wipe a user's folder)."""
    from dbtwin.errors import DestinationNotEmptyError

    if path.exists() and not path.is_dir():
        raise DestinationNotEmptyError(f"'{path}' exists and is not a directory; choose a directory for the model")
    if path.is_dir() and any(path.iterdir()):
        if not replace:
            raise DestinationNotEmptyError(
                f"model directory '{path}' already holds files; pass --replace to overwrite it"
            )
        if not is_model_directory(path):
            raise DestinationNotEmptyError(
                f"'{path}' holds files that are not a dbtwin model; --replace replaces only a model directory"
            )
