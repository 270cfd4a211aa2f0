"""Order in time: does the synthetic database keep the smoothness of the real one's sequences?

For every sequence of the real database (rows of a table sharing a parent, ordered by its time
column; :mod:`dbtwin.graph.sequences`), the lag-1 autocorrelation of each numeric column within
sequences, real against synthetic (the same rows and order found the same way in both).
"""

from __future__ import annotations

from typing import Any

from dbtwin.database import Database
from dbtwin.graph.sequences import find_sequences, lag1_autocorrelations


def autocorrelation_gaps(real: Database, synthetic: Database) -> dict[str, Any]:
    """Per ``table.column`` of each real sequence: both autocorrelations and their absolute gap;
    ``score`` is the largest gap (0 ideal; None without sequences)."""
    details: dict[str, dict[str, float | None]] = {}
    for seq in find_sequences(real):
        ours = lag1_autocorrelations(synthetic, seq)
        for column, value in lag1_autocorrelations(real, seq).items():
            other = ours.get(column)
            details[f"{seq.table}.{column}"] = {
                "real": round(value, 6),
                "synthetic": None if other is None else round(other, 6),
                "gap": None if other is None else round(abs(value - other), 6),
            }
    gaps = [d["gap"] for d in details.values() if d["gap"] is not None]
    return {"score": max(gaps) if gaps else None, "details": details}
