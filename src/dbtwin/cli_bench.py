"""``dbtwin bench``: run the benchmark, the sampling measurements, and write docs/benchmarks.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

bench_app = typer.Typer(
    no_args_is_help=True, rich_markup_mode=None, help="Benchmark dbtwin against its ablations and SDV's HMA."
)

ResultsOpt = Annotated[Path, typer.Option("--results", help="Folder of the per-run JSON results.")]
DocsOpt = Annotated[Path, typer.Option("--docs", help="Markdown page to write (plots go beside it).")]
QUICK = {"datasets": "bakeoff", "seeds": "0", "train_steps": 20, "sample_steps": 5}


def _names(value: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in value.split(",") if v.strip())


@bench_app.command("run")
def run(
    datasets: Annotated[str, typer.Option(help="Comma-separated benchmark datasets.")] = (
        "chinook,nycflights13_jan,bakeoff,lahman,tpch,f1,berka"
    ),
    methods: Annotated[
        str, typer.Option(help="Comma-separated methods (mostlyai needs scripts/setup-mostly.sh first).")
    ] = "holdout,dbtwin,dbtwin-degree,dbtwin-norules,dbtwin-real,dbtwin-k0,hma,mostlyai",
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    train_steps: Annotated[
        int | None, typer.Option(help="dbtwin training steps at most (default: none, the time budget decides).")
    ] = None,
    max_minutes: Annotated[float, typer.Option(help="Training budget of each dbtwin run (0: none).")] = 2.0,
    sample_steps: Annotated[int, typer.Option(help="dbtwin reverse diffusion steps.")] = 50,
    hma_timeout: Annotated[float, typer.Option(help="Seconds HMA may take to fit and sample.")] = 300.0,
    results: ResultsOpt = Path("benchmarks/results/bench"),
    work: Annotated[Path, typer.Option(help="Folder for splits, models and samples.")] = Path("benchmarks/work"),
    quick: Annotated[bool, typer.Option(help="Harness check: bakeoff, one seed, a few steps.")] = False,
    redo: Annotated[bool, typer.Option(help="Run again what already has a result.")] = False,
    threads: Annotated[int, typer.Option(help="Torch threads per run (start several runners to share a folder).")] = 2,
    docs: DocsOpt | None = None,
) -> None:
    """Fit, sample and evaluate every method on every dataset and seed (resumes where results exist)."""
    from dbtwin.bench import BenchConfig, run_benchmark
    from dbtwin.bench.methods import PEERS

    if quick:
        datasets, seeds, train_steps, sample_steps = (
            QUICK[k] for k in ("datasets", "seeds", "train_steps", "sample_steps")
        )
        max_minutes = 0
    config = BenchConfig(
        datasets=_names(datasets),
        methods=_names(methods),
        seeds=tuple(int(s) for s in _names(seeds)),
        train_steps=train_steps,
        max_minutes=max_minutes or None,
        sample_steps=sample_steps,
        hma_timeout=hma_timeout,
        results_dir=results,
        work_dir=work,
        redo=redo,
        threads=threads,
        label="quick" if quick else "full",
    )
    for name in config.datasets:
        config.dataset(name)
    records = run_benchmark(config)
    bad = [r for r in records if r["status"] not in ("ok", "timeout", "skipped")]
    typer.echo(
        f"{len(records)} run(s): "
        + ", ".join(f"{r['dataset']}/{r['method']}/{r['seed']} {r['status']}" for r in records)
    )
    if docs is not None:
        from dbtwin.bench.report import write_report

        write_report(results, docs)
        typer.echo(f"wrote {docs}")
    if any(r["method"] not in PEERS for r in bad):  # a peer's failure is its result, not dbtwin's
        raise typer.Exit(code=1)


@bench_app.command("sampling")
def sampling(
    results: ResultsOpt = Path("benchmarks/results/bench"),
    max_minutes: Annotated[float, typer.Option(help="Cap on each training run.")] = 2.0,
    steps: Annotated[str, typer.Option(help="Reverse-step counts of the quality curve.")] = "10,25,50,100",
    throughput_dataset: Annotated[str, typer.Option(help="Dataset sampled at scale 1 for rows/s.")] = "nycflights13",
    curve_dataset: Annotated[str, typer.Option(help="Dataset of the quality-vs-steps curve.")] = "nycflights13_jan",
    seed: int = 0,
    curve_train_steps: Annotated[int, typer.Option(help="Training steps of the curve's model (no time cap).")] = 400,
    parts: Annotated[str, typer.Option(help="Which parts: throughput, curve.")] = "throughput,curve",
) -> None:
    """Sampling throughput at scale 1 and the quality-versus-steps curve (merged into sampling.json)."""
    from dbtwin.atomic import atomic_write_text
    from dbtwin.bench.isolate import run_isolated
    from dbtwin.bench.sampling import steps_curve_job, throughput_job

    path = results / "sampling.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    if "throughput" in _names(parts):
        status, out["throughput"] = run_isolated(
            throughput_job,
            {"dataset": throughput_dataset, "max_minutes": max_minutes, "sample_steps": 50, "seed": seed},
            None,
        )
        out["throughput"]["status"] = status
        typer.echo(json.dumps(out["throughput"]))
    if "curve" in _names(parts):
        job = {
            "dataset": curve_dataset,
            "max_minutes": None,
            "train_steps": curve_train_steps,
            "steps": [int(s) for s in _names(steps)],
            "seed": seed,
        }
        status, out["steps_curve"] = run_isolated(steps_curve_job, job, None)
        out["steps_curve"]["status"] = status
        typer.echo(json.dumps(out["steps_curve"]))
    atomic_write_text(path, json.dumps(out, indent=1) + "\n")


@bench_app.command("report")
def report(results: ResultsOpt = Path("benchmarks/results/bench"), docs: DocsOpt = Path("docs/benchmarks.md")) -> None:
    """Write the Markdown page (tables, targets, plots) from the results folder."""
    from dbtwin.bench.report import write_report

    write_report(results, docs)
    typer.echo(f"wrote {docs}")


@bench_app.command("predict")
def predict(
    tasks: Annotated[str, typer.Option(help="Comma-separated bundled tasks (rel-f1's read from ../shared/data).")] = (
        "lahman-allstar,lahman-team-wins,nycflights13-plane-delay"
    ),
    models: Annotated[str, typer.Option(help="Comma-separated models.")] = (
        "gnn,gnn-notext,lightgbm-entity,lightgbm-aggregated"
    ),
    seeds: Annotated[str, typer.Option(help="Comma-separated seeds.")] = "0,1,2",
    max_minutes: Annotated[float, typer.Option(help="Cap on each GNN's training time.")] = 5.0,
    threads: Annotated[int, typer.Option(help="Torch / LightGBM threads per run.")] = 2,
    results: ResultsOpt = Path("benchmarks/results/predict"),
    redo: Annotated[bool, typer.Option("--redo/--no-redo", help="Run again what already has a result.")] = False,
    docs: DocsOpt = Path("docs/predict.md"),
) -> None:
    """Prediction benchmark: the GNN (with and without text) and two LightGBM baselines on the bundled
    entity tasks; one JSON per run, then docs/predict.md."""
    from dbtwin.bench.predict import run_predict_benchmark
    from dbtwin.bench.predict_report import write_predict_report
    from dbtwin.predict.tasks import TASKS

    unknown = [t for t in _names(tasks) if t not in TASKS]
    if unknown:
        raise typer.BadParameter(f"unknown task(s) {unknown}; bundled: {', '.join(TASKS)}")
    records = run_predict_benchmark(
        results,
        _names(tasks),
        _names(models),
        tuple(int(s) for s in _names(seeds)),
        max_minutes,
        threads,
        redo=redo,
    )
    for r in records:
        typer.echo(
            f"{r['task']} / {r['model']} / seed {r['seed']}: {r['status']}, fit {r.get('fit_seconds')} s, "
            f"peak RSS {r.get('peak_rss_mb')} MB, test {r.get('scores', {}).get('test')}"
        )
    write_predict_report(results, docs)
    typer.echo(f"wrote {docs}")


@bench_app.command("predict-report")
def predict_report(
    results: ResultsOpt = Path("benchmarks/results/predict"), docs: DocsOpt = Path("docs/predict.md")
) -> None:
    """Write docs/predict.md from the prediction benchmark's results."""
    from dbtwin.bench.predict_report import write_predict_report

    write_predict_report(results, docs)
    typer.echo(f"wrote {docs}")
