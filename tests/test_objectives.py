"""The pure loss terms against brute force: closed-form KL against Monte Carlo, Chen et al.'s
decomposition against numerical integration over a tiny dataset's exact q(z), the minibatch
estimators against that exact value, and the DIP, capacity and permutation terms against numpy."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dislab.errors import ConfigError
from dislab.objectives.capacity import capacity_penalty, linear_capacity
from dislab.objectives.dip import aggregate_posterior_covariance, covariance_of_means, dip_penalty
from dislab.objectives.discriminator import density_ratio_tc, discriminator_loss, permute_dims
from dislab.objectives.gaussian_kl import gaussian_kl, gaussian_log_density
from dislab.objectives.total_correlation import (
    kl_decomposition, log_mixture_density, minibatch_log_weights, total_correlation,
)


def _std_normal_log(z):
    return -0.5 * (math.log(2 * math.pi) + z ** 2)


# --- Gaussian KL ---------------------------------------------------------------------------------
def test_analytic_gaussian_kl_matches_monte_carlo():
    g = torch.Generator().manual_seed(0)
    mu = torch.randn(5, 3, generator=g, dtype=torch.float64)
    logvar = torch.randn(5, 3, generator=g, dtype=torch.float64)
    s = 200_000
    z = mu + (0.5 * logvar).exp() * torch.randn(s, 5, 3, generator=g, dtype=torch.float64)
    log_ratio = (gaussian_log_density(z, mu, logvar) - _std_normal_log(z)).sum(-1)  # (s, 5)
    mc, se = log_ratio.mean(0), log_ratio.std(0) / math.sqrt(s)
    exact = gaussian_kl(mu, logvar)
    assert torch.all((mc - exact).abs() < 4 * se + 1e-9), (mc, exact, se)
    assert torch.all(exact > 0)


# --- Chen et al. Eq. 2 over an exactly known q(z) -------------------------------------------------
def _tiny_posteriors(n=24, seed=1):
    """N diagonal Gaussian posteriors in 2-D whose means are correlated across the two dims, so
    the aggregate posterior has a clearly positive total correlation."""
    rng = np.random.default_rng(seed)
    t = rng.normal(size=n)
    mu = np.stack([t, 0.8 * t + 0.4 * rng.normal(size=n)], axis=1)
    logvar = np.log(rng.uniform(0.15, 0.35, size=(n, 2)) ** 2)
    return mu, logvar


def _norm_logpdf(z, mu, logvar):
    return -0.5 * (math.log(2 * math.pi) + logvar + (z - mu) ** 2 / np.exp(logvar))


def _quadrature_decomposition(mu, logvar, half_width=6.0, points=700):
    """MI, TC and dimension-wise KL of q(z) = (1/N) Σ_n q(z|n) by a Riemann sum on a 2-D grid."""
    g = np.linspace(-half_width, half_width, points)
    dz = g[1] - g[0]
    # per-dimension component densities on the grid axis: (N, points)
    log_c = [_norm_logpdf(g[None, :], mu[:, j:j + 1], logvar[:, j:j + 1]) for j in range(2)]
    c = [np.exp(lc) for lc in log_c]
    n = mu.shape[0]
    q_joint = np.einsum("na,nb->ab", c[0], c[1]) / n  # (points, points)
    q_marg = [ci.mean(0) for ci in c]  # q(z_j) on the axis
    with np.errstate(divide="ignore"):
        log_qj = [np.log(np.maximum(m, 1e-300)) for m in q_marg]
        log_q = np.log(np.maximum(q_joint, 1e-300))
    tc = np.sum(q_joint * (log_q - log_qj[0][:, None] - log_qj[1][None, :])) * dz * dz
    dwkl = sum(np.sum(q_marg[j] * (log_qj[j] - _std_normal_log(g))) * dz for j in range(2))
    # MI = E_n ∫ q(z|n) [log q(z|n) − log q(z)] = −E_n H(q(z|n)) − ∫ q log q
    neg_entropy_cond = np.mean(np.sum(-0.5 * (1 + np.log(2 * math.pi) + logvar), axis=1))
    mi = neg_entropy_cond - np.sum(q_joint * log_q) * dz * dz
    return {"mutual_info": mi, "total_correlation": tc, "dimension_wise_kl": dwkl}


@pytest.fixture(scope="module")
def tiny():
    mu, logvar = _tiny_posteriors()
    exact = _quadrature_decomposition(mu, logvar)
    return mu, logvar, exact


def test_decomposition_sums_to_average_kl_for_exact_q(tiny):
    mu, logvar, exact = tiny
    avg_kl = float(gaussian_kl(torch.from_numpy(mu), torch.from_numpy(logvar)).mean())
    total = sum(exact.values())
    assert total == pytest.approx(avg_kl, abs=2e-4)
    assert exact["total_correlation"] > 0.1 and exact["mutual_info"] > 1.0 and exact["dimension_wise_kl"] > 0


def _exact_q_monte_carlo(mu, logvar, samples_per_point, seed):
    """Eq. 2 terms with the exact q(z) (a mixture over every point) at sampled codes."""
    g = torch.Generator().manual_seed(seed)
    mu_t, lv_t = torch.from_numpy(mu), torch.from_numpy(logvar)
    n = mu.shape[0]
    mu_s = mu_t.repeat(samples_per_point, 1)
    lv_s = lv_t.repeat(samples_per_point, 1)
    z = mu_s + (0.5 * lv_s).exp() * torch.randn(mu_s.shape, generator=g, dtype=torch.float64)
    log_w = torch.full((1, n), -math.log(n), dtype=torch.float64)
    log_qz, log_qzj = log_mixture_density(z, mu_t, lv_t, log_w)
    log_qzx = gaussian_log_density(z, mu_s, lv_s).sum(1)
    return {"mutual_info": float((log_qzx - log_qz).mean()),
            "total_correlation": float((log_qz - log_qzj.sum(1)).mean()),
            "dimension_wise_kl": float((log_qzj.sum(1) - _std_normal_log(z).sum(1)).mean())}


def test_exact_mixture_monte_carlo_matches_quadrature(tiny):
    mu, logvar, exact = tiny
    mc = _exact_q_monte_carlo(mu, logvar, samples_per_point=4000, seed=0)
    for k in exact:
        assert mc[k] == pytest.approx(exact[k], abs=0.03), k


def _batch_estimates(mu, logvar, batch, estimator, repeats, seed):
    """Mean over random batches (drawn without replacement) of each minibatch estimate."""
    rng = np.random.default_rng(seed)
    g = torch.Generator().manual_seed(seed)
    n = mu.shape[0]
    sums = {"mutual_info": 0.0, "total_correlation": 0.0, "dimension_wise_kl": 0.0}
    for _ in range(repeats):
        idx = rng.choice(n, size=batch, replace=False)
        m, lv = torch.from_numpy(mu[idx]), torch.from_numpy(logvar[idx])
        z = m + (0.5 * lv).exp() * torch.randn(m.shape, generator=g, dtype=torch.float64)
        parts = kl_decomposition(z, m, lv, _std_normal_log(z), estimator=estimator, dataset_size=n)
        for k in sums:
            sums[k] += float(parts[k].mean()) / repeats
    return sums


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_minibatch_estimators_bias_shrinks_with_batch_size(tiny, estimator):
    mu, logvar, exact = tiny
    n = mu.shape[0]
    bias = {}
    for batch in (4, 12, n):
        est = _batch_estimates(mu, logvar, batch, estimator, repeats=3000 // batch, seed=batch)
        bias[batch] = {k: abs(est[k] - exact[k]) for k in exact}
    for k in ("mutual_info", "total_correlation"):
        assert bias[4][k] > bias[12][k] > bias[n][k], (estimator, k, bias)
    # with the whole dataset as the batch both estimators are the exact q(z): only MC noise is left
    assert all(b < 0.05 for b in bias[n].values()), bias[n]
    # and at a small batch the bias is real (measured: MI off by 0.68 nats for MWS, 0.40 for MSS)
    assert bias[4]["mutual_info"] > 0.2


def test_mss_estimates_mutual_info_with_less_bias_than_mws(tiny):
    # measured on this dataset at batch 6: MI bias −0.45 nats (MWS) vs +0.29 (MSS); the TC biases
    # are alike (≈ 0.1), so only MI is compared
    mu, logvar, exact = tiny
    mws = _batch_estimates(mu, logvar, 6, "mws", repeats=400, seed=3)
    mss = _batch_estimates(mu, logvar, 6, "mss", repeats=400, seed=3)
    k = "mutual_info"
    assert abs(mss[k] - exact[k]) < 0.8 * abs(mws[k] - exact[k]), (mss, mws, exact)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_terms_telescope_to_the_one_sample_kl(estimator):
    g = torch.Generator().manual_seed(4)
    mu, logvar = torch.randn(16, 5, generator=g), torch.randn(16, 5, generator=g) - 1
    z = mu + (0.5 * logvar).exp() * torch.randn(16, 5, generator=g)
    parts = kl_decomposition(z, mu, logvar, _std_normal_log(z), estimator=estimator, dataset_size=100)
    one_sample_kl = (gaussian_log_density(z, mu, logvar) - _std_normal_log(z)).sum(1)
    torch.testing.assert_close(sum(parts.values()), one_sample_kl, atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(parts["total_correlation"],
                               total_correlation(z, mu, logvar, estimator=estimator, dataset_size=100))


def test_mws_differs_from_reference_convention_by_known_constant():
    """disentanglement_lib's total_correlation drops the constants; ours adds (D − 1) log M."""
    g = torch.Generator().manual_seed(5)
    m, d = 32, 4
    mu, logvar = torch.randn(m, d, generator=g), torch.randn(m, d, generator=g)
    z = mu + (0.5 * logvar).exp() * torch.randn(m, d, generator=g)
    log_q = gaussian_log_density(z[:, None], mu[None], logvar[None])  # (M, M, D)
    reference = (torch.logsumexp(log_q.sum(2), 1) - torch.logsumexp(log_q, 1).sum(1)).mean()
    ours = total_correlation(z, mu, logvar, estimator="mws").mean()
    assert float(ours - reference) == pytest.approx((d - 1) * math.log(m), abs=1e-4)


