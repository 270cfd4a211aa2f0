"""``dbtwin predict``: fit and evaluate relational GNNs on declared entity tasks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table as RichTable

from dbtwin.cli_support import guard
from dbtwin.errors import DbtwinError

predict_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Predictive relational deep learning on entity tasks."
)
console = Console()
err_console = Console(stderr=True, soft_wrap=True)

SourceArg = Annotated[
    str | None,
    typer.Argument(
        help="The database (dataset name, SQLite file, SQLAlchemy URL or directory); "
        "omit it with a bundled task to use that task's dataset."
    ),
]
TaskOpt = Annotated[str, typer.Option("--task", help="A task JSON file or the name of a bundled task.")]


def resolve_task(task_ref: str):
    """A task from a JSON file or a bundled task's name."""
    from dbtwin.predict.task import EntityTask
    from dbtwin.predict.tasks import TASKS, load_task

    if Path(task_ref).is_file():
        return EntityTask.load(task_ref)
    if task_ref in TASKS:
        return load_task(task_ref)
    raise DbtwinError(f"task '{task_ref}' is neither a task file nor a bundled task ({', '.join(TASKS)})")


def _task_and_db(source: str | None, task_ref: str | None, default=None):
    from dbtwin.predict.tasks import TASKS, load_task_database
    from dbtwin.sources import read

    task = resolve_task(task_ref) if task_ref is not None else default
    task_ref = task_ref or task.name
    if source is None:
        if task_ref not in TASKS:
            raise DbtwinError("give the database to run the task on (only bundled tasks bring their own)")
        return task, load_task_database(task_ref)
    return task, read(source)


@predict_app.command("tasks")
def tasks() -> None:
    """List the bundled tasks."""
    from dbtwin.predict.tasks import BUNDLED, SHARED, load_task

    table = RichTable(title="bundled tasks")
    for col in ("task", "dataset", "type", "predicts"):
        table.add_column(col)
    for name, (dataset, options) in BUNDLED.items():
        task = load_task(name)
        opts = ", ".join(f"{k}={v}" for k, v in options.items())
        table.add_row(name, dataset + (f" ({opts})" if opts else ""), task.task_type.value, task.description)
    for name, folder in SHARED.items():
        task = load_task(name)
        table.add_row(name, f"{folder} (given, or ../shared/data)", task.task_type.value, task.description)
    console.print(table)


@predict_app.command("labels")
def labels(
    source: SourceArg = None,
    task: TaskOpt = ...,  # type: ignore[assignment]
    out: Annotated[
        Path, typer.Option("--out", help="Directory for train.parquet, val.parquet and test.parquet.")
    ] = ...,  # type: ignore[assignment]
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite what the directory holds.")] = False,
) -> None:
    """Write the task's examples per split (columns entity, timestamp, label), to check them against
    another implementation's tables."""
    with guard():
        from dbtwin.io.files import holds_files
        from dbtwin.io.locations import check_destination
        from dbtwin.predict.labels import label_tables, write_label_tables

        check_destination(out, [] if source is None else [source])
        holds_files(out, replace)
        the_task, db = _task_and_db(source, task)
        tables = label_tables(the_task, db)
        write_label_tables(tables, out, replace=replace)
    for split, frame in tables.items():
        console.print(f"{split}: {len(frame):,} examples at {frame['timestamp'].nunique()} timestamps")
    console.print(f"wrote {', '.join(f'{s}.parquet' for s in tables)} to {out}")


@predict_app.command("fit")
def fit(
    source: SourceArg = None,
    task: TaskOpt = ...,  # type: ignore[assignment]
    out: Annotated[Path, typer.Option("--out", help="Directory to save the fitted model in.")] = ...,  # type: ignore[assignment]
    text: Annotated[
        bool,
        typer.Option(
            "--text/--no-text",
            help="Embed text columns with MiniLM (the hybrid; off by default: on five of six benchmark tasks it "
            "scored below the GNN without text, docs/predict.md).",
        ),
    ] = False,
    finetune_text_layers: Annotated[
        int,
        typer.Option(
            help="Fine-tune a copy of MiniLM's last N layers on the task (0: frozen; above 0 implies --text)."
        ),
    ] = 0,
    hidden: Annotated[int, typer.Option(help="Width of the row states.")] = 64,
    layers: Annotated[int, typer.Option(help="GraphSAGE layers (hops).")] = 2,
    max_epochs: Annotated[int, typer.Option(help="Cap on the training epochs.")] = 30,
    max_minutes: Annotated[float, typer.Option(help="Cap on the training time (0: none).")] = 0.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    text_cache: Annotated[Path | None, typer.Option(help="Folder for cached text embeddings.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite OUT if it exists.")] = False,
) -> None:
    """Train the GNN on the task's training examples (early stopping on validation) and save it."""
    with guard():
        from dbtwin.predict.predictor import Predictor

        if out.exists() and not replace:
            raise DbtwinError(f"'{out}' already exists; pass --replace to overwrite it")
        the_task, db = _task_and_db(source, task)
        predictor = Predictor(
            hidden=hidden,
            num_layers=layers,
            max_epochs=max_epochs,
            max_minutes=max_minutes or None,
            use_text=text,
            finetune_text_layers=finetune_text_layers,
            text_cache=text_cache,
            random_state=seed,
        ).fit(db, the_task)
        predictor.save(out, replace=replace)
        scores = predictor.evaluate(db)
    _print_scores(f"{the_task.name} (GNN)", {"gnn": scores})
    history = predictor.history_
    console.print(
        f"trained {len(history.epochs)} epoch(s) in {history.seconds:.0f} s ({history.stopped}); saved to {out}"
    )


@predict_app.command("eval")
def evaluate(
    source: SourceArg = None,
    model: Annotated[Path, typer.Option("--model", help="A model directory written by `dbtwin predict fit`.")] = ...,  # type: ignore[assignment]
    task: Annotated[
        str | None, typer.Option("--task", help="Task file or bundled name (default: the model's).")
    ] = None,
    baselines: Annotated[bool, typer.Option("--baselines", help="Also fit the two LightGBM baselines.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the scores to this JSON file.")] = None,
    text_cache: Annotated[Path | None, typer.Option(help="Folder for cached text embeddings.")] = None,
) -> None:
    """Score a saved GNN on every split of its task (and, with --baselines, LightGBM beside it)."""
    with guard():
        from dbtwin.atomic import atomic_write_text
        from dbtwin.predict.baselines import BASELINES, run_baseline
        from dbtwin.predict.predictor import Predictor

        predictor = Predictor.load(model, text_cache=text_cache)
        the_task, db = _task_and_db(source, task, default=predictor.task_)
        examples = the_task.examples(db)
        results = {"gnn": predictor.evaluate(db, examples)}
        if baselines:
            for kind in BASELINES:
                results[f"lightgbm-{kind}"] = run_baseline(db, the_task, kind, examples)["scores"]
        if out is not None:
            atomic_write_text(out, json.dumps({"task": the_task.name, "scores": results}, indent=1) + "\n")
    _print_scores(the_task.name, results)


def _print_scores(title: str, results: dict[str, dict[str, dict[str, float]]]) -> None:
    table = RichTable(title=title)
    for col in ("model", "split", "scores"):
        table.add_column(col)
    for name, splits in results.items():
        for split, scores in splits.items():
            table.add_row(name, split, ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    console.print(table)
