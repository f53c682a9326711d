"""DCI-ES: Disentanglement, Completeness, Informativeness, Explicitness and Size on arrays.

Eastwood, Nicolicioiu, von Kügelgen, Kekić, Träuble, Dittadi, Schölkopf, "DCI-ES: An Extended
Disentanglement Framework with Connections to Identifiability", ICLR 2023, Sec. 4 and 5;
conventions of the authors' code (andreinicolicioiu/DCI-ES: ``metrics/explitcitness.py``,
``src/simple_gather.py``, the random-forest probes of ``src/loss_capacity/
train_model_random_forest.py`` with ``configs/random_forest``).

**Explicitness E** (per factor, then averaged): probes of increasing capacity -- random forests of
100 trees with ``max_depth`` = capacity c in (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32), the
authors' grid -- are fitted on the training split and scored on the test split. The loss is
1 - accuracy for a categorical factor (1 - R² for one treated as continuous, ``regression``).
The loss-capacity curve keeps, at each capacity, the lowest loss reached so far, ``l(c_i) =
min_{i' <= i} loss(c_i')``. With ``l_min`` its lowest value and ``l_b`` the baseline loss (chance:
1 - 1/K for K classes; 1 for a regression, the loss of predicting the mean),

    AULCC = sum_i (c_{i+1} - c_i) * ((l(c_i) - l_min) + (l(c_{i+1}) - l_min)) / 2   (trapezoids)
    E     = 1 - AULCC / (½ (c_max - c_min) l_b)

i.e. one minus the area between the curve and its lowest loss, relative to the triangle under
the line from the baseline at the smallest capacity to a perfect loss (the authors' l* = 0) at
the largest. E = 1 when the smallest probe already reaches the lowest loss; E is in [-1, 1] when
the smallest probe does no worse than chance (-1 for a curve that stays at the baseline until the
last capacity and then drops to 0; a probe worse than chance can take it lower).
Capacities are the raw depths (the authors take logs of MLP parameter counts, not of depths).

**Size S** = n_factors / n_codes: 1 for as many codes as factors, smaller for a larger
representation (the paper's ratio of the factors' to the code's dimension).

**D, C, I** come from the probe of the capacity with the best mean test informativeness (the
authors' ``simple_gather.py``): importance = the forest's ``feature_importances_``, D and C by
Eastwood & Williams' formulas (:func:`dislab.metrics.dci.disentanglement_score`), I = mean test
score. They are not the reference D, C, I of :func:`dislab.metrics.dci` (boosted trees).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import warnings

import numpy as np

from dislab.errors import ConfigError
from dislab.metrics._parallel import pool_size
from dislab.metrics._validate import check_split, varying_factors
from dislab.metrics.dci import completeness_score, disentanglement_score
from dislab.metrics.sampling import N_TEST, N_TRAIN, Encode, score_train_test
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["dci_es", "explicitness_from_curve", "CAPACITIES"]

CAPACITIES = (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)  # configs/random_forest/config.yaml
N_ESTIMATORS = 100  # configs/random_forest/default.yaml num_trees


def explicitness_from_curve(capacities, losses, baseline_loss: float) -> float:
    """E of one factor's loss-capacity points (module docstring): ``capacities`` increasing,
    ``losses`` at each, ``baseline_loss`` > 0 the chance loss. The curve is made monotone first
    (the lowest loss reached up to each capacity)."""
    x = np.asarray(capacities, dtype=np.float64)
    y = np.minimum.accumulate(np.asarray(losses, dtype=np.float64))
    if x.ndim != 1 or x.shape != y.shape or len(x) < 2 or np.any(np.diff(x) <= 0):
        raise ValueError(f"need at least 2 strictly increasing capacities with one loss each, got {x} and {y}")
    if not baseline_loss > 0:
        raise ValueError(f"baseline_loss must be > 0, got {baseline_loss}")
    above = y - y.min()
    area = float(np.sum(np.diff(x) * (above[:-1] + above[1:]) / 2.0))
    return 1.0 - area / (0.5 * (x[-1] - x[0]) * float(baseline_loss))


def _probe(x_train, y_train, x_test, y_test, depth, regression, seed):
    """One random forest of the authors' probe family: (train score, test score, importance)."""
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    kind = RandomForestRegressor if regression else RandomForestClassifier
    model = kind(n_estimators=N_ESTIMATORS, max_depth=int(depth), random_state=seed, n_jobs=1)
    model.fit(x_train, y_train)
    # .score: accuracy (classifier) or R² (regressor), as the authors' "rsquared_acc"; importance
    # as DCI's (0 where scikit-learn's normalisation divides 0 by 0)
    from dislab.metrics.dci import _importance

    return model.score(x_train, y_train), model.score(x_test, y_test), _importance(model, y_train)


