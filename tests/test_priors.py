"""Priors: densities integrate to one (1-D and 2-D grids), marginals are the joint's marginals,
samples have the density's moments, the Monte Carlo KL is unbiased, VampPrior keeps its encoder
without owning it."""
from __future__ import annotations

import types

import numpy as np
import pytest
import torch
from torch import nn

from dislab.errors import ConfigError
from dislab.priors import PRIORS
from dislab.priors.base import BlockProduct


class _TinyEncoderModel(nn.Module):
    """Stands in for a model: encodes (1, 2, 2) images linearly to (mu, logvar) of ``n`` latents."""

    def __init__(self, n: int):
        super().__init__()
        self.config = types.SimpleNamespace(observation_shape=(1, 2, 2))
        self.lin = nn.Linear(4, 2 * n)
        self.n = n

    def encode(self, x):
        h = self.lin(x.flatten(1))
        return 2.0 * h[:, : self.n], 0.6 * torch.tanh(h[:, self.n:]) - 0.5


def _make(name: str, d: int, seed: int = 0):
    """A prior of each kind with random (not initial) parameters, so the checks are not trivial."""
    torch.manual_seed(seed)
    if name == "mog_per_dim":
        prior = PRIORS.get("mog")(d, n_components=3, per_dimension=True)
    else:
        prior = PRIORS.get(name)(d, **({"n_components": 3} if name in ("mog", "vamp") else {}))
    with torch.no_grad():
        for p in prior.parameters():
            p.add_(0.4 * torch.randn_like(p))
    if name == "vamp":
        model = _TinyEncoderModel(d)
        prior.attach(model)
        with torch.no_grad():
            prior.pseudo_inputs.uniform_(0, 1)
        prior._keep = model  # a submodule in this test only, so .double() converts the stand-in too
    return prior


KINDS = ["normal", "mog", "mog_per_dim", "vamp", "flow"]
LIM, N_GRID = 10.0, 401


def _grid_density(prior, d):
    t = torch.linspace(-LIM, LIM, N_GRID, dtype=torch.float64)
    if d == 1:
        pts = t[:, None]
    else:
        a, b = torch.meshgrid(t, t, indexing="ij")
        pts = torch.stack([a.flatten(), b.flatten()], dim=1)
    with torch.no_grad():
        dens = prior.double().log_prob(pts).exp().reshape((N_GRID,) * d).numpy()
    prior.float()
    return t.numpy(), dens


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.parametrize("d", [1, 2])
def test_density_integrates_to_one(name, d):
    prior = _make(name, d)
    t, dens = _grid_density(prior, d)
    total = np.trapezoid(dens, t) if d == 1 else np.trapezoid(np.trapezoid(dens, t, axis=1), t)
    assert total == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("name", KINDS)
def test_marginals_are_the_joints_marginals_and_samples_have_its_moments(name):
    prior = _make(name, 2)
    t, dens = _grid_density(prior, 2)  # dens[i, j] = p(t_i, t_j)
    marg0 = np.trapezoid(dens, t, axis=1)  # p(z_0)
    with torch.no_grad():
        pts = torch.stack([torch.tensor(t), torch.zeros(len(t), dtype=torch.float64)], 1)
        got = prior.double().marginal_log_prob(pts)[:, 0].exp().numpy()
    prior.float()
    np.testing.assert_allclose(got, marg0, atol=2e-4)
    # moments of the density by quadrature vs. moments of 100k samples
    a, b = np.meshgrid(t, t, indexing="ij")
    w = dens * (t[1] - t[0]) ** 2
    mean = np.array([(w * a).sum(), (w * b).sum()])
    cov = np.array([[(w * (a - mean[0]) ** 2).sum(), (w * (a - mean[0]) * (b - mean[1])).sum()],
                    [0.0, (w * (b - mean[1]) ** 2).sum()]])
    cov[1, 0] = cov[0, 1]
    z = prior.sample(100_000, torch.Generator().manual_seed(1)).double().numpy()
    assert z.shape == (100_000, 2)
    scale = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(z.mean(0), mean, atol=0.02 * scale.max() + 0.01)
    np.testing.assert_allclose(np.cov(z.T), cov, atol=0.03 * cov.diagonal().max() + 0.01)


@pytest.mark.parametrize("name", ["normal", "mog_per_dim", "flow"])
def test_factorised_priors_sum_their_marginals(name):
    prior = _make(name, 3)
    assert prior.factorised
    z = torch.randn(7, 3) * 2
    torch.testing.assert_close(prior.log_prob(z), prior.marginal_log_prob(z).sum(-1))


