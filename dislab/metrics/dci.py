"""Disentanglement, Completeness and Informativeness (DCI) on arrays.

Eastwood & Williams, "A Framework for the Quantitative Evaluation of Disentangled Representations",
ICLR 2018, Sec. 2-3; with ``predictor="gbt"`` exactly the setting of disentanglement_lib
(``evaluation/metrics/dci.py``): one scikit-learn ``GradientBoostingClassifier`` with default
parameters per factor, importance = |feature_importances_|, informativeness = accuracy.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
from tqdm.auto import tqdm

from dislab import progress as bars
from dislab.errors import ConfigError
from dislab.metrics._parallel import pool_size
from dislab.metrics._validate import check_split, varying_factors
from dislab.metrics.sampling import N_TEST, N_TRAIN, Encode, score_train_test
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["dci", "PREDICTORS", "disentanglement_score", "completeness_score"]

PREDICTORS = ("gbt", "fast", "hist_gbt", "random_forest", "lasso")
# The fast predictor's former name (its trees were grown by LightGBM until the exact numba grower
# replaced it): still accepted, and recorded as "fast".
_ALIASES = {"lightgbm": "fast"}

# The reference adds this to every importance before taking entropies (dci.py), so a row or column
# of zeros becomes uniform (score 0) instead of 0/0.
_EPS = 1e-11

# When the fast predictor hands a factor back to the reference "gbt" (docs/metrics.md, "Where the
# fast predictor falls back"): more than this share of the factor's importance came from splits
# scikit-learn's trees cannot make (training values closer than its 1e-7) ...
_INVALID_SHARE = 0.005
# ... or crediting its tied splits afresh at random (as scikit-learn's random feature order does)
# moves D or C by more than this in one of _TIE_DRAWS draws.
_TIE_SPREAD = 0.01
_TIE_DRAWS = 16
_FIT = "_boosting_fit"  # key of the fast predictor's BoostingFit in _fit_one's extras


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


def _require_numba():
    try:
        import numba
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ConfigError(
            'predictor="fast" needs the package numba, a dependency of dislab that is not '
            'installed here: pip install numba (or use predictor="gbt", the slow reference)'
        ) from exc
    return numba


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


# Below this share of the prior's squared error, a factor's trees have decreased nothing but
# rounding error: on exactly balanced designs a code independent of the factor makes splits whose
# exact gain is 0 and whose computed gain is ~1e-30 (1e-9 is far above rounding, far below any
# split that predicts: a real split decreases the error by more than 1e-4 of it).
_NO_SIGNAL = 1e-9


def _prior_error(y: np.ndarray) -> float:
    """Squared error of the boosted model's first round, sum over its trees: n p(1 - p) for two
    classes (one tree), n sum_k p_k (1 - p_k) for K > 2 (one tree per class)."""
    _, counts = np.unique(y, return_counts=True)
    p = counts / len(y)
    return float(len(y) * (p[0] * p[1] if len(p) == 2 else np.sum(p * (1 - p))))


def _predicts_nothing(decrease: float, y: np.ndarray) -> bool:
    """Whether a boosted model's total squared-error decrease (summed over its trees and splits,
    in the prior's units) is rounding error: not above ``_NO_SIGNAL`` of the prior's error."""
    return not decrease > _NO_SIGNAL * _prior_error(y)


def _importance(model, y: np.ndarray) -> np.ndarray:
    """|feature_importances_| of a fitted scikit-learn ensemble; 0 where its trees predict nothing.

    Two degenerate cases of scikit-learn's normalisation (mean importance over trees / its sum),
    both where no code predicts the factor (e.g. codes exactly independent of it on a balanced
    design): every split's decrease is exactly 0, the sum is 0 and every entry NaN; or the
    decreases are rounding error (~1e-30), normalised into a column of noise that still carries a
    factor's full weight in C. Either way the factor's importance is 0 here: no weight in C,
    nothing added to any code's D (boosting: total decrease below ``_NO_SIGNAL`` of the prior's
    squared error, the same rule as the fast predictor's). The reference, disentanglement_lib,
    lets both through: its D and C come out NaN, or move with the rounding; reading NaN as
    "perfectly complete" with uniform weights, as a NaN-blind entropy does, moved C by up to 0.47."""
    importance = np.nan_to_num(np.abs(model.feature_importances_), nan=0.0)
    if hasattr(model, "estimators_") and hasattr(model, "init_"):  # gradient boosting
        decrease = len(y) * sum(float(t.tree_.compute_feature_importances(normalize=False).sum())
                                for stage in model.estimators_ for t in stage if t.tree_.node_count > 1)
        if _predicts_nothing(decrease, y):
            importance = np.zeros_like(importance)
    return importance


def _fit_one(predictor, x_train, y_train, x_test, y_test, seed, threads=1):
    """Fit the predictor of one factor; returns (importance (n_codes,), acc_train, acc_test, extra)."""
    n_codes = x_train.shape[1]
    if predictor == "gbt":
        from sklearn.ensemble import GradientBoostingClassifier

        # Default parameters (100 stages, depth 3, learning rate 0.1, friedman_mse), as the
        # reference; random_state only fixes the order in which tied splits are tried.
        model = GradientBoostingClassifier(random_state=seed).fit(x_train, y_train)
        importance = _importance(model, y_train)
    elif predictor == "fast":
        from dislab.metrics._boosting import fit_gradient_boosting

        # scikit-learn's boosting algorithm with exact trees compiled by numba (see _boosting.py);
        # importance normalised to sum 1 as feature_importances_.
        fit = fit_gradient_boosting(x_train, y_train, x_test, seed=seed, threads=threads)
        total = fit.importance.sum()
        importance = (np.zeros_like(fit.importance) if _predicts_nothing(total, y_train)
                      else fit.importance / total)
        return (importance, float(np.mean(fit.predicted_train == y_train)),
                float(np.mean(fit.predicted_test == y_test)), {_FIT: fit})
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
        importance = _importance(model, y_train)
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
            ``"fast"`` (needs the package numba; ``"lightgbm"``, its former name, is accepted):
            scikit-learn's gradient boosting algorithm with the same defaults (log-prior start,
            multinomial residuals, squared-error splits chosen by scikit-learn's Friedman proxy,
            depth 3, Newton leaf values with the (K-1)/K factor, 100 rounds at 0.1) on the
            inputs scikit-learn's trees see (float32, its 1e-7 split tolerance), each tree
            grown exactly by a compiled scan of every code's sorted values
            (dislab.metrics._boosting, dislab.metrics._grow); importance = squared-error decrease per code, normalised
            to sum 1 per factor as ``feature_importances_``. Where it cannot stand for "gbt" on a
            factor -- ties between codes that move D or C by more than 0.01 when broken
            differently, or splits scikit-learn cannot make between values closer than 1e-7 --
            that factor is fitted with "gbt" and the reason given under ``fallback``. Measured
            limits (docs/metrics.md, "The fast predictor"): within 0.02 of "gbt" on D, C and
            I on a battery of hard inputs (0.006 measured), 0.003 on the benchmark cases at
            10,000 / 5,000 points, ~6-7x faster than "gbt";
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
        n_jobs: cores to fit the factors on (results do not depend on it); -1: every CPU core
            (what ``dislab evaluate`` uses). "fast" fits the factors on threads of this process
            (its trees are compiled code that releases the GIL), the other predictors in
            parallel processes, at most one per factor, each on one thread.
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
    ``informativeness_test_per_factor`` (lists), ``predictor``, ``skipped_factors``; with
    ``predictor="fast"`` also ``fallback`` (``{"factor index": reason}`` for the factors
    fitted with "gbt" instead, empty when none) and ``tie_spread`` (the largest change of D or C
    when the remaining tied splits are credited afresh at random: how much the result depends on
    tie-breaking, at most 0.01).
    """
    predictor = _ALIASES.get(predictor, predictor)
    if predictor not in PREDICTORS:
        raise ConfigError(f"unknown DCI predictor {predictor!r}; expected one of: {', '.join(PREDICTORS)}")
    pool_size(n_jobs, 1)  # checked before any work
    if predictor == "fast":
        _require_numba()
    ctr, ftr, cte, fte = check_split(codes_train, factors_train, codes_test, factors_test)
    ctr, cte = ctr.astype(np.float64), cte.astype(np.float64)
    varying = varying_factors(ftr, "dci", "factors_train")
    ks = [int(k) for k in np.flatnonzero(varying)]

    def job(k, name=predictor):
        # One thread per predictor: OpenMP pools (hist_gbt's) spin and were 50-100x
        # slower on the busy 2-core machine; parallelism comes from n_jobs over factors instead.
        from threadpoolctl import threadpool_limits

        with warnings.catch_warnings(), threadpool_limits(1):
            warnings.simplefilter("ignore")  # convergence chatter of the linear variant
            return _fit_one(name, ctr, ftr[:, k], cte, fte[:, k], seed, threads)

    workers = pool_size(n_jobs, len(ks))
    # cores the fast predictor may use: one factor alone grows each round's trees on all of them
    threads = pool_size(n_jobs, 1 << 20) if predictor == "fast" else 1

    def run(factors, name=predictor):
        if workers == 1 or len(factors) == 1:
            return [job(k, name) for k in tqdm(factors, desc=f"dci ({name})", unit="factor",
                                               disable=bars.disable(progress))]
        # Factors with the most classes first (a boosted model costs ~ one tree per class and
        # round), so that the small ones fill the gaps at the end.
        order = sorted(factors, key=lambda k: -len(np.unique(ftr[:, k])))
        if name == "fast":
            # Threads of this process: the trees are grown by compiled code that releases the
            # GIL (as do numpy's loops), so no process start-up and no copies of the codes; and
            # with twice as many threads as cores the cores share out the rounds of all
            # factors, where whole factors on processes left one core idle for the last ~25 %
            # (docs/benchmarks.md, "Metrics"). A factor alone (the sequential branch above)
            # grows each round's trees on every core.
            from concurrent.futures import ThreadPoolExecutor

            from threadpoolctl import threadpool_limits

            inner = max(1, threads // len(order))
            with threadpool_limits(1), ThreadPoolExecutor(min(len(order), 2 * workers)) as pool:
                done = dict(zip(order, pool.map(
                    lambda k: _fit_one(name, ctr, ftr[:, k], cte, fte[:, k], seed, inner), order)))
            return [done[k] for k in factors]
        from joblib import Parallel, delayed

        done = dict(zip(order, Parallel(n_jobs=min(workers, len(order)))(
            delayed(job)(k, name) for k in order)))
        return [done[k] for k in factors]

    results = run(ks)
    importance = np.zeros((ctr.shape[1], ftr.shape[1]))
    acc_train = np.zeros(ftr.shape[1])
    acc_test = np.zeros(ftr.shape[1])
    extras: dict[str, list] = {}
    fits = {}
    for k, (imp, a_tr, a_te, extra) in zip(ks, results):
        importance[:, k], acc_train[k], acc_test[k] = imp, a_tr, a_te
        if _FIT in extra:
            fits[k] = extra.pop(_FIT)
        for key, value in extra.items():
            extras.setdefault(key, [0.0] * ftr.shape[1])[k] = value
    fallback, tie_spread = {}, 0.0
    if predictor == "fast":
        fallback, tie_spread = _fast_fallbacks(importance, varying, fits, seed)
        redo = sorted(fallback)
        for k, (imp, a_tr, a_te, _) in zip(redo, run(redo, "gbt") if redo else []):
            importance[:, k], acc_train[k], acc_test[k] = imp, a_tr, a_te
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
    if predictor == "fast":
        out["fallback"] = {str(k): reason for k, reason in sorted(fallback.items())}
        out["tie_spread"] = tie_spread
    for key, values in extras.items():
        out[key] = float(np.mean(np.asarray(values)[varying]))
    return out


def _tie_draw_spread(importance, varying, fits, factors, rng) -> float:
    """Largest change of D or C over _TIE_DRAWS draws in which the tied splits of ``factors``
    (fitted by the fast predictor) are credited afresh to one of their tied codes at random."""
    d0 = disentanglement_score(importance[:, varying])[0]
    c0 = completeness_score(importance[:, varying])[0]
    worst = 0.0
    for _ in range(_TIE_DRAWS):
        draw = importance.copy()
        for k in factors:
            fit = fits[k]
            column = fit.importance.copy()
            for members, rows in fit.ties.items():
                gains, chosen = rows[:, 0], rows[:, 1].astype(np.intp)
                np.subtract.at(column, chosen, gains)
                np.add.at(column, np.asarray(members)[rng.integers(len(members), size=len(gains))], gains)
            column = np.clip(column, 0.0, None)
            total = column.sum()
            draw[:, k] = column / total if total > 0 else column
        d = disentanglement_score(draw[:, varying])[0]
        c = completeness_score(draw[:, varying])[0]
        worst = max(worst, abs(d - d0), abs(c - c0))
    return worst


def _fast_fallbacks(importance, varying, fits, seed) -> tuple[dict, float]:
    """The factors whose fast fit cannot stand for the reference's, with the reason, and the
    remaining tie spread of D and C (docs/metrics.md, "Where the fast predictor falls back").

    * splits between training values closer than scikit-learn's 1e-7 carry more than
      _INVALID_SHARE of the factor's importance (scikit-learn's trees could not have made them);
    * the factor's tied splits (several codes reproduce the split exactly; scikit-learn credits a
      random one of them) are heavy enough that crediting them afresh moves D or C by more than
      _TIE_SPREAD: factors are handed back, the most sensitive first, until the tie spread of the
      rest is within _TIE_SPREAD.
    """
    rng = np.random.default_rng(seed)
    fallback = {}
    for k, fit in fits.items():
        if fit.invalid_share > _INVALID_SHARE:
            fallback[k] = (f"{fit.invalid_share:.1%} of its importance came from splits between training "
                           "values closer than scikit-learn's 1e-7 (codes on a very small scale), which "
                           "the reference's trees cannot make: fitted with gbt")
    tied = [k for k, fit in fits.items() if fit.ties and k not in fallback]
    spread = {k: _tie_draw_spread(importance, varying, fits, [k], rng) for k in tied}
    remaining = sorted(tied, key=lambda k: -spread[k])
    total = _tie_draw_spread(importance, varying, fits, remaining, rng) if remaining else 0.0
    while remaining and total > _TIE_SPREAD:
        k = remaining.pop(0)
        codes = sorted({c for members in fits[k].ties for c in members})
        share = fits[k].tied_share
        fallback[k] = (f"splits that several codes ({', '.join(map(str, codes))}) make equally well carry "
                       f"{share:.1%} of its importance; scikit-learn credits one of them at random, which "
                       f"moves D or C by up to {spread[k]:.3f} here: fitted with gbt")
        total = _tie_draw_spread(importance, varying, fits, remaining, rng) if remaining else 0.0
    return fallback, float(total)


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_dci(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                n_test: int = N_TEST, batch_size: int = 64, **options) -> dict:
    """DCI (:func:`dislab.metrics.dci.dci`) on 10,000 train / 5,000 test points (reference)."""
    return score_train_test(dci, "dci", dataset, encode, seed, n_train, n_test, batch_size, options)


def _default_options() -> dict:
    """What ``evaluate`` passes: the fast predictor (the reference's boosting algorithm with
    exact trees compiled by numba; docs/metrics.md "DCI" gives its agreement with "gbt"), or the
    reference "gbt" itself (minutes per model) when numba cannot be imported; factors fitted on
    every core."""
    try:
        import numba  # noqa: F401

        predictor = "fast"
    except ImportError:  # a dependency, but a platform may lack its wheel: slow but faithful
        predictor = "gbt"
    return {"predictor": predictor, "n_jobs": -1}


SPEC = MetricSpec(
    name="dci", title="DCI (Eastwood & Williams 2018)",
    sampler=compute_dci, array=dci,
    per_level=True, default=True, options=_default_options,
    scores=(
        Score("disentanglement",
          "DCI disentanglement (Eastwood & Williams 2018): how much each latent's "
          "predictive importance concentrates on one factor.",
          "0 to 1, higher = each latent predicts one factor", "higher"),
        Score("completeness",
          "DCI completeness: how much each factor is predicted by a single latent.",
          "0 to 1, higher = each factor in one latent", "higher"),
        Score("informativeness_train",
          "DCI informativeness: accuracy of boosted trees predicting each factor from the "
          "latents (training split).",
          "0 to 1, higher = more information kept", "higher"),
        Score("informativeness_test",
          "DCI informativeness: accuracy of boosted trees predicting each factor from the "
          "latents (held-out split).",
          "0 to 1, higher = more information kept", "higher"),
        Score("tie_spread",
          "Fast DCI predictor only: the largest change of D or C when splits that several "
          "latents make equally well are credited afresh at random (how much the scores "
          "depend on tie-breaking).",
          "0 to 0.01, lower = firmer", "diagnostic"),
    ),
)
