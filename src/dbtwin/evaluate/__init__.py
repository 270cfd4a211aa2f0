"""Evaluation of synthetic databases against the real one."""

from dbtwin.evaluate.fidelity import cardinality, column_shapes

__all__ = ["cardinality", "column_shapes"]
