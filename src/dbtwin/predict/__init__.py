"""Predictive relational deep learning on the row graph: declared entity tasks, temporal sampling,
row encoders, a heterogeneous GraphSAGE predictor and LightGBM baselines."""

from dbtwin.predict.task import EntityTask, TaskExamples, TaskType

__all__ = ["EntityTask", "TaskExamples", "TaskType"]
