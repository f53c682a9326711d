"""dislab: learn disentangled representations and measure them.

Public entry points (imported lazily so ``import dislab`` stays cheap)::

    dislab.data.get_dataset(name, **options) -> FactorDataset
    dislab.train(config) -> Path                    # run folder
    dislab.load(run_dir) -> model (encode / decode)
    dislab.evaluate(run_dir, metrics=...) -> dict   # writes evaluation.json
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "train", "load", "evaluate"]


def train(config, **kwargs):
    """Train a model; see :func:`dislab.training.train`."""
    from dislab.training import train as _train

    return _train(config, **kwargs)


def load(run_dir, **kwargs):
    """Load a trained model from a run folder; see :func:`dislab.training.load`."""
    from dislab.training import load as _load

    return _load(run_dir, **kwargs)


def evaluate(run_dir, **kwargs):
    """Evaluate a run folder and write ``evaluation.json``; see :func:`dislab.runs.evaluate`."""
    from dislab.runs import evaluate as _evaluate

    return _evaluate(run_dir, **kwargs)
