"""InfoMEC: InfoM (modularity), InfoE (explicitness) and InfoC (compactness) on arrays.

Hsu, Dorrell, Whittington, Wu, Finn, "Disentanglement via Latent Quantization", NeurIPS 2023,
Sec. 5 and App. B; conventions of the authors' standalone reference
(kylehkhsu/latent_quantization, ``disentangle/metrics/infomec.py``), which dislab reproduces
number for number except where it divides 0 by 0 (documented values below) and where its one
random estimator is unseeded (seeded here).

Normalised mutual information ``NMI[j, k] = I(z_j; v_k) / H(v_k)`` (codes x factors here; the
reference stores the transpose), with ``H`` the plug-in entropy of the factor (nats) and:

* discrete latents: ``I`` the plug-in mutual information of the latent's values and the factor
  (``sklearn.metrics.mutual_info_score``);
* continuous latents: each latent standardised (mean 0, population std 1) and ``I`` the
  Kraskov-style nearest-neighbour estimate between a continuous and a discrete variable (Ross
  2014; ``sklearn.feature_selection.mutual_info_classif(..., discrete_features=False,
  n_neighbors=10)``, one latent at a time, ``random_state=seed`` for its 1e-10 jitter, clipped
  at 0).

Active latents (pruning): discrete, a range ``max - min > 0``; continuous, a range larger than
1/20 of the largest range. With ``K`` factors and ``L`` active latents, over the active columns:

    InfoM = (mean_j max_k NMI[j, k] / sum_k NMI[j, k]  -  1/K) / (1 - 1/K)
    InfoC = (mean_k max_j NMI[j, k] / sum_j NMI[j, k]  -  1/L) / (1 - 1/L)

both in [0, 1] (1: each latent informs about one factor / each factor sits in one latent).
InfoE, the normalised predictive information, uses every latent: per factor, a multinomial
logistic regression without penalty (lbfgs, 100 iterations, tol 1e-4, balanced class weights) of
the factor on the standardised latents (one-hot encoded when discrete), evaluated on the same
points, against the same regression on a constant input,

    InfoE_k = (CE_0 - CE) / CE_0,   CE = log loss,   InfoE = mean_k InfoE_k

(CE_0 = log(n classes) up to the solver's tolerance: balanced weights make the intercept-only
model uniform). InfoE in [0, 1] up to the solver's tolerance (it is computed on the training
points, so it cannot be much below 0).

Where the reference divides 0 by 0, dislab returns (never NaN):

* a factor constant in the sample (entropy 0): skipped, as everywhere in dislab (its NMI row is 0,
  its index in ``skipped_factors``);
* one varying factor (K = 1): InfoM = 1 (each latent informs about at most one factor);
* one active latent (L = 1): InfoC = 1; no active latent: InfoM = InfoC = 0;
* an active latent with NMI 0 for every factor counts as 1/K (adds 0: not modular), a factor with
  NMI 0 on every active latent as 1/L (adds 0: not compact).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import warnings

import numpy as np

from dislab.metrics._validate import check_codes, check_factors, check_same_length, varying_factors
from dislab.metrics.sampling import N_TRAIN, Encode, score_one_set
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

__all__ = ["infomec", "normalized_mutual_info", "active_latents"]

N_NEIGHBORS = 10  # the reference's mutual_info_classif(n_neighbors=10)
RANGE_FRACTION = 1 / 20  # continuous latents: active above 1/20 of the largest range


def _entropy(labels: np.ndarray) -> float:
    """Plug-in entropy in nats (``mutual_info_score(y, y)`` of the reference)."""
    p = np.bincount(labels) / len(labels)
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def _labels(column: np.ndarray) -> np.ndarray:
    """Values -> 0..n-1 (``LabelEncoder``)."""
    return np.unique(column, return_inverse=True)[1]


def normalized_mutual_info(codes, factors, *, discrete: bool = False, n_neighbors: int = N_NEIGHBORS,
                           seed: int = 0) -> np.ndarray:
    """``NMI`` ``(n_codes, n_factors)``: I(z_j; v_k) / H(v_k) (module docstring); columns of
    constant factors are 0."""
    from sklearn.feature_selection import mutual_info_classif
    from sklearn.metrics import mutual_info_score

    codes = np.asarray(codes)
    factors = np.asarray(factors)
    nmi = np.zeros((codes.shape[1], factors.shape[1]))
    if discrete:
        latents = [_labels(codes[:, j]) for j in range(codes.shape[1])]
    else:
        std = codes.std(axis=0)
        latents = [((codes[:, j] - codes[:, j].mean()) / (std[j] if std[j] > 0 else 1.0)).astype(np.float64)
                   for j in range(codes.shape[1])]
    for k in range(factors.shape[1]):
        v = _labels(factors[:, k])
        h = _entropy(v)
        if h == 0:
            continue  # constant factor: skipped (the reference divides by 0)
        for j, z in enumerate(latents):
            if discrete:
                mi = mutual_info_score(v, z)
            else:
                mi = mutual_info_classif(z[:, None], v, discrete_features=False, n_neighbors=int(n_neighbors),
                                         random_state=seed)[0]
            nmi[j, k] = max(float(mi), 0.0) / h
    return nmi


def active_latents(codes, *, discrete: bool = False) -> np.ndarray:
    """Boolean ``(n_codes,)``: the reference's pruning by range (module docstring)."""
    codes = np.asarray(codes, dtype=np.float64)
    ranges = codes.max(axis=0) - codes.min(axis=0)
    if discrete:
        return ranges > 0
    return ranges > ranges.max() * RANGE_FRACTION


