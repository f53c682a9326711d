"""The FactorVAE disentanglement score (Kim & Mnih, "Disentangling by Factorising", ICML 2018,
Sec. 4), as the field's reference implementation computes it (disentanglement_lib
``evaluation/metrics/factor_vae.py``).

1. *Global variance*: ``Var_j`` of each code over ``n_variance`` random images (sample variance,
   ``ddof=1``). Codes with standard deviation ``< prune_threshold`` are *inactive* (collapsed to
   the prior) and never vote. Dividing by the global variance is the paper's "normalise each
   dimension by its empirical standard deviation over the full data".
2. One *vote*: choose a factor ``k`` uniformly, draw ``batch_size`` factor rows, set factor ``k``
   of all of them to the first row's value, encode, and take the active code with the smallest
   normalised variance ``argmin_j Var_batch(z_j) / Var_j`` (``ddof=1``): the code that "holds
   still" when factor ``k`` is fixed. The vote is ``(k, j)``.
3. The *majority-vote classifier* maps each code ``j`` to the factor that voted for it most often on
   ``n_train`` votes (ties: the lowest factor index, as ``numpy.argmax``); its accuracy on the
   training votes is ``train_accuracy`` and on ``n_eval`` fresh votes the score.

Defaults (disentanglement_lib ``unsupervised_study_v1/metric_configs/factor_vae_metric.gin``):
``batch_size=64``, ``n_train=10000``, ``n_eval=5000``, ``n_variance=10000``,
``prune_threshold=0.05`` (``prune_dims.threshold``); codes are posterior means.

No code kept (every code's std < threshold, e.g. a constant representation): the score, the
training accuracy and ``n_kept`` are 0, as the reference returns. ``n_kept`` counts the codes that
vote (the reference calls them active dims; its ``num_active_dims`` reports the length of its
boolean mask instead, i.e. the total number of codes, whenever at least one is kept). It is the
score's own count, not dislab's active latents (mean KL > 0.1 nats, :mod:`dislab.metrics.active`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from dislab.metrics.sampling import Encode, as_generator, encode_factors, sample_codes
from dislab.metrics.spec import MetricSpec, Score

if TYPE_CHECKING:
    from dislab.data.base import FactorDataset


def prune_dims(variances, *, threshold: float = 0.05) -> np.ndarray:
    """Boolean mask of active codes: ``sqrt(variance) >= threshold``."""
    return np.sqrt(np.asarray(variances, np.float64)) >= threshold


def votes_from_codes(codes, labels, global_variances, active) -> np.ndarray:
    """Votes ``(n_factors_seen, n_codes)`` int64 from per-example codes ``(n, batch, n_codes)`` and
    fixed-factor ``labels`` ``(n,)``; ``votes[k, j]`` counts examples with factor ``k`` fixed whose
    least-varying active code (normalised by ``global_variances``) was ``j``."""
    codes = np.asarray(codes, np.float64)
    local = codes.var(axis=1, ddof=1)  # (n, n_codes)
    active_idx = np.flatnonzero(active)
    ratio = local[:, active_idx] / np.asarray(global_variances, np.float64)[active_idx]
    winner = active_idx[np.argmin(ratio, axis=1)]  # (n,) code index
    n_factors = int(np.max(labels)) + 1 if len(labels) else 0
    votes = np.zeros((n_factors, codes.shape[2]), dtype=np.int64)
    np.add.at(votes, (np.asarray(labels), winner), 1)
    return votes


def majority_vote_accuracy(train_votes, eval_votes) -> dict:
    """Accuracy of the majority-vote classifier fitted on ``train_votes`` ``(n_factors, n_codes)``,
    on the training and on ``eval_votes``: ``{"factor_vae_score", "train_accuracy"}`` in [0, 1]."""
    tr, ev = np.asarray(train_votes, np.int64), np.asarray(eval_votes, np.int64)
    n_f = max(tr.shape[0], ev.shape[0])
    tr = np.pad(tr, ((0, n_f - tr.shape[0]), (0, 0)))
    ev = np.pad(ev, ((0, n_f - ev.shape[0]), (0, 0)))
    classifier = np.argmax(tr, axis=0)  # (n_codes,) factor predicted from each code
    cols = np.arange(tr.shape[1])
    acc = lambda v: float(v[classifier, cols].sum() / v.sum()) if v.sum() else 0.0  # noqa: E731
    return {"factor_vae_score": acc(ev), "train_accuracy": acc(tr)}


def _votes(dataset, encode, n, rng, batch_size, global_variances, active, desc):
    labels = rng.integers(0, dataset.n_factors, size=n)  # (n,) fixed factor of each vote
    factors = dataset.sample_factors(n * batch_size, rng).reshape(n, batch_size, -1)
    factors[np.arange(n), :, labels] = factors[np.arange(n), 0, labels][:, None]
    codes = encode_factors(dataset, encode, factors.reshape(n * batch_size, -1), desc=desc)
    codes = codes.reshape(n, batch_size, -1)
    votes = votes_from_codes(codes, labels, global_variances, active)
    return np.pad(votes, ((0, dataset.n_factors - votes.shape[0]), (0, 0)))


def factor_vae_score(dataset: FactorDataset, encode: Encode, *, seed: int = 0, batch_size: int = 64,
                     n_train: int = 10_000, n_eval: int = 5_000, n_variance: int = 10_000,
                     prune_threshold: float = 0.05) -> dict:
    """FactorVAE score of a representation (Kim & Mnih 2018; conventions in the module doc).

    Args:
        dataset: a dataset with factors.
        encode: images ``(n, C, H, W)`` -> codes ``(n, n_codes)`` (posterior means in the reference).
        seed: seeds the generator of every draw (variance set, training votes, evaluation votes).
        batch_size: images per vote (reference 64; at least 2 for a variance).
        n_train, n_eval: votes to fit and to score the classifier (reference 10,000 / 5,000).
        n_variance: images for the global variances (reference 10,000).
        prune_threshold: minimum standard deviation of a code that votes (reference 0.05).

    Returns:
        ``{"factor_vae_score", "train_accuracy"}`` in [0, 1], ``"n_kept"`` (int) and
        ``"votes"`` (``n_factors x n_codes`` training votes).
    """
    dataset.require_factors("the factor_vae_score metric")
    for name, v in (("n_train", n_train), ("n_eval", n_eval)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v}")
    for name, v in (("batch_size", batch_size), ("n_variance", n_variance)):
        if int(v) != v or v < 2:
            raise ValueError(f"{name} must be an integer >= 2 (a sample variance), got {v}")
    if not np.isfinite(prune_threshold) or prune_threshold < 0:
        raise ValueError(f"prune_threshold must be finite and >= 0, got {prune_threshold}")
    rng = as_generator(seed)
    codes, _ = sample_codes(dataset, encode, int(n_variance), rng, desc="factor_vae_score variance")
    global_variances = codes.astype(np.float64).var(axis=0, ddof=1)
    active = prune_dims(global_variances, threshold=prune_threshold)
    if not active.any():
        return {"factor_vae_score": 0.0, "train_accuracy": 0.0, "n_kept": 0,
                "votes": np.zeros((dataset.n_factors, codes.shape[1]), np.int64).tolist()}
    train_votes = _votes(dataset, encode, int(n_train), rng, int(batch_size), global_variances, active,
                         "factor_vae_score train")
    eval_votes = _votes(dataset, encode, int(n_eval), rng, int(batch_size), global_variances, active,
                        "factor_vae_score eval")
    out = majority_vote_accuracy(train_votes, eval_votes)
    out["n_kept"] = int(active.sum())
    out["votes"] = train_votes.tolist()
    return out


SPEC = MetricSpec(
    name="factor_vae_score", title="FactorVAE score (Kim & Mnih 2018)",
    sampler=factor_vae_score, array=None,
    scores=(
        Score("factor_vae_score",
          "FactorVAE score (Kim & Mnih 2018): majority-vote accuracy naming the fixed "
          "factor from the latent of least normalised variance (held-out votes).",
          "chance (1 / n_factors) to 1, higher = more disentangled", "higher"),
        Score("train_accuracy",
          "FactorVAE score's majority vote on its training votes.",
          "chance (1 / n_factors) to 1", "higher"),
        Score("n_kept",
          "Codes the FactorVAE score lets vote: standard deviation over the data at least "
          "0.05 (the reference's prune_dims; not dislab's active latents, which use the "
          "KL).",
          "0 to n_latents", "count"),
    ),
)
