"""Disentanglement metrics, in two layers (docs/metrics.md):

* pure functions on arrays — codes ``(n_samples, n_codes)`` float, factors ``(n_samples, n_factors)``
  int — that validate like scikit-learn and return JSON-ready dicts of named floats;
* samplers that draw points from a FactorDataset, encode them and call the array layer with the
  literature's sample sizes.

``METRICS`` maps each metric name used by ``dislab evaluate --metrics`` to its sampler-level
function ``fn(dataset, encode, *, seed, **options) -> dict``.

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
    # samplers of the array metrics with the published sample sizes (dislab/metrics/sampling.py)
    "mig": "dislab.metrics.sampling:compute_mig",
    "dci": "dislab.metrics.sampling:compute_dci",
    "sap": "dislab.metrics.sampling:compute_sap",
    "modularity_explicitness": "dislab.metrics.sampling:compute_modularity_explicitness",
    "irs": "dislab.metrics.sampling:compute_irs",
    "unsupervised": "dislab.metrics.sampling:compute_unsupervised",
    # the 2023 metrics (named on request: dislab evaluate --metrics infomec,dci_es)
    "infomec": "dislab.metrics.sampling:compute_infomec",
    "dci_es": "dislab.metrics.sampling:compute_dci_es",
    # metrics defined by their own sampling protocol
    "beta_vae_score": "dislab.metrics.beta_vae_score:beta_vae_score",
    "factor_vae_score": "dislab.metrics.factor_vae_score:factor_vae_score",
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
