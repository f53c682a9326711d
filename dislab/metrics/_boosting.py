"""scikit-learn's gradient boosting classifier, with LightGBM growing the trees.

The DCI reference (disentanglement_lib) fits ``sklearn.ensemble.GradientBoostingClassifier()`` with
default parameters, which takes minutes per model. An off-the-shelf fast booster shaped like it
(LightGBM, depth 3, 100 rounds) still moves D and C by up to 0.06 when codes mix factors, because
it is a different algorithm. This module runs scikit-learn's algorithm (Friedman 2001, "Greedy
Function Approximation", Algorithm 6 for K classes, as implemented in ``sklearn/ensemble/_gb.py``)
and hands only the tree growing to LightGBM's histogram learner:

* raw scores start at the log class priors (``DummyClassifier(strategy="prior")``; the logit of
  the prior for two classes);
* each round computes the negative gradient of the multinomial deviance, ``r = y_onehot - p``
  (``p`` = softmax of the raw scores; the logistic for two classes, one tree per round), once for
  all classes;
* per class, a regression tree of depth <= 3 is grown on ``r[:, k]`` with squared-error splits:
  LightGBM is given gradient ``-r`` and unit hessians, so its split gain
  ``G_L^2/n_L + G_R^2/n_R - G^2/n`` is exactly the decrease of the squared error scikit-learn's
  tree maximises;
* each leaf's value is then replaced by scikit-learn's Newton step
  ``(K-1)/K * sum(r) / sum(p (1 - p))`` over the leaf's training samples (no ``(K-1)/K`` for two
  classes; 0 where the hessian sum is below 1e-150), times the learning rate, written into the
  LightGBM tree so that predictions on new data use it;
* importance of a code = total squared-error decrease of its splits over all trees, which is
  scikit-learn's ``feature_importances_`` before its normalisation to sum 1 (the caller
  normalises).

Each code gets a histogram bin per distinct training value, so splits can fall wherever
scikit-learn's can; what remains different is how ties between equally good splits are broken.
LightGBM's default of 255 bins was measured further from the reference (D 0.015 lower at 10,000
points, 0.05 at 1,000), and 1,023 or 4,095 bins further still (docs/benchmarks.md, "DCI
predictors"); exact bins cost about 1.8x the time of 255.
"""
from __future__ import annotations

import numpy as np

__all__ = ["fit_gradient_boosting"]

# scikit-learn's _safe_divide: a leaf whose hessian sum is this small gets value 0.
_TINY_HESSIAN = 1e-150


