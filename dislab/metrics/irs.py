"""Interventional Robustness Score (IRS) on arrays.

Suter, Miladinović, Schölkopf & Bauer, "Robustly Disentangled Causal Mechanisms: Validating Deep
Representations for Interventional Robustness", ICML 2019, Sec. 4 (Eq. 8-10), as evaluated by
disentanglement_lib (``evaluation/metrics/irs.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dislab.metrics._validate import check_codes, check_factors, check_same_length
from dislab.metrics.mig import histogram_discretize
from dislab.metrics.sampling import N_TRAIN, Encode, score_one_set
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["irs"]


def irs(codes, factors, *, diff_quantile: float = 0.99, n_bins: int = 20) -> dict:
    """IRS (Suter et al. 2019), as disentanglement_lib's ``compute_irs``.

    Args:
        codes: ``(n_samples, n_codes)`` real array.
        factors: ``(n_samples, n_factors)`` integer (or real) factor values.
        diff_quantile: quantile of the within-group deviations taken as the "maximal" deviation
            (the reference's default 0.99; 1.0 is the paper's maximum).
        n_bins: the reference discretises the *factors* with its histogram discretiser before
            grouping (20 equal-width bins per factor, gin default), so a factor with more than
            ``n_bins`` values has neighbouring values merged; kept for agreement.

    Computation (the reference's ``scalable_disentanglement_score``): drop codes with zero
    variance; per active code j, ``max_dev_j = max_n |z_nj - mean_j|``; per factor k and each of its
    binned values v, ``e = mean of z over points with g_k = v`` and the ``diff_quantile`` quantile
    (numpy linear interpolation) of ``|z - e|`` over those points; averaged over values v, divided
    by max_dev_j -> normalised deviation; ``IRS[j, k] = 1 - normalised deviation``; per-code score
    ``max_k IRS[j, k]``; ``irs`` = average of per-code scores weighted by max_dev_j. Bounds:
    [-1, 1]: a group's deviation from its own mean is at most twice the code's largest deviation
    from the global mean; in practice >= 0 (it goes below 0 only when, for every factor, the
    groups spread more around their own means than the code does around its global mean).

    Constant codes are dropped (their per-code score, IRS row and parent are reported as 0, 0
    and -1); with no varying code ``irs`` is 0.0, as the reference. ``num_active_dims`` is IRS's own
    count of the codes it keeps, those with nonzero variance (the reference's key of that name sums
    the kept codes' values, an evident slip); it is not dislab's active latents (mean KL > 0.1 nats,
    :mod:`dislab.metrics.active`), which arrays alone do not show. Constant factors are kept as the reference does: they form a single group and
    give no NaN.

    Returns ``irs`` (float), ``irs_per_code`` (list), ``irs_matrix`` (n_codes x n_factors nested
    list), ``parents`` (most robustly encoded factor per code, -1 if inactive),
    ``num_active_dims`` (int).
    """
    codes = check_codes(codes)
    factors = check_factors(factors, continuous=True)
    check_same_length([codes, factors], ["codes", "factors"])
    if not 0.0 < float(diff_quantile) <= 1.0:
        raise ValueError(f"diff_quantile must be in (0, 1], got {diff_quantile!r}")
    groups = histogram_discretize(factors, n_bins)
    n_codes, n_factors = codes.shape[1], factors.shape[1]
    active = codes.var(axis=0) > 0
    per_code = np.zeros(n_codes)
    matrix = np.zeros((n_codes, n_factors))
    parents = np.full(n_codes, -1)
    score = 0.0
    if active.any():
        z = codes[:, active]
        max_dev = np.max(np.abs(z - z.mean(axis=0)), axis=0)  # (n_active,)
        cum = np.zeros((z.shape[1], n_factors))
        for k in range(n_factors):
            values = np.unique(groups[:, k])
            for v in values:
                zs = z[groups[:, k] == v]
                diffs = np.abs(zs - zs.mean(axis=0))
                cum[:, k] += np.percentile(diffs, q=diff_quantile * 100, axis=0)
            cum[:, k] /= len(values)
        irs_matrix = 1.0 - cum / max_dev[:, None]
        scores = irs_matrix.max(axis=1)
        score = float(np.average(scores, weights=max_dev))
        per_code[active] = scores
        matrix[active] = irs_matrix
        parents[active] = irs_matrix.argmax(axis=1)
    return {
        "irs": score,
        "irs_per_code": [float(v) for v in per_code],
        "irs_matrix": matrix.tolist(),
        "parents": [int(p) for p in parents],
        "num_active_dims": int(active.sum()),
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_irs(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                batch_size: int = 64, **options) -> dict:
    """IRS (:func:`dislab.metrics.irs.irs`) of 10,000 random points (reference ``irs.num_train``)."""
    return score_one_set(irs, "irs", dataset, encode, seed, n_train, batch_size, options)


SPEC = MetricSpec(
    name="irs", title="IRS (Suter et al. 2019)",
    sampler=compute_irs, array=irs,
    default=True,
    scores=(
        Score("irs",
          "Interventional Robustness Score (Suter et al. 2019): how little a factor's most "
          "informative latent moves when the other factors change.",
          "0 to 1, higher = more robust", "higher"),
        Score("num_active_dims",
          "IRS's own count: codes whose variance over the data is not zero (the reference's "
          "key; not dislab's active latents, which use the KL).",
          "0 to n_latents", "count"),
    ),
)
