"""scikit-learn's gradient boosting classifier, with LightGBM growing the trees.

The DCI reference (disentanglement_lib) fits ``sklearn.ensemble.GradientBoostingClassifier()`` with
default parameters, which takes minutes per model. An off-the-shelf fast booster shaped like it
(LightGBM, depth 3, 100 rounds) still moves D and C by up to 0.06 when codes mix factors, because
it is a different algorithm. This module runs scikit-learn's algorithm (Friedman 2001, "Greedy
Function Approximation", Algorithm 6 for K classes, as implemented in ``sklearn/ensemble/_gb.py``)
and hands only the search for each tree's splits to LightGBM's histogram learner:

* the inputs are what scikit-learn's trees see: codes cast to float32 (its ``DTYPE``), split
  candidates only between sorted training values more than ``FEATURE_THRESHOLD`` = 1e-7 apart
  (float32 arithmetic, ``sklearn/tree/_partitioner.pyx``) at the midpoint of the two values
  (:func:`split_candidates`); each code reaches LightGBM as the index of its group of values
  between two candidates, one histogram bin per index, so it can split wherever scikit-learn can;
* raw scores start at the log class priors (``DummyClassifier(strategy="prior")``; the logit of
  the prior for two classes);
* each round computes the negative gradient of the multinomial deviance, ``r = y_onehot - p``
  (``p`` = softmax of the raw scores; the logistic for two classes, one tree per round), once for
  all classes;
* per class, a regression tree of depth <= 3 is grown on ``r[:, k]`` with squared-error splits:
  LightGBM is given gradient ``-r`` and unit hessians, so its split gain
  ``G_L^2/n_L + G_R^2/n_R - G^2/n`` is exactly the decrease of the squared error scikit-learn's
  tree maximises, with at least one sample per leaf (the Dataset too: LightGBM's default
  ``min_data_in_leaf`` of 20 made its feature pre-filter drop codes below 40 samples);
* the trees are read back (``model_to_string``) and evaluated here, in numpy: each leaf's value
  is scikit-learn's Newton step ``(K-1)/K * sum(r) / sum(p (1 - p))`` over the leaf's training
  samples (no ``(K-1)/K`` for two classes; 0 where the hessian sum is below 1e-150) times the
  learning rate; test points are routed with scikit-learn's thresholds (the midpoint of the
  *node's* two training values either side of the split, not of the whole training set's);
* importance of a code = total squared-error decrease of its splits over all trees (from the
  residual sums of each split's two sides), which is scikit-learn's ``feature_importances_``
  before its normalisation to sum 1 (the caller normalises).

Two things cannot be reproduced, so they are measured for the caller (dislab.metrics.dci decides
whether to refit a factor with scikit-learn):

* **ties**: where several codes split a node's training samples into exactly the same two sides,
  scikit-learn keeps the first of them in a random feature order (``random_state``), LightGBM the
  lowest index. Every split worth 1e-4 of the largest so far is checked (the others carry
  ~0.1-0.3 % of the importance on the benchmark cases) and, when tied, credited to one of the
  tied codes drawn at random and routed by it, as scikit-learn would; ``ties`` lists them, so
  that the caller can measure how much D and C depend on the draw. Ties between *different*
  partitions of exactly equal gain (residuals taking few values on tiny or exactly balanced
  samples) are not detected;
* **close values**: in a node holding only part of a chain of training values less than 1e-7
  apart, scikit-learn can split inside the chain; to allow it the chain gets a candidate between
  each pair of its values, and splits where the node's two neighbours are in fact within 1e-7
  (which scikit-learn could not make) are counted in ``invalid_gain``. Codes on a scale below
  ~1e-4 have such chains.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

__all__ = ["fit_gradient_boosting", "BoostingFit", "split_candidates"]

# scikit-learn's _safe_divide: a leaf whose hessian sum is this small gets value 0.
_TINY_HESSIAN = 1e-150
# sklearn/tree/_partitioner.pxd: sorted values closer than this (float32) are never split apart.
_FEATURE_THRESHOLD = np.float32(1e-7)
# samples used for the cheap first pass of the tie check (all of them below this size)
_TIE_SAMPLE = 256
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
        (credited to LightGBM's choice).
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
    neighbours across it are more than 1e-7 apart (checked after the tree is grown).

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
    """Class probabilities from raw scores ``(T, n)`` (class-major, LightGBM's layout): logistic
    (T = 1) or softmax over the classes."""
    if binary:
        return 1.0 / (1.0 + np.exp(-raw))
    shifted = np.exp(raw - raw.max(axis=0, keepdims=True))
    return shifted / shifted.sum(axis=0, keepdims=True)


_TREE_FIELDS = re.compile(r"^(num_leaves|split_feature|threshold|left_child|right_child)=(.*)$", re.M)


def _heap_trees(text: str, n_trees: int, max_depth: int, root_cut: np.ndarray, root_fine: np.ndarray):
    """One round's LightGBM trees in heap layout (node h has children 2h + 1 and 2h + 2).

    Returns ``(feature, cut, real, fine)``, each ``(n_trees, 2**max_depth - 1)``: the split
    feature, the global threshold (float64 value: left iff ``value <= cut``, the same rows as
    LightGBM's bin index test), whether the node is a split and whether its threshold is a fine
    one (:func:`split_candidates`). A leaf above the last depth is padded with
    pass-through nodes (``cut = inf``: every row goes left), so every row ends in one of
    ``2**max_depth`` leaves, numbered left to right.
    """
    n_nodes = 2 ** max_depth - 1
    feature = np.zeros((n_trees, n_nodes), np.int64)
    cut = np.full((n_trees, n_nodes), np.inf)
    real = np.zeros((n_trees, n_nodes), bool)
    fine = np.zeros((n_trees, n_nodes), bool)
    for t, block in enumerate(text.split("Tree=")[1:n_trees + 1]):
        fields = dict(_TREE_FIELDS.findall(block.split("\n\n", 1)[0]))
        if int(fields["num_leaves"]) < 2:
            continue
        split_feature = [int(v) for v in fields["split_feature"].split()]
        # LightGBM's features are run index + 1; its thresholds fall between two integers
        run = [int(np.floor(float(v))) - 1 for v in fields["threshold"].split()]
        left = [int(v) for v in fields["left_child"].split()]
        right = [int(v) for v in fields["right_child"].split()]
        stack = [(0, 0)]  # (LightGBM node, heap position)
        while stack:
            j, h = stack.pop()
            f = split_feature[j]
            feature[t, h], cut[t, h], real[t, h], fine[t, h] = f, root_cut[f, run[j]], True, root_fine[f, run[j]]
            for child, position in ((left[j], 2 * h + 1), (right[j], 2 * h + 2)):
                if child >= 0:
                    stack.append((child, position))
    return feature, cut, real, fine


def _route(x: np.ndarray, feature, cut, max_depth: int, flip=None) -> np.ndarray:
    """The leaf ``(T, n)`` of every column of ``x`` (p, n) in each tree (``feature``/``cut`` from
    :func:`_heap_trees`). A row's node at depth d is ``leaf >> (max_depth - d)`` (its position
    among that depth's nodes). ``flip`` ``(T, nodes)`` bool: nodes whose ``<=`` test sends rows
    right."""
    n_trees, n_nodes = feature.shape
    n = x.shape[1]
    flat_x, flat_feature, flat_cut = x.ravel(), feature.ravel(), cut.ravel()
    tree_base = (np.arange(n_trees) * n_nodes)[:, None]
    column = np.arange(n)[None, :]
    pos = np.zeros((n_trees, n), np.intp)
    for depth in range(max_depth):
        if depth == 0:  # one node per tree: whole rows of x
            go = x[feature[:, 0]] <= cut[:, :1]
            if flip is not None:
                go ^= flip[:, :1]
        else:  # 1-D takes with flat indices (much faster than 2-D fancy indexing)
            key = tree_base + (2 ** depth - 1) + pos  # (T, n) flat node index
            go = np.take(flat_x, np.take(flat_feature, key) * n + column) <= np.take(flat_cut, key)
            if flip is not None:
                go ^= np.take(flip.ravel(), key)
        pos = 2 * pos + (~go)
    return pos


def _leaf_order(leaves: np.ndarray, counts: np.ndarray):
    """Rows of each tree grouped by leaf: ``order`` ``(T, n)`` (rows sorted by leaf, stable) and
    ``bounds`` ``(T, width + 1)`` (leaf l's rows are ``order[t, bounds[t, l]:bounds[t, l + 1]]``),
    from the rows per leaf ``counts`` ``(T, width)``. A node's leaves are consecutive, so its
    rows -- and each side's -- are one slice."""
    order = np.argsort(leaves.astype(np.int8), axis=1, kind="stable")  # radix sort of small ints
    bounds = np.zeros((counts.shape[0], counts.shape[1] + 1), np.intp)
    np.cumsum(counts, axis=1, out=bounds[:, 1:])
    return order, bounds


def _local_cuts(x, leaves, order, bounds, feature, cut, real, fine, max_depth):
    """scikit-learn's threshold of every split below the root: the midpoint ``a/2 + b/2`` of the
    largest value ``a`` of the split feature that the node's training rows send left and the
    smallest ``b`` they send right (float32 values, float64 midpoint). At the root, whose rows
    are every training row, that is the global threshold ``cut``.

    ``order``/``bounds`` from :func:`_leaf_order`: per depth, the split feature's value of every
    row in leaf order, and one max / min per side of each node (a run of consecutive leaves, so
    the sides of one depth tile each tree's rows: one ``reduceat`` over all of them).

    Returns ``(cuts (T, nodes), invalid (T, nodes) bool)``: ``invalid`` marks the splits at a fine
    threshold whose two neighbours are within 1e-7, which scikit-learn could not have made (every
    split there is at the root, where the neighbours are adjacent values of a chain)."""
    n_trees, n_nodes = feature.shape
    n = x.shape[1]
    local = cut.copy()
    invalid = np.zeros(real.shape, bool)
    invalid[:, 0] = fine[:, 0] & real[:, 0]
    tree = np.arange(n_trees)[:, None]
    leaf_sorted = np.take_along_axis(leaves, order, axis=1)  # (T, n) non-decreasing per tree
    offset = (np.arange(n_trees) * n)[:, None]
    for depth in range(1, max_depth):
        first, count = 2 ** depth - 1, 2 ** depth
        half = 2 ** (max_depth - depth - 1)  # leaves per side of a node at this depth
        node = first + (leaf_sorted >> (max_depth - depth))  # (T, n) heap node of each sorted row
        value = np.take(x.ravel(), np.take(feature.ravel(), tree * n_nodes + node) * n + order).ravel()
        edges = bounds[:, 0:-1:half]  # (T, 2 * count): start of each side, in leaf order
        sizes = bounds[:, half::half] - edges
        starts = np.minimum((offset + edges).ravel(), len(value) - 1)
        high = np.maximum.reduceat(value, starts).reshape(n_trees, 2 * count)[:, 0::2]
        low = np.minimum.reduceat(value, starts).reshape(n_trees, 2 * count)[:, 1::2]
        ok = real[:, first:first + count] & (sizes[:, 0::2] > 0) & (sizes[:, 1::2] > 0)
        cuts = high.astype(np.float64) / 2.0 + low.astype(np.float64) / 2.0
        local[:, first:first + count] = np.where(ok, cuts, local[:, first:first + count])
        # float32 arithmetic, as scikit-learn: a valid split has b > float32(a + 1e-7)
        invalid[:, first:first + count] = ok & fine[:, first:first + count] & ~(low > high + _FEATURE_THRESHOLD)
    return local, invalid


def _tied(x, bins, sample_bins, n_sample, leaves, order, bounds, feature, check, max_depth, rng):
    """The splits in ``check`` (``(T, nodes)`` bool) that other features reproduce exactly (their
    bin indices put the node's training rows on the same two sides), each with one of the tied
    features drawn at random as scikit-learn's choice:
    ``{(t, h): (tied features (the split's own first), chosen, its threshold, flipped)}``;
    ``flipped``: the chosen feature's low values are the right side (its ``<=`` test sends test
    rows right).

    First pass on the subsample (rows ``[0, n_sample)``): a feature that mixes the two sides there
    mixes them on the node; a side without subsample rows rules nothing out there, and is then
    compared whole (it is small) with the other side's subsample. Then every row."""
    n_trees, n_nodes = feature.shape
    n_features = bins.shape[0]
    big = np.iinfo(np.int64).max
    lo = np.full((n_trees * n_nodes * 2, n_features), big)
    hi = np.full((n_trees * n_nodes * 2, n_features), -1)
    tree_base = (np.arange(n_trees) * n_nodes)[:, None]
    sub_leaves = leaves[:, :n_sample]
    rows = np.broadcast_to(np.arange(n_sample)[None, :], sub_leaves.shape).ravel()
    for depth in range(max_depth):
        below = sub_leaves >> (max_depth - depth - 1)  # position one depth down: 2 pos + side
        key = ((tree_base + (2 ** depth - 1) + (below >> 1)) * 2 + (below & 1)).ravel()
        by_key = np.argsort(key, kind="stable")
        k, r = key[by_key], rows[by_key]
        starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
        values = sample_bins[r]
        lo[k[starts]] = np.minimum.reduceat(values, starts, axis=0)
        hi[k[starts]] = np.maximum.reduceat(values, starts, axis=0)
    lo = lo.reshape(n_trees, n_nodes, 2, n_features)  # side 0: left, 1: right
    hi = hi.reshape(n_trees, n_nodes, 2, n_features)
    maybe = (hi[..., 0, :] < lo[..., 1, :]) | (hi[..., 1, :] < lo[..., 0, :])  # empty sides pass
    np.put_along_axis(maybe, feature[:, :, None], False, axis=2)
    maybe &= check[:, :, None]
    out = {}
    for t, h in zip(*np.nonzero(maybe.any(axis=2))):
        depth = int(np.log2(h + 1))
        position = h - (2 ** depth - 1)
        half = 2 ** (max_depth - depth - 1)  # leaves per side
        first_leaf = position * 2 * half
        a, b, c = bounds[t, first_leaf], bounds[t, first_leaf + half], bounds[t, first_leaf + 2 * half]
        sides = (order[t, a:b], order[t, b:c])
        candidates = np.flatnonzero(maybe[t, h])
        for side, other in ((0, 1), (1, 0)):
            if hi[t, h, side, 0] < 0 and hi[t, h, other, 0] >= 0 and len(candidates):
                b = bins[candidates[:, None], sides[side][None, :]]
                low, high = b.min(axis=1), b.max(axis=1)
                o_lo, o_hi = lo[t, h, other, candidates], hi[t, h, other, candidates]
                candidates = candidates[(high < o_lo) | (o_hi < low)]
        tied, flipped = [int(feature[t, h])], [False]
        for g in candidates:
            b_l, b_r = bins[g, sides[0]], bins[g, sides[1]]
            if b_l.max() < b_r.min() or b_r.max() < b_l.min():
                tied.append(int(g))
                flipped.append(bool(b_r.max() < b_l.min()))
        if len(tied) > 1:
            pick = int(rng.integers(len(tied)))
            g, flip = tied[pick], flipped[pick]
            low, high = (sides[1], sides[0]) if flip else sides
            # scikit-learn's threshold on g: midpoint of the node's neighbours across the split
            cut = np.float64(x[g, low].max()) / 2.0 + np.float64(x[g, high].min()) / 2.0
            out[(int(t), int(h))] = (tied, g, cut, flip)
    return out


def fit_gradient_boosting(x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, *,
                          n_rounds: int = 100, learning_rate: float = 0.1, max_depth: int = 3,
                          seed: int = 0, check_ties: bool = True) -> BoostingFit:
    """Fit scikit-learn's gradient boosting classifier (defaults) with LightGBM trees.

    Args:
        x_train: ``(n, n_features)`` real training inputs; ``y_train``: ``(n,)`` labels with at
            least two distinct values; ``x_test``: ``(m, n_features)``.
        n_rounds, learning_rate, max_depth: scikit-learn's ``n_estimators`` (100),
            ``learning_rate`` (0.1) and ``max_depth`` (3); leaves hold at least one sample.
        seed: LightGBM's seed and the subsample of the tie check (the trees do not depend on it).
        check_ties: find the features that reproduce each split exactly (``tied_gain``); without
            it every split is credited to LightGBM's choice (the lowest feature index).

    Returns:
        a :class:`BoostingFit`.
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
        target = (y == 1).astype(np.float64)[None, :]
    else:
        init = np.log(prior)
        target = np.eye(n_classes)[:, y]
    # raw scores, targets and residuals are (T, n): class-major, as LightGBM lays out gradients
    raw = np.tile(init[:, None], (1, n))
    raw_test = np.tile(init[:, None], (1, len(x_test)))
    n_features = x_train.shape[1]
    importance = np.zeros(n_features)
    tied_gain, unchecked_gain, largest, ties, invalid_gain = 0.0, 0.0, 0.0, {}, 0.0
    # Rows in a seeded random order: the first _TIE_SAMPLE of them are the tie check's subsample
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

    bins_train, bins_test, n_runs, cuts, fines = split_candidates(x_train, x_test)
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
    n_sample = min(n, _TIE_SAMPLE)
    sample_bins = np.ascontiguousarray(bins_train[:n_sample], np.int64)  # (s, p)
    # root_cut[f, b]: the global threshold between runs b and b + 1 of feature f
    root_cut = np.full((len(varying), max(int(n_runs.max()) - 1, 1)), np.inf)
    root_fine = np.zeros(root_cut.shape, bool)
    for f, j in enumerate(varying):
        root_cut[f, :len(cuts[j])] = cuts[j]
        root_fine[f, :len(cuts[j])] = fines[j]

    max_bin = int(n_runs.max()) + 1
    params = {
        "objective": "none", "max_depth": max_depth, "num_leaves": 2 ** max_depth,
        "min_data_in_leaf": 1, "min_sum_hessian_in_leaf": 0.0, "min_data_in_bin": 1,
        "lambda_l2": 0.0, "min_gain_to_split": 0.0, "learning_rate": 1.0,
        "max_bin": max_bin, "num_threads": 1, "deterministic": True, "force_col_wise": True,
        "seed": seed, "verbose": -1,
    }
    if not binary:
        params["num_class"] = n_trees
    # The Dataset must be built with the trees' own limits: with LightGBM's default
    # min_data_in_leaf (20) its feature pre-filter drops every feature that cannot be split into
    # two sides of 20 samples (all of them below 40 samples; a code isolating a rare class).
    # num_threads=1 everywhere: LightGBM's OpenMP pool would oversubscribe the factors' processes.
    data = lightgbm.Dataset((bins_train + 1).astype(np.float64), params={
        "max_bin": max_bin, "min_data_in_bin": 1, "min_data_in_leaf": 1, "feature_pre_filter": False,
        "bin_construct_sample_cnt": max(n, 200_000), "enable_bundle": False, "num_threads": 1,
        "verbose": -1})
    booster = lightgbm.Booster(params, data)
    hessian = np.ones(n * n_trees)
    newton_factor = 1.0 if binary else (n_classes - 1) / n_classes
    width = 2 ** max_depth  # leaves per tree
    n_nodes = width - 1
    tree_index = np.arange(n_trees)
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
        gradient = -residual.ravel()  # LightGBM's layout: class-major
        finished = booster.update(fobj=lambda _preds, _data: (gradient, hessian))
        if finished:  # no tree of this round could split (e.g. every feature constant)
            break
        feature, cut, real, fine = _heap_trees(
            booster.model_to_string(start_iteration=round_, num_iteration=1), n_trees, max_depth,
            root_cut, root_fine)
        leaves = _route(x_split, feature, cut, max_depth)
        # Newton values of every leaf of this round's trees at once: slot = tree * width + leaf.
        slot = (leaves + width * tree_index[:, None]).ravel()
        leaf_sum = np.bincount(slot, residual.ravel(), n_trees * width)
        leaf_count = np.bincount(slot, minlength=n_trees * width).astype(np.float64)
        denominator = np.bincount(slot, (prob * (1 - prob)).ravel(), n_trees * width)
        small = np.abs(denominator) < _TINY_HESSIAN
        value = learning_rate * np.where(small, 0.0, newton_factor * leaf_sum / np.where(small, 1.0, denominator))
        value = value.reshape(n_trees, width)
        raw += np.take_along_axis(value, leaves, axis=1)
        # Importance: each split's squared-error decrease, from the residual sums of its sides.
        leaf_sum, leaf_count = leaf_sum.reshape(n_trees, width), leaf_count.reshape(n_trees, width)
        s_l, n_l = leaf_sum @ left_of.T, leaf_count @ left_of.T  # (T, nodes)
        s_r, n_r = leaf_sum @ right_of.T, leaf_count @ right_of.T
        with np.errstate(divide="ignore", invalid="ignore"):
            gain = s_l ** 2 / n_l + s_r ** 2 / n_r - (s_l + s_r) ** 2 / (n_l + n_r)
        gain = np.where(real & (n_l > 0) & (n_r > 0), np.maximum(gain, 0.0), 0.0)
        # Test rows go left when <= scikit-learn's threshold: the midpoint of the node's two
        # training values either side of the split (wider than the global one below the root).
        order_rows, bounds = _leaf_order(leaves, leaf_count.astype(np.intp))
        local_cut, invalid = _local_cuts(x_split, leaves, order_rows, bounds, feature, cut, real, fine,
                                         max_depth)
        invalid_gain += float(gain[invalid].sum())
        largest = max(largest, float(gain.max()))
        check = real & (gain >= _UNCHECKED * largest) if check_ties else np.zeros_like(real)
        unchecked_gain += float(gain[real & ~check].sum())
        tied = _tied(x_split, bins_split, sample_bins, n_sample, leaves, order_rows, bounds, feature,
                     check, max_depth, rng) if check.any() else {}
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
        leaves_test = _route(x_test_split, feature, local_cut, max_depth, flip)
        raw_test += np.take_along_axis(value, leaves_test, axis=1)
    return result()
