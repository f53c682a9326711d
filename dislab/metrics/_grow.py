"""Exact regression trees of depth <= 3 for the fast DCI predictor, compiled with numba.

scikit-learn's ``DecisionTreeRegressor`` as ``GradientBoostingClassifier`` grows it for one class
of one round (``criterion="friedman_mse"``, ``max_depth=3``, ``min_samples_leaf=1``; ``splitter=
"best"``; ``sklearn/tree/_splitter.pyx`` and ``_criterion.pyx``), on features already cut into
the groups of values it can separate (:func:`dislab.metrics._boosting.split_candidates`: a split
goes between two consecutive groups, left = group index <= the split's):

* a node is split unless it holds fewer than two groups of any feature or its impurity (the
  variance of its residuals, ``sum r^2 / n - (sum r / n)^2``) is at most float64's epsilon;
* the split maximises scikit-learn's proxy of the squared-error decrease,
  ``(n_R S_L - n_L S_R)^2 / (n_L n_R)`` (``FriedmanMSE.proxy_impurity_improvement``; ``S`` the
  residual sums of the two sides), over every boundary between two groups present in the node
  whose two neighbours in the node are more than 1e-7 apart (scikit-learn's ``FEATURE_THRESHOLD``,
  float32 arithmetic; only a boundary inside a chain of close values can fail it),
  features in index order and boundaries in increasing order, the first of equal proxies of a
  feature kept; between features whose best proxies are equal (within 1e-9 relative: symmetric
  discrete codes tie exactly, up to the rounding of their sums) one is drawn at random, as
  scikit-learn's random feature order does (:func:`_take`), so that the split, and the tree below
  it, follows it; which of several features that make the very same split is credited is
  measured apart, ``_boosting._tied``;
* a node that is not split is a leaf; to keep one layout (heap order: node h has children 2h + 1
  and 2h + 2), its rows pass through to its left descendants, so every row ends in one of the
  ``2**max_depth`` leaves, numbered left to right.

Cost: each depth scans every feature's rows once in sorted order, ``O(n * n_features)`` per depth
and tree; the root, where every tree of a round holds every row, is scanned once for all of them.
No histogram over the ~n distinct values of a continuous code: LightGBM's histogram learner, which
grew these trees before (one bin per value, so that it could split where scikit-learn can), spent
~5 ms per tree at 10,000 rows and 10 codes against ~1-2 ms here (docs/benchmarks.md, "Metrics").
numba compiles the kernels on first use and caches them beside this file (``cache=True``; where
the package folder is not writable numba uses its user-wide cache).

Also here, compiled for the same reason (they were most of the remaining time in numpy): the exact
check of which other features reproduce a split (:func:`tied_features`), the leaves' Newton
values with the grouping of the rows by leaf (:func:`leaf_step`) and the routing of test rows
(:func:`route`).
"""
from __future__ import annotations

import numba
import numpy as np

__all__ = ["grow_trees"]

def _compiled(fn):
    """``fn`` compiled by numba on first use and cached on disk; where numba finds no writable
    cache folder (a read-only install without a writable home) it is compiled in each process
    instead of failing."""
    try:
        return numba.njit(cache=True, nogil=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return numba.njit(nogil=True)(fn)


# scikit-learn's EPSILON (sklearn/tree/_tree.pyx): a node this pure is a leaf.
_EPSILON = float(np.finfo(np.float64).eps)


# sklearn/tree/_partitioner.pxd: sorted values closer than this (float32) are never split apart.
_FEATURE_THRESHOLD = np.float32(1e-7)


# Proxies of different features closer than this (relative) are the same split quality: exact
# ties (symmetric discrete codes) differ only by the rounding of sums taken in different orders.
_TIE = 1e-9


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)


