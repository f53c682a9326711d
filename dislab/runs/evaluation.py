"""Evaluate a run folder: encode its dataset with its model, compute metrics, write evaluation.json.

    from dislab.runs import evaluate          # also dislab.evaluate
    result = evaluate("runs/demo", metrics=["mig", "dci"], n_train=2000, seed=0)
    result["metrics"]["mig"]["mig"]

This is the run stage; the metrics themselves know nothing of run folders. Each metric is the
sampler registered in :data:`dislab.metrics.METRICS` under its name, computed by
:func:`dislab.metrics.suite.compute_suite` with the published sample sizes unless ``n_train``
overrides them. One :class:`ModelEncoder` serves every metric, so the images shared by several
metrics (same seed, same draws) are encoded once; the first metric's time includes that encoding.

Hierarchical models (``model.latent_levels``: sizes of consecutive blocks of the code, more than one
block) also get MIG and DCI on each level's codes, under ``"level0/mig"``, ``"level1/dci"``, ...

``evaluation.json`` (written atomically with dislab's provenance block)::

    {"dislab": {...}, "run": ..., "model": ..., "dataset": ..., "step": ...,
     "representation": "mean",
     "metrics":    {name: {score: value, ...}},
     "parameters": {name: {"seed": 0, "n_train": 10000, ...}},
     "time_s":     {name: seconds},
     "notes":      [why a metric was skipped, ...]}

Metrics already in the file and not recomputed are kept (each with its own parameters) when they
were computed at the same training step with the same representation; otherwise they are dropped.

An evaluation that writes holds the run's lock (:func:`dislab.training.run.run_lock`, the one a
trainer, a sweep and UDR take), so its weights cannot change under it and two evaluations do not
merge into one file at once; under it, temporaries a killed evaluation left are removed.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Iterable

from dislab.errors import DataError
from dislab.runs.layout import EVALUATION

PRODUCER = "dislab.runs.evaluate"


def evaluate(run_dir, metrics: str | Iterable[str] | None = None, n_train: int | None = None,
             seed: int = 0, *, options: dict[str, dict] | None = None, mode: str = "mean",
             device: str = "cpu", progress: bool = True, write: bool = True) -> dict:
    """Compute ``metrics`` of the run in ``run_dir`` and write ``evaluation.json`` there.

    Args:
        run_dir: a run folder (``dislab.training.open_run``) or an opened :class:`Run`.
        metrics: names in :data:`dislab.metrics.METRICS` (a list or ``"mig,dci"``); None: the
            :data:`dislab.metrics.suite.DEFAULT_METRICS` that apply to the dataset (unsupervised
            ones only when it has no factors, with a note saying so).
        n_train: points per metric instead of the published 10,000 (test sets get half).
        seed: seed of every sampler (the same points for every metric).
        options: per metric, keyword options of its sampler / array function, e.g.
            ``{"dci": {"predictor": "gbt"}}``; merged over
            :func:`dislab.metrics.suite.default_options`.
        mode: ``"mean"`` (posterior means, the field's convention) or ``"sample"`` codes.
        device: where the model encodes.
        progress: tqdm bars while encoding (shown on a terminal only).
        write: write evaluation.json (True, under the run's lock) or only return the result.

    Returns:
        The evaluation as written (see module doc), plus ``"computed"``: the metric keys computed
        by this call (the others came from the file).

    Raises:
        DataError: a metric that needs factors was asked for on a dataset without factors.
        RunError: the run is being trained (or evaluated) by another process, when ``write``.
    """
    from dislab.io import read_json, write_json
    from dislab.metrics.sampling import ModelEncoder
    from dislab.metrics.suite import compute_suite, level_slices, parse_metric_names, suite_for
    from dislab.training import open_run
    from dislab.training.run import Run, remove_stale_temporaries, run_lock

    run = run_dir if isinstance(run_dir, Run) else open_run(run_dir)
    names = parse_metric_names(metrics)  # unknown names fail before the lock and the model
    with run_lock(run.path) if write else contextlib.nullcontext(True):
        if write:
            remove_stale_temporaries(run.path)
        dataset = run.dataset()
        model = run.model(device)
        where = f"dataset {dataset.name!r}" if names is None else f"dataset {dataset.name!r} of run {run.path}"
        names, notes = suite_for(names, dataset.has_factors, where)
        encoder = ModelEncoder(model, mode=mode, device=device, seed=seed, progress=progress)
        scores, parameters, times = compute_suite(
            dataset, encoder, names, n_train=n_train, seed=seed, options=options,
            levels=level_slices(getattr(model, "latent_levels", None)), progress=progress)

        path = run.path / EVALUATION
        step = run.step
        previous = {}
        if path.is_file():
            try:
                previous = read_json(path)
            except DataError:
                previous = {}  # a corrupt old file is replaced, not merged
            if previous.get("step", step) != step or previous.get("representation", mode) != mode:
                previous = {}  # scores of other weights or codes are not mixed in
        result = {
            "run": str(run.path),
            "model": run.model_name,
            "dataset": dataset.name,
            "step": step,
            "representation": mode,
            "metrics": {**previous.get("metrics", {}), **scores},
            "parameters": {**previous.get("parameters", {}), **parameters},
            "time_s": {**previous.get("time_s", {}), **times},
            "notes": notes,
        }
        if write:
            write_json(path, result, produced_by=PRODUCER)
    return {**result, "computed": list(scores)}


__all__ = ["evaluate"]
