"""Evaluation of synthetic databases against the real one."""

from dbtwin.evaluate.detection import detection
from dbtwin.evaluate.fidelity import cardinality, column_shapes
from dbtwin.evaluate.integrity import integrity
from dbtwin.evaluate.privacy import privacy
from dbtwin.evaluate.report import evaluate, write_metrics
from dbtwin.evaluate.split import HoldoutSplit, holdout_split
from dbtwin.evaluate.trends import foreign_key_paths, inter_table_trends, intra_table_trends
from dbtwin.evaluate.utility import utility

__all__ = [
    "HoldoutSplit",
    "cardinality",
    "column_shapes",
    "detection",
    "evaluate",
    "foreign_key_paths",
    "holdout_split",
    "integrity",
    "inter_table_trends",
    "intra_table_trends",
    "privacy",
    "utility",
    "write_metrics",
]
