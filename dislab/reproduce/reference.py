"""Reference figures a report puts a run's scores beside: per dataset, the range of headline scores
that dislab's own reproduction runs reached, with the command and budget that produced them
(docs/results.md). Only measured figures are listed; a dataset without any gets no comparison."""
from __future__ import annotations

from typing import Any

# dataset -> {"label", "source", "scores": {"METRIC.KEY": [low, high]}}
REFERENCE: dict[str, dict[str, Any]] = {}


def reference_for(dataset: str) -> dict[str, Any] | None:
    return REFERENCE.get(dataset)
