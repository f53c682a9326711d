"""Mutual Information Gap (MIG) and MIG-sup on arrays, plus the discretised mutual information they
share with modularity and IRS.

MIG: Chen, Li, Grosse & Duvenaud, "Isolating Sources of Disentanglement in Variational
Autoencoders", NeurIPS 2018, Eq. (5), as evaluated by disentanglement_lib
(``evaluation/metrics/mig.py``, ``_compute_mig``): codes discretised into equal-width histogram
bins, discrete mutual information with each factor, the gap between the two most informative codes
divided by the factor's entropy, averaged over factors.

MIG-sup: Z. Li, J. V. Murkute, P. K. Gyawali & L. Wang, "Progressive Learning and Disentanglement
of Hierarchical Representations", ICLR 2020: the transposed gap — for
each code, the gap between its two largest normalised mutual informations I(z_j; v_k) / H(v_k) over
factors, averaged over codes. It penalises a code that encodes several factors, which MIG does not.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dislab.metrics._validate import (
    check_codes,
    check_factors,
    check_min_codes,
    check_same_length,
    varying_factors,
)
from dislab.metrics.sampling import N_TRAIN, Encode, score_one_set
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["mig", "mig_sup", "histogram_discretize", "discrete_mutual_info", "discrete_entropy"]


def histogram_discretize(x: np.ndarray, n_bins: int = 20) -> np.ndarray:
    """Discretise each column of ``x`` ``(n_samples, n_columns)`` into ``n_bins`` equal-width bins.

    Exactly disentanglement_lib's ``utils._histogram_discretize`` (on the transposed layout): the
    bin edges are ``np.histogram(column, n_bins)``'s (``n_bins + 1`` edges spanning [min, max], in
    the column's own float precision; a constant column gets the range [v - 0.5, v + 0.5]); a value
    goes to ``np.digitize(value, edges[:-1])``, i.e. bin ``k`` (1-based) holds
    ``edges[k-1] <= value < edges[k]``, a value on an inner edge goes to the upper bin and the
    maximum falls in the last bin. Returns int64 bin indices in ``[0, n_bins)`` (the reference's
    1-based index minus one; mutual information does not depend on the labels' values).
    """
    if not isinstance(n_bins, (int, np.integer)) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    out = np.empty(x.shape, dtype=np.int64)
    for j in range(x.shape[1]):
        column = x[:, j]
        edges = np.histogram_bin_edges(column, int(n_bins))
        # digitize(v, edges[:-1]) == searchsorted(edges[:-1], v, side="right") for increasing
        # edges; we subtract 1 for 0-based labels.
        out[:, j] = np.searchsorted(edges[:-1], column, side="right") - 1
    return out


def _labels(column: np.ndarray) -> tuple[np.ndarray, int]:
    """Map integer labels to 0..K-1 in sorted order; returns (labels, K).

    Labels within a range of a few times n (bins, class indices) are relabelled in O(n) with a
    bincount; np.unique's sort is the fallback (it dominated MIG's run time).
    """
    lo, hi = int(column.min()), int(column.max())
    if hi - lo <= 4 * len(column) + 64:
        shifted = column - lo
        present = np.bincount(shifted, minlength=hi - lo + 1) > 0
        rank = np.cumsum(present) - 1
        return rank[shifted], int(present.sum())
    uniques, inverse = np.unique(column, return_inverse=True)
    return inverse.reshape(-1), len(uniques)


def discrete_mutual_info(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Mutual information in nats between each column of ``a`` and each column of ``b``.

    ``a`` ``(n, n_a)`` and ``b`` ``(n, n_b)`` are label arrays (any integers); returns
    ``(n_a, n_b)`` float64. Plug-in estimate from the contingency table, the convention of
    ``sklearn.metrics.mutual_info_score`` (natural log, 0 log 0 = 0, clipped at 0), computed with one
    ``np.bincount`` per column of ``b`` instead of one sklearn call per pair.
    """
    n = a.shape[0]
    a_labels = [_labels(a[:, i]) for i in range(a.shape[1])]
    out = np.zeros((a.shape[1], b.shape[1]), dtype=np.float64)
    log_n = np.log(n)
    eps = np.finfo(np.float64).eps
    for j in range(b.shape[1]):
        y, ky = _labels(b[:, j])
        count_y = np.bincount(y, minlength=ky)  # (ky,)
        for i, (x, kx) in enumerate(a_labels):
            if kx == 1 or ky == 1:
                # A single label has zero entropy, so MI is exactly 0 (sklearn returns 0.0 here;
                # the formula below would leave ~1e-18 of rounding, which modularity would
                # mistake for information).
                continue
            joint = np.bincount(x * ky + y, minlength=kx * ky).reshape(kx, ky)
            nzx, nzy = np.nonzero(joint)
            nij = joint[nzx, nzy].astype(np.float64)
            # Same terms and rounding guard as sklearn.metrics.mutual_info_score:
            # p_ij (log n_ij - log n) + p_ij (log n + log n - log(n_i n_j)), terms below eps -> 0.
            outer = joint.sum(axis=1)[nzx].astype(np.int64) * count_y[nzy].astype(np.int64)
            p = nij / n
            terms = p * (np.log(nij) - log_n) + p * (-np.log(outer) + log_n + log_n)
            terms = np.where(np.abs(terms) < eps, 0.0, terms)
            out[i, j] = max(float(terms.sum()), 0.0)
    return out


