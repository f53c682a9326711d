"""Run and study folders: their layout (:mod:`dislab.runs.layout`, the one source of every file
name) and the stages that work on a trained run: :func:`evaluate` (``dislab evaluate``,
:mod:`dislab.runs.evaluation`). The metrics beneath (:mod:`dislab.metrics`) are arrays and
samplers only; training (:mod:`dislab.training`) writes the folders this layer reads."""
from __future__ import annotations

from dislab.runs.evaluation import evaluate

__all__ = ["evaluate"]
