"""The metric suite on arrays and samplers, with no run folder in sight: which metrics run by
default, the options they run with, the keyword arguments each sampler is called with, and one
call that computes several metrics from one encoder (:func:`compute_suite`).

:func:`dislab.runs.evaluate` (the run stage behind ``dislab evaluate``) opens a run, builds its
encoder and calls :func:`compute_suite`; anything else holding a dataset and an encoding function
(a model not trained by dislab, a test) can call it directly.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable, Sequence

from dislab.errors import DataError


def _names(keep) -> tuple[str, ...]:
    from dislab.metrics.spec import all_specs

    return tuple(spec.name for spec in all_specs() if keep(spec))


def default_metrics() -> tuple[str, ...]:
    """What ``evaluate`` computes when no metric is named (``MetricSpec.default``); the BetaVAE
    and FactorVAE scores encode 1-2 million images and are named on request."""
    return _names(lambda s: s.default)


def unsupervised_metrics() -> tuple[str, ...]:
    """Metrics of one run that need no ground-truth factors (``needs_factors=False``)."""
    return _names(lambda s: not s.needs_factors and s.sampler is not None)


def per_level_metrics() -> tuple[str, ...]:
    """Metrics also computed on each level of a hierarchical model (``per_level``)."""
    return _names(lambda s: s.per_level)


_SUITES = {"DEFAULT_METRICS": default_metrics, "UNSUPERVISED_METRICS": unsupervised_metrics,
           "PER_LEVEL_METRICS": per_level_metrics}


def __getattr__(name: str):
    # the suites as constants, read from the metrics' declarations when first asked for
    if name in _SUITES:
        return _SUITES[name]()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def default_options() -> dict[str, dict]:
    """Options the suite passes unless told otherwise, per metric (``MetricSpec.options``): DCI
    with the fast predictor (or "gbt" where numba cannot be imported), DCI and DCI-ES fitting
    factors on every core."""
    from dislab.metrics.spec import all_specs

    return {spec.name: opts for spec in all_specs() if (opts := spec.options())}


def parse_metric_names(metrics: str | Iterable[str] | None) -> list[str] | None:
    """``"mig,dci"`` or ``["mig", "dci"]`` -> checked list; unknown names raise ConfigError, and
    so do metrics of a whole study (UDR), which no single run can be evaluated for."""
    from dislab.errors import ConfigError
    from dislab.metrics import METRICS

    if metrics is None:
        return None
    names = [m.strip() for m in (metrics.split(",") if isinstance(metrics, str) else metrics)]
    names = [m for m in names if m]
    if not names:
        raise DataError("no metric named; expected a comma-separated list such as mig,dci")
    for m in names:
        if METRICS.get(m).sampler is None:  # METRICS.get: a ConfigError listing the known names
            raise ConfigError(f"metric {m!r} is computed over the seeds of a study (dislab udr STUDY), "
                              f"not for one run; metrics of a run: "
                              f"{', '.join(n for n in METRICS.names(ordered=True) if METRICS.get(n).sampler)}")
    return list(dict.fromkeys(names))


def suite_for(names: Sequence[str] | None, has_factors: bool, where: str) -> tuple[list[str], list[str]]:
    """The metrics to compute and the notes to record: ``names`` (None: :data:`DEFAULT_METRICS`,
    narrowed to the unsupervised ones, with a note, for a dataset without factors). Naming a
    metric that needs factors for such a dataset raises DataError (``where`` names it)."""
    notes: list[str] = []
    unsupervised = unsupervised_metrics()
    if names is None:
        names = list(default_metrics())
        if not has_factors:
            skipped = [m for m in names if m not in unsupervised]
            names = [m for m in names if m in unsupervised]
            notes.append(f"{where} has no ground-truth factors: computed the unsupervised metrics "
                         f"only, skipped {', '.join(skipped)}")
    elif not has_factors:
        bad = [m for m in names if m not in unsupervised]
        if bad:
            raise DataError(
                f"{where} has no ground-truth factors, which {', '.join(bad)} "
                f"need{'s' if len(bad) == 1 else ''}; metrics without factors: {', '.join(unsupervised)}")
    return list(names), notes


def sampler_parameters(spec, n_train: int | None, seed: int, options: dict) -> dict:
    """The keyword arguments a metric's sampler is called with: its sample sizes (scaled from
    ``n_train`` when given: test / evaluation sets get ``n_train // 2`` points, variance estimates
    ``n_train``, the published 2 : 1 : 2 ratio), ``options``, and every remaining default of the
    sampler and of its array function (all recorded in evaluation.json). ``spec`` is a
    :class:`~dislab.metrics.spec.MetricSpec`. Unknown option names raise DataError."""
    params = spec.sampler_defaults()
    params["seed"] = int(seed)
    if n_train is not None:
        if int(n_train) != n_train or n_train < 2:
            raise DataError(f"n_train must be an integer >= 2, got {n_train}")
        n_train = int(n_train)
        for key, value in (("n_train", n_train), ("n_test", n_train // 2), ("n_eval", n_train // 2),
                           ("n_variance", n_train)):
            if key in params:
                params[key] = value
    inner_defaults = {k: v for k, v in spec.array_defaults().items() if k not in params and k != "seed"}
    unknown = sorted(set(options) - set(params) - set(inner_defaults))
    if unknown:
        raise DataError(f"unknown option(s) {unknown} for metric {spec.name}; expected some of "
                        f"{sorted(set(params) | set(inner_defaults))}")
    return {**params, **inner_defaults, **options}


def level_slices(latent_levels: Sequence[int] | None) -> list[slice]:
    """The code columns of each level of a hierarchical model (sizes of consecutive blocks);
    none for a model with one level."""
    levels = tuple(latent_levels or ())
    if len(levels) <= 1:
        return []
    bounds, start = [], 0
    for size in levels:
        bounds.append(slice(start, start + int(size)))
        start += int(size)
    return bounds


def compute_suite(dataset, encoder, names: Sequence[str], *, n_train: int | None = None, seed: int = 0,
                  options: dict[str, dict] | None = None, levels: Sequence[slice] = (),
                  progress: bool = True) -> tuple[dict, dict, dict]:
    """Compute the metrics ``names`` (keys of :data:`dislab.metrics.METRICS`) of one encoder.

    Args:
        dataset: a FactorDataset.
        encoder: a :class:`dislab.metrics.sampling.ModelEncoder` (or anything with its call and
            ``select(slice)``); one encoder serves every metric, so the images several metrics
            share (same seed, same draws) are encoded once, in the first metric's time.
        n_train: points per metric instead of the published sizes (see :func:`sampler_parameters`).
        seed: seed of every sampler.
        options: per metric, keyword options merged over :func:`default_options`.
        levels: code columns per level (:func:`level_slices`); metrics declared ``per_level`` are
            also computed on each, under ``"level0/mig"``, ``"level1/dci"``, ...
        progress: the metrics' own bars (DCI's per factor), unless an option sets it.

    Returns:
        ``(scores, parameters, seconds)``, three dicts keyed by metric (and level) name.
    """
    from dislab.metrics import METRICS

    merged = default_options()
    for k, v in (options or {}).items():
        merged[k] = {**merged.get(k, {}), **dict(v)}
    jobs: list[tuple[str, str, Callable]] = [(name, name, encoder) for name in names]
    for i, cols in enumerate(levels):
        jobs += [(f"level{i}/{name}", name, encoder.select(cols)) for name in names if METRICS.get(name).per_level]
    scores, parameters, times = {}, {}, {}
    for key, name, enc in jobs:
        fn = METRICS.get(name)
        params = sampler_parameters(fn, n_train, seed, merged.get(name, {}))
        if "progress" in params and "progress" not in merged.get(name, {}):
            params["progress"] = progress
        t0 = time.perf_counter()
        scores[key] = fn(dataset, enc, **params)
        times[key] = round(time.perf_counter() - t0, 3)
        parameters[key] = params
    return scores, parameters, times


__all__ = ["DEFAULT_METRICS", "UNSUPERVISED_METRICS", "PER_LEVEL_METRICS", "default_metrics", "unsupervised_metrics",
           "per_level_metrics", "default_options", "parse_metric_names",
           "suite_for", "sampler_parameters", "level_slices", "compute_suite"]