def discrete_entropy(b: np.ndarray) -> np.ndarray:
    """Entropy in nats of each column of the label array ``b`` ``(n, n_b)``; ``(n_b,)`` float64.

    Equals ``mutual_info_score(y, y)``, the reference's ``utils.discrete_entropy``.
    """
    out = np.zeros(b.shape[1], dtype=np.float64)
    for j in range(b.shape[1]):
        y, ky = _labels(b[:, j])
        p = np.bincount(y, minlength=ky) / b.shape[0]
        p = p[p > 0]
        out[j] = float(-np.sum(p * np.log(p)))
    return out


def _mi_and_entropy(codes, factors, n_bins, continuous_factors):
    codes = check_codes(codes)
    factors = check_factors(factors, continuous=continuous_factors)
    check_same_length([codes, factors], ["codes", "factors"])
    binned = histogram_discretize(codes, n_bins)
    labels = histogram_discretize(factors, n_bins) if continuous_factors else factors
    return codes, labels, discrete_mutual_info(binned, labels), discrete_entropy(labels)


def _mig_sup_from(mi: np.ndarray, entropy: np.ndarray, varying: np.ndarray):
    # Normalised MI over the varying factors only; a constant factor has zero entropy.
    normalised = mi[:, varying] / entropy[varying]  # (n_codes, n_varying)
    top = np.sort(normalised, axis=1)[:, ::-1]
    # With a single varying factor there is no second-best factor: the gap is to 0.
    second = top[:, 1] if top.shape[1] > 1 else np.zeros(top.shape[0])
    per_code = top[:, 0] - second
    return float(np.mean(per_code)), [float(v) for v in per_code]