def test_estimator_weights_rows_sum_to_one_and_errors_are_clear():
    for est in ("mws", "mss"):
        w = minibatch_log_weights(7, estimator=est, dataset_size=50, dtype=torch.float64).exp()
        torch.testing.assert_close(w.sum(1), torch.ones(7, dtype=torch.float64))
    w = minibatch_log_weights(5, estimator="mss", dataset_size=5, dtype=torch.float64).exp()
    torch.testing.assert_close(w, torch.full((5, 5), 0.2, dtype=torch.float64))  # M = N: exact
    with pytest.raises(ConfigError, match="needs the dataset size"):
        minibatch_log_weights(4, estimator="mss")
    with pytest.raises(ConfigError, match="unknown total-correlation estimator 'x'"):
        minibatch_log_weights(4, estimator="x")


# --- capacity, DIP, FactorVAE permutation ------------------------------------------------------
@pytest.mark.parametrize("step, expected", [(0, 0.0), (1, 25e-5), (50_000, 12.5), (100_000, 25.0),
                                            (300_000, 25.0)])
def test_linear_capacity_at_chosen_steps(step, expected):
    assert linear_capacity(step, 25.0, 100_000) == pytest.approx(expected)


def test_capacity_penalty_and_bad_threshold():
    assert float(capacity_penalty(torch.tensor(30.0), 25.0, 1000.0)) == pytest.approx(5000.0)
    assert float(capacity_penalty(torch.tensor(20.0), 25.0, 2.0)) == pytest.approx(10.0)
    with pytest.raises(ConfigError, match="iteration_threshold"):
        linear_capacity(10, 5.0, 0)


