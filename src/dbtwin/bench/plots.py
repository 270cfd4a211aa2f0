"""The benchmark page's plots: quality per hop, time and memory, and fidelity against ε (with its table)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dbtwin.atomic import atomic_path
from dbtwin.bench.methods import METHODS
from dbtwin.bench.scores import FIDELITY, QUALITY, fmt, mean_of, method_order, ok, values_of

#: The differentially private methods and their ε, then the references without DP (ε = ∞).
DP_METHODS = {"dbtwin-dp1": 1.0, "dbtwin-dp3": 3.0, "dbtwin-dp10": 10.0}
DP_REFERENCES = {"dbtwin-k0": "∞ (K = 0, no DP)", "dbtwin": "∞ (default, no DP)"}


def dp_section(groups: dict[str, dict[str, list[dict]]], plots: Path) -> list[str]:
    """Fidelity against ε: a table per dataset and one plot of column shapes and 1-hop trends."""
    shown = {ds: by for ds, by in groups.items() if any(ok(by.get(m, [])) for m in DP_METHODS)}
    if not shown:
        return []
    lines = [
        "## Differential privacy: fidelity against ε",
        "",
        "`dbtwin fit --epsilon E` (docs/privacy.md): DP-SGD for a denoiser of rows alone and noised degree "
        "histograms, one (ε, δ) budget. The methods `dbtwin-dp1`, `-dp3` and `-dp10` plan it for "
        "the benchmark's steps; ε spent is what the accountant reports after the steps that ran.",
        "",
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [*FIDELITY[1:5], QUALITY[6]]
    fig, axes = plt.subplots(1, 2, figsize=(8, 3))
    for ds, by_method in shown.items():
        lines += [f"### {ds}", "", "| ε | ε spent | " + " | ".join(label for label, _ in columns) + " |"]
        lines.append("|---|---|" + "---|" * len(columns))
        curve = []
        for method, label in [*((m, f"{e:g}") for m, e in DP_METHODS.items()), *DP_REFERENCES.items()]:
            runs = ok(by_method.get(method, []))
            if not runs:
                continue
            spent = values_of(
                runs, lambda r: (r.get("training") or {}).get("differential_privacy", {}).get("epsilon_spent")
            )
            cells = [fmt(values_of(runs, lambda r, g=get: g(r["metrics"]))) for _, get in columns]
            lines.append(f"| {label} | {fmt(spent, 2) if spent else '-'} | " + " | ".join(cells) + " |")
            if method in DP_METHODS:
                curve.append(
                    (DP_METHODS[method], *(mean_of(runs, lambda r, g=get: g(r["metrics"])) for _, get in columns[:2]))
                )
        lines.append("")
        if curve:
            eps, shapes, intra = zip(*curve, strict=True)
            axes[0].plot(eps, shapes, marker="o", label=ds)
            axes[1].plot(eps, intra, marker="o", label=ds)
    for ax, (label, _) in zip(axes, columns[:2], strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("ε")
        ax.set_title(label, fontsize=9)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plots / "dp_curve.png", dpi=110)
    plt.close(fig)
    lines += [f"![fidelity against epsilon]({plots.name}/dp_curve.png)", ""]
    return lines


def plot_hops(name: str, by_method: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    for m in method_order(by_method):
        ys, es = [], []
        for k in ("1", "2", "3"):
            v = values_of(ok(by_method[m]), lambda r, k=k: r["metrics"]["inter_table_trends"][k]["score"])
            ys.append(np.mean(v) if v else np.nan)
            es.append(np.std(v) if len(v) > 1 else 0.0)
        if np.isfinite(ys).any():
            ax.errorbar([1, 2, 3], ys, yerr=es, marker="o", capsize=3, label=m)
    ax.set_xticks([1, 2, 3])
    ax.set_xlabel("hops")
    ax.set_ylabel("inter-table trends")
    ax.set_title(name)
    ax.axhline(0.9, color="grey", linestyle=":", linewidth=1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, replace=True) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def plot_cost(groups: dict[str, dict[str, list[dict]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(groups)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    width = 0.8 / len(METHODS)
    for i, m in enumerate(METHODS):
        secs = [mean_of(ok(groups[d].get(m, [])), lambda r: r["fit_seconds"] + r["sample_seconds"]) for d in names]
        rss = [mean_of(ok(groups[d].get(m, [])), lambda r: r["peak_rss_mb"]) for d in names]
        x = np.arange(len(names)) + i * width
        axes[0].bar(x, [s or 0 for s in secs], width, label=m)
        axes[1].bar(x, [r or 0 for r in rss], width, label=m)
    for ax, title in zip(axes, ("fit + sample seconds", "peak RSS (MB)"), strict=True):
        ax.set_xticks(np.arange(len(names)) + 0.4 - width / 2)
        ax.set_xticklabels(names, fontsize=7)
        ax.set_yscale("log")
        ax.set_title(title)
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path, replace=True) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