def _normalised_concentration(matrix: np.ndarray, n: int) -> float:
    """``(mean over rows of max/sum - 1/n) / (1 - 1/n)``, a zero row counting as 1/n (adds 0)."""
    total = matrix.sum(axis=1)
    ratio = np.where(total > 0, matrix.max(axis=1) / np.where(total > 0, total, 1.0), 1.0 / n)
    return float((ratio.mean() - 1.0 / n) / (1.0 - 1.0 / n))


def _predictive_information(x: np.ndarray, y: np.ndarray) -> float:
    """(CE_0 - CE) / CE_0 of the reference's logistic regression of ``y`` on ``x``."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss

    def cross_entropy(inputs):
        # the reference's LogisticRegression(penalty=None, lbfgs, multinomial, balanced, 100
        # iterations, tol 1e-4); C = inf is scikit-learn >= 1.8's spelling of no penalty, and
        # lbfgs is multinomial for more than two classes
        model = LogisticRegression(C=np.inf, tol=1e-4, fit_intercept=True, class_weight="balanced",
                                   solver="lbfgs", max_iter=100)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs stops at 100 iterations, as the reference's
            model.fit(inputs, y)
        return log_loss(y, model.predict_proba(inputs), labels=model.classes_)

    conditional = cross_entropy(x)
    marginal = cross_entropy(np.zeros_like(x[:, :1]))
    return float((marginal - conditional) / marginal)


def infomec(codes, factors, *, discrete: bool = False, n_neighbors: int = N_NEIGHBORS, seed: int = 0) -> dict:
    """InfoM, InfoE and InfoC (Hsu et al., NeurIPS 2023) of codes against discrete factors.

    Args:
        codes: ``(n, n_codes)`` latents (posterior means), real; with ``discrete=True`` their
            values are treated as categories (quantised latents).
        factors: ``(n, n_factors)`` integer class indices.
        discrete: latents are discrete (plug-in MI, one-hot regression inputs, active = any
            variation) rather than continuous (nearest-neighbour MI, standardised inputs, active
            = range above 1/20 of the largest).
        n_neighbors: neighbours of the continuous MI estimator (reference 10).
        seed: ``random_state`` of the continuous MI estimator's jitter (the reference passes
            none); nothing else is random.

    Returns a JSON-ready dict: ``infom``, ``infoe``, ``infoc`` (floats, [0, 1]; formulas and the
    values given where the reference divides 0 by 0 in the module docstring), ``infoe_per_factor``,
    ``nmi`` (n_codes x n_factors nested list), ``active`` (bool per code), ``n_active``,
    ``skipped_factors``.

    Example: codes equal to the factors are modular, compact and linearly decodable.

    >>> f = np.repeat(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), 25, axis=0)
    >>> r = infomec(f.astype(float), f, discrete=True)
    >>> round(r["infom"], 6), round(r["infoc"], 6), r["infoe"] > 0.99
    (1.0, 1.0, True)
    """
    codes = check_codes(codes)
    factors = check_factors(factors)
    check_same_length((codes, factors), ("codes", "factors"))
    varying = varying_factors(factors, "infomec")
    if int(n_neighbors) != n_neighbors or n_neighbors < 1:
        raise ValueError(f"n_neighbors must be a positive integer, got {n_neighbors}")
    used = factors[:, varying]
    nmi = np.zeros((codes.shape[1], factors.shape[1]))
    nmi[:, varying] = normalized_mutual_info(codes, used, discrete=discrete, n_neighbors=n_neighbors, seed=seed)
    active = active_latents(codes, discrete=discrete)
    pruned = nmi[active][:, varying]  # (L, K)
    n_factors, n_active = int(varying.sum()), int(active.sum())
    if n_active == 0:
        infom = infoc = 0.0
    else:
        infom = 1.0 if n_factors == 1 else _normalised_concentration(pruned, n_factors)
        infoc = 1.0 if n_active == 1 else _normalised_concentration(pruned.T, n_active)

    if discrete:
        from sklearn.preprocessing import OneHotEncoder

        inputs = OneHotEncoder().fit_transform(codes).toarray()
    else:
        std = codes.std(axis=0)
        inputs = (codes - codes.mean(axis=0)) / np.where(std > 0, std, 1.0)  # StandardScaler
    per_factor = np.zeros(factors.shape[1])
    for k in np.flatnonzero(varying):
        per_factor[k] = _predictive_information(inputs.astype(np.float64), _labels(factors[:, k]))
    return {
        "infom": float(infom),
        "infoe": float(per_factor[varying].mean()),
        "infoc": float(infoc),
        "infoe_per_factor": [float(v) for v in per_factor],
        "nmi": nmi.tolist(),
        "active": [bool(a) for a in active],
        "n_active": n_active,
        "skipped_factors": [int(k) for k in np.flatnonzero(~varying)],
    }


# -- the sampler: points of a dataset, encoded, at the published sizes -----------------------------
def compute_infomec(dataset: FactorDataset, encode: Encode, *, seed: int = 0, n_train: int = N_TRAIN,
                    batch_size: int = 64, **options) -> dict:
    """InfoMEC (:func:`dislab.metrics.infomec.infomec`) of 10,000 random points (the authors
    score their validation split; 10,000 is the field's size for the other metrics)."""
    return score_one_set(infomec, "infomec", dataset, encode, seed, n_train, batch_size, options)


SPEC = MetricSpec(
    name="infomec", title="InfoMEC (Hsu et al. 2023)",
    sampler=compute_infomec, array=infomec,
    scores=(
        Score("infom",
          "InfoM (Hsu et al. 2023): modularity from normalised mutual information -- how "
          "much each active latent informs about a single factor.",
          "0 to 1, higher = more modular", "higher"),
        Score("infoe",
          "InfoE (Hsu et al. 2023): explicitness -- the share of each factor's entropy a "
          "linear (logistic) read-out of all latents recovers.",
          "0 to 1, higher = more linearly decodable", "higher"),
        Score("infoc",
          "InfoC (Hsu et al. 2023): compactness -- how much each factor's information sits "
          "in a single active latent.",
          "0 to 1, higher = more compact", "higher"),
        Score("n_active",
          "Latents InfoMEC keeps: range above 1/20 of the largest latent's (the authors' "
          "pruning; not dislab's KL-based active latents).",
          "0 to n_latents", "count"),
    ),
)
