"""scikit-learn's gradient boosting classifier, run fast: the reference's algorithm, exact trees.

The DCI reference (disentanglement_lib) fits ``sklearn.ensemble.GradientBoostingClassifier()`` with
default parameters, which takes minutes per model. An off-the-shelf fast booster shaped like it
(LightGBM, depth 3, 100 rounds) still moves D and C by up to 0.06 when codes mix factors, because
it is a different algorithm. This module runs scikit-learn's algorithm (Friedman 2001, "Greedy
Function Approximation", Algorithm 6 for K classes, as implemented in ``sklearn/ensemble/_gb.py``)
and grows each tree with a compiled exact search (:mod:`dislab.metrics._grow`):

* the inputs are what scikit-learn's trees see: codes cast to float32 (its ``DTYPE``), split
  candidates only between sorted training values more than ``FEATURE_THRESHOLD`` = 1e-7 apart
  (float32 arithmetic, ``sklearn/tree/_partitioner.pyx``) at the midpoint of the two values
  (:func:`split_candidates`); each code is cut into groups of values between two candidates, and
  a tree can split between any two groups, as scikit-learn can;
* raw scores start at the log class priors (``DummyClassifier(strategy="prior")``; the logit of
  the prior for two classes);
* each round computes the negative gradient of the multinomial deviance, ``r = y_onehot - p``
  (``p`` = softmax of the raw scores; the logistic for two classes, one tree per round), once for
  all classes;
* per class, a regression tree of depth <= 3 is grown on ``r[:, k]``: every node that is not
  pure (residual variance above float64's epsilon) is split where scikit-learn's Friedman proxy
  of the squared-error decrease is largest, over every boundary between groups in the node, with
  at least one sample per leaf; the threshold is scikit-learn's, the midpoint of the *node's*
  two training values either side of the split (not of the whole training set's), which is how
  test points are routed;
* each leaf's value is scikit-learn's Newton step ``(K-1)/K * sum(r) / sum(p (1 - p))`` over the
  leaf's training samples (no ``(K-1)/K`` for two classes; 0 where the hessian sum is below
  1e-150) times the learning rate;
* importance of a code = total squared-error decrease of its splits over all trees (from the
  residual sums of each split's two sides), which is scikit-learn's ``feature_importances_``
  before its normalisation to sum 1 (the caller normalises).

Two things cannot be reproduced, so they are measured for the caller (dislab.metrics.dci decides
whether to refit a factor with scikit-learn):

* **ties**: where several codes split a node's training samples into exactly the same two sides,
  scikit-learn keeps the first of them in a random feature order (``random_state``); the grower
  draws one of the codes whose best proxies tie (within 1e-9, relative) at random too, but its
  draws are not scikit-learn's. Every split worth 1e-4 of the largest so far is checked exactly
  (the others carry ~0.1-0.3 % of the importance on the benchmark cases) and, when tied, credited
  to one of the tied codes drawn at random and routed by it, as scikit-learn would; ``ties``
  lists them, so that the caller can measure how much D and C depend on the draw. Ties between
  *different* partitions of equal gain (symmetric discrete codes, e.g. the bits of a factor on a
  balanced design) are drawn in the grower (``dislab.metrics._grow._take``), and the tree below
  follows the draw, as in scikit-learn;
* **close values**: in a node holding only part of a chain of training values less than 1e-7
  apart, scikit-learn can split inside the chain; to allow it the chain gets a candidate between
  each pair of its values, which the trees take only where the node's two neighbours across it
  are more than 1e-7 apart (scikit-learn's rule, applied in the scan: dislab.metrics._grow).
  Splits that break the rule would be counted in ``invalid_gain``, a guard that stays 0. Codes on
  a scale below ~1e-4 have such chains.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["fit_gradient_boosting", "BoostingFit", "split_candidates"]

# scikit-learn's _safe_divide: a leaf whose hessian sum is this small gets value 0.
_TINY_HESSIAN = 1e-150
# sklearn/tree/_partitioner.pxd: sorted values closer than this (float32) are never split apart.
_FEATURE_THRESHOLD = np.float32(1e-7)
# splits whose squared-error decrease is below this fraction of the largest so far are not checked
# for ties (on the benchmark cases they are 57-84 % of the splits and 0.1-0.25 % of the importance)
_UNCHECKED = 1e-4


@dataclass
class BoostingFit:
    """Result of :func:`fit_gradient_boosting`.

    importance: ``(n_features,)`` total squared-error decrease per feature (not normalised); a split
        that several features reproduce exactly is credited to one of them drawn at random (as
        scikit-learn's random feature order would).
    predicted_train, predicted_test: predicted labels (values of ``y_train``).
    tied_gain: squared-error decrease of the splits that another feature reproduces exactly (the
        part of ``importance.sum()`` whose attribution depends on tie-breaking).
    unchecked_gain: squared-error decrease of the splits too small to be checked for ties
        (credited to the grower's choice: among features of tied proxies, one drawn at random).
    ties: ``{features: (k, 2) array}``, for each set of features (original indices, sorted) that
        tied, one row per split they tied on: its squared-error decrease and the feature credited.
    invalid_gain: squared-error decrease of the splits between values closer than scikit-learn's
        1e-7, which it could not have made (its trees differ from there on).
    """

    importance: np.ndarray
    predicted_train: np.ndarray
    predicted_test: np.ndarray
    tied_gain: float = 0.0
    unchecked_gain: float = 0.0
    ties: dict = field(default_factory=dict)
    invalid_gain: float = 0.0

    def share(self, gain: float) -> float:
        """``gain`` as a fraction of the total squared-error decrease (0 when nothing split)."""
        total = float(self.importance.sum())
        return float(gain / total) if total > 0 else 0.0

    @property
    def tied_share(self) -> float:
        return self.share(self.tied_gain)

    @property
    def invalid_share(self) -> float:
        return self.share(self.invalid_gain)


def split_candidates(x_train: np.ndarray, x_test: np.ndarray):
    """Map each feature onto the groups of values scikit-learn's trees can separate.

    scikit-learn casts inputs to float32 and, walking a node's sorted values, only splits between
    neighbours ``a < b`` with ``b > float32(a + 1e-7)``, at ``a/2 + b/2`` (float64); a test value
    goes left when ``<=`` the threshold. Over all training values this cuts each feature into
    *runs* of values chained less than 1e-7 apart, with a threshold between consecutive runs; a
    value's index is the number of thresholds below it.

    A run spanning more than 1e-7 (a chain of close values, e.g. codes on a 1e-6 scale) can be
    split inside in a node that holds only some of its values, so it gets a threshold between
    each of its distinct values, marked *fine*: a split there is valid only where the node's two
    neighbours across it are more than 1e-7 apart (checked as the tree is grown).

    Returns ``(bins_train (n, p) int32, bins_test (m, p) int32, n_bins (p,), thresholds, fine)``,
    the last two lists of each feature's thresholds (float64) and fine flags (bool); a feature
    with a single bin (constant to scikit-learn) can never be split.
    """
    x_train = np.asarray(x_train, dtype=np.float32)
    x_test = np.asarray(x_test, dtype=np.float32)
    n_features = x_train.shape[1]
    bins_train = np.zeros(x_train.shape, np.int32)
    bins_test = np.zeros(x_test.shape, np.int32)
    n_bins = np.ones(n_features, np.int64)
    cuts, fines = [], []
    for j in range(n_features):
        values = np.unique(x_train[:, j])  # sorted float32
        apart = values[1:] > values[:-1] + _FEATURE_THRESHOLD  # float32 arithmetic, as scikit-learn
        run = np.r_[0, np.cumsum(apart)]  # run of each distinct value
        first = values[np.r_[0, np.flatnonzero(apart) + 1]]
        last = values[np.r_[np.flatnonzero(apart), len(values) - 1]]
        wide = last > first + _FEATURE_THRESHOLD  # (runs,)
        fine = ~apart & wide[run[1:]]  # boundaries inside a wide run
        boundary = apart | fine
        if not boundary.any():
            cuts.append(np.zeros(0))
            fines.append(np.zeros(0, bool))
            continue
        thresholds = values[:-1][boundary].astype(np.float64) / 2.0 + values[1:][boundary].astype(np.float64) / 2.0
        bins_train[:, j] = np.searchsorted(thresholds, x_train[:, j].astype(np.float64), side="left")
        bins_test[:, j] = np.searchsorted(thresholds, x_test[:, j].astype(np.float64), side="left")
        n_bins[j] = len(thresholds) + 1
        cuts.append(thresholds)
        fines.append(fine[boundary])
    return bins_train, bins_test, n_bins, cuts, fines


def _probabilities(raw: np.ndarray, binary: bool) -> np.ndarray:
    """Class probabilities from raw scores ``(T, n)`` (one row per class): logistic
    (T = 1) or softmax over the classes."""
    if binary:
        return 1.0 / (1.0 + np.exp(-raw))
    shifted = np.exp(raw - raw.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


def _tied(x, bins, leaves, order, bounds, feature, check, max_depth, rng):
    """The splits in ``check`` (``(T, nodes)`` bool) that other features reproduce exactly (their
    group indices put the node's training rows on the same two sides,
    :func:`dislab.metrics._grow.tied_features`), each with one of the tied features drawn at
    random as scikit-learn's choice:
    ``{(t, h): (tied features (the split's own first), chosen, its threshold, flipped)}``;
    ``flipped``: the chosen feature's low values are the right side (its ``<=`` test sends test
    rows right)."""
    from dislab.metrics._grow import tied_features

    tied, flipped = tied_features(bins, order, bounds, feature, check, max_depth)
    out = {}
    for t, h in zip(*np.nonzero(tied.any(axis=2))):
        others = np.flatnonzero(tied[t, h])
        members = [int(feature[t, h]), *(int(g) for g in others)]
        flips = [False, *(bool(flipped[t, h, g]) for g in others)]
        pick = int(rng.integers(len(members)))
        g, flip = members[pick], flips[pick]
        depth = int(np.log2(h + 1))
        half = 2 ** (max_depth - depth - 1)  # leaves per side
        first_leaf = (h - (2 ** depth - 1)) * 2 * half
        a, b, c = bounds[t, first_leaf], bounds[t, first_leaf + half], bounds[t, first_leaf + 2 * half]
        low, high = (order[t, b:c], order[t, a:b]) if flip else (order[t, a:b], order[t, b:c])
        # scikit-learn's threshold on g: midpoint of the node's neighbours across the split
        cut = np.float64(x[g, low].max()) / 2.0 + np.float64(x[g, high].min()) / 2.0
        out[(int(t), int(h))] = (members, g, cut, flip)
    return out


def fit_gradient_boosting(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *,
                          n_rounds: int = 100, learning_rate: float = 0.1, max_depth: int = 3,
                          seed: int = 0, check_ties: bool = True, threads: int = 1) -> BoostingFit:
    """Fit scikit-learn's gradient boosting classifier (defaults), its trees grown exactly.

    Args:
        x_train: ``(n, n_features)`` real training inputs; ``y_train``: ``(n,)`` labels with at
            least two distinct values; ``x_test``: ``(m, n_features)``.
        n_rounds, learning_rate, max_depth: scikit-learn's ``n_estimators`` (100),
            ``learning_rate`` (0.1) and ``max_depth`` (3); leaves hold at least one sample.
        seed: the random order of the rows, the draw among features whose best splits tie
            (in the grower; the trees depend on it only there) and among features that make the
            very same split (the credit and routing of ``ties``).
        check_ties: find the features that reproduce each split exactly (``tied_gain``); without
            it every split is credited to the grower's choice (one of the features of tied proxies,
            drawn at random).
        threads: each round's trees are grown on this many threads (one tree per class; the
            result does not depend on it).

    Returns:
        a :class:`BoostingFit`.
    """
    from dislab.metrics._grow import grow_trees, leaf_step, route

    classes, y = np.unique(y_train, return_inverse=True)
    n_classes, n = len(classes), len(y)
    binary = n_classes == 2
    n_trees = 1 if binary else n_classes  # trees per round, as scikit-learn
    eps = np.finfo(np.float64).eps
    prior = np.clip(np.bincount(y, minlength=n_classes) / n, eps, 1 - eps)
    if binary:
        init = np.array([np.log(prior[1] / prior[0])])
        target = (y == 1).astype(np.float64)[None, :]
    else:
        init = np.log(prior)
        target = np.eye(n_classes)[:, y]
    # raw scores, targets and residuals are (T, n): one row per tree of a round (class-major)
    raw = np.tile(init[:, None], (1, n))
    raw_test = np.tile(init[:, None], (1, len(x_test)))
    n_features = x_train.shape[1]
    importance = np.zeros(n_features)
    tied_gain, unchecked_gain, largest, ties, invalid_gain = 0.0, 0.0, 0.0, {}, 0.0
    # Rows in a seeded random order, so that the tie check meets a node's rows in a random order
    # (whatever order the caller's rows come in); results are reported in the caller's order.
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)

    def result():
        def labels(scores):
            index = (scores[0] > 0).astype(int) if binary else scores.argmax(axis=0)  # scores (T, n)
            return classes[index]

        pred_train = np.empty(n, dtype=classes.dtype)
        pred_train[order] = labels(raw)
        return BoostingFit(importance, pred_train, labels(raw_test), float(tied_gain),
                           float(unchecked_gain), {k: np.asarray(v) for k, v in ties.items()},
                           float(invalid_gain))

    bins_train, _, n_runs, _, fines = split_candidates(x_train, x_test)
    # A feature scikit-learn cannot split (one run) never splits, so its importance is 0; with
    # none left every tree is a single leaf whose Newton step is 0 (the residuals sum to 0 at the
    # prior): the prediction stays the majority class.
    varying = np.flatnonzero(n_runs > 1)
    if len(varying) == 0:
        return result()
    y, target = y[order], target[:, order]
    bins_train = bins_train[order][:, varying]
    # (p, n) float32, the values scikit-learn's trees compare (as float64) with their thresholds
    x_split = np.ascontiguousarray(np.asarray(x_train, np.float32)[order][:, varying].T)
    x_test_split = np.ascontiguousarray(np.asarray(x_test, np.float32)[:, varying].T)
    bins_split = np.ascontiguousarray(bins_train.T, np.int64)  # (p, n)
    # fine[f, b]: whether the boundary between groups b and b + 1 of feature f lies inside a chain
    # of values less than 1e-7 apart (split_candidates)
    fine = np.zeros((len(varying), max(int(n_runs.max()) - 1, 1)), bool)
    for f, j in enumerate(varying):
        fine[f, :len(fines[j])] = fines[j]
    # each feature's training rows sorted by value (stable; their groups are then non-decreasing),
    # the order the trees scan them in
    split_order = np.argsort(x_split, axis=1, kind="stable")
    sorted_bins = np.take_along_axis(bins_split, split_order, axis=1).astype(np.int32)
    sorted_x = np.take_along_axis(x_split, split_order, axis=1)
    split_order = split_order.astype(np.int32)
    row_bins = np.ascontiguousarray(bins_train, np.int32)  # (n, p)
    newton_factor = 1.0 if binary else (n_classes - 1) / n_classes
    width = 2 ** max_depth  # leaves per tree
    n_nodes = width - 1
    # heap node h at depth d (h = 2**d - 1 + i) covers the leaves [i, i + 1) * 2**(max_depth - d)
    depth_of = np.floor(np.log2(np.arange(n_nodes) + 1)).astype(int)
    span = 2 ** (max_depth - depth_of)
    first = (np.arange(n_nodes) - (2 ** depth_of - 1)) * span
    left_of = np.zeros((n_nodes, width), bool)
    right_of = np.zeros((n_nodes, width), bool)
    for h in range(n_nodes):
        left_of[h, first[h]:first[h] + span[h] // 2] = True
        right_of[h, first[h] + span[h] // 2:first[h] + span[h]] = True
    for round_ in range(n_rounds):
        prob = _probabilities(raw, binary)
        residual = target - prob
        feature, _, real, local_cut, invalid, leaves = grow_trees(
            split_order, sorted_bins, sorted_x, row_bins, fine, residual, max_depth,
            seed=seed * 1_000_003 + round_, threads=threads)
        if not real.any():  # no tree of this round could split (e.g. every feature constant)
            break
        # Newton values of every leaf of this round's trees, added to the raw scores (compiled)
        value, leaf_sum, leaf_count, order_rows, bounds = leaf_step(
            leaves, residual, prob, raw, newton_factor=newton_factor, learning_rate=learning_rate,
            tiny=_TINY_HESSIAN, width=width)
        # Importance: each split's squared-error decrease, from the residual sums of its sides.
        s_l, n_l = leaf_sum @ left_of.T, leaf_count @ left_of.T  # (T, nodes)
        s_r, n_r = leaf_sum @ right_of.T, leaf_count @ right_of.T
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = s_l ** 2 / n_l + s_r ** 2 / n_r - (s_l + s_r) ** 2 / (n_l + n_r)
        gain = np.where(real & (n_l > 0) & (n_r > 0), np.maximum(gain, 0.0), 0.0)
        invalid_gain += float(gain[invalid].sum())
        largest = max(largest, float(gain.max()))
        check = real & (gain >= _UNCHECKED * largest) if check_ties else np.zeros_like(real)
        unchecked_gain += float(gain[real & ~check].sum())
        tied = _tied(x_split, bins_split, leaves, order_rows, bounds, feature, check, max_depth,
                     rng) if check.any() else {}
        flip = None
        if tied:
            feature, flip = feature.copy(), np.zeros_like(real)
            for (t, h), (members, chosen, chosen_cut, flipped) in tied.items():
                g = float(gain[t, h])
                tied_gain += g
                key = tuple(int(v) for v in sorted(varying[members]))
                ties.setdefault(key, []).append((g, int(varying[chosen])))
                # scikit-learn's random feature order picks one of them: credit and route by it
                feature[t, h], local_cut[t, h], flip[t, h] = chosen, chosen_cut, flipped
        np.add.at(importance, varying[feature[real]], gain[real])
        # Test rows go left when <= scikit-learn's threshold: the midpoint of the node's two
        # training values either side of the split (wider than the global one below the root).
        route(x_test_split, feature, local_cut, np.zeros_like(real) if flip is None else flip, max_depth, value,
              raw_test)
    return result()
