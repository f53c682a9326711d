"""BetaVAE score (Higgins et al. 2017): known answers on a dataset whose images are their factors,
the classifier core against scikit-learn directly, and the documented edge cases."""
from __future__ import annotations

import numpy as np
import pytest

from dislab.errors import DataError
from dislab.metrics.beta_vae_score import beta_vae_accuracy, beta_vae_examples, beta_vae_score
from test_metrics_sampling import FactorPixels, Unlabelled, factors_of_images

SMALL = dict(batch_size=16, n_train=300, n_eval=200)


def test_identity_representation_scores_one():
    ds = FactorPixels((4, 5, 6))
    out = beta_vae_score(ds, factors_of_images, seed=0, **SMALL)
    assert out["beta_vae_score"] == 1.0 and out["train_accuracy"] == 1.0


def test_constant_representation_is_chance_and_random_is_low():
    ds = FactorPixels((4, 5, 6))
    const = beta_vae_score(ds, lambda x: np.zeros((x.shape[0], 3)), seed=0, **SMALL)
    # all features 0: one class predicted for everything -> the frequency of that class (~1/3)
    assert 0.2 < const["beta_vae_score"] < 0.45
    noise = beta_vae_score(ds, lambda x: np.random.default_rng(int(x.sum())).normal(size=(x.shape[0], 3)),
                           seed=0, **SMALL)
    assert noise["beta_vae_score"] < 0.5


def test_duplicated_code_of_one_factor_loses_the_others():
    # codes (f0, f0, f0): fixing f1 or f2 looks the same -> at most f0 is recognised (~2/3 best)
    ds = FactorPixels((4, 5, 6))
    out = beta_vae_score(ds, lambda x: factors_of_images(x)[:, [0, 0, 0]], seed=0, **SMALL)
    assert out["beta_vae_score"] < 0.75


def test_examples_fix_the_labelled_factor():
    ds = FactorPixels((3, 4, 5))
    feats, labels = beta_vae_examples(ds, factors_of_images, 50, np.random.default_rng(0), batch_size=8)
    assert feats.shape == (50, 3) and labels.shape == (50,)
    # with codes = factors, the fixed factor's feature (mean |difference|) is exactly 0
    np.testing.assert_array_equal(feats[np.arange(50), labels], 0.0)
    assert (feats.sum(1) > 0).all()


def test_classifier_core_equals_sklearn():
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    g = np.random.default_rng(1)
    x = g.gamma(2, size=(600, 4))
    y = g.integers(0, 3, 600)
    x[np.arange(600), y] *= 0.5
    xtr, ytr, xev, yev = x[:400], y[:400], x[400:], y[400:]
    mine = beta_vae_accuracy(xtr, ytr, xev, yev)
    ref = OneVsRestClassifier(LogisticRegression(solver="liblinear")).fit(xtr, ytr)
    assert mine["beta_vae_score"] == ref.score(xev, yev)
    assert mine["train_accuracy"] == ref.score(xtr, ytr)
    ref2 = LogisticRegression().fit(xtr, ytr)  # today's defaults: lbfgs, multinomial
    assert beta_vae_accuracy(xtr, ytr, xev, yev, solver="lbfgs")["beta_vae_score"] == ref2.score(xev, yev)


def test_seeded_and_validated():
    ds = FactorPixels((3, 4))
    enc = lambda x: factors_of_images(x) + np.random.default_rng(int(x.sum())).normal(size=(x.shape[0], 2))  # noqa: E731
    a = beta_vae_score(ds, enc, seed=3, **SMALL)
    assert a == beta_vae_score(ds, enc, seed=3, **SMALL)
    with pytest.raises(DataError, match="no ground-truth factors"):
        beta_vae_score(Unlabelled(), factors_of_images, seed=0)
    with pytest.raises(DataError, match="at least 2 factors"):
        beta_vae_score(FactorPixels((5,)), factors_of_images, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        beta_vae_score(ds, enc, seed=0, batch_size=0)
    with pytest.raises(ValueError, match="solver"):
        beta_vae_accuracy(np.ones((2, 1)), [0, 1], np.ones((2, 1)), [0, 1], solver="newton")
