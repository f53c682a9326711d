"""Separated Attribute Predictability (SAP) on arrays.

Kumar, Sattigeri & Balakrishnan, "Variational Inference of Disentangled Latent Concepts from
Unlabeled Observations", ICLR 2018, Sec. 3, as evaluated by disentanglement_lib
(``evaluation/metrics/sap_score.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import warnings

import numpy as np

from dislab.metrics._parallel import pool_size, thread_map
from dislab.metrics._validate import check_min_codes, check_split, varying_factors
from dislab.metrics.sampling import N_TEST, N_TRAIN, Encode, score_train_test
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["sap", "sap_score_matrix"]


def _linear_svc(seed: int, dual: bool = True):
    from sklearn.svm import LinearSVC

    # The reference's LinearSVC(C=0.01, class_weight="balanced") with the other settings of the
    # scikit-learn it was written against (0.20-0.21) spelled out, because defaults have changed
    # since: dual=True (the default until 1.3; "auto" now picks the primal solver for one
    # feature), squared hinge loss, one-vs-rest, tol 1e-4, max_iter 1000, intercept_scaling 1.
    # random_state fixes the dual solver's coordinate order (the reference passed none).
    # dual=False is what the reference's bare call resolves to on scikit-learn >= 1.3.
    return LinearSVC(C=0.01, class_weight="balanced", dual=dual, loss="squared_hinge",
                     penalty="l2", tol=1e-4, max_iter=1000, fit_intercept=True,
                     intercept_scaling=1, random_state=seed)


def sap_score_matrix(codes_train, factors_train, codes_test, factors_test, *, continuous: bool,
                     varying: np.ndarray, seed: int = 0, dual: bool = True, n_jobs: int = 1) -> np.ndarray:
    """Score matrix S (n_codes, n_factors) of Kumar et al. Sec. 3 (validated inputs).

    Discrete: S[i, k] = test accuracy of a linear SVM predicting factor k from code i alone (the
    n_codes x n_factors fits on ``n_jobs`` threads, :func:`dislab.metrics._parallel.thread_map`).
    Continuous: S[i, k] = squared Pearson correlation (R^2 of a linear fit) of code i and
    factor k on the training split, 0 when the code's variance is <= 1e-12 (the reference's guard).
    Columns of constant factors (``~varying``) stay 0.
    """
    n_codes, n_factors = codes_train.shape[1], factors_train.shape[1]
    scores = np.zeros((n_codes, n_factors))
    pairs = [(i, int(k)) for k in np.flatnonzero(varying) for i in range(n_codes)]
    if continuous:
        for i, k in pairs:
            cov = np.cov(codes_train[:, i], factors_train[:, k].astype(np.float64), ddof=1)
            if cov[0, 0] > 1e-12:
                scores[i, k] = cov[0, 1] ** 2 / (cov[0, 0] * cov[1, 1])
        return scores

    def accuracy(pair):
        i, k = pair
        with warnings.catch_warnings():
            # C=0.01 often stops at max_iter; the reference lived with the same warning.
            warnings.simplefilter("ignore")
            clf = _linear_svc(seed, dual).fit(codes_train[:, i][:, None], factors_train[:, k])
        return np.mean(clf.predict(codes_test[:, i][:, None]) == factors_test[:, k])

    for (i, k), value in zip(pairs, thread_map(accuracy, pairs, n_jobs)):
        scores[i, k] = value
    return scores


def sap(codes_train, factors_train, codes_test, factors_test, *, continuous: bool = False,
        seed: int = 0, dual: bool = True, n_jobs: int = 1) -> dict:
    """SAP score (Kumar et al. 2018, Sec. 3), as disentanglement_lib's ``_compute_sap``.

    Args:
        codes_train, codes_test: ``(n, n_codes)`` real arrays, ``n_codes >= 2``.
        factors_train, factors_test: ``(n, n_factors)``; integer classes, or real values when
            ``continuous=True``.
        continuous: False (default): per code i and factor k a ``LinearSVC(C=0.01,
            class_weight="balanced")`` (the reference's effective settings of its time:
            squared hinge, dual solver, one-vs-rest; see ``_linear_svc``) trained on code i alone
            with the training split, S[i, k] = its accuracy on the test split. True: S[i, k] =
            squared correlation of code i and factor k on the training split (test split unused,
            as the reference).
        seed: random_state of the SVM's dual coordinate descent (the reference passed none).
        dual: True (default): the dual solver, the reference's effective setting of its time;
            False: the primal solver, what the reference's bare ``LinearSVC(...)`` resolves to on
            scikit-learn >= 1.3 (``dual="auto"`` with one feature). Both minimise the same
            objective and agree exactly on most data; where the dual solver stops at max_iter
            (e.g. heavy-tailed codes) they differ by ~0.01 (docs/metrics.md).
        n_jobs: the SVMs fitted on this many threads (-1: one per core, what ``dislab evaluate``
            uses); the result does not depend on it.

    SAP = mean over factors of (largest - second largest S[., k]) over codes. Bounds [0, 1].
    The published protocol (Locatello et al. 2019) uses 10,000 train / 5,000 test points.

    A factor constant in the training split is skipped (its column of S is 0, it is left out of
    the mean and listed in ``skipped_factors``); no varying factor raises a DataError. A constant
    code gets a constant prediction (the SVM's intercept), or R^2 = 0 in the continuous variant.

    Returns ``{"sap": float, "sap_per_factor": [...], "score_matrix": n_codes x n_factors
    nested list, "skipped_factors": [...]}``.
    """
    pool_size(n_jobs, 1)  # checked before any work
    ctr, ftr, cte, fte = check_split(codes_train, factors_train, codes_test, factors_test,
                                     continuous_factors=continuous)
    check_min_codes(ctr, 2, "sap", "the gap between the two most predictive codes")
    varying = varying_factors(ftr, "sap", "factors_train")
    s = sap_score_matrix(ctr.astype(np.float64), ftr, cte.astype(np.float64), fte,
                         continuous=continuous, varying=varying, seed=seed, dual=dual, n_jobs=n_jobs)
    top = np.sort(s, axis=0)
    per_factor = np.where(varying, top[-1] - top[-2], 0.0)
    return {
        "sap": float(np.mean(per_factor[varying])),
        "sap_per_factor": [float(v) for v in per_factor],
        "score_matrix": s.tolist(),
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_sap(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                n_test: int = N_TEST, batch_size: int = 64, **options) -> dict:
    """SAP (:func:`dislab.metrics.sap.sap`) on 10,000 train / 5,000 test points (reference)."""
    return score_train_test(sap, "sap", dataset, encode, seed, n_train, n_test, batch_size, options)


def _default_options() -> dict:
    """What ``evaluate`` passes: the SVMs fitted on every core."""
    return {"n_jobs": -1}


SPEC = MetricSpec(
    name="sap", title="SAP (Kumar et al. 2018)",
    sampler=compute_sap, array=sap,
    default=True, options=_default_options,
    scores=(
        Score("sap",
          "Separated Attribute Predictability (Kumar et al. 2018): per factor, the gap in "
          "prediction accuracy between its two best single latents; averaged.",
          "0 to 1, higher = each factor predictable from one latent only", "higher"),
    ),
)
