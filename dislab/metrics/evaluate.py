"""Evaluate a run folder: encode its dataset with its model, compute metrics, write evaluation.json.

    from dislab.metrics import evaluate
    result = evaluate("runs/demo", metrics=["mig", "dci"], n_train=2000, seed=0)
    result["metrics"]["mig"]["mig"]

Each metric is the sampler registered in :data:`dislab.metrics.METRICS` under its name, called as
``fn(dataset, encode, seed=seed, **parameters)`` with the published sample sizes unless
``n_train`` overrides them (test / evaluation sets then get ``n_train // 2`` points and variance
estimates ``n_train``, the published 2 : 1 : 2 ratio). One :class:`ModelEncoder` serves every metric,
so the images shared by several metrics (same seed, same draws) are encoded once; the first metric's
time includes that encoding.

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
"""
from __future__ import annotations

import inspect
import time
from pathlib import Path
from typing import Iterable

from dislab.errors import DataError

# computed when `metrics` is None: the array suite and the unsupervised scores. The BetaVAE and
# FactorVAE scores encode ~1-2 million images at the published sizes: ask for them by name.
DEFAULT_METRICS = ("mig", "dci", "sap", "modularity_explicitness", "irs", "unsupervised")
# metrics that need no ground-truth factors
UNSUPERVISED_METRICS = ("unsupervised",)
# metrics also computed per level of a hierarchical model
PER_LEVEL_METRICS = ("mig", "dci")


def default_options() -> dict[str, dict]:
    """Options ``evaluate`` passes unless told otherwise: DCI with the fast predictor (the
    reference's boosting algorithm with LightGBM growing the trees; docs/metrics.md "DCI" gives its
    agreement with the reference "gbt"), or the reference "gbt" itself (minutes per model)
    when LightGBM is missing; factors fitted on every core (``n_jobs=-1``), as DCI-ES's probes."""
    try:
        import lightgbm  # noqa: F401

        predictor = "lightgbm"
    except ImportError:  # a dependency, but a platform may lack its wheel: slow but faithful
        predictor = "gbt"
    return {"dci": {"predictor": predictor, "n_jobs": -1}, "dci_es": {"n_jobs": -1}}


def parse_metric_names(metrics: str | Iterable[str] | None) -> list[str] | None:
    """``"mig,dci"`` or ``["mig", "dci"]`` -> checked list; unknown names raise ConfigError."""
    from dislab.metrics import METRICS

    if metrics is None:
        return None
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [m for m in names if m]
    if not names:
        raise DataError("no metric named; expected a comma-separated list such as mig,dci")
    for m in names:
        METRICS.get(m)  # ConfigError listing the known names
    return list(dict.fromkeys(names))


def _keyword_defaults(fn) -> dict:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}


