"""Harmonization metrics: the ``iharmony4`` protocol by default (DoveNet test.py, the leaderboard),
or ``s2am`` / ``rainnet`` / ``fmse``; by foreground ratio, with the untouched composite as baseline.

The formulas live in :mod:`ppinpaint.metrics.protocols`.
"""
from ..registry import METRICS
from .task import TaskMetrics


@METRICS.register()
class HarmonizationMetrics(TaskMetrics):
    """Harmonization protocol metrics (``protocol: iharmony4 | s2am | rainnet | fmse``), binned, with
    the composite baseline."""

    task = "harmonization"