@_compiled
def _mix(z):  # pragma: no cover - compiled
    """SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014): a uint64 hashed to a uint64."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@_compiled
def _uniform(seed, tree, node, count):  # pragma: no cover - compiled
    """A uniform draw in [0, 1) that depends only on its key: the round's ``seed``, the tree
    (its index among the round's trees), the heap node and the size of the node's group of tied
    features. Stateless, so that the trees depend neither on the order they are grown in nor on
    how a round's trees are split between threads."""
    z = _mix(np.uint64(seed) ^ _mix(np.uint64(tree) ^ _mix(np.uint64(node) ^ _mix(np.uint64(count)))))
    return np.float64(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@_compiled
def _take(proxy, f, j, best, top, floor, chosen, tie_f, ties, seed, tree, node):  # pragma: no cover - compiled
    """Whether boundary ``proxy`` of feature ``f`` becomes node j's split (the caller then records
    it), given node j's chosen proxy ``best``, the largest proxy of its group of tied features
    ``top`` and that group's lower edge ``floor`` (``top * (1 - _TIE)``; called only for
    ``proxy >= floor``), the chosen feature, the last feature counted in the group and its size.

    As scikit-learn's splitter, which visits the features in a random order and keeps the first
    of equal proxies: a clearly larger proxy starts a new group; within the group, the chosen
    feature's own later boundaries replace its split only when strictly larger (the first of
    equal boundaries of a feature is kept); another feature joins the group and is chosen with
    probability 1 / (group size), so that each of k tied features is chosen with probability 1/k
    (reservoir sampling; the draw is :func:`_uniform` of the round's ``seed``, the ``tree``, the
    heap ``node`` and the group's size).
    """
    if proxy > top[j] * (1.0 + _TIE):
        best[j] = proxy
        top[j] = proxy
        floor[j] = proxy * (1.0 - _TIE)
        tie_f[j] = f
        ties[j] = 1
        return True
    if f == chosen[j]:
        if proxy > best[j]:
            best[j] = proxy
            if proxy > top[j]:
                top[j] = proxy
                floor[j] = proxy * (1.0 - _TIE)
            return True
        return False
    if f == tie_f[j]:  # a feature already counted in the group (and not chosen)
        return False
    tie_f[j] = f
    ties[j] += 1
    if proxy > top[j]:
        top[j] = proxy
        floor[j] = proxy * (1.0 - _TIE)
    if _uniform(seed, tree, node, ties[j]) * ties[j] < 1.0:
        best[j] = proxy
        return True
    return False


@_compiled
def _split_node(m, j, t, f_best, b_best, low, high, s_total, q_total, n_total, fine, feature, split_bin, real,
                cut, invalid):  # pragma: no cover - compiled
    """Record node j (of m at its depth) of tree t as split, unless it is pure or has no boundary."""
    if f_best < 0 or n_total == 0:
        return
    mean = s_total / n_total
    if q_total / n_total - mean * mean <= _EPSILON:
        return
    h = m - 1 + j
    feature[t, h] = f_best
    split_bin[t, h] = b_best
    real[t, h] = True
    cut[t, h] = np.float64(low) / 2.0 + np.float64(high) / 2.0
    # float32 arithmetic, as scikit-learn: it splits only where high > low + 1e-7
    invalid[t, h] = fine[f_best, b_best] and not (high > low + _FEATURE_THRESHOLD)


@_compiled
def _grow_round(order, sorted_bins, sorted_x, row_bins, fine, residual, residual_rows, max_depth, seed, first_tree,
                feature, split_bin, real, cut, invalid, leaves):  # pragma: no cover - compiled; covered through grow_trees
    n_features, n = order.shape
    n_trees = residual.shape[0]
    width = 1 << max_depth
    # the root, every tree at once: one node holding every row, so the boundaries are the same
    # for all trees and the inner loop runs over trees (residual_rows is (n, n_trees))
    s_total0 = np.zeros(n_trees)
    q_total0 = np.zeros(n_trees)
    for i in range(n):
        for t in range(n_trees):
            v = residual_rows[i, t]
            s_total0[t] += v
            q_total0[t] += v * v
    best0 = np.full(n_trees, -1.0)
    top0 = np.full(n_trees, -1.0)
    floor0 = np.full(n_trees, -1.0)
    tie_f0 = np.full(n_trees, -1)
    ties0 = np.zeros(n_trees, np.int64)
    f0 = np.full(n_trees, -1)
    b0 = np.zeros(n_trees, np.int64)
    low0 = np.zeros(n_trees, np.float32)
    high0 = np.zeros(n_trees, np.float32)
    s_left0 = np.zeros(n_trees)
    for f in range(n_features):
        s_left0[:] = 0.0
        previous = sorted_bins[f, 0]
        previous_x = sorted_x[f, 0]
        for k in range(n):
            b = sorted_bins[f, k]
            x = sorted_x[f, k]
            # scikit-learn never splits between neighbours within 1e-7 (float32 arithmetic)
            if b != previous and x > previous_x + _FEATURE_THRESHOLD:
                n_l = float(k)
                n_r = n - n_l
                scale = 1.0 / (n_l * n_r)
                for t in range(n_trees):
                    diff = n * s_left0[t] - n_l * s_total0[t]  # = n_R S_L - n_L S_R
                    proxy = diff * diff * scale
                    if proxy >= floor0[t] and _take(proxy, f, t, best0, top0, floor0, f0, tie_f0, ties0, seed,
                                                                     first_tree + t, 0):
                        f0[t] = f
                        b0[t] = previous
                        low0[t] = previous_x
                        high0[t] = x
            i = order[f, k]
            for t in range(n_trees):
                s_left0[t] += residual_rows[i, t]
            previous = b
            previous_x = x
    for t in range(n_trees):
        _split_node(1, 0, t, f0[t], b0[t], low0[t], high0[t], s_total0[t], q_total0[t], float(n), fine, feature,
                    split_bin, real, cut, invalid)
    # below the root, tree by tree: each feature's rows in sorted order, with their residual and node
    sorted_residual = np.empty((n_features, n))
    sorted_node = np.empty(n, np.int32)
    node = np.zeros(n, np.int32)
    dead = np.zeros(width, np.bool_)
    s_total = np.zeros(width)
    q_total = np.zeros(width)
    n_total = np.zeros(width)
    best = np.zeros(width)
    top = np.zeros(width)
    floor = np.zeros(width)
    tie_f = np.zeros(width, np.int64)
    ties = np.zeros(width, np.int64)
    best_feature = np.zeros(width, np.int64)
    best_bin = np.zeros(width, np.int64)
    best_low = np.zeros(width, np.float32)  # largest value of the left side
    best_high = np.zeros(width, np.float32)  # smallest value of the right side
    s_left = np.zeros(width)
    n_left = np.zeros(width)
    last = np.zeros(width, np.int64)
    last_x = np.zeros(width, np.float32)
    for t in range(n_trees):
        r = residual[t]
        for f in range(n_features):
            for k in range(n):
                sorted_residual[f, k] = r[order[f, k]]
        node[:] = 0
        dead[:] = False
        for depth in range(max_depth):
            m = 1 << depth  # nodes at this depth; node j is heap node m - 1 + j
            if depth > 0:
                s_total[:m] = 0.0
                q_total[:m] = 0.0
                n_total[:m] = 0.0
                for i in range(n):
                    j = node[i]
                    s_total[j] += r[i]
                    q_total[j] += r[i] * r[i]
                    n_total[j] += 1.0
                best[:m] = -1.0
                top[:m] = -1.0
                floor[:m] = -1.0
                tie_f[:m] = -1
                ties[:m] = 0
                best_feature[:m] = -1
                for f in range(n_features):
                    for k in range(n):
                        sorted_node[k] = node[order[f, k]]
                    s_left[:m] = 0.0
                    n_left[:m] = 0.0
                    last[:m] = -1
                    for k in range(n):
                        j = sorted_node[k]
                        b = sorted_bins[f, k]
                        previous = last[j]
                        # (a dead node's rows are scanned too; its best split is never used)
                        # a boundary inside a chain of close values (a "fine" one) is a
                        # split here only where the node's own neighbours across it are more
                        # than 1e-7 apart, scikit-learn's rule in that node
                        if previous >= 0 and b != previous and sorted_x[f, k] > last_x[j] + _FEATURE_THRESHOLD:
                            n_l = n_left[j]
                            n_r = n_total[j] - n_l
                            s_l = s_left[j]
                            diff = n_r * s_l - n_l * (s_total[j] - s_l)
                            proxy = diff * diff / (n_l * n_r)
                            if proxy >= floor[j] and _take(proxy, f, j, best, top, floor, best_feature, tie_f, ties,
                                                                   seed, first_tree + t, m - 1 + j):
                                best_feature[j] = f
                                best_bin[j] = previous
                                best_low[j] = last_x[j]
                                best_high[j] = sorted_x[f, k]
                        s_left[j] += sorted_residual[f, k]
                        n_left[j] += 1.0
                        last[j] = b
                        last_x[j] = sorted_x[f, k]
                for j in range(m):
                    if not dead[j]:
                        _split_node(m, j, t, best_feature[j], best_bin[j], best_low[j], best_high[j], s_total[j],
                                    q_total[j], n_total[j], fine, feature, split_bin, real, cut, invalid)
            for i in range(n):  # a split node's rows above its split go right; a leaf's pass left
                j = node[i]
                h = m - 1 + j
                right = 0
                if real[t, h] and row_bins[i, feature[t, h]] > split_bin[t, h]:
                    right = 1
                node[i] = 2 * j + right
            for j in range(m - 1, -1, -1):  # children 2j, 2j + 1 of node j are >= j: downwards
                stop = dead[j] or not real[t, m - 1 + j]
                dead[2 * j] = stop
                dead[2 * j + 1] = stop
        leaves[t, :] = node


def grow_trees(order: np.ndarray, sorted_bins: np.ndarray, sorted_x: np.ndarray, row_bins: np.ndarray,
               fine: np.ndarray, residual: np.ndarray, max_depth: int, seed: int = 0, threads: int = 1):
    """One round's regression trees, one per row of ``residual``.

    Args:
        order: ``(n_features, n)`` int32, each feature's training rows sorted by value (stable);
            ``sorted_bins``: ``(n_features, n)`` int32, their group indices in that order
            (non-decreasing); ``sorted_x``: ``(n_features, n)`` float32, their values.
        row_bins: ``(n, n_features)`` int32 group indices in row order (other integer types
            are converted, a copy per call).
        fine: ``(n_features, groups - 1)`` bool, whether the boundary after group b is inside a
            chain of values less than 1e-7 apart (:func:`dislab.metrics._boosting.split_candidates`).
        residual: ``(n_trees, n)`` float64 targets of the trees (``y_onehot - p`` per class).
        max_depth: depth of the trees (scikit-learn's default for boosting is 3).
        seed: seeds the draw among features whose best proxies tie (within 1e-9 relative).
        threads: the trees are grown in this many groups on threads of this process (the
            kernel releases the GIL); the result does not depend on it.

    Returns:
        ``(feature, split_bin, real, cut, invalid, leaves)``: per heap node (``2**max_depth - 1``
        per tree; node h has children 2h + 1 and 2h + 2) the split feature, the last group of its
        left side, whether it is a split, scikit-learn's threshold (the midpoint of the node's
        largest value on the left and smallest on the right, float32 values, float64 midpoint;
        +inf where the node is not a split: every row goes left) and whether scikit-learn could
        not have made the split (its two neighbours within 1e-7), each ``(n_trees, nodes)``; and
        ``leaves`` ``(n_trees, n)``, the leaf (0 .. ``2**max_depth - 1``, left to right) of
        every training row.
    """
    n_trees, n = residual.shape
    nodes = 2 ** max_depth - 1
    feature = np.zeros((n_trees, nodes), np.int64)
    split_bin = np.zeros((n_trees, nodes), np.int64)
    real = np.zeros((n_trees, nodes), np.bool_)
    cut = np.full((n_trees, nodes), np.inf)
    invalid = np.zeros((n_trees, nodes), np.bool_)
    leaves = np.zeros((n_trees, n), np.int64)
    if fine.shape[1] == 0:
        fine = np.zeros((fine.shape[0], 1), np.bool_)
    # 32-bit indices: the scans are bound by memory traffic (~3 MB per tree at 10,000 rows and 10 codes)
    inputs = (np.ascontiguousarray(order, np.int32), np.ascontiguousarray(sorted_bins, np.int32),
              np.ascontiguousarray(sorted_x, np.float32), np.ascontiguousarray(row_bins, np.int32),
              np.ascontiguousarray(fine, np.bool_))
    residual = np.ascontiguousarray(residual, np.float64)
    seed = int(seed) % (2 ** 31)

    def grow(bounds):
        a, b = bounds  # trees a .. b - 1; row slices of C-ordered arrays are C-ordered views
        _grow_round(*inputs, residual[a:b], np.ascontiguousarray(residual[a:b].T), int(max_depth), seed, a,
                    feature[a:b], split_bin[a:b], real[a:b], cut[a:b], invalid[a:b], leaves[a:b])

    groups = max(1, min(int(threads), n_trees))
    edges = np.linspace(0, n_trees, groups + 1).round().astype(int)
    chunks = list(zip(edges[:-1].tolist(), edges[1:].tolist()))
    if groups == 1:
        grow(chunks[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(groups) as pool:
            list(pool.map(grow, chunks))
    return feature, split_bin, real, cut, invalid, leaves


@_compiled
def _tied_features(bins, order, bounds, feature, check, max_depth, tied, flipped):  # pragma: no cover
    n_features = bins.shape[0]
    n_trees, n_nodes = feature.shape
    for t in range(n_trees):
        for h in range(n_nodes):
            if not check[t, h]:
                continue
            depth = 0
            while (1 << (depth + 1)) - 1 <= h:
                depth += 1
            position = h - ((1 << depth) - 1)
            half = 1 << (max_depth - depth - 1)  # leaves per side
            first = position * 2 * half
            a, b, c = bounds[t, first], bounds[t, first + half], bounds[t, first + 2 * half]
            n_left, n_right = b - a, c - b
            for g in range(n_features):
                if g == feature[t, h]:
                    continue
                # rows alternately from each side (they are in a random order): a feature that
                # mixes the sides is ruled out after a few rows
                low_l, high_l = bins[g, order[t, a]], bins[g, order[t, a]]
                low_r, high_r = bins[g, order[t, b]], bins[g, order[t, b]]
                separate = True
                for k in range(max(n_left, n_right)):
                    if k < n_left:
                        v = bins[g, order[t, a + k]]
                        low_l = min(low_l, v)
                        high_l = max(high_l, v)
                    if k < n_right:
                        v = bins[g, order[t, b + k]]
                        low_r = min(low_r, v)
                        high_r = max(high_r, v)
                    if not (high_l < low_r or high_r < low_l):
                        separate = False
                        break
                if separate:
                    tied[t, h, g] = True
                    flipped[t, h, g] = high_r < low_l


def tied_features(bins: np.ndarray, order: np.ndarray, bounds: np.ndarray, feature: np.ndarray,
                  check: np.ndarray, max_depth: int):
    """Which other features split each checked node's training rows into exactly its two sides.

    Args:
        bins: ``(n_features, n)`` int64 group indices; ``order``/``bounds``: each tree's rows
            grouped by leaf (``leaf_step``: leaf l's rows are
            ``order[t, bounds[t, l]:bounds[t, l + 1]]``, in the random order of the rows);
        feature: ``(n_trees, nodes)`` split features; ``check``: ``(n_trees, nodes)`` bool, the
            splits to examine (real splits only).

    Returns:
        ``(tied, flipped)``, each ``(n_trees, nodes, n_features)`` bool: feature g puts the node's
        left rows strictly below its right rows (``tied``), or strictly above them (``tied`` and
        ``flipped``: its ``<=`` test would send the left side right).
    """
    n_trees, n_nodes = feature.shape
    tied = np.zeros((n_trees, n_nodes, bins.shape[0]), np.bool_)
    flipped = np.zeros_like(tied)
    _tied_features(np.ascontiguousarray(bins, np.int64), np.ascontiguousarray(order, np.int64),
                   np.ascontiguousarray(bounds, np.int64), np.ascontiguousarray(feature, np.int64),
                   np.ascontiguousarray(check, np.bool_), int(max_depth), tied, flipped)
    return tied, flipped


@_compiled
def _leaf_step(leaves, residual, prob, newton_factor, learning_rate, tiny, raw, value, leaf_sum, leaf_count,
               order, bounds):  # pragma: no cover - compiled; covered through leaf_step
    n_trees, n = leaves.shape
    width = value.shape[1]
    denominator = np.zeros(width)
    fill = np.zeros(width, np.int64)
    for t in range(n_trees):
        denominator[:] = 0.0
        for i in range(n):  # in row order, as np.bincount sums
            leaf = leaves[t, i]
            p = prob[t, i]
            leaf_sum[t, leaf] += residual[t, i]
            leaf_count[t, leaf] += 1.0
            denominator[leaf] += p * (1 - p)
        bounds[t, 0] = 0
        for leaf in range(width):
            if abs(denominator[leaf]) < tiny:
                value[t, leaf] = learning_rate * 0.0
            else:
                value[t, leaf] = learning_rate * (newton_factor * leaf_sum[t, leaf] / denominator[leaf])
            bounds[t, leaf + 1] = bounds[t, leaf] + np.int64(leaf_count[t, leaf])
            fill[leaf] = bounds[t, leaf]
        for i in range(n):
            leaf = leaves[t, i]
            raw[t, i] += value[t, leaf]
            order[t, fill[leaf]] = i  # a counting sort: stable
            fill[leaf] += 1


def leaf_step(leaves: np.ndarray, residual: np.ndarray, prob: np.ndarray, raw: np.ndarray, *, newton_factor: float,
              learning_rate: float, tiny: float, width: int):
    """The leaves' values of one round and what follows from them, in one pass over the rows.

    scikit-learn's Newton step per leaf, ``learning_rate * newton_factor * sum(r) / sum(p (1 - p))``
    over the leaf's training rows (0 where the hessian sum is below ``tiny``), added to ``raw``
    ``(T, n)`` in place (the sums are taken in row order, as ``np.bincount``: the same floats).

    Args:
        leaves: ``(T, n)`` int64 leaf of each training row in each tree; ``residual``, ``prob``:
            ``(T, n)`` float64 the round's targets and class probabilities; ``width``: leaves
            per tree.

    Returns:
        ``(value, leaf_sum, leaf_count, order, bounds)``: ``(T, width)`` float64 leaf values,
        residual sums and row counts; each tree's rows grouped by leaf, ``order`` ``(T, n)``
        (stable) and ``bounds`` ``(T, width + 1)`` (leaf l's rows are
        ``order[t, bounds[t, l]:bounds[t, l + 1]]``).
    """
    n_trees, n = leaves.shape
    value = np.zeros((n_trees, width))
    leaf_sum = np.zeros((n_trees, width))
    leaf_count = np.zeros((n_trees, width))
    order = np.zeros((n_trees, n), np.int64)
    bounds = np.zeros((n_trees, width + 1), np.int64)
    _leaf_step(np.ascontiguousarray(leaves, np.int64), np.ascontiguousarray(residual, np.float64),
               np.ascontiguousarray(prob, np.float64), float(newton_factor), float(learning_rate), float(tiny), raw,
               value, leaf_sum, leaf_count, order, bounds)
    return value, leaf_sum, leaf_count, order, bounds


@_compiled
def _route(x, feature, cut, flip, max_depth, value, raw):  # pragma: no cover - compiled
    n_trees = feature.shape[0]
    n = x.shape[1]
    for t in range(n_trees):
        for i in range(n):
            position = 0
            for depth in range(max_depth):
                h = (1 << depth) - 1 + position
                left = x[feature[t, h], i] <= cut[t, h]
                if flip[t, h]:
                    left = not left
                position = 2 * position + (0 if left else 1)
            raw[t, i] += value[t, position]


def route(x: np.ndarray, feature: np.ndarray, cut: np.ndarray, flip: np.ndarray, max_depth: int, value: np.ndarray,
          raw: np.ndarray) -> None:
    """Route every column of ``x`` ``(n_features, m)`` float32 through each tree and add its
    leaf's ``value`` ``(n_trees, 2**max_depth)`` to ``raw`` ``(n_trees, m)`` float64, in place: a
    row goes left at heap node h when ``x[feature[t, h]] <= cut[t, h]`` (float64 comparison;
    ``cut`` +inf at a leaf, so every row passes left), the other way where ``flip[t, h]``."""
    assert raw.flags.c_contiguous and raw.dtype == np.float64
    _route(np.ascontiguousarray(x, np.float32), np.ascontiguousarray(feature, np.int64),
           np.ascontiguousarray(cut, np.float64), np.ascontiguousarray(flip, np.bool_), int(max_depth),
           np.ascontiguousarray(value, np.float64), raw)
