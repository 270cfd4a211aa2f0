"""The ``dbtwin`` command line. Thin: it parses, calls the library and shows the result."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table as RichTable

from dbtwin import cli_support as check
from dbtwin.cli_bench import bench_app
from dbtwin.cli_impute import impute
from dbtwin.cli_predict import predict_app
from dbtwin.cli_support import err_console, guard, text
from dbtwin.config import DenoiserConfig, RelationsConfig, StructureConfig, TrainingConfig, ValuesConfig
from dbtwin.errors import DestinationNotEmptyError, OptionError
from dbtwin.io.locations import display

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Synthetic twins of relational databases.",
    rich_markup_mode=None,  # plain help: option names never cut, no placeholders on flags, at any width
)
console = Console()
STRUCTURES = ("degree", "sbm", "real")
FORMATS = ("parquet", "csv")
app.add_typer(bench_app, name="bench")
app.add_typer(predict_app, name="predict")
app.command(name="impute")(impute)

SourceArg = Annotated[
    str, typer.Argument(help="A bundled dataset name, a SQLite file, a SQLAlchemy URL or a directory.")
]
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        "--device",
        help="Where the denoiser runs: auto (a CUDA GPU when torch sees one, else the CPU), cpu, cuda or cuda:N.",
    ),
]
PrefetchOpt = Annotated[
    bool | None,
    typer.Option(
        "--prefetch/--no-prefetch",
        help="Build each step's batch in a thread while the step before runs (default: on a GPU only).",
    ),
]
DeviceBatchesOpt = Annotated[
    bool | None,
    typer.Option(
        "--device-batches/--no-device-batches",
        help="Build the training batches on the device the denoiser runs on, subgraphs sampled there "
        "(default: on a GPU only).",
    ),
]
ShardsOpt = Annotated[
    int,
    typer.Option(
        "--shards",
        help="Draw the sample as this many smaller samples, one after the other, each spooled to a hidden "
        "folder beside --out (for a server, the temporary folder) before the next, then written a shard at a "
        "time: memory holds one shard. Their rows' templates are split evenly; a row's neighbours are those of "
        "its shard, so keep thousands of rows of every table in each.",
    ),
]
MetadataOpt = Annotated[
    Path | None, typer.Option("--metadata", help="Metadata JSON (dbtwin or SDV format) overriding the source's.")
]


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False, show_time=False, markup=False)],
        force=True,
    )


@app.command()
def inspect(
    source: SourceArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON (a stable interface).")] = False,
    metadata: MetadataOpt = None,
    save_metadata: Annotated[
        Path | None, typer.Option("--save-metadata", help="Write the (detected) schema as dbtwin metadata JSON.")
    ] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing --save-metadata file.")] = False,
) -> None:
    """Tables, row counts, column kinds, keys, foreign keys with orphan counts, depth, missing values."""
    from dbtwin.inspection import summarize
    from dbtwin.io.locations import source_files
    from dbtwin.schema.metadata_json import save_schema
    from dbtwin.sources import read

    with guard():
        if save_metadata is not None:
            _refuse_overwrite(save_metadata, replace, protect=source_files(source))
        db = read(source, metadata=metadata)
        summary = summarize(db)
        if save_metadata is not None:
            save_schema(db.schema, save_metadata, replace=replace)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    _show_summary(display(source), summary)


def _refuse_overwrite(path: Path, replace: bool, protect: list[Path]) -> None:
    """A file dbtwin is to write: never one of ``protect`` (the source), never an existing file unless
    ``replace``, never a directory."""
    resolved = path.expanduser().resolve()
    if any(resolved == p for p in protect):
        raise DestinationNotEmptyError(f"'{path}' is the source being read; choose another file")
    if path.is_dir():
        raise DestinationNotEmptyError(f"'{path}' is a directory; give a file name")
    if path.exists() and not replace:
        raise DestinationNotEmptyError(f"'{path}' already exists; pass --replace to overwrite it")


@app.command()
def convert(
    source: SourceArg,
    destination: Annotated[str, typer.Argument(help="A SQLite file, a SQLAlchemy URL or a directory.")],
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite what the destination holds.")] = False,
    orphans: Annotated[
        str, typer.Option("--orphans", help="Orphan foreign keys: error, null or drop (reported).")
    ] = "error",
    file_format: Annotated[str, typer.Option("--format", help="Directory file format: parquet or csv.")] = "parquet",
    metadata: MetadataOpt = None,
) -> None:
    """Copy a database to another place (SQLite, PostgreSQL, MariaDB, Parquet/CSV) with its keys."""
    from dbtwin.sources import preflight_destination, read, write
    from dbtwin.validate import resolve_orphans

    with guard():
        check.choice("--orphans", orphans, ("error", "null", "drop"))
        check.choice("--format", file_format, FORMATS)
        preflight_destination(destination, replace, protect=[source])
        db = read(source, metadata=metadata)
        db, report = resolve_orphans(db, orphans)  # type: ignore[arg-type]
        for action in report.actions:
            err_console.print(f"orphans: {text(action)}")
        write(db, destination, replace=replace, file_format=file_format, protect=[source])  # type: ignore[arg-type]
    console.print(f"wrote {len(db.tables)} tables, {db.total_rows:,} rows to {text(display(destination))}")


#: The options of `dbtwin fit` (defaults None: the config, or --config, decides).
ConfigFileOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="A JSON config (the 'config' of a model's config.json, or a model directory's config.json "
        "itself): every option at once; the options given here override it.",
    ),
]

MaxMinutesOpt = Annotated[
    float | None,
    typer.Option(
        "--max-minutes",
        help="Cap on the training time (default: none). Training runs the steps chosen from the data "
        "(or --steps); a cap that stops it sooner is reported, and the model then depends on the "
        "machine's speed.",
    ),
]

StructureOpt = Annotated[
    str | None,
    typer.Option(
        "--structure",
        help=f"Structure model: sbm, degree or real (default {StructureConfig.kind}; degree under --epsilon).",
    ),
]

KeepOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--keep",
        help="Tables to keep as they are (comma-separated or repeated): their real rows in every sample at "
        "every scale, never generated, the generated rows linked to them; their parent tables come along.",
    ),
]

KeepLookupsOpt = Annotated[
    bool | None,
    typer.Option(
        "--keep-lookups/--no-keep-lookups",
        help="Keep lookup tables as well: a list of distinct values (genres, airlines), or a small table "
        'many rows reference, such as a status table (default: keep; a table\'s "keep": false in the '
        "metadata leaves it out).",
    ),
]

KnownShareOpt = Annotated[
    float | None,
    typer.Option(
        "--known-share",
        help="Share of training steps that teach the model to complete rows from the cells they hold, for "
        "`dbtwin impute` (e.g. 0.5; default 0: a model for generation).",
    ),
]

StepsOpt = Annotated[
    int | None,
    typer.Option("--steps", help="Training steps (default: chosen from the data's size, 1,000 to 5,000)."),
]

HopsOpt = Annotated[
    int | None,
    typer.Option("--hops", help=f"K, message-passing hops (0: tables alone; default {DenoiserConfig.num_hops})."),
]

OrphansOpt = Annotated[
    str | None,
    typer.Option("--orphans", help=f"Orphan foreign keys: drop, null or error (default {RelationsConfig.orphans})."),
]

RelationsOpt = Annotated[
    bool | None,
    typer.Option(
        "--relations/--no-relations",
        help="Find the rules every row keeps (copies, sums of children, formulas, city -> country, "
        "orders) and keep them in samples; the metadata JSON can turn single rules off (default: on).",
    ),
]

RareCategoriesOpt = Annotated[
    bool | None,
    typer.Option(
        "--protect-rare-categories/--keep-rare-categories",
        help="Replace categories seen fewer than --text-min-count times in samples (a generated value "
        "of the column's semantic type or a frequent category), as rare text always is; kept "
        "tables are copied whole either way (default: protect).",
    ),
]

TextMinCountOpt = Annotated[
    int | None,
    typer.Option(
        "--text-min-count",
        help=f"Values seen fewer times are never shown in a sample (default {ValuesConfig.text_min_count}).",
    ),
]

EpsilonOpt = Annotated[
    float | None,
    typer.Option(
        "--epsilon",
        help="Fit with (epsilon, delta)-differential privacy per row: DP-SGD for a denoiser of rows alone "
        "and noised degree histograms (docs/privacy.md says what is and is not covered).",
    ),
]

DeltaOpt = Annotated[
    float | None, typer.Option("--delta", help="Delta of --epsilon (default: min(1e-5, 1/(10 rows))).")
]


@app.command()
def fit(
    source: SourceArg,
    out: Annotated[Path, typer.Option("--out", help="Directory to save the fitted model in.")],
    config_file: ConfigFileOpt = None,
    max_minutes: MaxMinutesOpt = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed (results are repeatable).")] = None,
    structure: StructureOpt = None,
    keep: KeepOpt = None,
    keep_lookups: KeepLookupsOpt = None,
    known_share: KnownShareOpt = None,
    steps: StepsOpt = None,
    hops: HopsOpt = None,
    orphans: OrphansOpt = None,
    relations: RelationsOpt = None,
    rare_categories: RareCategoriesOpt = None,
    text_min_count: TextMinCountOpt = None,
    epsilon: EpsilonOpt = None,
    delta: DeltaOpt = None,
    device: DeviceOpt = None,
    prefetch: PrefetchOpt = None,
    device_batches: DeviceBatchesOpt = None,
    metadata: MetadataOpt = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing model directory.")] = False,
) -> None:
    """Learn a database. An interrupted run resumes from its checkpoint when run again with the same
    data and options; --replace discards the checkpoint and starts afresh. Under torchrun
    (`torchrun --nproc-per-node N -m dbtwin fit ...`) N processes train it data-parallel and rank 0
    saves it."""
    from dbtwin.nn import distributed
    from dbtwin.sources import read
    from dbtwin.synthesizer import Synthesizer

    checkpoints = out.parent / f".{out.name}.checkpoint"
    with guard():
        if structure is not None:
            check.choice("--structure", structure, STRUCTURES)
        if orphans is not None:
            check.choice("--orphans", orphans, ("error", "null", "drop"))
        check.positive("--steps", steps, integer=True)
        check.positive("--max-minutes", max_minutes)
        check.non_negative_int("--hops", hops, 8)
        check.seed(seed)
        check.positive("--text-min-count", text_min_count, integer=True)
        check.positive("--epsilon", epsilon)
        check.privacy(epsilon, delta, structure)
        options = {
            "structure": structure or ("degree" if epsilon is not None else None),
            "keep": check.listed(keep) if keep else None,
            "keep_lookups": keep_lookups,
            "known_share": known_share,
            "train_steps": steps,
            "num_hops": hops,
            "max_minutes": max_minutes,
            "orphans": orphans,
            "relations": relations,
            "rare_categories": rare_categories,
            "text_min_count": text_min_count,
            "epsilon": epsilon,
            "delta": delta,
            "random_state": seed,
            "device": device,
            "prefetch": prefetch,
            "device_batches": device_batches,
        }
        settings = check.fit_config(config_file, {k: v for k, v in options.items() if v is not None})
        _check_model_destination(out, source, replace)
        here = distributed.join(settings.training.device)
        if replace and here.is_main:
            _discard_checkpoint(checkpoints)
        db = read(source, metadata=metadata)
        with check.cli_names():
            synth = Synthesizer(config=settings).fit(db, checkpoint_dir=checkpoints)
        if here.is_main:
            synth.save(out, replace=replace)
        distributed.leave()
    if here.is_main:
        _remove_empty(checkpoints)
        _report_fit(synth, db, out)


def _check_model_destination(out: Path, source: str, replace: bool) -> None:
    """Refuse a model directory that is or holds the source, that holds what no fit wrote (unless
    --replace), or that cannot be written."""
    from dbtwin.io.locations import MODEL_SPACE, check_writable, source_files
    from dbtwin.synthesizer.model_file import refuse_foreign_directory

    resolved = out.expanduser().resolve()
    if any(resolved == p or p.is_relative_to(resolved) for p in source_files(source)):
        raise DestinationNotEmptyError(f"the model directory '{out}' is or holds the source; choose another")
    refuse_foreign_directory(out, replace)
    check_writable(out, MODEL_SPACE)


def _discard_checkpoint(checkpoints: Path) -> None:
    """The checkpoint an interrupted fit left, removed (--replace)."""
    import shutil

    if checkpoints.is_dir():
        shutil.rmtree(checkpoints)
        err_console.print(f"discarded the checkpoint in '{text(checkpoints)}' (--replace)")


def _report_fit(synth, db, out: Path) -> None:
    """What `dbtwin fit` prints: steps, why training stopped, relations kept, privacy spent, values protected."""
    state = synth.train_state_
    console.print(
        f"fitted {len(db.tables)} tables in {synth.fit_seconds_:.0f} s ({state.step} steps, {text(state.stopped)}); "
        f"{len(synth.rules_)} exact relations kept; model saved to {text(out)}"
    )
    if synth.privacy_:
        dp = synth.privacy_
        console.print(
            f"differential privacy: ({dp['epsilon_spent']:.3g}, {dp['delta']:.2g})-DP per row spent of epsilon "
            f"{dp['epsilon']:g} ({dp['steps_done']} DP-SGD steps, noise multiplier {dp['noise_multiplier']:.3g})"
        )
    if synth.fixed_tables_:
        reasons = synth.kept_ or {t: "a lookup table" for t in synth.fixed_tables_}
        listing = "; ".join(f"{t} ({why})" for t, why in reasons.items())
        console.print(f"kept as they are, their real rows in every sample: {text(listing)}")
    plans = synth.values_.columns
    if plans:
        console.print(
            f"rare values protected: in {len(plans)} column(s), values seen fewer than {synth.text_min_count} "
            "times are replaced in samples by generated ones of the column's type (names, e-mails, cities, "
            "...); kept tables show their values as they are"
        )


@app.command()
def sample(
    model: Annotated[Path, typer.Argument(help="A model directory written by `dbtwin fit`.")],
    out: Annotated[str, typer.Option("--out", help="A SQLite file, a SQLAlchemy URL or a directory.")],
    scale: Annotated[float, typer.Option("--scale", help="Row-count factor.")] = 1.0,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite what the destination holds.")] = False,
    file_format: Annotated[str, typer.Option("--format", help="Directory file format: parquet or csv.")] = "parquet",
    device: DeviceOpt = None,
    memory_gb: Annotated[
        float | None,
        typer.Option(
            "--memory-gb",
            help="GiB the denoiser's passes may hold: the whole graph at once when it fits, else batches of "
            "rows sized to fit (default: a quarter of this machine's memory).",
        ),
    ] = None,
    given: Annotated[
        str | None,
        typer.Option(
            "--given",
            help="A database (same forms as a source) whose real rows of the --keep tables the twin holds as "
            "they are, keys and values; every other table is generated around them. Never written.",
        ),
    ] = None,
    keep: Annotated[
        list[str] | None,
        typer.Option(
            "--keep", help="With --given: its tables to hold (comma-separated or repeated); parents come along."
        ),
    ] = None,
    shards: ShardsOpt = 1,
) -> None:
    """Sample a synthetic database from a fitted model and write it; with --given, around given rows.
    Under torchrun the processes draw the shards in parallel (in one piece: each denoises a part of the
    rows) and rank 0 writes the whole."""
    from dbtwin.cli_sample import draw_and_write
    from dbtwin.nn import distributed
    from dbtwin.sources import preflight_destination, read
    from dbtwin.synthesizer import Synthesizer

    with guard():
        check.choice("--format", file_format, FORMATS)
        check.seed(seed)
        device = check.device("--device", device or TrainingConfig.device)
        names = check.listed(keep)
        if bool(given) != bool(names):
            which = "--keep" if names else "--given"
            raise OptionError(which, "--given and --keep go together: --keep names the tables of --given to hold")
        protect = [model] + ([given] if given else [])
        preflight_destination(out, replace, protect=protect)
        check.positive("--memory-gb", memory_gb)
        check.positive("--shards", shards, integer=True)
        if given and shards > 1:
            raise OptionError("--shards", "a sample around --given rows is drawn in one shard")
        synth = Synthesizer.load(model)
        synth.device = device
        synth.memory_gb = memory_gb
        with check.cli_names():
            synth.check_scale(scale, option="--scale", shards=shards)
        source = None
        if given:  # the tables named and their parents (a name not in the model: the sampler says so)
            known = all(n in synth.schema_.tables for n in names)
            source = read(given, tables=list(synth.schema_.with_parents(names)) if known else None)
        here = distributed.join(device, timeout_minutes=distributed.SAMPLE_WAIT_MINUTES)
        db, seconds = draw_and_write(
            synth, out, scale, seed, shards, (source, names),
            replace=replace, file_format=file_format, protect=protect,
        )  # fmt: skip
        distributed.leave()
    if not here.is_main:
        return
    console.print(
        f"sampled {db.total_rows:,} rows in {seconds:.1f} s{f' ({db.count} shards)' if shards > 1 else ''}; "
        f"wrote {len(db.schema.table_names)} tables to {text(display(out))}"
    )
    if names:
        console.print(f"held as given: {text(', '.join(t for t in db.schema.table_names if t in source.tables))}")


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Where to write the synthetic Chinook.")] = Path("demo.sqlite"),
    max_minutes: Annotated[float, typer.Option("--max-minutes", help="Cap on the training time.")] = 5.0,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite an existing output file.")] = False,
) -> None:
    """Fit the bundled Chinook, sample a synthetic twin, write it to SQLite and summarise it."""
    from dbtwin.demo import run_demo

    with guard():
        check.positive("--max-minutes", max_minutes)
        check.seed(seed)
        summary = run_demo(out, max_minutes=max_minutes, seed=seed, replace=replace)
    table = RichTable(title=f"synthetic Chinook written to {text(out)}")
    for col in ("table", "real rows", "synthetic rows", "FK violations", "duplicate PKs"):
        table.add_column(col)
    for name, row in summary["tables"].items():
        table.add_row(
            name,
            f"{row['real_rows']:,}",
            f"{row['synthetic_rows']:,}",
            str(row["fk_violations"]),
            str(row["duplicate_pks"]),
        )
    console.print(table)
    console.print(
        f"fit {summary['fit_seconds']:.0f} s ({summary['train_steps']} steps), "
        f"sample {summary['sample_seconds']:.1f} s, "
        f"column shapes {summary['column_shapes']:.3f}, cardinality {summary['cardinality']:.3f}"
    )
    relations = summary["relations"]
    if relations:
        kept = sum(share is None or share == 1.0 for _, share in relations)
        examples = "; ".join(text(rule) for rule, _ in relations[-3:])
        console.print(
            f"exact relations of the real data kept on every row: {kept} of {len(relations)} ({examples}; ...)"
        )


@app.command()
def evaluate(
    real: SourceArg,
    synthetic: Annotated[str, typer.Argument(help="The synthetic database (same forms as the real one).")],
    out: Annotated[Path, typer.Option("--out", help="Directory for metrics.json.")],
    metadata: MetadataOpt = None,
    holdout: Annotated[
        str | None, typer.Option("--holdout", help="Real rows the generator never saw: enables utility and privacy.")
    ] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", help="Utility target as table.column (repeatable).")
    ] = None,
    max_rows: Annotated[int, typer.Option("--max-rows", help="Rows sampled per joined key path.")] = 50_000,
    rdl_task: Annotated[
        list[str] | None,
        typer.Option(
            "--rdl-task",
            help="RDL utility: an entity task (JSON file or bundled name) the GNN learns on the synthetic "
            "database and is tested on on the real one, against training on the real one (repeatable).",
        ),
    ] = None,
    rdl_max_minutes: Annotated[
        float, typer.Option("--rdl-max-minutes", help="Cap on the training time of each RDL utility model.")
    ] = 10.0,
    rdl_text: Annotated[
        bool, typer.Option("--rdl-text/--rdl-no-text", help="Embed text columns in the RDL utility models.")
    ] = False,
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite metrics.json and report.html in OUT.")] = False,
) -> None:
    """Score a synthetic database against the real one: cardinality, column shapes, intra-table and
    1-3 hop inter-table trends, detection, integrity; with --holdout also utility and privacy; with
    --rdl-task the RDL utility. Writes OUT/metrics.json and OUT/report.html."""
    from dbtwin.evaluate import evaluate as run_evaluation
    from dbtwin.evaluate import write_metrics
    from dbtwin.evaluate.html import write_report
    from dbtwin.io.locations import check_writable
    from dbtwin.sources import read

    with guard():
        check.positive("--max-rows", max_rows, integer=True)
        check.positive("--rdl-max-minutes", rdl_max_minutes)
        if out.exists() and not out.is_dir():
            raise DestinationNotEmptyError(f"--out '{out}' is a file, not a directory")
        for name in ("metrics.json", "report.html"):
            if (out / name).exists() and not replace:
                raise DestinationNotEmptyError(f"'{out / name}' already exists; pass --replace to overwrite it")
        check_writable(out / "metrics.json", 2**20)
        real_db = read(real, metadata=metadata)
        fake_db = read(synthetic, metadata=real_db.schema)
        holdout_db = read(holdout, metadata=real_db.schema) if holdout else None
        metrics = run_evaluation(real_db, fake_db, holdout_db, target or None, max_rows=max_rows, progress=True)
        if rdl_task:
            from dbtwin.cli_predict import resolve_task
            from dbtwin.predict.utility import rdl_utility

            metrics["rdl_utility"] = {}
            for ref in rdl_task:
                task = resolve_task(ref)
                metrics["rdl_utility"][task.name] = rdl_utility(
                    real_db, fake_db, task, max_minutes=rdl_max_minutes, use_text=rdl_text
                )
        title = f"{display(synthetic)} against {display(real)}"
        path = write_metrics(metrics, out, replace=replace)
        report = write_report(real_db, fake_db, metrics, out, title=title, replace=replace)
    _print_scores(metrics, title)
    console.print(f"metrics written to {text(path)}, report to {text(report)}")


def _print_scores(metrics: dict[str, Any], title: str) -> None:
    """What `dbtwin evaluate` shows of the metrics: one table of the scores."""
    inter = metrics["inter_table_trends"]
    table = RichTable(title=text(title))
    table.add_column("measure")
    table.add_column("score")
    for key in ("cardinality", "column_shapes", "intra_table_trends"):
        table.add_row(key, _fmt(metrics[key]["score"]))
    for hop in ("1", "2", "3"):
        table.add_row(f"inter_table_trends {hop}-hop", _fmt(inter[hop]["score"]))
    table.add_row("inter_table_trends mean", _fmt(inter["mean"]))
    table.add_row("detection (max accuracy, 0.5 ideal)", _fmt(metrics["detection"]["score"]))
    if "utility" in metrics:
        table.add_row("utility (synthetic / real)", _fmt(metrics["utility"]["ratio"]))
        privacy = metrics["privacy"]
        table.add_row("privacy (closer to train, 0.5 ideal)", _fmt(privacy["share_closer_to_train"]))
        table.add_row(
            "privacy: exact copies, weighted (hold-out's own rate)",
            f"{_fmt(privacy['exact_copy_rate_weighted'])} ({_fmt(privacy['holdout_exact_copy_rate_weighted'])})",
        )
        table.add_row("privacy: membership-inference AUC (0.5 ideal)", _fmt(privacy["membership_inference_auc"]))
    if metrics["text_columns"]["max_auc"] is not None:
        table.add_row("text columns: detection AUC (max, 0.5 ideal)", _fmt(metrics["text_columns"]["max_auc"]))
    for name, rdl in metrics.get("rdl_utility", {}).items():
        metric = rdl["metric"]
        table.add_row(
            text(f"RDL utility {name} ({metric}: synthetic / real)"),
            f"{rdl['train_on_synthetic'][metric]:.4f} / {rdl['train_on_real'][metric]:.4f}",
        )
    if metrics["relations"]["rules"]:
        kept = metrics["relations"]
        table.add_row(f"exact relations ({len(kept['rules'])}): lowest share kept", _fmt(kept["score"]))
    checks = metrics["integrity"]
    table.add_row("FK violations / PK duplicates", f"{checks['fk_violations']} / {checks['pk_duplicates']}")
    if checks.get("kept_tables"):
        table.add_row("kept as they are (real rows)", text(", ".join(checks["kept_tables"])))
    console.print(table)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _remove_empty(directory: Path) -> None:
    import shutil

    if directory.exists() and not any(p.is_file() for p in directory.rglob("*")):
        shutil.rmtree(directory, ignore_errors=True)


@app.command()
def datasets() -> None:
    """List the datasets `dbtwin.datasets.load` knows."""
    from dbtwin.datasets import BUNDLED, available

    for name in available():
        console.print(f"{text(name)}\t{'bundled' if name in BUNDLED else 'needs dbtwin[datasets]'}")


def _show_summary(source: str, summary: dict) -> None:
    """The summary as tables; every name and message is user data, printed as text, never as markup."""
    tables = RichTable(title=text(f"{source}: {len(summary['tables'])} tables, depth {summary['depth']}"))
    for col in ("table", "rows", "primary key", "time column", "columns (kind)", "most missing"):
        tables.add_column(col)
    for name, info in summary["tables"].items():
        kinds: dict[str, int] = {}
        for kind in info["columns"].values():
            kinds[kind] = kinds.get(kind, 0) + 1
        worst = max(info["missing"].items(), key=lambda kv: kv[1], default=("", 0.0))
        tables.add_row(
            text(name),
            f"{info['rows']:,}",
            text(", ".join(info["primary_key"]) or "-"),
            text(info["time_column"] or "-"),
            ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())),
            text(f"{worst[0]} {worst[1]:.1%}") if worst[1] else "-",
        )
    console.print(tables)
    fks = RichTable(title=f"{len(summary['foreign_keys'])} foreign keys")
    for col in ("child", "parent", "orphans", "NULLs"):
        fks.add_column(col)
    for fk in summary["foreign_keys"]:
        note = " (self)" if fk["self_reference"] else ""
        fks.add_row(
            text(f"{fk['child']}({', '.join(fk['columns'])})"),
            text(f"{fk['parent']}({', '.join(fk['parent_columns'])}){note}"),
            f"[red]{fk['orphans']:,}[/]" if fk["orphans"] else "0",
            f"{fk['nulls']:,}",
        )
    console.print(fks)
    for cycle in summary["cycles"]:
        console.print(f"cycle: {text(' -> '.join(cycle))}")
    relations = summary["relations"]
    if relations["rules"]:
        title = f"{len(relations['rules'])} exact relations kept on every row ({relations['seconds']:.1f} s)"
        caption = "holes: kept where both sides are known; the column is generated. near: a few real rows break it"
        found = RichTable(title=title, caption=caption)
        for col in ("kind", "relation", "holes", "near"):
            found.add_column(col)
        for rule in relations["rules"]:
            found.add_row(
                rule["kind"], text(rule["rule"]), "yes" if rule.get("holes") else "", "yes" if rule.get("near") else ""
            )
        console.print(found)
    for near in relations.get("near_rules", []):
        rows = "; ".join(near.get("breaking", []))
        console.print(
            f"kept as the metadata asks, though {near['rows'] - near['kept']:,} rows break it: "
            f"{text(near['rule'])} ({text(rows)})"
        )
    for miss in relations["near_misses"][:10]:
        broken, rows = miss["rows"] - miss["kept"], "; ".join(miss.get("breaking", []))
        console.print(f"almost a relation, not kept: {text(miss['rule'])} (broken by {broken:,} rows: {text(rows)})")
    typed = {f"{t}.{c}": s for t, cols in summary["semantic"].items() for c, s in cols.items() if s != "none"}
    if typed:
        semantic = RichTable(title=f"{len(typed)} string columns by what they hold (filled in where values are rare)")
        for col in ("semantic type", "columns"):
            semantic.add_column(col)
        by_type: dict[str, list[str]] = {}
        for column, kind in typed.items():
            by_type.setdefault(kind, []).append(column)
        for kind, columns in sorted(by_type.items()):
            semantic.add_row(kind, text(", ".join(columns)))
        console.print(semantic)
    if summary["lookup_tables"]:
        listing = "; ".join(f"{t} ({why})" for t, why in summary["lookup_tables"].items())
        console.print(f"lookup tables a twin keeps as they are (unless --no-keep-lookups): {text(listing)}")
    for problem in summary["problems"]:
        style = "red" if problem["severity"] == "error" else "yellow"
        console.print(f"[{style}]{problem['severity']}[/]: {text(problem['message'])}")


if __name__ == "__main__":
    app()
