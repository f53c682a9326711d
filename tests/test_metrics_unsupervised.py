"""Unsupervised scores: Gaussian total correlation, Wasserstein correlation, MI between codes,
active units — closed forms on Gaussians, brute force, and the constant / duplicated code cases."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from dislab.metrics.mig import histogram_discretize
from dislab.metrics.unsupervised import (gaussian_total_correlation, gaussian_wasserstein_correlation,
                                         mutual_info_between_codes, n_active_latents,
                                         unsupervised_metrics)


def test_total_correlation_closed_form_for_correlated_pair():
    g = np.random.default_rng(0)
    rho = 0.8
    cov = np.array([[1, rho], [rho, 1]])
    z = g.multivariate_normal([0, 0], cov, size=200_000)
    # TC of a bivariate Gaussian = mutual information = -1/2 log(1 - rho^2)
    assert gaussian_total_correlation(z) == pytest.approx(-0.5 * np.log(1 - rho**2), rel=0.01)
    # scale-free: rescaling a code changes nothing
    assert gaussian_total_correlation(z * [5.0, 0.1]) == pytest.approx(gaussian_total_correlation(z))


def test_total_correlation_constant_and_duplicated_codes():
    g = np.random.default_rng(1)
    z = g.normal(size=(5000, 3))
    with_constant = np.c_[z, np.full(5000, 2.0)]
    assert gaussian_total_correlation(with_constant) == pytest.approx(gaussian_total_correlation(z))
    assert gaussian_total_correlation(np.ones((10, 3))) == 0.0
    assert gaussian_total_correlation(np.c_[z, z[:, 0]]) == np.inf  # documented: never NaN


def test_wasserstein_correlation_hand_value():
    # diag(cov) = (1, 1), rho: W2^2 = 2 tr C - 2 tr sqrt(C) = 4 - 2 (sqrt(1+rho) + sqrt(1-rho))
    g = np.random.default_rng(2)
    rho = 0.6
    z = g.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=200_000)
    c = np.cov(z, rowvar=False)
    eig = np.linalg.eigvalsh(c)
    expected = 2 * np.trace(c) - 2 * np.sqrt(eig).sum()  # D = I approx: sqrt(D^½ C D^½) ~ sqrt(C)
    out = gaussian_wasserstein_correlation(z)
    assert out["gaussian_wasserstein_correlation"] == pytest.approx(expected, rel=0.02)
    assert out["gaussian_wasserstein_correlation"] == pytest.approx(
        4 - 2 * (np.sqrt(1 + rho) + np.sqrt(1 - rho)), rel=0.03)
    assert gaussian_wasserstein_correlation(np.ones((5, 2)))["gaussian_wasserstein_correlation_norm"] == 0.0


def test_mutual_info_matches_sklearn_pair_by_pair():
    g = np.random.default_rng(3)
    z = g.normal(size=(3000, 4))
    z[:, 1] = z[:, 0] + 0.3 * g.normal(size=3000)
    out = mutual_info_between_codes(z)
    b = histogram_discretize(z, 20)
    brute = np.array([[mutual_info_score(b[:, i], b[:, j]) if i != j else 0.0 for j in range(4)]
                      for i in range(4)])
    np.testing.assert_allclose(out["mutual_info_matrix"], brute, atol=1e-12)
    assert out["mutual_info_score"] == pytest.approx(brute.sum() / 12)
    assert mutual_info_between_codes(z[:, :1])["mutual_info_score"] == 0.0


def test_active_latents_and_bundle():
    g = np.random.default_rng(4)
    z = np.c_[g.normal(size=(1000, 2)), 0.05 * g.normal(size=1000), np.zeros(1000)]
    assert n_active_latents(z) == 2  # variances 1, 1, 0.0025, 0
    # two different counts under two names: Burda et al.'s active units (variance > 0.01) and
    # dislab's active latents (mean KL > 0.1 nats; the third latent's 0.05 nats is below it)
    out = unsupervised_metrics(z, kl=[1.0, 0.5, 0.05, 0.0])
    assert out["n_active_units"] == 2 and out["n_active"] == 2
    assert unsupervised_metrics(z, kl=[1.0, 0.5, 0.2, 0.0])["n_active"] == 3
    assert "n_active" not in unsupervised_metrics(z)  # no KL, no count of active latents
    assert set(out) >= {"gaussian_total_correlation", "gaussian_wasserstein_correlation",
                        "gaussian_wasserstein_correlation_norm", "mutual_info_score"}
    assert all(np.isfinite(v) for k, v in out.items() if not isinstance(v, list))
    with pytest.raises(ValueError, match="NaN"):
        unsupervised_metrics(np.array([[np.nan, 1.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="kl"):
        unsupervised_metrics(z, kl=[1.0])
