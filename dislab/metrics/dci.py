"""Disentanglement, Completeness and Informativeness (DCI) on arrays.

Eastwood & Williams, "A Framework for the Quantitative Evaluation of Disentangled Representations",
ICLR 2018, Sec. 2-3; with ``predictor="gbt"`` exactly the setting of disentanglement_lib
(``evaluation/metrics/dci.py``): one scikit-learn ``GradientBoostingClassifier`` with default
parameters per factor, importance = |feature_importances_|, informativeness = accuracy.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
from tqdm.auto import tqdm

from dislab import progress as bars
from dislab.errors import ConfigError
from dislab.metrics._validate import check_split, varying_factors

__all__ = ["dci", "PREDICTORS", "disentanglement_score", "completeness_score"]

PREDICTORS = ("gbt", "lightgbm", "hist_gbt", "random_forest", "lasso")

# The reference adds this to every importance before taking entropies (dci.py), so a row or column
# of zeros becomes uniform (score 0) instead of 0/0.
_EPS = 1e-11


def _entropy_rows(p: np.ndarray, base: int) -> np.ndarray:
    """Entropy of each row of non-negative ``p`` (normalised per row), in the given base.

    scipy.stats.entropy(p.T, base=base) of the reference; base 1 (a single column) would divide by
    log 1 = 0, and a distribution over one outcome has entropy 0, so it returns 0.
    """
    q = p / p.sum(axis=1, keepdims=True)
    h = -np.sum(np.where(q > 0, q * np.log(np.where(q > 0, q, 1.0)), 0.0), axis=1)
    if base <= 1:
        return np.zeros(p.shape[0])
    return h / np.log(base)


def disentanglement_score(importance: np.ndarray) -> tuple[float, np.ndarray]:
    """D = sum_i rho_i (1 - H_K(P_i.)) (Eastwood & Williams 2018, Eq. 1-2).

    ``importance`` ``(n_codes, n_factors)`` non-negative; P_i. = row i + 1e-11, normalised;
    H_K = entropy with base K = n_factors; rho_i = row sum / total (uniform if the total is 0,
    as the reference). Returns (D, per-code scores). With one factor, each code's score is 1.
    """
    per_code = 1.0 - _entropy_rows(importance + _EPS, importance.shape[1])
    weights_src = importance if importance.sum() > 0 else np.ones_like(importance)
    rho = weights_src.sum(axis=1) / weights_src.sum()
    return float(np.sum(per_code * rho)), per_code


def completeness_score(importance: np.ndarray) -> tuple[float, np.ndarray]:
    """C = sum_k rho_k (1 - H_D(P_.k)) (Eastwood & Williams 2018, Eq. 3), base D = n_codes.

    The reference's ``completeness``: column k + 1e-11 normalised, weights = column sums / total
    (uniform if the total is 0). With one code, each factor's score is 1.
    """
    return disentanglement_score(importance.T)


def _require_lightgbm():
    try:
        import lightgbm
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            'predictor="lightgbm" needs the package lightgbm, a dependency of dislab that is not '
            'installed here: pip install lightgbm (or use predictor="gbt", the slow reference)'
        ) from exc
    return lightgbm


def _hist_gbt_gain(model, n_features: int) -> np.ndarray:
    """Total split gain per feature of a fitted HistGradientBoostingClassifier.

    scikit-learn does not expose feature importances for this estimator; the split gains are in
    its fitted trees (``_predictors[iteration][class].nodes``, fields ``is_leaf``,
    ``feature_idx``, ``gain``), a private structure stable since scikit-learn 0.21.
    """
    gain = np.zeros(n_features)
    for per_class in model._predictors:
        for predictor in per_class:
            nodes = predictor.nodes
            split = nodes["is_leaf"] == 0
            np.add.at(gain, nodes["feature_idx"][split], nodes["gain"][split])
    return gain


def _fit_one(predictor, x_train, y_train, x_test, y_test, seed):
    """Fit the predictor of one factor; returns (importance (n_codes,), acc_train, acc_test, extra)."""
    n_codes = x_train.shape[1]
    if predictor == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        # Default parameters (100 stages, depth 3, learning rate 0.1, friedman_mse), as the
        # reference; random_state only fixes the order in which tied splits are tried.
        model = GradientBoostingClassifier(random_state=seed).fit(x_train, y_train)
        importance = np.abs(model.feature_importances_)
    elif predictor == "lightgbm":
        from dislab.metrics._boosting import fit_gradient_boosting

        # scikit-learn's boosting algorithm with LightGBM growing the trees (see _boosting.py);
        # importance normalised to sum 1 as feature_importances_.
        gain, pred_train, pred_test = fit_gradient_boosting(x_train, y_train, x_test, seed=seed)
        total = gain.sum()
        importance = gain / total if total > 0 else gain
        return importance, float(np.mean(pred_train == y_train)), float(np.mean(pred_test == y_test)), {}
    elif predictor == "hist_gbt":
        from sklearn.ensemble import HistGradientBoostingClassifier

        model = HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_depth=3, max_leaf_nodes=8, min_samples_leaf=1,
            l2_regularization=0.0, early_stopping=False, random_state=seed,
        ).fit(x_train, y_train)
        importance = np.abs(_hist_gbt_gain(model, n_codes))
    elif predictor == "random_forest":
        from sklearn.ensemble import RandomForestClassifier

        # Every code considered at each split, as the boosted trees do (the default sqrt(n_codes)
        # forces splits on uninformative codes and spreads importance).
        model = RandomForestClassifier(
            n_estimators=100, max_depth=8, max_features=None, random_state=seed, n_jobs=1,
        ).fit(x_train, y_train)
        importance = np.abs(model.feature_importances_)
    elif predictor == "lasso":
        return _fit_lasso(x_train, y_train, x_test, y_test)
    else:  # checked by dci() already
        raise ConfigError(f"unknown DCI predictor {predictor!r}; expected one of {PREDICTORS}")
    acc_train = float(np.mean(model.predict(x_train) == y_train))
    acc_test = float(np.mean(model.predict(x_test) == y_test))
    return importance, acc_train, acc_test, {}


def _fit_lasso(x_train, y_train, x_test, y_test):
    """Eastwood & Williams' linear variant (their code, cianeastwood/qedr): codes standardised with
    the training mean/std (constant codes get importance 0), the factor standardised, Lasso with
    alpha = 0.02, importance = |coefficients|; error = NRMSE = RMSE / std(factor)."""
    from sklearn.linear_model import Lasso

    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    active = std > 0
    std = np.where(active, std, 1.0)
    xtr, xte = (x_train - mean) / std, (x_test - mean) / std
    y_mean, y_std = y_train.mean(), y_train.std()
    ytr, yte = (y_train - y_mean) / y_std, (y_test - y_mean) / y_std
    importance = np.zeros(x_train.shape[1])
    if active.any():
        model = Lasso(alpha=0.02, max_iter=10000).fit(xtr[:, active], ytr)
        importance[active] = np.abs(model.coef_)
        pred_tr, pred_te = model.predict(xtr[:, active]), model.predict(xte[:, active])
    else:
        pred_tr, pred_te = np.zeros_like(ytr), np.zeros_like(yte)

    def nrmse(pred, target):
        # Both standardised by the training std, so this is RMSE / std(train factor).
        return float(np.sqrt(np.mean((pred - target) ** 2)))

    e_tr, e_te = nrmse(pred_tr, ytr), nrmse(pred_te, yte)
    return importance, max(0.0, 1.0 - e_tr), max(0.0, 1.0 - e_te), {"nrmse_train": e_tr, "nrmse_test": e_te}


def dci(codes_train, factors_train, codes_test, factors_test, *, predictor: str = "gbt",
        seed: int = 0, n_jobs: int = 1, progress: bool = True) -> dict:
    """DCI scores (Eastwood & Williams 2018) of codes against discrete factors.

    Args:
        codes_train, codes_test: ``(n, n_codes)`` real arrays (posterior means).
        factors_train, factors_test: ``(n, n_factors)`` integer class indices.
        predictor: which per-factor model gives the importances R[i, k] (code i for factor k):
            ``"gbt"`` (default): scikit-learn ``GradientBoostingClassifier()`` with default
            parameters, importance = |feature_importances_| (mean impurity decrease) — the
            reference setting of disentanglement_lib, agreement measured in docs/metrics.md;
            ``"lightgbm"`` (fast; needs the package lightgbm): scikit-learn's gradient
            boosting algorithm with the same defaults (log-prior start, multinomial residuals,
            squared-error splits, depth 3, Newton leaf values with the (K-1)/K factor, 100
            rounds at 0.1) whose trees LightGBM grows with a histogram bin per distinct value
            (dislab.metrics._boosting); importance = squared-error decrease per code, normalised
            to sum 1 per factor as ``feature_importances_``. D, C and I within 0.007 of "gbt" on
            every benchmark case at 10,000 / 5,000 points (0.013 at 1,000 / 500), 8-12x faster
            (docs/benchmarks.md, "DCI predictors");
            ``"hist_gbt"`` (scikit-learn only): ``HistGradientBoostingClassifier`` shaped like the
            reference (depth 3, 8 leaves, 1 sample per leaf, no early stopping), total split gain
            per code; a looser approximation: its Newton splits and gains differ from the
            reference's, up to 0.053 in D and 0.034 in C when codes mix factors;
            ``"random_forest"``: ``RandomForestClassifier(n_estimators=100, max_depth=8,
            max_features=None)``, impurity importance;
            ``"lasso"``: the original paper's linear variant, Lasso(alpha=0.02) on standardised
            codes regressing the standardised factor index, importance = |coefficient|;
            informativeness is then ``max(0, 1 - NRMSE)`` with NRMSE = RMSE / std(factor) (the
            paper's error turned into a score in [0, 1]; the raw errors are returned as
            ``nrmse_train`` / ``nrmse_test``). The tree predictors report accuracy.
            docs/metrics.md gives each predictor's measured agreement with "gbt".
        seed: random_state of the predictors (the reference passed none: only tie-breaking
            between equally good splits depends on it for "gbt").
        n_jobs: factors fitted in parallel processes (results do not depend on it); -1: one per
            CPU core, at most one per factor (what ``dislab evaluate`` uses); each
            predictor runs on one thread.
        progress: a tqdm bar over factors when stderr is a terminal.

    Definitions (Eastwood & Williams Eq. 1-3; the reference's ``disentanglement`` and
    ``completeness``):
        D = sum_i rho_i (1 - H_K(P_i.)), P_i. = R[i, :] / sum_k R[i, k], entropy base
        K = n_factors, rho_i = sum_k R[i, k] / sum R;
        C = sum_k rho_k (1 - H_n(P_.k)), base n = n_codes, rho_k = column share of sum R;
        I = mean over factors of the predictor's accuracy (train and test).
        As the reference, 1e-11 is added to R before the entropies, and if R is all zero the
        weights are uniform (so D = C = 0).

    The published protocol (Locatello et al. 2019) uses 10,000 train / 5,000 test points.

    A factor constant in the training split cannot be classified: it is skipped (zero column in
    ``importance``, left out of D, C and I; index in ``skipped_factors``); if none varies a
    DataError is raised. A constant code is never chosen by the trees, so its row of R is zero
    and its weight rho_i is 0. With one factor every code's disentanglement is 1 (H over one
    outcome is 0); with one code every factor's completeness is 1.

    Returns a JSON-ready dict: ``disentanglement``, ``completeness``, ``informativeness_train``,
    ``informativeness_test`` (floats in [0, 1]), ``importance`` (n_codes x n_factors nested
    list), ``disentanglement_per_code``, ``completeness_per_factor``,
    ``informativeness_test_per_factor`` (lists), ``predictor``, ``skipped_factors``.
    """
    if predictor not in PREDICTORS:
        raise ConfigError(f"unknown DCI predictor {predictor!r}; expected one of: {', '.join(PREDICTORS)}")
    if not (n_jobs == -1 or (isinstance(n_jobs, int) and n_jobs >= 1)):
        raise ConfigError(f"n_jobs must be a positive integer or -1 (every core); got {n_jobs!r}")
    if predictor == "lightgbm":
        _require_lightgbm()
    ctr, ftr, cte, fte = check_split(codes_train, factors_train, codes_test, factors_test)
    ctr, cte = ctr.astype(np.float64), cte.astype(np.float64)
    varying = varying_factors(ftr, "dci", "factors_train")
    ks = [int(k) for k in np.flatnonzero(varying)]

    def job(k):
        # One thread per predictor: OpenMP pools (lightgbm, hist_gbt) spin and were 50-100x
        # slower on the busy 2-core machine; parallelism comes from n_jobs over factors instead.
        from threadpoolctl import threadpool_limits

        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # convergence chatter of the linear variant
            return _fit_one(predictor, ctr, ftr[:, k], cte, fte[:, k], seed)

    workers = min(len(ks), os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    if workers == 1:
        results = [job(k) for k in tqdm(ks, desc=f"dci ({predictor})", unit="factor",
                                        disable=bars.disable(progress))]
    else:
        from joblib import Parallel, delayed

        # Factors with the most classes first (a boosted model costs ~ one tree per class and
        # round), so that the small ones fill the gaps at the end.
        ks = sorted(ks, key=lambda k: -len(np.unique(ftr[:, k])))
        results = Parallel(n_jobs=workers)(delayed(job)(k) for k in ks)

    importance = np.zeros((ctr.shape[1], ftr.shape[1]))
    acc_train = np.zeros(ftr.shape[1])
    acc_test = np.zeros(ftr.shape[1])
    extras: dict[str, list] = {}
    for k, (imp, a_tr, a_te, extra) in zip(ks, results):
        importance[:, k], acc_train[k], acc_test[k] = imp, a_tr, a_te
        for key, value in extra.items():
            extras.setdefault(key, [0.0] * ftr.shape[1])[k] = value
    used = importance[:, varying]
    d, d_per_code = disentanglement_score(used)
    c, c_used = completeness_score(used)
    c_per_factor = np.zeros(ftr.shape[1])
    c_per_factor[varying] = c_used
    out = {
        "disentanglement": d,
        "completeness": c,
        "informativeness_train": float(np.mean(acc_train[varying])),
        "informativeness_test": float(np.mean(acc_test[varying])),
        "importance": importance.tolist(),
        "disentanglement_per_code": [float(v) for v in d_per_code],
        "completeness_per_factor": [float(v) for v in c_per_factor],
        "informativeness_test_per_factor": [float(v) for v in acc_test],
        "predictor": predictor,
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }
    for key, values in extras.items():
        out[key] = float(np.mean(np.asarray(values)[varying]))
    return out
