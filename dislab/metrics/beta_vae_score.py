"""The BetaVAE disentanglement score (Higgins et al., "β-VAE: Learning Basic Visual Concepts with a
Constrained Variational Framework", ICLR 2017, Sec. 3 and Appendix A.4), as the field's reference
implementation computes it (disentanglement_lib ``evaluation/metrics/beta_vae.py``).

One *example* is made by choosing a factor ``k`` uniformly, drawing ``batch_size`` pairs of factor
rows that agree on factor ``k`` (everything else drawn independently and uniformly), encoding both
images of every pair and averaging the absolute code difference over the pairs::

    feature = mean_l | z(x_1^l) − z(x_2^l) |  ∈ R^{n_codes},   label = k

A linear classifier learns ``feature -> label`` on ``n_train`` examples; the score is its accuracy
on ``n_eval`` fresh examples. A representation in which the fixed factor has its own code lets the
classifier read it off (score near 1); chance is ``1 / n_factors``.

Defaults (disentanglement_lib ``unsupervised_study_v1/metric_configs/beta_vae_sklearn.gin``):
``batch_size=64``, ``n_train=10000``, ``n_eval=5000``; codes are posterior means.

Classifier: the reference calls ``sklearn.linear_model.LogisticRegression(random_state=...)`` with
library defaults. With the scikit-learn of its published study (0.20, 2019) these were the
``liblinear`` solver, one-vs-rest, ``C=1``, ``tol=1e-4``, ``max_iter=100``: dislab's default
``solver="liblinear"`` reproduces exactly that (a one-vs-rest wrapper of liblinear logistic
regressions, scikit-learn no longer offering OvR inside LogisticRegression). scikit-learn >= 0.22
changed the defaults to ``lbfgs`` and a multinomial loss, which is what the reference code gives
when run today: ``solver="lbfgs"`` reproduces that. The two differ by well under 0.01 on the cases
in docs/metrics.md.
"""
from __future__ import annotations

import warnings

from typing import TYPE_CHECKING

import numpy as np

from dislab.errors import DataError
from dislab.metrics.sampling import Encode, as_generator, encode_factors
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset

SOLVERS = ("liblinear", "lbfgs")


def _classifier(solver: str, seed: int):
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    if solver == "liblinear":  # scikit-learn 0.20 defaults: liblinear, one-vs-rest, C=1
        return OneVsRestClassifier(LogisticRegression(solver="liblinear", C=1.0, tol=1e-4,
                                                      max_iter=100, random_state=seed))
    return LogisticRegression(solver="lbfgs", C=1.0, tol=1e-4, max_iter=100, random_state=seed)


