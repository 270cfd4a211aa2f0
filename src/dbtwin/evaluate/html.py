"""A self-contained HTML report of an evaluation (plots embedded as PNG, no network needed):
a verdict per table, the summary scores, per-hop trend scores, detection accuracies, real-against-
synthetic marginals per column, correlation-difference heatmaps and children-per-parent distributions."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from dbtwin.atomic import atomic_write_text
from dbtwin.database import Database
from dbtwin.evaluate.features import numeric_column
from dbtwin.evaluate.trends import CONTINUOUS, scored_columns
from dbtwin.graph import RowGraph
from dbtwin.schema.model import ColumnKind

REAL, SYNTH = "#3b6ea5", "#e07b39"
MAX_COLUMNS_PER_TABLE = 12

_STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.25em .8em;border-bottom:1px solid #eee;text-align:left}
.good{color:#1a7f37}.kept{color:#0550ae}.fair{color:#9a6700}.poor{color:#cf222e}img{max-width:100%}.note{color:#666;font-size:.9em}
"""


def _png(fig: plt.Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _grade(value: float | None, good: float, fair: float, higher_is_better: bool = True) -> str:
    if value is None:
        return "fair"
    v = value if higher_is_better else -value
    g, f = (good, fair) if higher_is_better else (-good, -fair)
    return "good" if v >= g else "fair" if v >= f else "poor"


def table_verdicts(real: Database, metrics: dict[str, Any]) -> dict[str, str]:
    """One line per table from its column shapes, intra-table trends and detection accuracy."""
    verdicts = {}
    shapes = metrics["column_shapes"]["details"]
    trends = metrics["intra_table_trends"]["details"]
    detect = metrics.get("detection", {}).get("details", {})
    single = metrics.get("detection", {}).get("single_table", {}).get("details", {})
    kept = set(metrics.get("integrity", {}).get("kept_tables", ()))
    for table in real.schema.table_names:
        if table in kept:
            verdicts[table] = "kept: the real rows as they are, keys and values (not generated)"
            continue
        s = [v for k, v in shapes.items() if k.split(".", 1)[0] == table]
        t = [v for k, v in trends.items() if k.split(".", 1)[0] == table]
        d = detect.get(table, single.get(table))
        parts, grades = [], []
        if s:
            parts.append(f"column shapes {np.mean(s):.3f}")
            grades.append(_grade(float(np.mean(s)), 0.95, 0.85))
        if t:
            parts.append(f"pair trends {np.mean(t):.3f}")
            grades.append(_grade(float(np.mean(t)), 0.9, 0.75))
        if d is not None:
            parts.append(f"detected with accuracy {d:.2f}")
            grades.append(_grade(d, 0.65, 0.8, higher_is_better=False))
        if not parts:
            texts = [c.name for c in real.schema.table(table).columns if c.kind == ColumnKind.TEXT]
            verdicts[table] = (
                f"not scored: keys and text columns only ({', '.join(texts[:3])}); see the text-column checks"
                if texts
                else "keys only: integrity checked"
            )
            continue
        worst = "poor" if "poor" in grades else "fair" if "fair" in grades else "good"
        verdicts[table] = f"{worst}: " + ", ".join(parts)
    return verdicts


def _grid(count: int, height: float) -> tuple[plt.Figure, np.ndarray]:
    """A figure with ``count`` small panels, four per row."""
    ncols = min(4, count)
    nrows = int(np.ceil(count / ncols))
    return plt.subplots(nrows, ncols, figsize=(3.2 * ncols, height * nrows), squeeze=False)


def _finish_grid(fig: plt.Figure, axes: np.ndarray, used: int) -> str:
    """Blank the unused panels, put the legend on the first one, and encode the figure."""
    for ax in list(axes.flat)[used:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    return _png(fig)


def _marginals(real: Database, synthetic: Database, table: str) -> str | None:
    cols = scored_columns(real.schema, table)[:MAX_COLUMNS_PER_TABLE]
    if not cols:
        return None
    kinds = {c.name: c.kind for c in real.schema.table(table).columns}
    fig, axes = _grid(len(cols), 2.4)
    for ax, col in zip(axes.flat, cols, strict=False):
        a, b = real[table][col], synthetic[table][col]
        if kinds[col] in CONTINUOUS:
            x, y = numeric_column(a), numeric_column(b)
            x, y = x[np.isfinite(x)], y[np.isfinite(y)]
            if len(x):
                lo, hi = np.quantile(x, [0.005, 0.995])
                bins = np.linspace(lo, hi if hi > lo else lo + 1, 30)
                ax.hist(x, bins=bins, density=True, alpha=0.55, color=REAL, label="real")
                ax.hist(y, bins=bins, density=True, alpha=0.55, color=SYNTH, label="synthetic")
                if kinds[col] == ColumnKind.DATETIME:  # days since 1970, matplotlib's own date numbers
                    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
                    ax.xaxis.set_major_locator(locator)
                    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        else:
            pa = a.astype(object).where(a.notna(), "NULL").astype(str).value_counts(normalize=True)
            pb = b.astype(object).where(b.notna(), "NULL").astype(str).value_counts(normalize=True)
            top = pa.index[:10]
            pos = np.arange(len(top))
            ax.bar(pos - 0.2, pa.reindex(top).to_numpy(), 0.4, color=REAL, label="real")
            ax.bar(pos + 0.2, pb.reindex(top).fillna(0).to_numpy(), 0.4, color=SYNTH, label="synthetic")
            ax.set_xticks(pos, [t[:10] for t in top], rotation=60, fontsize=7)
        ax.set_title(col, fontsize=9)
        ax.tick_params(labelsize=7)
    return _finish_grid(fig, axes, len(cols))


def _correlation_difference(real: Database, synthetic: Database, table: str) -> str | None:
    kinds = {c.name: c.kind for c in real.schema.table(table).columns}
    cols = [c for c in scored_columns(real.schema, table) if kinds[c] in CONTINUOUS][:MAX_COLUMNS_PER_TABLE]
    if len(cols) < 2:
        return None
    r = pd.DataFrame({c: numeric_column(real[table][c]) for c in cols}).corr()
    s = pd.DataFrame({c: numeric_column(synthetic[table][c]) for c in cols}).corr()
    diff = (s - r).abs().fillna(0).to_numpy()
    fig, ax = plt.subplots(figsize=(0.5 * len(cols) + 2.5, 0.45 * len(cols) + 1.5))
    image = ax.imshow(diff, vmin=0, vmax=1, cmap="Reds")
    ax.set_xticks(range(len(cols)), cols, rotation=70, fontsize=7)
    ax.set_yticks(range(len(cols)), cols, fontsize=7)
    ax.set_title(f"{table}: |corr(synthetic) - corr(real)|", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return _png(fig)


def _cardinalities(real: Database, synthetic: Database) -> str | None:
    fks = real.schema.foreign_keys
    if not fks:
        return None
    g_real, g_syn = RowGraph.from_database(real), RowGraph.from_database(synthetic)
    fig, axes = _grid(len(fks), 2.3)
    for ax, fk in zip(axes.flat, fks, strict=False):
        a = np.bincount(g_real.links[fk.name].parent_rows, minlength=g_real.num_nodes[fk.parent])
        b = np.bincount(g_syn.links[fk.name].parent_rows, minlength=g_syn.num_nodes[fk.parent])
        hi = int(np.quantile(a, 0.99)) + 2 if len(a) else 2
        bins = np.arange(0, hi + 1) - 0.5 if hi <= 40 else np.linspace(0, hi, 30)
        ax.hist(a, bins=bins, density=True, alpha=0.55, color=REAL, label="real")
        ax.hist(b, bins=bins, density=True, alpha=0.55, color=SYNTH, label="synthetic")
        ax.set_title(f"{fk.child} per {fk.parent}\n({', '.join(fk.columns)})", fontsize=8)
        ax.tick_params(labelsize=7)
    return _finish_grid(fig, axes, len(fks))


def _bars(values: dict[str, float], title: str, reference: float | None = None, limits=(0, 1)) -> str:
    fig, ax = plt.subplots(figsize=(max(3.0, 0.55 * len(values) + 1.5), 2.6))
    ax.bar(list(values), list(values.values()), color=SYNTH)
    if reference is not None:
        ax.axhline(reference, color="#555", linestyle="--", linewidth=1)
    ax.set_ylim(*limits)
    ax.set_title(title, fontsize=9)
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    return _png(fig)


def render_report(
    real: Database, synthetic: Database, metrics: dict[str, Any], title: str = "dbtwin evaluation"
) -> str:
    """The report as one HTML string. Names are plain text in the plots (``$x$`` is no formula)."""
    with matplotlib.rc_context({"text.parse_math": False}):
        return _render(real, synthetic, metrics, title)


def _score_rows(metrics: dict[str, Any]) -> list[tuple[str, float | None]]:
    """The scores table: each score the metrics hold, named for a reader."""
    inter = metrics["inter_table_trends"]
    rows = [
        ("Cardinality", metrics["cardinality"]["score"]),
        ("Column shapes", metrics["column_shapes"]["score"]),
        ("Intra-table trends", metrics["intra_table_trends"]["score"]),
        *[(f"Inter-table trends, {k}-hop", inter[k]["score"]) for k in ("1", "2", "3")],
        ("Inter-table trends, mean", inter["mean"]),
    ]
    if "detection" in metrics:
        rows.append(("Detection with aggregation, max accuracy (0.5 ideal)", metrics["detection"]["score"]))
    if "utility" in metrics:
        rows.append(("ML efficacy, synthetic / real", metrics["utility"]["ratio"]))
        rows.append(
            ("Privacy: share closer to training than hold-out (0.5 ideal)", metrics["privacy"]["share_closer_to_train"])
        )
        rows.append(("Privacy: exact copies of training rows", metrics["privacy"]["exact_copy_rate"]))
        if metrics["privacy"].get("exact_copy_rate_weighted") is not None:
            rows.append(("Privacy: exact copies, weighted by rows", metrics["privacy"]["exact_copy_rate_weighted"]))
            rows.append(
                (
                    "Privacy: hold-out rows equal to a training row (baseline)",
                    metrics["privacy"]["holdout_exact_copy_rate_weighted"],
                )
            )
            rows.append(
                ("Privacy: membership-inference AUC (0.5 ideal)", metrics["privacy"]["membership_inference_auc"])
            )
    texts = metrics.get("text_columns", {})
    if texts.get("max_auc") is not None:
        rows.append(("Text columns: single-column detection, max AUC (0.5 ideal)", texts["max_auc"]))
    if texts.get("min_valid_share") is not None:
        rows.append(
            ("Text columns: generated values passing their type's check, lowest share", texts["min_valid_share"])
        )
    relations = metrics.get("relations", {})
    if relations.get("rules"):
        rows.append(("Exact relations: lowest share of rows keeping one (1 ideal)", relations["score"]))
    if metrics.get("sequences", {}).get("score") is not None:
        rows.append(("Sequences: largest lag-1 autocorrelation gap (0 ideal)", metrics["sequences"]["score"]))
    return rows


def _render(real: Database, synthetic: Database, metrics: dict[str, Any], title: str) -> str:
    esc = html.escape
    inter = metrics["inter_table_trends"]
    texts = metrics.get("text_columns", {})
    relations = metrics.get("relations", {})
    rows = _score_rows(metrics)
    checks = metrics["integrity"]
    head = f"<meta charset='utf-8'><title>{esc(title)}</title><style>{_STYLE}</style>"
    parts = [f"<!doctype html><html><head>{head}</head><body>"]
    parts.append(f"<h1>{esc(title)}</h1>")
    parts.append(
        f"<p>Integrity: {checks['fk_violations']} foreign-key violations, {checks['pk_duplicates']} duplicate keys, "
        f"{checks['nulls_in_not_null']} NULLs in NOT NULL columns, {checks['schema_mismatches']} schema mismatches.</p>"
    )
    if checks.get("kept_tables"):
        kept = ", ".join(checks["kept_tables"])
        parts.append(f"<p>Kept as they are (the real rows, not generated): {esc(kept)}.</p>")
    parts.append("<h2>Verdict per table</h2><table>")
    for table, verdict in table_verdicts(real, metrics).items():
        grade = verdict.split(":", 1)[0]
        parts.append(f"<tr><th>{esc(table)}</th><td class='{grade}'>{esc(verdict)}</td></tr>")
    parts.append("</table><h2>Scores</h2><table>")
    for name, value in rows:
        parts.append(f"<tr><td>{esc(name)}</td><td>{'-' if value is None else f'{value:.4f}'}</td></tr>")
    parts.append("</table>")
    if metrics.get("privacy", {}).get("copied_tables"):
        copied = ", ".join(metrics["privacy"]["copied_tables"])
        parts.append(
            f"<p>Tables copied whole by design (dimension tables), left out of the privacy rates: {esc(copied)}.</p>"
        )
    text_aucs = {k: d["auc"] for k, d in texts.get("details", {}).items() if d.get("auc") is not None}
    if text_aucs:  # no plot without a score to show
        parts.append(_bars(text_aucs, "single-column detection AUC per text column", reference=0.5))
    if relations.get("rules"):
        parts.append(_relations_table(relations["rules"]))
    hop_scores = {f"{k}-hop": inter[k]["score"] for k in ("1", "2", "3") if inter[k]["score"] is not None}
    if hop_scores:
        parts.append(_bars(hop_scores, "inter-table trends per hop"))
    if metrics.get("detection", {}).get("details"):
        parts.append(_bars(metrics["detection"]["details"], "detection accuracy per parent table", reference=0.5))
    parts.append(_giveaways(metrics.get("detection", {}).get("giveaways", {})))
    card = _cardinalities(real, synthetic)
    if card:
        parts.append("<h2>Children per parent</h2>" + card)
    for table in real.schema.table_names:
        marg = _marginals(real, synthetic, table)
        corr = _correlation_difference(real, synthetic, table)
        if marg or corr:
            parts.append(f"<h2>{esc(table)}</h2>{marg or ''}{corr or ''}")
    settings = metrics.get("settings", {})
    parts.append(
        "<p class='note'>Joins along foreign-key paths use at most "
        f"{settings.get('max_rows_per_path')} rows per path and detection at most "
        f"{settings.get('detection_rows_per_class')} rows per class, drawn at random "
        f"(seed {settings.get('random_state')}); marginal plots show at most {MAX_COLUMNS_PER_TABLE} columns "
        "per table.</p></body></html>"
    )
    return "".join(parts)


def _giveaways(telling: dict[str, list[dict[str, Any]]]) -> str:
    """The features that tell the twin's rows from the real ones, per table ('' when none do)."""
    esc = html.escape
    if not any(telling.values()):
        return ""
    parts = [
        "<h2>What gives the twin away</h2><table><tr><th>table</th><th>features (accuracy lost when shuffled)</th></tr>"
    ]
    for table, found in telling.items():
        if not found:  # nothing gives this table away: no empty row
            continue
        shown = ", ".join(f"{f['feature']} ({f['importance']:.2f})" for f in found)
        parts.append(f"<tr><th>{esc(table)}</th><td>{esc(shown)}</td></tr>")
    parts.append("</table>")
    return "".join(parts)


def _relations_table(rules: list[dict[str, Any]]) -> str:
    """Each relation found in the real database with the share of synthetic rows that keep it."""
    esc = html.escape
    parts = ["<h2>Exact relations of the real database</h2><table><tr><th>relation</th><th>kind</th>"]
    parts.append("<th>synthetic rows keeping it</th></tr>")
    for rule in sorted(rules, key=lambda r: r["share"] if r["share"] is not None else 2.0):
        share = rule["share"]
        grade = "good" if share is None or share >= 0.999 else ("fair" if share >= 0.95 else "poor")
        shown = "-" if share is None else f"{share:.2%} of {rule['rows']:,}"
        parts.append(
            f"<tr><td>{esc(rule['rule'])}</td><td>{esc(rule['kind'])}</td><td class='{grade}'>{shown}</td></tr>"
        )
    return "".join(parts) + "</table>"


def write_report(
    real: Database,
    synthetic: Database,
    metrics: dict[str, Any],
    directory: str | Path,
    title: str = "dbtwin evaluation",
    replace: bool = False,
) -> Path:
    """Write ``report.html`` into ``directory``, atomically; an existing one is replaced only when ``replace``."""
    path = Path(directory) / "report.html"
    atomic_write_text(path, render_report(real, synthetic, metrics, title), replace=replace)
    return path