def _probabilities(raw: np.ndarray, binary: bool) -> np.ndarray:
    """Class probabilities from raw scores ``(n, T)``: logistic (T = 1) or softmax."""
    if binary:
        return 1.0 / (1.0 + np.exp(-raw))
    shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_gradient_boosting(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *,
                          n_rounds: int = 100, learning_rate: float = 0.1, max_depth: int = 3,
                          max_bin: int | None = None, seed: int = 0):
    """Fit scikit-learn's gradient boosting classifier (defaults) with LightGBM trees.

    Args:
        x_train: ``(n, n_features)`` float64 training inputs; ``y_train``: ``(n,)`` labels with at
            least two distinct values; ``x_test``: ``(m, n_features)``.
        n_rounds, learning_rate, max_depth: scikit-learn's ``n_estimators`` (100),
            ``learning_rate`` (0.1) and ``max_depth`` (3); leaves hold at least one sample.
        max_bin: LightGBM's histogram bins per feature; None (default): one per distinct value,
            so that splits can fall wherever scikit-learn's can (LightGBM puts a bin edge
            midway between adjacent values, as scikit-learn's thresholds).
        seed: LightGBM's seed (its trees are deterministic here; kept for provenance).

    Returns:
        ``(importance, predicted_train, predicted_test)``: importance ``(n_features,)``
        non-negative total squared-error decrease per feature (not normalised), and the predicted
        labels (values of ``y_train``) for both inputs.
    """
    import lightgbm

    classes, y = np.unique(y_train, return_inverse=True)
    n_classes, n = len(classes), len(y)
    binary = n_classes == 2
    n_trees = 1 if binary else n_classes  # trees per round, as scikit-learn
    eps = np.finfo(np.float64).eps
    prior = np.clip(np.bincount(y, minlength=n_classes) / n, eps, 1 - eps)
    if binary:
        init = np.array([np.log(prior[1] / prior[0])])
        target = (y == 1).astype(np.float64)[:, None]
    else:
        init = np.log(prior)
        target = np.eye(n_classes)[y]
    raw = np.tile(init, (n, 1))
    importance = np.zeros(x_train.shape[1])
    raw_test = np.tile(init, (len(x_test), 1))

    def labels(scores):
        index = (scores[:, 0] > 0).astype(int) if binary else scores.argmax(axis=1)
        return classes[index]

    # LightGBM refuses data without a varying feature; constant features never split (so their
    # importance is 0) and with none left every tree is a single leaf whose Newton step is 0 (the
    # residuals sum to 0 at the prior): the prediction stays the majority class.
    span = np.ptp(x_train, axis=0)
    varying = span > 0
    if not varying.any():
        return importance, labels(raw), labels(raw_test)
    # Trees only see the order of values: each feature is mapped affinely onto [1, 2] so that
    # LightGBM's special treatment of |x| < 1e-35 as zero cannot merge tiny but distinct codes.
    low, span = x_train[:, varying].min(axis=0), span[varying]
    x_train = 1.0 + (x_train[:, varying] - low) / span
    x_test = 1.0 + (x_test[:, varying] - low) / span

    if max_bin is None:
        max_bin = len(x_train) + 1  # n distinct values at most, and LightGBM's bin for 0
    params = {
        "objective": "none", "max_depth": max_depth, "num_leaves": 2 ** max_depth,
        "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 0.0, "min_data_in_bin": 1,
        "lambda_l2": 0.0, "min_gain_to_split": 0.0, "learning_rate": learning_rate,
        "max_bin": max_bin, "num_threads": 1, "deterministic": True, "force_col_wise": True,
        "seed": seed, "verbose": -1,
    }
    if not binary:
        params["num_class"] = n_trees
    # num_threads=1 everywhere (dataset, training, prediction): otherwise LightGBM's OpenMP pool
    # takes every core in some steps and oversubscribes the factors' parallel processes.
    data = lightgbm.Dataset(x_train, params={"max_bin": max_bin, "min_data_in_bin": 1,
                                             "num_threads": 1, "verbose": -1})
    booster = lightgbm.Booster(params, data)
    hessian = np.ones(n * n_trees)
    newton_factor = 1.0 if binary else (n_classes - 1) / n_classes
    width = 2 ** max_depth  # leaves per tree at most
    for round_ in range(n_rounds):
        p = _probabilities(raw, binary)
        residual = target - p
        gradient = -residual.ravel(order="F")  # LightGBM's layout: class-major
        finished = booster.update(fobj=lambda _preds, _data: (gradient, hessian))
        if finished:  # no tree of this round could split (e.g. every feature constant)
            break
        leaves = booster.predict(x_train, pred_leaf=True, start_iteration=round_, num_iteration=1,
                                 num_threads=1).reshape(n, n_trees)
        # Newton values of every leaf of this round's trees at once: slot = tree * width + leaf.
        slot = leaves + width * np.arange(n_trees)
        numerator = newton_factor * np.bincount(slot.ravel(), residual.ravel(), n_trees * width)
        denominator = np.bincount(slot.ravel(), (p * (1 - p)).ravel(), n_trees * width)
        small = np.abs(denominator) < _TINY_HESSIAN
        value = learning_rate * np.where(small, 0.0, numerator / np.where(small, 1.0, denominator))
        value = value.reshape(n_trees, width)
        for k, n_leaves in enumerate(leaves.max(axis=0) + 1):
            for j in range(n_leaves):
                booster.set_leaf_output(round_ * n_trees + k, j, float(value[k, j]))
        raw += value[np.arange(n_trees), leaves]

    importance[varying] = booster.feature_importance("gain")
    raw_test += np.asarray(booster.predict(x_test, raw_score=True, num_threads=1)).reshape(
        len(x_test), n_trees)
    return importance, labels(raw), labels(raw_test)