def _np_dip(cov, lod, ld):
    off = cov - np.diag(np.diag(cov))
    return lod * np.sum(off ** 2), ld * np.sum((np.diag(cov) - 1) ** 2)


def test_dip_penalties_against_numpy():
    rng = np.random.default_rng(6)
    mu = rng.normal(size=(40, 4)) @ rng.normal(size=(4, 4))
    logvar = rng.normal(size=(40, 4)) * 0.5
    cov_i = np.cov(mu, rowvar=False, bias=True)
    cov_ii = cov_i + np.diag(np.exp(logvar).mean(0))
    mu_t, lv_t = torch.from_numpy(mu), torch.from_numpy(logvar)
    np.testing.assert_allclose(covariance_of_means(mu_t).numpy(), cov_i, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(aggregate_posterior_covariance(mu_t, lv_t).numpy(), cov_ii, rtol=1e-10)
    for cov_t, cov in ((covariance_of_means(mu_t), cov_i), (aggregate_posterior_covariance(mu_t, lv_t), cov_ii)):
        p = dip_penalty(cov_t, 2.0, 20.0)
        od, d = _np_dip(cov, 2.0, 20.0)
        assert float(p["off_diagonal"]) == pytest.approx(od, rel=1e-10)
        assert float(p["diagonal"]) == pytest.approx(d, rel=1e-10)
        assert od > 0.1 and d > 0.1
    eye = dip_penalty(torch.eye(3), 1.0, 1.0)
    assert float(eye["off_diagonal"]) == 0.0 and float(eye["diagonal"]) == 0.0


def test_permute_dims_keeps_marginals_and_breaks_dependence():
    g = torch.Generator().manual_seed(7)
    a = torch.randn(4000, generator=g)
    z = torch.stack([a, a, -a, a ** 2], dim=1)  # four fully dependent dimensions
    zp = permute_dims(z, generator=g)
    for j in range(z.shape[1]):  # each column is a rearrangement of the same values
        torch.testing.assert_close(zp[:, j].sort().values, z[:, j].sort().values, rtol=0, atol=0)
    corr = np.corrcoef(zp.numpy(), rowvar=False)
    assert np.all(np.abs(corr[np.triu_indices(4, 1)]) < 0.06), corr
    assert abs(np.corrcoef(z.numpy(), rowvar=False)[0, 1]) > 0.99


def test_density_ratio_tc_and_discriminator_loss():
    logits = torch.tensor([[2.0, 0.5], [0.0, 1.0]])
    torch.testing.assert_close(density_ratio_tc(logits), torch.tensor([1.5, -1.0]))
    chance = torch.zeros(6, 2)
    assert float(discriminator_loss(chance, chance)) == pytest.approx(math.log(2))
    sure = torch.tensor([[10.0, -10.0]])
    assert float(discriminator_loss(sure, -sure)) < 1e-6
