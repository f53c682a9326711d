"""FactorVAE score (Kim & Mnih 2018): known answers, pruning, hand-computed votes and accuracy."""
from __future__ import annotations

import numpy as np
import pytest

from dislab.errors import DataError
from dislab.metrics.factor_vae_score import (factor_vae_score, majority_vote_accuracy, prune_dims,
                                             votes_from_codes)
from test_metrics_sampling import FactorPixels, Unlabelled, factors_of_images

SMALL = dict(batch_size=16, n_train=300, n_eval=200, n_variance=500)


def noisy(scale):
    def enc(x):
        f = factors_of_images(x)
        return f + scale * np.random.default_rng(int(x.sum() * 7) % 2**32).normal(size=f.shape)
    return enc


def test_identity_scores_one_and_extra_collapsed_code_is_pruned():
    ds = FactorPixels((4, 5, 6))
    out = factor_vae_score(ds, lambda x: np.c_[factors_of_images(x), np.full(x.shape[0], 3.0)],
                           seed=0, **SMALL)
    assert out["factor_vae_score"] == 1.0 and out["train_accuracy"] == 1.0
    assert out["n_kept"] == 3  # the constant 4th code has std 0 < 0.05
    votes = np.array(out["votes"])
    assert votes.shape == (3, 4) and votes[:, 3].sum() == 0
    assert (np.count_nonzero(votes, axis=1) == 1).all()  # each factor always picks one code


def test_no_active_code_gives_documented_zeros():
    ds = FactorPixels((4, 5))
    out = factor_vae_score(ds, lambda x: np.zeros((x.shape[0], 3)), seed=0, **SMALL)
    assert (out["factor_vae_score"], out["train_accuracy"], out["n_kept"]) == (0.0, 0.0, 0)


def test_duplicated_code_and_noise_score_lower():
    ds = FactorPixels((4, 5, 6))
    dup = factor_vae_score(ds, lambda x: factors_of_images(x)[:, [0, 0, 1]], seed=0, **SMALL)
    assert dup["factor_vae_score"] < 0.8  # factor 2 has no code of its own
    noise = factor_vae_score(ds, lambda x: np.random.default_rng(int(x.sum())).normal(size=(x.shape[0], 3)),
                             seed=0, **SMALL)
    assert noise["factor_vae_score"] < 0.6


def test_votes_and_accuracy_hand_computed():
    # 2 examples, batch 3, 2 codes: example 0 (factor 1) has code 0 still; example 1 (factor 0) code 1
    codes = np.array([[[1.0, 0.0], [1.0, 5.0], [1.0, -5.0]],
                      [[0.0, 2.0], [3.0, 2.0], [-3.0, 2.0]]])
    votes = votes_from_codes(codes, np.array([1, 0]), np.array([1.0, 1.0]), np.array([True, True]))
    np.testing.assert_array_equal(votes, [[0, 1], [1, 0]])
    # inactive code 0: every vote goes to code 1
    votes = votes_from_codes(codes, np.array([1, 0]), np.array([1.0, 1.0]), np.array([False, True]))
    np.testing.assert_array_equal(votes, [[0, 1], [0, 1]])
    train = np.array([[8, 1, 0], [2, 5, 0], [0, 4, 3]])
    # classifier: code0 -> f0, code1 -> f1, code2 -> f2; train acc (8 + 5 + 3) / 23
    ev = np.array([[1, 2, 0], [0, 3, 1], [1, 0, 2]])
    out = majority_vote_accuracy(train, ev)
    assert out["train_accuracy"] == pytest.approx(16 / 23) and out["factor_vae_score"] == pytest.approx(6 / 10)
    np.testing.assert_array_equal(prune_dims([0.0, 0.0025, 0.01], threshold=0.05), [False, True, True])


def test_seeded_and_validated():
    ds = FactorPixels((3, 4))
    a = factor_vae_score(ds, noisy(0.3), seed=1, **SMALL)
    assert a == factor_vae_score(ds, noisy(0.3), seed=1, **SMALL)
    with pytest.raises(DataError, match="no ground-truth factors"):
        factor_vae_score(Unlabelled(), factors_of_images, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        factor_vae_score(ds, factors_of_images, seed=0, batch_size=1)
