"""Modularity and explicitness on arrays.

Ridgeway & Mozer, "Learning Deep Disentangled Embeddings With the F-Statistic Loss", NeurIPS 2018,
Sec. 3, as evaluated by disentanglement_lib (``evaluation/metrics/modularity_explicitness.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import warnings

import numpy as np

from dislab.errors import ConfigError
from dislab.metrics._parallel import pool_size, thread_map
from dislab.metrics._validate import check_split, varying_factors
from dislab.metrics.mig import discrete_mutual_info, histogram_discretize
from dislab.metrics.sampling import N_TEST, N_TRAIN, Encode, score_train_test
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["modularity_explicitness", "modularity_from_mutual_info"]


def modularity_from_mutual_info(mi: np.ndarray) -> np.ndarray:
    """Per-code modularity from the MI matrix ``(n_codes, n_factors)`` (Ridgeway & Mozer Eq. 2).

    For code i with theta_i = max_k m_ik^2: delta_i = sum_{k != argmax} m_ik^2 / (theta_i (K - 1)),
    modularity_i = 1 - delta_i; a code with no information (theta_i = 0) scores 0, as the
    reference. With one factor (K = 1) delta_i = 0, so an informative code scores 1.
    """
    sq = np.square(mi)
    theta = sq.max(axis=1)
    k = sq.shape[1]
    out = np.zeros(sq.shape[0])
    informative = theta > 0
    if k > 1:
        delta = (sq.sum(axis=1)[informative] - theta[informative]) / (theta[informative] * (k - 1))
        out[informative] = 1.0 - delta
    else:
        out[informative] = 1.0
    return out


CLASSIFIERS = ("liblinear_ovr", "lbfgs_multinomial")


def _explicitness_one(x_train, y_train, x_test, y_test, seed, classifier="liblinear_ovr"):
    """Logistic regression on all codes; macro one-vs-rest ROC AUC on train and test."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.multiclass import OneVsRestClassifier

    # The reference calls LogisticRegression() with the defaults of scikit-learn 0.20-0.21:
    # solver="liblinear" (L2, C=1, tol 1e-4, max_iter 100, intercept_scaling 1, the intercept
    # penalised like a weight) and multi_class="ovr" (one binary model per class, probabilities
    # = sigmoids normalised to sum 1). Newer scikit-learn defaults to multinomial lbfgs and its
    # liblinear refuses more than two classes, so one-vs-rest is spelled out here.
    classes = np.unique(y_train)
    if classifier == "lbfgs_multinomial":
        # What the reference's bare LogisticRegression() means on scikit-learn >= 0.22.
        clf = LogisticRegression(solver="lbfgs", C=1.0, tol=1e-4, max_iter=100,
                                 random_state=seed)
    else:
        base = LogisticRegression(solver="liblinear", C=1.0, tol=1e-4, max_iter=100,
                                  intercept_scaling=1.0, random_state=seed)
        clf = base if len(classes) == 2 else OneVsRestClassifier(base)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # liblinear convergence warnings, as in the reference
        clf.fit(x_train, y_train)

    def auc(x, y):
        proba = clf.predict_proba(x)  # (n, n_train_classes), columns in `classes` order
        # The reference binarises y with MultiLabelBinarizer (one column per class present in y)
        # and takes the macro-average ROC AUC against predict_proba; that needs the same classes
        # in both. Here a class is scored when it is in the training classes and both present
        # and absent in y (its AUC is undefined otherwise): identical whenever the reference runs.
        cols = [c for c, label in enumerate(classes) if 0 < np.sum(y == label) < len(y)]
        if not cols:
            return 0.5  # no class can be scored: chance level
        truth = (y[:, None] == classes[cols][None, :]).astype(int)
        return float(roc_auc_score(truth, proba[:, cols], average="macro"))

    return auc(x_train, y_train), auc(x_test, y_test)


