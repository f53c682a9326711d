"""Disentanglement metrics, in two layers (docs/metrics.md):

* pure functions on arrays — codes ``(n_samples, n_codes)`` float, factors ``(n_samples, n_factors)``
  int — that validate like scikit-learn and return JSON-ready dicts of named floats;
* samplers that draw points from a FactorDataset, encode them and call the array layer with the
  literature's sample sizes.

``METRICS`` maps each metric name used by ``dislab evaluate --metrics`` to its sampler-level
function ``fn(dataset, encode, *, seed, **options) -> dict``.
"""
from __future__ import annotations

from dislab.registry import Registry

METRICS = Registry("metric", {})

__all__ = ["METRICS"]