def test_mixtures_say_they_are_not_factorised():
    assert not _make("mog", 2).factorised and not _make("vamp", 2).factorised
    assert not PRIORS.get("mog").analytic_kl and not PRIORS.get("vamp").analytic_kl
    assert PRIORS.get("normal").analytic_kl and not PRIORS.get("flow").analytic_kl
    assert _make("mog", 2).estimator_terms()["kl_monte_carlo"] == 1.0


@pytest.mark.parametrize("name", ["mog", "flow"])
def test_monte_carlo_kl_is_unbiased(name):
    """E_{z~q}[log q(z) − log p(z)] against KL(q || p) by quadrature in 1-D."""
    prior = _make(name, 1)
    mu, logvar = torch.tensor([[0.7]]), torch.tensor([[-0.8]])
    n = 400_000
    torch.manual_seed(3)
    z = mu + (0.5 * logvar).exp() * torch.randn(n, 1)
    with torch.no_grad():
        mc = prior.kl(mu.expand(n, 1), logvar.expand(n, 1), z).mean().item()
    t = torch.linspace(-LIM, LIM, 20001, dtype=torch.float64)[:, None]
    with torch.no_grad():
        log_q = (-0.5 * (np.log(2 * np.pi) + logvar.double() + (t - mu.double()) ** 2 / logvar.double().exp()))[:, 0]
        log_p = prior.double().log_prob(t)
    exact = np.trapezoid((log_q.exp() * (log_q - log_p)).numpy(), t[:, 0].numpy())
    assert mc == pytest.approx(exact, abs=0.01)


def test_flow_inverse_and_initial_closeness_to_normal():
    prior = _make("flow", 4)
    z = torch.randn(100, 4) * 3
    u, _ = prior.forward_transform(z)
    torch.testing.assert_close(prior.inverse(u), z, atol=1e-5, rtol=0)
    # at initialisation the prior is close to N(0, I) where N(0, I) has its mass
    z = torch.randn(1000, 4)
    gap = PRIORS.get("flow")(4).marginal_log_prob(z) - PRIORS.get("normal")(4).marginal_log_prob(z)
    assert gap.abs().mean() < 0.2


def test_vamp_is_the_mixture_of_posteriors_and_does_not_own_the_encoder():
    prior = _make("vamp", 2)
    model = prior._keep
    mu, logvar = model.encode(prior.pseudo_inputs.clamp(0, 1))
    z = torch.randn(5, 2)
    comps = torch.distributions.Normal(mu, (0.5 * logvar).exp())
    brute = torch.logsumexp(comps.log_prob(z[:, None]).sum(-1), dim=1) - np.log(3)
    torch.testing.assert_close(prior.log_prob(z), brute)
    del prior._keep
    assert set(prior.state_dict()) == {"pseudo_inputs"}  # the encoder is not saved with the prior
    # gradients reach both the pseudo-inputs and the encoder
    prior.log_prob(z).sum().backward()
    assert prior.pseudo_inputs.grad.abs().sum() > 0 and model.lin.weight.grad.abs().sum() > 0


def test_vamp_unattached_and_bad_options_are_clear():
    with pytest.raises(RuntimeError, match="not attached"):
        PRIORS.get("vamp")(2).log_prob(torch.zeros(1, 2))
    with pytest.raises(ConfigError, match="n_components"):
        PRIORS.get("mog")(2, n_components=0)
    with pytest.raises(ConfigError, match="block"):
        PRIORS.get("vamp")(2, block=(0, 3))


def test_block_product_sums_blocks_and_points_vamp_at_its_columns():
    model = _TinyEncoderModel(5)
    torch.manual_seed(0)
    parts = [PRIORS.get("normal")(2), PRIORS.get("vamp")(3, n_components=4)]
    prod = BlockProduct(parts)
    prod.attach(model)
    assert parts[1].block == (2, 5) and prod.sizes == (2, 3) and not prod.factorised
    z, mu, logvar = torch.randn(6, 5), torch.randn(6, 5), torch.randn(6, 5) * 0.1
    torch.testing.assert_close(prod.log_prob(z), parts[0].log_prob(z[:, :2]) + parts[1].log_prob(z[:, 2:]))
    kls = prod.kl_blocks(mu, logvar, z)
    torch.testing.assert_close(kls[0], parts[0].kl(mu[:, :2], logvar[:, :2]))
    torch.testing.assert_close(prod.kl(mu, logvar, z), kls[0] + kls[1])
    enc_mu, _ = model.encode(parts[1].pseudo_inputs.clamp(0, 1))
    torch.testing.assert_close(parts[1]._posteriors()[0], enc_mu[:, 2:])
    assert prod.sample(9, torch.Generator().manual_seed(0)).shape == (9, 5)