def modularity_explicitness(codes_train, factors_train, codes_test, factors_test, *,
                            n_bins: int = 20, seed: int = 0,
                            classifier: str = "liblinear_ovr", n_jobs: int = 1) -> dict:
    """Modularity and explicitness (Ridgeway & Mozer 2018), as the reference's
    ``compute_modularity_explicitness``.

    Args:
        codes_train, codes_test: ``(n, n_codes)`` real arrays.
        factors_train, factors_test: ``(n, n_factors)`` integer class indices.
        n_bins: equal-width histogram bins per code for the mutual information (the reference's
            gin default, 20); see :func:`dislab.metrics.mig.histogram_discretize`.
        seed: random_state of the logistic regressions (liblinear's primal solver is
            deterministic; kept for symmetry).
        classifier: ``"liblinear_ovr"`` (default): the reference's ``LogisticRegression()`` as
            it behaved when the reference was written (scikit-learn 0.20-0.21: liblinear,
            one-vs-rest); ``"lbfgs_multinomial"``: what the same bare call does on
            scikit-learn >= 0.22 (lbfgs, multinomial), for agreement with the reference run on a
            current scikit-learn. The two differ by up to ~0.05 in explicitness
            (docs/metrics.md, "Agreement with the reference").
        n_jobs: the factors' regressions fitted on this many threads (-1: one per core, what
            ``dislab evaluate`` uses); the result does not depend on it.

    Modularity: mutual information (nats) between each binned training code and each factor
    (as :func:`dislab.metrics.mig.mig`), per-code score of :func:`modularity_from_mutual_info`,
    mean over codes. Explicitness: codes standardised with the training mean and std (np.std,
    ddof 0; a constant code's std is taken as 1 instead of the reference's division by zero), then
    per factor a one-vs-rest logistic regression on all codes (liblinear, C=1, the reference's
    effective defaults of its time) and the macro-average one-vs-rest ROC AUC of its
    probabilities, on train and on test; mean over factors. Bounds: modularity [0, 1];
    explicitness [0, 1] (0.5 is chance).

    The published protocol (Locatello et al. 2019) uses 10,000 train / 5,000 test points.

    A factor constant in the training split is skipped (left out of every mean, MI column 0,
    listed in ``skipped_factors``; it would be a single-class problem); none varying raises a
    DataError. Returns ``modularity``, ``explicitness_train``, ``explicitness_test`` (floats),
    ``modularity_per_code``, ``explicitness_test_per_factor`` (lists), ``mutual_info``
    (n_codes x n_factors nested list) and ``skipped_factors``.
    """
    if classifier not in CLASSIFIERS:
        raise ConfigError(
            f"unknown explicitness classifier {classifier!r}; expected one of: {', '.join(CLASSIFIERS)}"
        )
    pool_size(n_jobs, 1)  # checked before any work
    ctr, ftr, cte, fte = check_split(codes_train, factors_train, codes_test, factors_test)
    varying = varying_factors(ftr, "modularity_explicitness", "factors_train")
    mi = np.zeros((ctr.shape[1], ftr.shape[1]))
    mi[:, varying] = discrete_mutual_info(histogram_discretize(ctr, n_bins), ftr[:, varying])
    per_code = modularity_from_mutual_info(mi[:, varying])

    mean = ctr.mean(axis=0)
    std = ctr.std(axis=0)
    std = np.where(std > 0, std, 1.0)
    xtr = ((ctr - mean) / std).astype(np.float64)
    xte = ((cte - mean) / std).astype(np.float64)
    exp_train = np.zeros(ftr.shape[1])
    exp_test = np.zeros(ftr.shape[1])
    # factors with the most classes first (one binary fit per class), so the small ones fill in
    ks = sorted((int(k) for k in np.flatnonzero(varying)), key=lambda k: -len(np.unique(ftr[:, k])))
    scores = thread_map(lambda k: _explicitness_one(xtr, ftr[:, k], xte, fte[:, k], seed, classifier),
                        ks, n_jobs)
    for k, (auc_train, auc_test) in zip(ks, scores):
        exp_train[k], exp_test[k] = auc_train, auc_test
    return {
        "modularity": float(np.mean(per_code)),
        "explicitness_train": float(np.mean(exp_train[varying])),
        "explicitness_test": float(np.mean(exp_test[varying])),
        "modularity_per_code": [float(v) for v in per_code],
        "explicitness_test_per_factor": [float(v) for v in exp_test],
        "mutual_info": mi.tolist(),
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_modularity_explicitness(dataset: FactorDataset, encode: Encode, *, seed: int = 0,
                                    n_train: int = N_TRAIN, n_test: int = N_TEST,
                                    batch_size: int = 64, **options) -> dict:
    """Modularity and explicitness (:mod:`dislab.metrics.modularity_explicitness`) on 10,000
    train / 5,000 test points (reference)."""
    return score_train_test(modularity_explicitness, "modularity", dataset, encode, seed, n_train, n_test,
                            batch_size, options)


def _default_options() -> dict:
    """What ``evaluate`` passes: the factors' regressions fitted on every core."""
    return {"n_jobs": -1}


SPEC = MetricSpec(
    name="modularity_explicitness", title="Modularity and explicitness (Ridgeway & Mozer 2018)",
    sampler=compute_modularity_explicitness, array=modularity_explicitness,
    default=True, options=_default_options,
    scores=(
        Score("modularity",
          "Modularity (Ridgeway & Mozer 2018): how much each latent depends on at most one "
          "factor (from mutual information).",
          "0 to 1, higher = more modular", "higher"),
        Score("explicitness_train",
          "Explicitness (Ridgeway & Mozer 2018): mean one-vs-rest ROC AUC of a linear "
          "classifier of each factor value (training split).",
          "0.5 (chance) to 1, higher = linearly decodable", "higher"),
        Score("explicitness_test",
          "Explicitness: the same ROC AUC on the held-out split.",
          "0.5 (chance) to 1, higher = linearly decodable", "higher"),
    ),
)