def dci_es(codes_train, factors_train, codes_test, factors_test, *, capacities=CAPACITIES,
           regression=(), seed: int = 0, n_jobs: int = 1) -> dict:
    """DCI-ES scores (Eastwood et al., ICLR 2023) of codes against discrete factors.

    Args:
        codes_train, codes_test: ``(n, n_codes)`` real arrays (posterior means).
        factors_train, factors_test: ``(n, n_factors)`` integer class indices.
        capacities: probe capacities, the random forests' ``max_depth`` (the authors' 12; at
            least 2, increasing).
        regression: indices of the factors probed as continuous targets (R² loss, baseline 1),
            as the authors do for ordinal factors (for dSprites: every factor but shape, i.e.
            ``regression=(1, 2, 3, 4)``); the others are classified (1 - accuracy, baseline
            1 - 1/K).
        seed: the forests' ``random_state``.
        n_jobs: (factor, capacity) probes fitted in parallel processes; -1: one per core.

    Returns a JSON-ready dict: ``explicitness`` (mean E over factors, in [-1, 1]),
    ``explicitness_per_factor``, ``size`` (n_factors / n_codes), ``disentanglement``,
    ``completeness``, ``informativeness_train``, ``informativeness_test`` (of the best capacity's
    probes), ``best_capacity``, ``importance`` (n_codes x n_factors), ``capacities``,
    ``loss_capacity`` (n_factors x n_capacities test losses, before the running minimum),
    ``baseline_loss`` (per factor), ``skipped_factors``.
    """
    caps = [int(c) for c in capacities]
    if len(caps) < 2 or any(b <= a for a, b in zip(caps, caps[1:])) or caps[0] < 1:
        raise ConfigError(f"capacities must be at least 2 increasing depths >= 1, got {list(capacities)}")
    pool_size(n_jobs, 1)  # checked before any work
    ctr, ftr, cte, fte = check_split(codes_train, factors_train, codes_test, factors_test)
    ctr, cte = ctr.astype(np.float64), cte.astype(np.float64)
    varying = varying_factors(ftr, "dci_es", "factors_train")
    regression = {int(k) for k in regression}
    if regression - set(range(ftr.shape[1])):
        raise ConfigError(f"regression names factors {sorted(regression)}; there are {ftr.shape[1]}")
    ks = [int(k) for k in np.flatnonzero(varying)]
    jobs = [(k, depth) for k in ks for depth in caps]

    def job(k, depth):
        from threadpoolctl import threadpool_limits

        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")
            return _probe(ctr, ftr[:, k], cte, fte[:, k], depth, k in regression, seed)

    workers = pool_size(n_jobs, len(jobs))
    if workers == 1:
        results = [job(k, d) for k, d in jobs]
    else:
        from joblib import Parallel, delayed

        results = Parallel(n_jobs=workers)(delayed(job)(k, d) for k, d in jobs)
    fitted = dict(zip(jobs, results))

    n_factors, n_codes = ftr.shape[1], ctr.shape[1]
    losses = np.zeros((n_factors, len(caps)))
    baseline = np.zeros(n_factors)
    explicit = np.zeros(n_factors)
    for k in ks:
        n_classes = len(np.unique(ftr[:, k]))
        baseline[k] = 1.0 if k in regression else 1.0 - 1.0 / n_classes
        losses[k] = [1.0 - fitted[(k, d)][1] for d in caps]
        explicit[k] = explicitness_from_curve(caps, losses[k], baseline[k])
    # D, C, I of the capacity whose probes are the most informative on the test split
    mean_test = [np.mean([fitted[(k, d)][1] for k in ks]) for d in caps]
    best = caps[int(np.argmax(mean_test))]
    importance = np.zeros((n_codes, n_factors))
    for k in ks:
        importance[:, k] = fitted[(k, best)][2]
    used = importance[:, varying]
    d, _ = disentanglement_score(used)
    c, _ = completeness_score(used)
    return {
        "explicitness": float(explicit[varying].mean()),
        "explicitness_per_factor": [float(v) for v in explicit],
        "size": float(len(ks) / n_codes),
        "disentanglement": d,
        "completeness": c,
        "informativeness_train": float(np.mean([fitted[(k, best)][0] for k in ks])),
        "informativeness_test": float(np.mean([fitted[(k, best)][1] for k in ks])),
        "best_capacity": int(best),
        "importance": importance.tolist(),
        "capacities": caps,
        "loss_capacity": losses.tolist(),
        "baseline_loss": [float(v) for v in baseline],
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_dci_es(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                   n_test: int = N_TEST, batch_size: int = 64, **options) -> dict:
    """DCI-ES (:func:`dislab.metrics.dci_es.dci_es`) on 10,000 train / 5,000 test points (DCI's
    published sizes)."""
    return score_train_test(dci_es, "dci_es", dataset, encode, seed, n_train, n_test, batch_size, options)


def _default_options() -> dict:
    """What ``evaluate`` passes: the probes of each factor fitted on every core."""
    return {"n_jobs": -1}


SPEC = MetricSpec(
    name="dci_es", title="DCI-ES (Eastwood et al. 2023)",
    sampler=compute_dci_es, array=dci_es,
    options=_default_options,
    scores=(
        Score("explicitness",
          "Explicitness E (Eastwood et al. 2023): one minus the area under the "
          "loss-capacity curve of random-forest probes of growing depth, relative to a "
          "straight drop from chance -- how little capacity reading the factors out needs.",
          "-1 to 1, higher = more explicit", "higher"),
        Score("size",
          "Size S (Eastwood et al. 2023): number of factors over number of latents.",
          "above 0; 1 = as many latents as factors, lower = larger representation", "higher"),
        Score("disentanglement",
          "DCI-ES's D: Eastwood & Williams' disentanglement from the importances of its "
          "most informative random-forest probes.",
          "0 to 1, higher = more disentangled", "higher"),
        Score("completeness",
          "DCI-ES's C, from the same probes.",
          "0 to 1, higher = more complete", "higher"),
        Score("informativeness_test",
          "DCI-ES's I: held-out accuracy of those probes (R² for factors probed by "
          "regression).",
          "0 to 1, higher = more informative", "higher"),
        Score("best_capacity",
          "DCI-ES: the probe depth whose held-out loss was lowest (its importances give D "
          "and C).",
          "one of the capacities tried", "diagnostic"),
    ),
)
