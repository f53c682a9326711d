"""Unsupervised scores of one representation: they need codes, not ground-truth factors.

All take the posterior means ``codes`` ``(n_samples, n_codes)`` of one model on a sample of inputs
(the reference's ``unsupervised_metrics`` in disentanglement_lib,
``evaluation/metrics/unsupervised_metrics.py``, uses 10,000 points):

* :func:`gaussian_total_correlation` — total correlation (Watanabe 1960) of the Gaussian fitted to
  the codes: ``TC = KL(N(0, Σ) || N(0, diag Σ)) = ½ (Σ_j log Σ_jj − log det Σ)`` nats, ``Σ`` the
  sample covariance (``ddof=1``, as the reference's ``np.cov``). 0 for uncorrelated codes; larger is
  more dependent; ``inf`` when a code is an exact linear function of the others.
* :func:`gaussian_wasserstein_correlation` — squared 2-Wasserstein distance between the same two
  Gaussians, ``2 tr Σ − 2 tr (D^½ Σ D^½)^½`` with ``D = diag Σ`` (reference), and the same divided
  by ``tr Σ`` (reference key ``…_norm``, in [0, 2)).
* :func:`mutual_info_between_codes` — mean discrete mutual information (nats) over ordered pairs of
  distinct codes, each code discretised into ``n_bins=20`` equal-width histogram bins (the
  reference's ``histogram_discretizer`` with ``num_bins=20``; the same discretiser and plug-in
  estimator as MIG, :mod:`dislab.metrics.mig`). 0 for one code.
* :func:`n_active_latents` — "active units" (Burda et al., "Importance Weighted Autoencoders",
  ICLR 2016, Sec. 5.2): codes whose posterior mean varies over the inputs,
  ``Var_x(E_q[z_j | x]) > 0.01``; key ``n_active_units``. dislab's active latents (key
  ``n_active``) are another quantity, the mean KL to the prior (:mod:`dislab.metrics.active`),
  computed when the KL is given (the sampler passes it for models).

Constant codes: they are independent of every other code, so they are left out of the total
correlation (contributing 0) and of the Wasserstein covariance terms exactly as the formula gives
(0); their mutual information with any code is 0. Nothing here returns NaN.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dislab.metrics._validate import check_codes
from dislab.metrics.active import ACTIVE_KL_THRESHOLD, n_active
from dislab.metrics.mig import discrete_mutual_info, histogram_discretize
from dislab.metrics.sampling import N_TRAIN, Encode, as_generator, encode_indices
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

ACTIVE_VARIANCE_THRESHOLD = 0.01  # Burda et al. 2016, Sec. 5.2
N_BINS = 20  # disentanglement_lib unsupervised_study_v1 metric config (discretizer.num_bins)


def _covariance(codes: np.ndarray) -> np.ndarray:
    if codes.shape[0] < 2:
        raise ValueError(f"a covariance needs at least 2 samples, got {codes.shape[0]}")
    return np.atleast_2d(np.cov(codes.astype(np.float64), rowvar=False))  # (n_codes, n_codes), ddof=1


def gaussian_total_correlation(codes) -> float:
    """Total correlation (nats) of the Gaussian with the codes' sample covariance; see module doc.

    Constant codes are left out (they contribute 0). Returns ``inf`` if the remaining covariance is
    singular (a code is an exact linear combination of others), never NaN.

    >>> z = np.random.default_rng(0).normal(size=(10000, 3))
    >>> round(gaussian_total_correlation(z), 3)
    0.0
    """
    codes = check_codes(codes)
    cov = _covariance(codes)
    var = np.diag(cov)
    keep = var > 0
    if keep.sum() < 2:
        return 0.0
    cov = cov[np.ix_(keep, keep)]
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0 or not np.isfinite(logdet):
        return float("inf")
    return float(max(0.5 * (np.sum(np.log(var[keep])) - logdet), 0.0))  # TC >= 0; clip rounding


def gaussian_wasserstein_correlation(codes) -> dict:
    """Squared W2 distance between ``N(0, Σ)`` and ``N(0, diag Σ)``; see module doc.

    Returns ``{"gaussian_wasserstein_correlation": float >= 0,
    "gaussian_wasserstein_correlation_norm": float}`` (the second divided by ``tr Σ``; 0 when every
    code is constant).
    """
    codes = check_codes(codes)
    cov = _covariance(codes)
    d_half = np.sqrt(np.clip(np.diag(cov), 0, None))
    # tr sqrtm(Σ D) (the reference's form) = Σ sqrt(eig(D^½ Σ D^½)): same eigenvalues, symmetric PSD
    eig = np.linalg.eigvalsh(d_half[:, None] * cov * d_half[None, :])
    w = float(max(2 * np.trace(cov) - 2 * np.sum(np.sqrt(np.clip(eig, 0, None))), 0.0))
    tr = float(np.trace(cov))
    return {
        "gaussian_wasserstein_correlation": w,
        "gaussian_wasserstein_correlation_norm": w / tr if tr > 0 else 0.0,
    }


def mutual_info_between_codes(codes, *, n_bins: int = N_BINS) -> dict:
    """Mean discrete MI (nats) between distinct codes after histogram discretisation.

    Returns ``{"mutual_info_score": float >= 0, "mutual_info_matrix": (n_codes x n_codes), diagonal
    0}``; the score is the matrix's sum over ``n_codes² − n_codes`` (reference), 0 for one code.
    """
    codes = check_codes(codes)
    if int(n_bins) != n_bins or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins}")
    binned = histogram_discretize(codes, int(n_bins))
    mi = discrete_mutual_info(binned, binned)  # (n_codes, n_codes), nats
    np.fill_diagonal(mi, 0.0)
    k = codes.shape[1]
    score = float(mi.sum() / (k * k - k)) if k > 1 else 0.0
    return {"mutual_info_score": score, "mutual_info_matrix": mi.tolist()}


def n_active_latents(codes, *, threshold: float = ACTIVE_VARIANCE_THRESHOLD) -> int:
    """Number of codes whose variance over the inputs exceeds ``threshold`` (Burda et al. 2016,
    Sec. 5.2: ``Cov_x(E_q[u | x]) > 10⁻²``), sample variance with ``ddof=1``."""
    codes = check_codes(codes)
    return int(np.sum(np.diag(_covariance(codes)) > threshold))


def unsupervised_metrics(codes, *, kl=None, n_bins: int = N_BINS,
                         active_threshold: float = ACTIVE_VARIANCE_THRESHOLD,
                         kl_threshold: float = ACTIVE_KL_THRESHOLD) -> dict:
    """Every score of this module on one code matrix ``(n_samples, n_codes)``.

    Args:
        codes: posterior means, at least 2 samples.
        kl: optional mean KL per latent to the prior ``(n_codes,)`` (nats,
            :func:`dislab.metrics.active.mean_kl_per_latent`); adds ``n_active``, the number of
            latents with mean KL > ``kl_threshold`` (dislab's active latents, 0.1 nats).
        n_bins: histogram bins for the mutual information (reference 20).
        active_threshold: variance threshold of the active units (Burda et al. 2016: 0.01).

    Returns: ``gaussian_total_correlation``, ``gaussian_wasserstein_correlation``,
    ``gaussian_wasserstein_correlation_norm``, ``mutual_info_score``, ``mutual_info_matrix``,
    ``n_active_units`` (Burda et al.'s count) and, with ``kl``, ``n_active`` and ``mean_kl`` (the
    KL per latent it counts on).
    """
    codes = check_codes(codes)
    out = {"gaussian_total_correlation": gaussian_total_correlation(codes)}
    out.update(gaussian_wasserstein_correlation(codes))
    out.update(mutual_info_between_codes(codes, n_bins=n_bins))
    out["n_active_units"] = n_active_latents(codes, threshold=active_threshold)
    if kl is not None:
        kl = np.asarray(kl, dtype=np.float64)
        if kl.shape != (codes.shape[1],) or not np.all(np.isfinite(kl)):
            raise ValueError(f"kl must be finite with shape ({codes.shape[1]},), got {kl.shape}")
        out["n_active"] = n_active(kl, threshold=kl_threshold)
        out["mean_kl"] = kl.tolist()
    return out


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_unsupervised(dataset: FactorDataset, encode: Encode, *, seed: int = 0,
                         n_train: int = N_TRAIN, batch_size: int = 64, **options) -> dict:
    """:func:`dislab.metrics.unsupervised.unsupervised_metrics` of 10,000 random images (reference
    ``unsupervised_metrics.num_train``); works on datasets without factors."""
    if int(n_train) != n_train or n_train < 1:
        raise ValueError(f"number of points must be a positive integer, got {n_train}")
    rng = as_generator(seed)
    index = (dataset.index_of(dataset.sample_factors(int(n_train), rng)) if dataset.has_factors
             else dataset.sample_indices(int(n_train), rng))  # the points sample_codes draws
    codes = encode_indices(dataset, encode, index, batch_size=batch_size, desc="unsupervised")
    if hasattr(encode, "posterior") and options.get("kl") is None:
        # dislab's active latents (n_active): mean KL to the model's prior over the same points
        from dislab.metrics.active import mean_kl_per_latent

        mu, logvar = encode.posterior(dataset, index, desc="unsupervised")
        options = {**options, "kl": mean_kl_per_latent(getattr(encode.model, "prior", None), mu, logvar,
                                                       seed=seed)}
    return unsupervised_metrics(codes, **options)


SPEC = MetricSpec(
    name="unsupervised", title="Unsupervised scores (Locatello et al. 2019)",
    sampler=compute_unsupervised, array=unsupervised_metrics,
    needs_factors=False, default=True,
    scores=(
        Score("gaussian_total_correlation",
          "Total correlation of a Gaussian fitted to the latent means, in nats.",
          "≥ 0, lower = more independent latents", "lower"),
        Score("gaussian_wasserstein_correlation",
          "Wasserstein distance between that Gaussian and its diagonal (independent) "
          "version.",
          "≥ 0, lower = more independent latents", "lower"),
        Score("gaussian_wasserstein_correlation_norm",
          "The same, divided by the total variance of the latents.",
          "0 to 1, lower = more independent latents", "lower"),
        Score("mutual_info_score",
          "Mean mutual information between pairs of discretised latents, in nats.",
          "≥ 0, lower = more independent latents", "lower"),
        Score("n_active",
          "Active latents: mean KL of the posterior to the prior over the data above 0.1 "
          "nats (dislab's one definition, the same as the KL chart and dislab traverse / "
          "diagnose).",
          "0 to n_latents", "count"),
        Score("n_active_units",
          "Active units (Burda et al. 2016): latents whose posterior mean varies over the "
          "data (variance above 0.01).",
          "0 to n_latents", "count"),
    ),
)