def mig(codes, factors, *, n_bins: int = 20, continuous_factors: bool = False) -> dict:
    """Mutual Information Gap (Chen et al. 2018, Eq. 5), as disentanglement_lib's ``_compute_mig``.

    Args:
        codes: ``(n_samples, n_codes)`` real array (posterior means), ``n_codes >= 2``.
        factors: ``(n_samples, n_factors)`` integer class indices (or real values with
            ``continuous_factors=True``).
        n_bins: equal-width histogram bins per code (the reference's gin default for MIG: 20).
        continuous_factors: discretise the factors with the same ``n_bins`` histogram discretiser
            before computing mutual information and entropy (the variant for real-valued factors,
            as the reference's IRS treats its factors); default False: factor values are classes.

    Definitions (all logs natural, so MI and entropy are in nats):
        each code column -> ``histogram_discretize(codes, n_bins)`` (np.histogram edges,
        np.digitize convention: see that function); ``I[i, k]`` = plug-in discrete mutual
        information between binned code i and factor k (``sklearn.metrics.mutual_info_score``);
        ``H[k]`` = plug-in entropy of factor k;
        ``mig_k = (I[(1), k] - I[(2), k]) / H[k]`` with ``I[(1), k] >= I[(2), k]`` the two largest
        entries of column k (ties give a gap of 0); ``mig`` = mean of ``mig_k`` over factors.

    The published protocol (Locatello et al. 2019, disentanglement_lib) uses 10,000 points.

    Returns a JSON-ready dict:
        ``mig`` (float in [0, 1]), ``mig_per_factor`` (list, n_factors), ``mutual_info``
        (n_codes x n_factors nested list, nats), ``factor_entropy`` (list, nats),
        ``mig_sup`` and ``mig_sup_per_code`` (see :func:`mig_sup`; same MI matrix),
        ``skipped_factors`` (indices of constant factors).

    A factor that is constant over the sample has zero entropy (the reference divides by zero and
    returns NaN): it is skipped, its ``mig_per_factor`` entry is 0.0 and its index is listed in
    ``skipped_factors``; if no factor varies a DataError is raised. A constant code falls into one
    bin and has zero mutual information with every factor. Bounds: 0 <= mig <= 1.

    >>> import numpy as np
    >>> f = np.repeat(np.arange(4), 25)[:, None]
    >>> codes = np.c_[f[:, 0] * 1.0, np.zeros(100)]
    >>> mig(codes, f, n_bins=4)["mig"]
    1.0
    """
    codes, labels, mi, entropy = _mi_and_entropy(codes, factors, n_bins, continuous_factors)
    check_min_codes(codes, 2, "mig", "the gap between the two most informative codes")
    varying = varying_factors(labels, "mig")
    top = np.sort(mi, axis=0)[::-1]  # (n_codes, n_factors), descending per factor
    per_factor = np.zeros(mi.shape[1])
    per_factor[varying] = (top[0, varying] - top[1, varying]) / entropy[varying]
    sup, sup_per_code = _mig_sup_from(mi, entropy, varying)
    return {
        "mig": float(np.mean(per_factor[varying])),
        "mig_per_factor": [float(v) for v in per_factor],
        "mutual_info": mi.tolist(),
        "factor_entropy": [float(v) for v in entropy],
        "mig_sup": sup,
        "mig_sup_per_code": sup_per_code,
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


def mig_sup(codes, factors, *, n_bins: int = 20, continuous_factors: bool = False) -> dict:
    """MIG-sup (Li et al. 2020, "Progressive Learning and Disentanglement of Hierarchical
    Representations", ICLR 2020): for each code j,
    ``I_norm[j, (1)] - I_norm[j, (2)]`` with ``I_norm[j, k] = I(z_j; v_k) / H(v_k)`` sorted over
    factors k, averaged over codes.

    Same discretisation, mutual information (nats) and constant-factor rule as :func:`mig`
    (constant factors are left out of the normalised matrix). The authors' code averages over the
    model's active units (chosen from the posterior KL, which arrays alone do not show); here every
    code counts, so an inactive code (no MI) contributes 0. With a single varying factor the
    second-best normalised MI is taken as 0. Bounds: [0, 1].

    Returns ``{"mig_sup": float, "mig_sup_per_code": [...], "skipped_factors": [...]}``.
    """
    _, labels, mi, entropy = _mi_and_entropy(codes, factors, n_bins, continuous_factors)
    varying = varying_factors(labels, "mig_sup")
    sup, per_code = _mig_sup_from(mi, entropy, varying)
    return {
        "mig_sup": sup,
        "mig_sup_per_code": per_code,
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_mig(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                batch_size: int = 64, **options) -> dict:
    """MIG (:func:`dislab.metrics.mig.mig`) of ``n_train`` = 10,000 random points (reference)."""
    return score_one_set(mig, "mig", dataset, encode, seed, n_train, batch_size, options)


SPEC = MetricSpec(
    name="mig", title="MIG (Chen et al. 2018) and MIG-sup (Li et al. 2020)",
    sampler=compute_mig, array=mig,
    per_level=True, default=True,
    scores=(
        Score("mig",
          "Mutual Information Gap (Chen et al. 2018): per factor, the gap in mutual "
          "information between its two most informative latents, over the factor's entropy; "
          "averaged.",
          "0 to 1, higher = each factor captured by a single latent", "higher"),
        Score("mig_sup",
          "MIG-sup (Li et al. 2020): per latent, the gap between its two most informative "
          "factors (normalised mutual information); averaged.",
          "0 to 1, higher = each latent encodes one factor", "higher"),
    ),
)
