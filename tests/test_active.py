"""One meaning of "active latent": on a planted model every stage counts the same latents.

The planted model's four latents (dataset: images that hold their own factor indices):

* z0 = factor 0 exactly, posterior variance e^-6: mean KL ~ 3.4 nats -> active;
* z1 = factor 1 / 3 with posterior variance 0.3: mean KL ~ 0.26 nats -> active;
* z2 half-collapsed: a barely moving mean (0.02 * factor 2) and posterior variance 0.76, the
  state of the unused latents of a 2,000-step beta-TC-VAE (docs/metrics.md): mean KL 0.017 nats
  -> inactive at dislab's 0.1 nats (active at the reference UDR's 0.01);
* z3 ignored: q(z3|x) = N(0, 1) = the prior, KL 0 -> inactive.

Expected KL values by hand: KL(N(m, s^2) || N(0, 1)) = ½(m² + s² − log s² − 1), averaged over x.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dislab.metrics.active import ACTIVE_KL_THRESHOLD, active_mask, mean_kl_per_latent, n_active
from dislab.priors.normal import StandardNormal
from test_metrics_sampling import FactorPixels


class Planted(torch.nn.Module):
    latent_levels = (4,)

    def __init__(self):
        super().__init__()
        self.prior = StandardNormal(4)
        self.scale = torch.nn.Parameter(torch.ones(()))  # something to own a device

        class C:
            n_latents = 4

        self.config = C()

    def encode(self, x):
        f = x[:, 0, 0, :].float()  # (n, 3) factor indices
        n = f.shape[0]
        mu = torch.stack([f[:, 0], f[:, 1] / 3, 0.02 * f[:, 2], torch.zeros(n)], dim=1) * self.scale
        logvar = torch.tensor([-6.0, float(np.log(0.3)), float(np.log(0.76)), 0.0]).expand(n, 4)
        return mu, logvar

    def decode_mean(self, z):  # images (n, 1, 1, 3) linear in z0, z1 (for dislab diagnose)
        w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
        return torch.sigmoid(z @ w)[:, None, None, :]


def _by_hand(ds, index):
    f = ds.factors_of(index).astype(np.float64)
    mu = np.c_[f[:, 0], f[:, 1] / 3, 0.02 * f[:, 2], np.zeros(len(f))]
    var = np.array([np.exp(-6.0), 0.3, 0.76, 1.0])
    return (0.5 * (mu ** 2 + var - np.log(var) - 1)).mean(axis=0)


def test_the_definition_by_hand():
    ds, model = FactorPixels((3, 4, 5)), Planted()
    index = np.arange(len(ds))
    mu, logvar = (t.detach().numpy() for t in model.encode(ds.images(index)))
    kl = mean_kl_per_latent(model.prior, mu, logvar)
    np.testing.assert_allclose(kl, _by_hand(ds, index), rtol=1e-5)
    assert kl[2] == pytest.approx(0.0175, abs=0.001) and kl[3] == 0.0
    assert ACTIVE_KL_THRESHOLD == 0.1
    assert active_mask(kl).tolist() == [True, True, False, False] and n_active(kl) == 2
    assert n_active(kl, threshold=0.01) == 3  # the reference UDR's threshold counts the half-collapsed one


def test_every_stage_counts_the_same_latents(tmp_path):
    from dislab.diagnostics.diagnose import diagnose
    from dislab.metrics.irs import irs
    from dislab.metrics.sampling import ModelEncoder, compute_udr, compute_unsupervised, sample_codes
    from dislab.viz.kl import encode_sample, latent_activity

    ds, model = FactorPixels((3, 4, 5)), Planted()
    # the report's KL chart and dislab traverse: latent_activity over encoded inputs
    _, _, mu, logvar = encode_sample(model, ds, 60, seed=0)
    chart = latent_activity(model, mu, logvar)
    assert chart.active.tolist() == [True, True, False, False]
    assert chart.summary() == "2 of 4 latents active (mean KL > 0.1 nats over 60 inputs)"
    # dislab evaluate's unsupervised block: n_active from the model's posterior
    unsup = compute_unsupervised(ds, ModelEncoder(model, progress=False), seed=0, n_train=500)
    assert unsup["n_active"] == 2
    assert unsup["n_active_units"] == 2  # Burda's count: Var(mu) > 0.01 (z2's is 0.0008)
    # UDR's default threshold
    udr = compute_udr(ds, [model, Planted()], seed=0, n_points=200, progress=False)
    assert udr["n_active"] == [2, 2]
    # dislab diagnose
    out = diagnose(model, ds, n_samples=8, n_reference=60, n_neighbours=4, progress=False)
    assert out["summary"]["n_active"] == 2 and out["activity"]["active"] == [0, 1]
    assert out["orthogonality"]["latents"] == [0, 1]
    # the counts that measure something else keep their own names
    assert out["summary"]["n_polarised"] == 2  # posterior variance < 0.5: z0 and z1
    codes, factors = sample_codes(ds, ModelEncoder(model, progress=False), 500, 0)
    assert irs(codes, factors)["num_active_dims"] == 3  # nonzero variance: z2 moves a little
