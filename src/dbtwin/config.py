"""The synthesizer's one typed configuration: every option and its default, defined once.

A :class:`SynthesizerConfig` is frozen and nested by stage (structure, denoiser, training, sampling,
relations, values, privacy). Each value is checked when the config is made, so a wrong option fails
before any data is read, naming the option. It is saved into a model's ``config.json`` as it is and
read back equal (:meth:`SynthesizerConfig.to_dict`, :meth:`SynthesizerConfig.from_dict`), and a
training checkpoint belongs to its digest (:meth:`SynthesizerConfig.fingerprint`). The command line
and :class:`~dbtwin.synthesizer.Synthesizer`'s keyword arguments set its fields by the flat names in
:data:`FLAT_NAMES`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from dbtwin.errors import OptionError

Structure = Literal["sbm", "degree", "real"]
Orphans = Literal["drop", "null", "error", "keep"]
Budget = Literal["steps", "time"]


def _whole(name: str, value: Any, low: int, high: int, optional: bool = False) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise OptionError(name, f"must be a whole number from {low:,} to {high:,}, not {value!r}")


def _number(name: str, value: Any, low: float, high: float, optional: bool = False, open_low: bool = False) -> None:
    if value is None and optional:
        return
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or not (low < value if open_low else low <= value) or value > high:
        bound = "above" if open_low else "from"
        raise OptionError(name, f"must be a number {bound} {low:g} up to {high:g}, not {value!r}")


def _choice(name: str, value: Any, kind: Any) -> None:
    choices = get_args(kind)
    if value not in choices:
        raise OptionError(name, f"must be one of {', '.join(choices)}, not {value!r}")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise OptionError(name, f"must be true or false, not {value!r}")


@dataclass(frozen=True)
class StructureConfig:
    """How row counts and links are drawn (:mod:`dbtwin.structure`)."""

    #: "sbm": blocks of rows alike in links and values; "degree": degrees only (GRDM); "real": the real links
    kind: Structure = "sbm"
    #: group rows by their values as well as their links, and give the denoiser each row's block
    block_inputs: bool = True
    #: tables kept as they are: their real rows in every sample at every scale, never noised, the
    #: generated rows linked to them (their parent tables come along)
    keep: tuple[str, ...] = ()
    #: keep lookup tables too (:func:`dbtwin.synthesizer.keys.lookup_tables`: a list of genres, a
    #: status table); a table's ``"keep": false`` in the metadata leaves it out
    keep_lookups: bool = True

    def __post_init__(self) -> None:
        _choice("structure", self.kind, Structure)
        _flag("block_inputs", self.block_inputs)
        _flag("keep_lookups", self.keep_lookups)
        keep = (self.keep,) if isinstance(self.keep, str) else self.keep
        if not isinstance(keep, list | tuple) or not all(isinstance(t, str) and t for t in keep):
            raise OptionError("keep", f"must be a list of table names, not {self.keep!r}")
        object.__setattr__(self, "keep", tuple(dict.fromkeys(keep)))  # as given, once each; JSON lists too


@dataclass(frozen=True)
class DenoiserConfig:
    """The relational GNN denoiser (:class:`~dbtwin.nn.HeteroDenoiser`)."""

    #: K, the message-passing layers (0: each table on its own)
    num_hops: int = 2
    #: width of the row states
    hidden: int = 64
    #: give each row its number of children per child table and which parents it has
    degree_inputs: bool = True

    def __post_init__(self) -> None:
        _whole("num_hops", self.num_hops, 0, 8)
        _whole("hidden", self.hidden, 1, 4096)
        _flag("degree_inputs", self.degree_inputs)


@dataclass(frozen=True)
class TrainingConfig:
    """The one training loop (:class:`~dbtwin.synthesizer.training.Trainer`)."""

    #: "steps": ``steps`` (default: chosen from the data), ``max_minutes`` a cap; "time": train for ``max_minutes``
    budget: Budget = "steps"
    #: optimisation steps (None: :func:`~dbtwin.synthesizer.run_settings.planned_steps` of the data)
    steps: int | None = None
    #: a cap on the training time in minutes (the time itself under the "time" budget)
    max_minutes: float | None = None
    #: seed rows per step
    batch_size: int = 256
    learning_rate: float = 2e-3
    weight_decay: float = 1e-5
    ema_decay: float = 0.99
    #: neighbours per node and hop, in training subgraphs and when sampling
    fanout: int = 5
    val_fraction: float = 0.1
    #: steps between held-out losses (early stopping after ``patience`` without improvement)
    eval_every: int = 100
    patience: int = 5
    checkpoint_every: int = 200
    #: the loss weight of the rows at hop K (see :class:`~dbtwin.synthesizer.run_settings.TrainConfig`)
    outer_weight: float = 0.25
    #: share of steps whose batch holds the seed rows alone
    alone_share: float = 0.0
    #: share of steps whose batch holds random cells clean and flagged as known (each noised row keeps a
    #: share of its cells drawn uniformly from 0 to 1): above 0 the denoiser takes the flags as inputs and
    #: learns to complete rows from the cells they hold, which imputation and generation around given
    #: values use (:mod:`dbtwin.synthesizer.impute`)
    known_share: float = 0.0
    #: where the denoiser runs: auto, cpu, cuda or cuda:N (:mod:`dbtwin.nn.device`)
    device: str = "auto"
    #: build each step's batch in a thread while the step before runs (None: on a GPU, where it would
    #: wait for the batch, and not on the CPU, where the thread takes the cores the step uses)
    prefetch: bool | None = None
    #: build the batches on the device the denoiser runs on: the row graph, the features and the noise
    #: held there, subgraphs sampled with torch (None: on a GPU, not on the CPU, where NumPy's sampler
    #: draws the same batches on every machine)
    device_batches: bool | None = None

    def __post_init__(self) -> None:
        _choice("budget", self.budget, Budget)
        for name in ("prefetch", "device_batches"):
            if getattr(self, name) is not None:
                _flag(name, getattr(self, name))
        _whole("train_steps", self.steps, 1, 10**9, optional=True)
        _number("max_minutes", self.max_minutes, 0.0, 10**7, optional=True, open_low=True)
        if self.budget == "time" and self.max_minutes is None:
            raise OptionError("budget", "'time' needs max_minutes: the time to train for")
        _whole("batch_size", self.batch_size, 1, 10**7)
        _number("learning_rate", self.learning_rate, 0.0, 10.0, open_low=True)
        _number("weight_decay", self.weight_decay, 0.0, 10.0)
        _number("ema_decay", self.ema_decay, 0.0, 1.0)
        _whole("fanout", self.fanout, 1, 10_000)
        _number("val_fraction", self.val_fraction, 0.0, 0.9)
        _whole("eval_every", self.eval_every, 1, 10**9)
        _whole("patience", self.patience, 1, 10**9)
        _whole("checkpoint_every", self.checkpoint_every, 1, 10**9)
        _number("outer_weight", self.outer_weight, 0.0, 1.0)
        _number("alone_share", self.alone_share, 0.0, 1.0)
        _number("known_share", self.known_share, 0.0, 1.0)
        if not isinstance(self.device, str):
            raise OptionError("device", f"must be one of auto, cpu, cuda or cuda:N, not {self.device!r}")


@dataclass(frozen=True)
class SamplingConfig:
    """Reverse diffusion over the synthetic row graph (:func:`~dbtwin.synthesizer.generation.denoise_graph`)."""

    #: reverse diffusion steps
    steps: int = 50
    #: GiB the denoiser's passes may hold: the whole graph in one pass when it fits, else batches of rows
    #: with their neighbourhoods sized to fit (None: a quarter of the machine's memory)
    memory_gb: float | None = None

    def __post_init__(self) -> None:
        _whole("sample_steps", self.steps, 1, 10_000)
        if self.memory_gb is not None and (
            isinstance(self.memory_gb, bool)
            or not isinstance(self.memory_gb, int | float)
            or not math.isfinite(self.memory_gb)
            or self.memory_gb <= 0
        ):
            raise OptionError("memory_gb", f"must be a number of GiB above 0, not {self.memory_gb!r}")


@dataclass(frozen=True)
class RelationsConfig:
    """Exact relations and time order kept in every sample (:mod:`dbtwin.relations`)."""

    #: find the rules the database keeps on every row and compute derived columns instead of generating them
    discover: bool = True
    #: order each row of a table with a time column after the previous row of its parent
    sequences: bool = True
    #: orphan foreign keys before fitting: drop the rows, set NULL, refuse, or keep them as they are
    orphans: Orphans = "drop"

    def __post_init__(self) -> None:
        _flag("relations", self.discover)
        _flag("sequences", self.sequences)
        _choice("orphans", self.orphans, Orphans)


@dataclass(frozen=True)
class ValuesConfig:
    """Believable values with rare ones protected (:mod:`dbtwin.semantic.plan`)."""

    #: values seen fewer times are never shown in a sample
    text_min_count: int = 3
    #: protect rare categories as well as rare text
    rare_categories: bool = True

    def __post_init__(self) -> None:
        _whole("text_min_count", self.text_min_count, 1, 10**9)
        _flag("rare_categories", self.rare_categories)


@dataclass(frozen=True)
class PrivacyConfig:
    """(ε, δ)-differential privacy per row (:mod:`dbtwin.privacy`); off while ``epsilon`` is None."""

    epsilon: float | None = None
    #: default ``min(1e-5, 1 / (10 * rows))``
    delta: float | None = None

    def __post_init__(self) -> None:
        if self.epsilon is not None:
            eps = self.epsilon
            if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps) or eps <= 0:
                raise OptionError("epsilon", f"must be a finite number above 0, not {eps!r}")
        if self.delta is not None:
            d = self.delta
            if isinstance(d, bool) or not isinstance(d, int | float) or not 0 < d < 1:
                raise OptionError("delta", f"must lie strictly between 0 and 1, not {d!r}")

    @property
    def enabled(self) -> bool:
        return self.epsilon is not None


@dataclass(frozen=True)
class SynthesizerConfig:
    """Every option of a synthesizer, by stage; the one place defaults are defined."""

    structure: StructureConfig = field(default_factory=StructureConfig)
    denoiser: DenoiserConfig = field(default_factory=DenoiserConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    relations: RelationsConfig = field(default_factory=RelationsConfig)
    values: ValuesConfig = field(default_factory=ValuesConfig)
    privacy: PrivacyConfig = field(default_factory=PrivacyConfig)
    #: seed for everything random in ``fit`` (and the default of ``sample``)
    random_state: int | None = None

    def __post_init__(self) -> None:
        _whole("random_state", self.random_state, 0, 2**63 - 1, optional=True)
        if self.privacy.enabled and self.structure.kind == "real":
            raise OptionError("structure", "'real' copies the real links, which no differential privacy covers")

    # ------------------------------------------------------------------------------ flat names
    def get(self, name: str) -> Any:
        """The value of the option called ``name`` (a key of :data:`FLAT_NAMES`)."""
        section, key = FLAT_NAMES[name]
        return getattr(getattr(self, section), key) if section else getattr(self, key)

    def replace(self, **options: Any) -> SynthesizerConfig:
        """A copy with the options given by their flat names (``num_hops=0``, ``device="cpu"``) changed;
        an unknown name raises :class:`OptionError`."""
        unknown = sorted(set(options) - set(FLAT_NAMES))
        if unknown:
            raise OptionError(unknown[0], f"is no option of the synthesizer (options: {', '.join(FLAT_NAMES)})")
        sections: dict[str, dict[str, Any]] = {}
        top: dict[str, Any] = {}
        for name, value in options.items():
            section, key = FLAT_NAMES[name]
            (sections.setdefault(section, {}) if section else top)[key] = value
        changed = {s: dataclasses.replace(getattr(self, s), **v) for s, v in sections.items()}
        return dataclasses.replace(self, **changed, **top)

    def flat(self) -> dict[str, Any]:
        """Every option by its flat name."""
        return {name: self.get(name) for name in FLAT_NAMES}

    # ------------------------------------------------------------------------------ files
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SynthesizerConfig:
        """The config ``data`` holds (as :meth:`to_dict` wrote it); a section or option this version
        does not know raises :class:`OptionError` naming it, missing ones take their defaults."""
        if not isinstance(data, dict):
            raise OptionError("config", "must be a JSON object")
        #: each section's name and class (the fields made by a default factory)
        sections = {f.name: f.default_factory for f in dataclasses.fields(cls) if f.name != "random_state"}
        unknown = sorted(set(data) - set(sections) - {"random_state"})
        if unknown:
            raise OptionError(unknown[0], f"is no section of the config (sections: {', '.join(sections)})")
        built: dict[str, Any] = {}
        for name, value in data.items():
            if name == "random_state":
                built[name] = value
                continue
            kind: Any = sections[name]
            if not isinstance(value, dict):
                raise OptionError(name, "must be a JSON object")
            known = {f.name for f in dataclasses.fields(kind)}
            extra = sorted(set(value) - known)
            if extra:
                raise OptionError(f"{name}.{extra[0]}", f"is no option of '{name}' (options: {', '.join(known)})")
            built[name] = kind(**value)
        return cls(**built)

    def fingerprint(self, ignore: tuple[str, ...] = ()) -> str:
        """A digest of every option but those named in ``ignore`` (flat names)."""
        kept = {k: v for k, v in self.flat().items() if k not in ignore}
        return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


#: Each option's flat name (Synthesizer keywords, saved ``params``) -> (section, field); "" is the top.
FLAT_NAMES: dict[str, tuple[str, str]] = {
    "structure": ("structure", "kind"),
    "block_inputs": ("structure", "block_inputs"),
    "keep": ("structure", "keep"),
    "keep_lookups": ("structure", "keep_lookups"),
    "num_hops": ("denoiser", "num_hops"),
    "hidden": ("denoiser", "hidden"),
    "degree_inputs": ("denoiser", "degree_inputs"),
    "budget": ("training", "budget"),
    "train_steps": ("training", "steps"),
    "max_minutes": ("training", "max_minutes"),
    "batch_size": ("training", "batch_size"),
    "learning_rate": ("training", "learning_rate"),
    "weight_decay": ("training", "weight_decay"),
    "ema_decay": ("training", "ema_decay"),
    "fanout": ("training", "fanout"),
    "val_fraction": ("training", "val_fraction"),
    "eval_every": ("training", "eval_every"),
    "patience": ("training", "patience"),
    "checkpoint_every": ("training", "checkpoint_every"),
    "outer_weight": ("training", "outer_weight"),
    "alone_share": ("training", "alone_share"),
    "known_share": ("training", "known_share"),
    "device": ("training", "device"),
    "prefetch": ("training", "prefetch"),
    "device_batches": ("training", "device_batches"),
    "sample_steps": ("sampling", "steps"),
    "memory_gb": ("sampling", "memory_gb"),
    "relations": ("relations", "discover"),
    "sequences": ("relations", "sequences"),
    "orphans": ("relations", "orphans"),
    "text_min_count": ("values", "text_min_count"),
    "rare_categories": ("values", "rare_categories"),
    "epsilon": ("privacy", "epsilon"),
    "delta": ("privacy", "delta"),
    "random_state": ("", "random_state"),
}

__all__ = [
    "FLAT_NAMES",
    "DenoiserConfig",
    "PrivacyConfig",
    "RelationsConfig",
    "SamplingConfig",
    "StructureConfig",
    "SynthesizerConfig",
    "TrainingConfig",
    "ValuesConfig",
]
