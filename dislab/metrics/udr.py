"""Unsupervised Disentanglement Ranking, UDR (Duan et al., "Unsupervised Model Selection for
Variational Disentangled Representation Learning", ICLR 2020, Sec. 3 and Eq. 2).

Idea: disentangled models trained with different seeds agree with each other up to a permutation
(and sign / monotone rescaling) of their latents; entangled ones agree only up to a rotation. UDR
measures, for every pair of models, how close the latent-to-latent similarity matrix is to a
permutation matrix, and ranks each model by the median of its pairwise scores.

Conventions follow the field's reference implementation (disentanglement_lib,
``evaluation/udr/metrics/udr.py``), checked number for number (docs/metrics.md):

1. Each model's codes ``(n, d)`` are standardised (mean 0, population standard deviation 1; a
   constant code stays all zeros, as scikit-learn's ``StandardScaler`` leaves it).
2. Latents whose mean KL divergence to the prior is ``<= kl_threshold`` are *inactive*: their
   codes are set to zero before the similarity is computed and their rows / columns are removed
   from the similarity matrix afterwards. The default is dislab's one definition of an active
   latent, 0.1 nats (:mod:`dislab.metrics.active`, where the choice is argued); the reference
   uses 0.01 (``kl_threshold=0.01`` reproduces it, and the reproductions of Duan et al. pass it).
3. Similarity ``R`` (``d_a x d_b``) between model *a*'s and model *b*'s latents:
   ``"spearman"`` (UDR_S): ``R[i, j] = |Spearman rank correlation(z_a[:, i], z_b[:, j])|``;
   ``"lasso"`` (UDR_L): ``R = |W|`` with ``W[i, j]`` the coefficient of ``z_a[:, i]`` when
   ``z_b[:, j]`` is regressed on all of ``z_a`` by Lasso (scikit-learn, alpha 0.1, other
   parameters default).
4. Pairwise score, with ``R`` restricted to the active latents (``d_a'`` rows, ``d_b'`` columns)::

       S(a, b) = ½ ( mean_j  max_i R[i, j]² / Σ_i R[i, j]   +   mean_i  max_j R[i, j]² / Σ_j R[i, j] )

   i.e. each direction is averaged over *its own* number of active latents and the two means are
   averaged with equal weight. Paper Eq. 2 instead divides the sum of both directions by
   ``d_a' + d_b'``; the two agree when both models have the same number of active latents and
   dislab follows the reference. A row or column whose sum is 0 (a latent that matches nothing)
   contributes 0 to its mean (the reference's ``nan_to_num``).
5. A model's UDR is the median of its pairwise scores with every other model (for Lasso the
   score of the pair in which the *other* model is the regressor, ``S(b, a)``, as in the reference).

Bounds: with Spearman every score is in [0, 1], 1 exactly when the similarity matrix is a
permutation matrix (each latent rank-correlates perfectly with one latent of the other model and
not at all with the rest). Lasso coefficients of standardised codes are at most 1 unless the
regressors are strongly correlated, so UDR_L can exceed 1 only for such entangled models. A model
with no active latent scores 0 against every model (the reference raises on it).

Where dislab differs from the reference, on purpose and only outside its default path:

* the reference zeroes latents at a fixed KL of 0.01 whatever ``kl_filter_threshold`` says;
  dislab zeroes at ``kl_threshold`` (identical at the default; for Lasso a different threshold
  changes which latents may act as regressors);
* a constant but active code has Spearman correlation 0 with everything here; scipy returns NaN
  for it and the reference's ``max`` then turns a whole direction of the pairwise score into 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dislab.metrics.active import ACTIVE_KL_THRESHOLD
from dislab.metrics.spec import MetricSpec, Score

METHODS = ("spearman", "lasso")


def _as_code_list(codes_per_model) -> list[np.ndarray]:
    from dislab.metrics._validate import check_codes, check_same_length

    if isinstance(codes_per_model, np.ndarray) and codes_per_model.ndim != 3:
        raise ValueError(
            "codes_per_model must be a sequence of (n_samples, n_codes) arrays or one array "
            f"(n_models, n_samples, n_codes), got an array of shape {codes_per_model.shape}"
        )
    out = [check_codes(c, f"codes of model {m}").astype(np.float64, copy=False)
           for m, c in enumerate(codes_per_model)]
    if len(out) < 2:
        raise ValueError(f"UDR compares models with each other: expected at least 2 models, got {len(out)}")
    check_same_length(out, [f"model {m}" for m in range(len(out))])
    if out[0].shape[0] < 2:
        raise ValueError(f"UDR needs at least 2 samples, got {out[0].shape[0]}")
    return out


def _as_kl_list(kl_per_model, codes: list[np.ndarray]) -> list[np.ndarray]:
    kls = [np.asarray(k, dtype=np.float64) for k in kl_per_model]
    if len(kls) != len(codes):
        raise ValueError(f"got codes of {len(codes)} models but KL of {len(kls)}")
    for m, (k, c) in enumerate(zip(kls, codes)):
        if k.shape != (c.shape[1],):
            raise ValueError(
                f"kl of model {m} must have shape ({c.shape[1]},) (mean KL per latent), got {k.shape}"
            )
        if not np.all(np.isfinite(k)) or np.any(k < 0):
            raise ValueError(f"kl of model {m} must be finite and >= 0, got {k.tolist()}")
    return kls


def standardise(codes: np.ndarray) -> np.ndarray:
    """``(x - mean) / std`` per column with the population std; a constant column becomes zeros
    (scikit-learn ``StandardScaler`` semantics, used by the reference UDR)."""
    sd = codes.std(axis=0)
    sd[sd == 0] = 1.0
    return (codes - codes.mean(axis=0)) / sd


def _rank_scores(z: np.ndarray) -> np.ndarray:
    """Columns turned into standardised ranks (average ranks for ties, as Spearman's rho), so
    that ``ranks_a.T @ ranks_b / n`` is the Spearman correlation matrix; constant columns give 0."""
    from scipy import stats

    return standardise(stats.rankdata(z, axis=0))


def relative_strength(r: np.ndarray) -> float:
    """Pairwise UDR score of a non-negative similarity matrix ``r`` (rows: active latents of model
    a, columns: of model b), step 4 of the module docstring. Returns a float in [0, 1]; 0 for an
    empty matrix."""
    r = np.asarray(r, dtype=np.float64)
    if r.ndim != 2:
        raise ValueError(f"similarity matrix must be 2-D, got shape {r.shape}")
    if r.size == 0:
        return 0.0
    if np.any(r < 0) or not np.all(np.isfinite(r)):
        raise ValueError("similarity matrix must be finite and non-negative")

    def one_way(m: np.ndarray) -> float:  # over the columns of m
        s = m.sum(axis=0)
        mx = m.max(axis=0)
        ratio = np.divide(mx * mx, s, out=np.zeros_like(s), where=s > 0)
        return float(ratio.mean())

    return 0.5 * (one_way(r) + one_way(r.T))


def udr(
    codes_per_model: Sequence[np.ndarray] | np.ndarray,
    kl_per_model: Sequence[np.ndarray] | np.ndarray,
    *,
    method: str = "spearman",
    kl_threshold: float = ACTIVE_KL_THRESHOLD,
    seed: int = 0,
) -> dict:
    """UDR score of each of several models encoded on the same inputs (Duan et al. 2020).

    Args:
        codes_per_model: per model, its codes (posterior means in the reference) of the same
            ``n_samples`` inputs, ``(n_samples, n_codes_m)``; or one array
            ``(n_models, n_samples, n_codes)``. At least 2 models and 2 samples.
        kl_per_model: per model, the mean over the inputs of each latent's KL divergence
            ``KL(q(z_j | x) || p(z_j))`` in nats, ``(n_codes_m,)``.
        method: ``"spearman"`` (UDR_S, the default here) or ``"lasso"`` (UDR_L; the reference's
            default and the paper's main variant).
        kl_threshold: latents with mean KL ``<= kl_threshold`` nats are inactive (default 0.1,
            dislab's active latents; the reference's default is 0.01).
        seed: passed to scikit-learn's Lasso as ``random_state`` (unused by its default cyclic
            coordinate descent, kept for reproducibility if that changes).

    Returns:
        ``{"udr": [float per model, input order], "pairwise": [[S(a, b)]] (n_models x n_models;
        diagonal 0, as the reference, never used), "n_active": [int per model]}``; scores in
        [0, 1] (see the module docstring for the exact formula, conventions and bounds).

    Example (identical models up to a permutation agree perfectly):

    >>> rng = np.random.default_rng(0)
    >>> z = rng.normal(size=(500, 3))
    >>> r = udr([z, z[:, [2, 0, 1]] * 2.0], [np.ones(3), np.ones(3)])
    >>> [round(s, 6) for s in r["udr"]]
    [1.0, 1.0]
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if not np.isfinite(kl_threshold) or kl_threshold < 0:
        raise ValueError(f"kl_threshold must be finite and >= 0, got {kl_threshold}")
    codes = _as_code_list(codes_per_model)
    kls = _as_kl_list(kl_per_model, codes)
    active = [k > kl_threshold for k in kls]
    # standardise, then zero the inactive latents (reference: StandardScaler then * (kl > 0.01);
    # dislab zeroes at kl_threshold, the same at the reference's value)
    zs = [standardise(c) * a[None, :] for c, a in zip(codes, active)]
    n_models, n = len(zs), zs[0].shape[0]

    if method == "spearman":
        ranks = [_rank_scores(z) for z in zs]
    pairwise = np.zeros((n_models, n_models))
    for a in range(n_models):
        for b in range(n_models):
            if a == b:
                continue
            if method == "spearman":
                if b < a:  # |rho| is symmetric: S(a, b) = S(b, a)
                    pairwise[a, b] = pairwise[b, a]
                    continue
                r = np.abs(ranks[a].T @ ranks[b]) / n  # (d_a, d_b)
                np.clip(r, 0.0, 1.0, out=r)  # rounding can overshoot 1 by an ulp
            else:
                r = _lasso_similarity(zs[a], zs[b], seed)
            pairwise[a, b] = relative_strength(r[active[a]][:, active[b]])
    # model b's score: median over a != b of S(a, b) (the reference's column b without its diagonal)
    scores = [float(np.median(np.delete(pairwise[:, b], b))) for b in range(n_models)]
    return {
        "udr": scores,
        "pairwise": pairwise.tolist(),
        "n_active": [int(a.sum()) for a in active],
    }


def _lasso_similarity(za: np.ndarray, zb: np.ndarray, seed: int) -> np.ndarray:
    """``|W|`` (``d_a x d_b``): Lasso(alpha=0.1) regressions of each of ``zb``'s latents on ``za``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import Lasso

    model = Lasso(alpha=0.1, random_state=seed)
    with warnings.catch_warnings():
        # an all-zero target (an inactive latent) is fine: its coefficients are 0
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(za, zb)
    return np.abs(np.atleast_2d(model.coef_)).T.reshape(za.shape[1], zb.shape[1])


SPEC = MetricSpec(
    name="udr", title="UDR (Duan et al. 2020)",
    sampler=None, array=None,
    scores=(
        Score("udr",
          "Unsupervised Disentanglement Ranking (Duan et al. 2020): agreement of this "
          "model's latents with other seeds' models.",
          "0 to 1, higher = more disentangled", "higher", alias_of="udr_spearman"),
        Score("udr_lasso",
          "UDR (Duan et al. 2020) from Lasso similarity matrices between this model's "
          "latents and each other seed's, median over those pairs.",
          "0 to 1, higher = more disentangled", "higher"),
        Score("udr_spearman",
          "UDR (Duan et al. 2020) from Spearman correlation matrices between this model's "
          "latents and each other seed's, median over those pairs.",
          "0 to 1, higher = more disentangled", "higher"),
        Score("group_size",
          "Trained seeds of this model's setting that UDR compared it with (itself "
          "included).",
          "2 or more", "count"),
        Score("n_active",
          "Latents UDR counted as active in this model: mean KL above the threshold (0.1 "
          "nats by default).",
          "0 to n_latents", "count"),
    ),
)