def beta_vae_accuracy(train_features, train_labels, eval_features, eval_labels, *,
                      solver: str = "liblinear", seed: int = 0) -> dict:
    """Array core: fit the logistic regression on ``train_features`` ``(n_train, n_codes)`` /
    ``train_labels`` ``(n_train,)`` (factor indices) and return
    ``{"beta_vae_score": eval accuracy, "train_accuracy": train accuracy}``, both in [0, 1].

    When every training label is the same class the classifier predicts that class (accuracy is
    the fraction of that label), instead of failing.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {SOLVERS}, got {solver!r}")
    xtr, xev = np.asarray(train_features, np.float64), np.asarray(eval_features, np.float64)
    ytr, yev = np.asarray(train_labels), np.asarray(eval_labels)
    for name, x, y in (("train", xtr, ytr), ("eval", xev, yev)):
        if x.ndim != 2 or y.shape != (x.shape[0],) or x.shape[0] == 0:
            raise ValueError(f"{name} features must be (n, n_codes) with n >= 1 labels (n,), "
                             f"got {x.shape} and {y.shape}")
        if not np.all(np.isfinite(x)):
            raise ValueError(f"{name} features contain NaN or inf")
    if xtr.shape[1] != xev.shape[1]:
        raise ValueError(f"train features have {xtr.shape[1]} codes, eval features {xev.shape[1]}")
    classes = np.unique(ytr)
    if classes.size == 1:
        return {"beta_vae_score": float(np.mean(yev == classes[0])), "train_accuracy": 1.0}
    model = _classifier(solver, seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence at max_iter=100 is the reference's setting
        model.fit(xtr, ytr)
    return {
        "beta_vae_score": float(np.mean(model.predict(xev) == yev)),
        "train_accuracy": float(np.mean(model.predict(xtr) == ytr)),
    }


def beta_vae_examples(dataset: FactorDataset, encode: Encode, n: int, rng, *,
                      batch_size: int = 64, desc: str = "beta_vae_score") -> tuple[np.ndarray, np.ndarray]:
    """``(features (n, n_codes) float64, labels (n,) int64)``: ``n`` examples as in the module doc."""
    rng = as_generator(rng)
    nf = dataset.n_factors
    labels = rng.integers(0, nf, size=n)  # (n,) the fixed factor of each example
    f1 = dataset.sample_factors(n * batch_size, rng)  # (n * batch, n_factors)
    f2 = dataset.sample_factors(n * batch_size, rng)
    rows = np.arange(n * batch_size)
    fixed = np.repeat(labels, batch_size)
    f2[rows, fixed] = f1[rows, fixed]
    z1 = encode_factors(dataset, encode, f1, desc=f"{desc} (1/2)").astype(np.float64)
    z2 = encode_factors(dataset, encode, f2, desc=f"{desc} (2/2)").astype(np.float64)
    features = np.abs(z1 - z2).reshape(n, batch_size, -1).mean(axis=1)
    return features, labels.astype(np.int64)


def beta_vae_score(dataset: FactorDataset, encode: Encode, *, seed: int = 0, batch_size: int = 64,
                   n_train: int = 10_000, n_eval: int = 5_000, solver: str = "liblinear") -> dict:
    """BetaVAE score of a representation (Higgins et al. 2017; see module doc for conventions).

    Args:
        dataset: a dataset with at least 2 factors.
        encode: images ``(n, C, H, W)`` -> codes ``(n, n_codes)`` (posterior means in the reference).
        seed: seeds the generator that draws every example (train first, then eval).
        batch_size: pairs averaged per example (reference 64).
        n_train, n_eval: examples to fit and to score the classifier (reference 10,000 / 5,000).
        solver: ``"liblinear"`` (reference as published) or ``"lbfgs"`` (reference code under
            scikit-learn >= 0.22).

    Returns:
        ``{"beta_vae_score": float in [0, 1], "train_accuracy": float in [0, 1]}``. A constant
        representation gives chance level (~1 / n_factors), never NaN.
    """
    dataset.require_factors("the beta_vae_score metric")
    if dataset.n_factors < 2:
        raise DataError(f"beta_vae_score classifies which factor was fixed: it needs at least 2 "
                        f"factors, dataset {dataset.name!r} has {dataset.n_factors}")
    for name, v in (("batch_size", batch_size), ("n_train", n_train), ("n_eval", n_eval)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v}")
    rng = as_generator(seed)
    xtr, ytr = beta_vae_examples(dataset, encode, int(n_train), rng, batch_size=int(batch_size),
                                 desc="beta_vae_score train")
    xev, yev = beta_vae_examples(dataset, encode, int(n_eval), rng, batch_size=int(batch_size),
                                 desc="beta_vae_score eval")
    return beta_vae_accuracy(xtr, ytr, xev, yev, solver=solver, seed=seed)


SPEC = MetricSpec(
    name="beta_vae_score", title="BetaVAE score (Higgins et al. 2017)",
    sampler=beta_vae_score, array=None,
    scores=(
        Score("beta_vae_score",
          "BetaVAE score (Higgins et al. 2017): accuracy of a linear classifier naming "
          "which factor was held fixed, from latent differences (held-out votes).",
          "chance (1 / n_factors) to 1, higher = more disentangled", "higher"),
        Score("train_accuracy",
          "BetaVAE score's classifier on its training votes.",
          "chance (1 / n_factors) to 1", "higher"),
    ),
)
