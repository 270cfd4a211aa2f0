"""Run by the MOSTLY AI environment's interpreter (see :mod:`dbtwin.bench.mostly`), not imported by
dbtwin: train MOSTLY AI on the tables in ``WORK/in`` as ``WORK/plan.json`` says, generate one twin at
the real size, and write its tables to ``WORK/out`` (same file names). Needs only pandas, pyarrow and
``mostlyai[local]``."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path


def main(work: Path) -> None:
    import pandas as pd
    from mostlyai.sdk import MostlyAI

    logging.basicConfig(level=logging.WARNING)
    plan = json.loads((work / "plan.json").read_text())
    tables = []
    for i, entry in enumerate(plan["tables"]):
        tables.append({**entry, "data": pd.read_parquet(work / "in" / f"{i}.parquet")})
    mostly = MostlyAI(local=True, local_dir=str(work / "mostly"), quiet=True)
    config = {"name": "dbtwin-bench", "random_state": plan["seed"], "tables": tables}
    generator = mostly.train(config=config, start=True, wait=True, progress_bar=False)
    dataset = mostly.generate(generator, start=True, wait=True, progress_bar=False)
    data = dataset.data()
    (work / "out").mkdir(exist_ok=True)
    for i, entry in enumerate(plan["tables"]):
        data[entry["name"]].to_parquet(work / "out" / f"{i}.parquet", index=False)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