def sampler_parameters(fn, n_train: int | None, seed: int, options: dict) -> dict:
    """The keyword arguments a sampler is called with: its sample sizes (scaled from ``n_train``
    when given), ``options``, and every remaining default of the sampler and of the array function
    behind it (all recorded in evaluation.json). Unknown option names raise DataError."""
    from dislab.metrics.sampling import array_metric

    params = _keyword_defaults(fn)
    params["seed"] = int(seed)
    if n_train is not None:
        if int(n_train) != n_train or n_train < 2:
            raise DataError(f"n_train must be an integer >= 2, got {n_train}")
        n_train = int(n_train)
        for key, value in (("n_train", n_train), ("n_test", n_train // 2), ("n_eval", n_train // 2),
                           ("n_variance", n_train)):
            if key in params:
                params[key] = value
    inner = array_metric(fn)
    inner_defaults = {k: v for k, v in (_keyword_defaults(inner) if inner else {}).items()
                      if k not in params and k != "seed"}
    unknown = sorted(set(options) - set(params) - set(inner_defaults))
    if unknown:
        raise DataError(f"unknown option(s) {unknown} for metric {fn.__name__}; expected some of "
                        f"{sorted(set(params) | set(inner_defaults))}")
    return {**params, **inner_defaults, **options}


def _levels(model) -> list[tuple[int, int]]:
    levels = tuple(getattr(model, "latent_levels", ()) or ())
    if len(levels) <= 1:
        return []
    bounds, start = [], 0
    for size in levels:
        bounds.append((start, start + int(size)))
        start += int(size)
    return bounds


def evaluate(run_dir: str | Path, metrics: str | Iterable[str] | None = None, n_train: int | None = None,
             seed: int = 0, *, options: dict[str, dict] | None = None, mode: str = "mean",
             device: str = "cpu", progress: bool = True, write: bool = True) -> dict:
    """Compute ``metrics`` of the run in ``run_dir`` and write ``evaluation.json`` there.

    Args:
        run_dir: a run folder (``dislab.training.open_run``).
        metrics: names in :data:`dislab.metrics.METRICS` (a list or ``"mig,dci"``); None: the
            :data:`DEFAULT_METRICS` that apply to the dataset (unsupervised ones only when it has
            no factors, with a note saying so).
        n_train: points per metric instead of the published 10,000 (see module doc).
        seed: seed of every sampler (the same points for every metric).
        options: per metric, keyword options of its sampler / array function, e.g.
            ``{"dci": {"predictor": "gbt"}}``; merged over :func:`default_options`.
        mode: ``"mean"`` (posterior means, the field's convention) or ``"sample"`` codes.
        device: where the model encodes.
        progress: tqdm bars while encoding (shown on a terminal only).
        write: write evaluation.json (True) or only return the result.

    Returns:
        The evaluation as written (see module doc), plus ``"computed"``: the metric keys computed
        by this call (the others came from the file).

    Raises:
        DataError: a metric that needs factors was asked for on a dataset without factors.
    """
    from dislab.io import read_json, write_json
    from dislab.metrics import METRICS
    from dislab.metrics.sampling import ModelEncoder
    from dislab.training import open_run

    run = open_run(run_dir)
    dataset = run.dataset()
    model = run.model(device)
    names = parse_metric_names(metrics)
    notes: list[str] = []
    if names is None:
        names = list(DEFAULT_METRICS)
        if not dataset.has_factors:
            skipped = [m for m in names if m not in UNSUPERVISED_METRICS]
            names = [m for m in names if m in UNSUPERVISED_METRICS]
            notes.append(f"dataset {dataset.name!r} has no ground-truth factors: computed the "
                         f"unsupervised metrics only, skipped {', '.join(skipped)}")
    elif not dataset.has_factors:
        bad = [m for m in names if m not in UNSUPERVISED_METRICS]
        if bad:
            raise DataError(
                f"dataset {dataset.name!r} of run {run.path} has no ground-truth factors, which "
                f"{', '.join(bad)} need{'s' if len(bad) == 1 else ''}; metrics without factors: "
                f"{', '.join(UNSUPERVISED_METRICS)}")

    merged = default_options()
    for k, v in (options or {}).items():
        merged[k] = {**merged.get(k, {}), **dict(v)}

    encoder = ModelEncoder(model, mode=mode, device=device, seed=seed, progress=progress)
    jobs = [(name, name, encoder) for name in names]
    for i, (a, b) in enumerate(_levels(model)):
        jobs += [(f"level{i}/{name}", name, encoder.select(slice(a, b)))
                 for name in names if name in PER_LEVEL_METRICS]

    scores, parameters, times = {}, {}, {}
    for key, name, enc in jobs:
        fn = METRICS.get(name)
        params = sampler_parameters(fn, n_train, seed, merged.get(name, {}))
        if "progress" in params and "progress" not in merged.get(name, {}):
            params["progress"] = progress  # array metrics with their own bars (DCI's per factor)
        t0 = time.perf_counter()
        scores[key] = fn(dataset, enc, **params)
        times[key] = round(time.perf_counter() - t0, 3)
        parameters[key] = params

    path = run.path / "evaluation.json"
    previous = {}
    if path.is_file():
        try:
            previous = read_json(path)
        except DataError:
            previous = {}  # a corrupt old file is replaced, not merged
        if (previous.get("step", run.step) != run.step
                or previous.get("representation", mode) != mode):
            previous = {}  # scores of other weights or codes are not mixed in
    result = {
        "run": str(run.path),
        "model": run.model_name,
        "dataset": dataset.name,
        "step": run.step,
        "representation": mode,
        "metrics": {**previous.get("metrics", {}), **scores},
        "parameters": {**previous.get("parameters", {}), **parameters},
        "time_s": {**previous.get("time_s", {}), **times},
        "notes": notes,
    }
    if write:
        write_json(path, result, produced_by="dislab.metrics.evaluate")
    return {**result, "computed": list(scores)}
