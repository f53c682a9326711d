"""Disentanglement metrics, in two layers (docs/metrics.md):

* pure functions on arrays — codes ``(n_samples, n_codes)`` float, factors ``(n_samples, n_factors)``
  int — that validate like scikit-learn and return JSON-ready dicts of named floats;
* samplers that draw points from a FactorDataset, encode them and call the array layer with the
  literature's sample sizes.

``METRICS`` maps each metric's name to its declaration (:class:`dislab.metrics.spec.MetricSpec`:
sampler ``fn(dataset, encode, *, seed, **options) -> dict``, array function, scores with meaning,
range and direction), which every stage reads; a spec is callable as its sampler. A new metric is
its module (array function, sampler, ``SPEC``), one line here and its test.

The array functions are exported eagerly (``dislab.metrics.mig`` is the function; import helpers
from their modules, e.g. ``from dislab.metrics.mig import histogram_discretize``); they import
scikit-learn only when called. Shared input validation: ``dislab.metrics._validate``.
"""
from __future__ import annotations

from dislab.metrics.dci import dci
from dislab.metrics.dci_es import dci_es
from dislab.metrics.infomec import infomec
from dislab.metrics.irs import irs
from dislab.metrics.mig import mig, mig_sup
from dislab.metrics.modularity_explicitness import modularity_explicitness
from dislab.metrics.sap import sap
from dislab.registry import Registry

METRICS = Registry("metric", {
    # each entry is the metric module's SPEC (dislab/metrics/spec.py): sampler, array function,
    # scores; registration order is evaluate's order. The default suite (SPEC.default) first:
    "mig": "dislab.metrics.mig:SPEC",
    "dci": "dislab.metrics.dci:SPEC",
    "sap": "dislab.metrics.sap:SPEC",
    "modularity_explicitness": "dislab.metrics.modularity_explicitness:SPEC",
    "irs": "dislab.metrics.irs:SPEC",
    "unsupervised": "dislab.metrics.unsupervised:SPEC",
    # the 2023 metrics (named on request: dislab evaluate --metrics infomec,dci_es)
    "infomec": "dislab.metrics.infomec:SPEC",
    "dci_es": "dislab.metrics.dci_es:SPEC",
    # metrics defined by their own sampling protocol (1-2 million images: named on request)
    "beta_vae_score": "dislab.metrics.beta_vae_score:SPEC",
    "factor_vae_score": "dislab.metrics.factor_vae_score:SPEC",
    # computed over the seeds of a study (dislab udr), declared here for its scores
    "udr": "dislab.metrics.udr:SPEC",
})

from dislab.metrics.beta_vae_score import beta_vae_score  # noqa: E402
from dislab.metrics.factor_vae_score import factor_vae_score  # noqa: E402
from dislab.metrics.udr import udr  # noqa: E402



def __getattr__(name: str):
    # ``dislab.metrics.evaluate``, the run stage's former home, kept as an alias imported on first
    # use: this package imports nothing above it (the stage is dislab.runs.evaluate)
    if name == "evaluate":
        from dislab.runs.evaluation import evaluate

        return evaluate
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "METRICS", "udr", "beta_vae_score", "factor_vae_score",
    "dci", "dci_es", "infomec", "irs", "mig", "mig_sup", "modularity_explicitness", "sap",
]
