"""Every model through one contract table, the special cases that must reduce to the VAE exactly,
the model-specific terms against the pure objectives, the networks' shapes, and a learning test."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from dislab.errors import ConfigError
from dislab.models import MODELS, build_model
from dislab.models.base import config_from_dict, config_to_dict
from dislab.nn import DECODERS, ENCODERS
from dislab.objectives.dip import aggregate_posterior_covariance, covariance_of_means, dip_penalty
from dislab.objectives.gaussian_kl import gaussian_log_density
from dislab.priors.normal import StandardNormal


def _train_step(model, x, step=0):
    """One step of the trainer itself (:func:`dislab.training.fit.training_step`, with the
    optimizers :func:`~dislab.training.fit.build_optimizers` makes for the model's groups);
    returns ``{term: value}`` as the trainer logs them."""
    from dislab.training import TrainConfig
    from dislab.training.fit import build_optimizers, training_step

    groups, optimizers = build_optimizers(model, TrainConfig(lr=1e-3))
    names, values = training_step(model, x, step, groups, optimizers)
    return dict(zip(names, values.tolist()))


def _batch(shape, n=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand((n, *shape), generator=g)


# --- the contract table ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(3, 64, 64), (1, 64, 64)], ids=["rgb", "grey"])
@pytest.mark.parametrize("name", MODELS.names())
def test_model_contract(name, shape, tmp_path):
    cls = MODELS.get(name)  # a registered name whose module is missing or broken fails here
    torch.manual_seed(0)
    model = cls(cls.config_class(observation_shape=shape, dataset_size=1024))
    x = _batch(shape)

    # groups partition the parameters
    groups = model.optimizer_groups()
    assert "model" in groups
    ids = [id(p) for ps in groups.values() for p in ps]
    assert len(ids) == len(set(ids)) == len([p for p in model.parameters() if p.requires_grad])

    # one optimisation step: finite loss and named terms, and every group's weights move
    before = {g: [p.detach().clone() for p in ps] for g, ps in groups.items()}
    logged = _train_step(model, x, step=1)
    assert {"loss", "reconstruction", "kl"} <= set(logged) and all(math.isfinite(v) for v in logged.values())
    for g, ps in groups.items():
        assert any(not torch.equal(a, p.detach()) for a, p in zip(before[g], ps)), f"group {g!r} did not move"

    # save (safetensors + JSON config) and load into a fresh model: identical outputs in eval mode
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp_path / "model.safetensors")
    (tmp_path / "config.json").write_text(json.dumps(config_to_dict(model.config)))
    fresh = cls(config_from_dict(cls.config_class, json.loads((tmp_path / "config.json").read_text())))
    fresh.load_state_dict(load_file(tmp_path / "model.safetensors"))
    assert fresh.config == model.config
    model.eval(), fresh.eval()
    with torch.no_grad():
        (m1, v1), (m2, v2) = model.encode(x), fresh.encode(x)
        assert m1.shape == v1.shape and m1.shape[0] == x.shape[0]
        assert torch.equal(m1, m2) and torch.equal(v1, v2)
        d1 = model.decode_mean(m1)  # the posterior-mean path
        assert d1.shape == x.shape and torch.equal(d1, fresh.decode_mean(m2))
        torch.manual_seed(3)
        l1 = model(x, 5).loss
        torch.manual_seed(3)
        l2 = fresh(x, 5).loss
    assert torch.isfinite(l1) and torch.equal(l1, l2)


# --- special cases that must be the VAE ----------------------------------------------------------
def _same_weights(a, b):
    b.load_state_dict(a.state_dict(), strict=False)
    return b


def test_beta_vae_with_beta_one_equals_vae_exactly():
    torch.manual_seed(0)
    vae = build_model("vae")
    beta = _same_weights(vae, build_model("beta_vae", beta=1.0))
    x = _batch((1, 64, 64))
    torch.manual_seed(1)
    a = vae(x)
    torch.manual_seed(1)
    b = beta(x)
    assert torch.equal(a.loss, b.loss)
    beta4 = _same_weights(vae, build_model("beta_vae", beta=4.0))
    torch.manual_seed(1)
    c = beta4(x)
    expected = a.terms["reconstruction"] + 4 * a.terms["kl"]
    assert float(c.loss.detach()) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("estimator", ["mws", "mss"])
def test_beta_tcvae_with_unit_weights_is_the_vae_objective(estimator):
    torch.manual_seed(0)
    vae = build_model("vae", observation_shape=(3, 64, 64))
    tc = _same_weights(vae, build_model("beta_tcvae", observation_shape=(3, 64, 64), alpha=1.0, beta=1.0,
                                        gamma=1.0, estimator=estimator, dataset_size=1024))
    x = _batch((3, 64, 64), n=32)
    torch.manual_seed(1)
    a = vae(x)
    torch.manual_seed(1)
    b = tc(x)
    torch.testing.assert_close(b.loss, a.loss)
    # with a posterior far from the prior (KL ≈ 25 nats) the three estimated terms add up to the
    # one-sample KL exactly and to the closed-form KL up to Monte Carlo noise
    with torch.no_grad():
        tc.encoder.mean.bias.copy_(2.0 * torch.randn(10))
        tc.encoder.logvar.bias.fill_(-2.0)
        out = tc(x)
        total = out.terms["mutual_info"] + out.terms["total_correlation"] + out.terms["dimension_wise_kl"]
        one_sample = (gaussian_log_density(out.z, out.mu, out.logvar)
                      + 0.5 * (math.log(2 * math.pi) + out.z ** 2)).sum(1).mean()
    assert float(out.terms["kl"]) > 10
    torch.testing.assert_close(total, one_sample, atol=1e-3, rtol=1e-5)
    assert abs(float(total - out.terms["kl"])) < 0.1 * float(out.terms["kl"])


def test_beta_tcvae_weights_its_terms():
    torch.manual_seed(0)
    model = build_model("beta_tcvae", alpha=2.0, beta=6.0, gamma=3.0)
    torch.manual_seed(1)
    out = model(_batch((1, 64, 64), n=16))
    t = out.terms
    expected = (t["reconstruction"] + t["kl"] + 1.0 * t["mutual_info"] + 5.0 * t["total_correlation"]
                + 2.0 * t["dimension_wise_kl"])
    torch.testing.assert_close(out.loss.detach(), expected)


def test_beta_tcvae_refuses_what_it_cannot_estimate():
    with pytest.raises(ConfigError, match="dataset_size"):
        build_model("beta_tcvae", estimator="mss")
    with pytest.raises(ConfigError, match=r"beta_tcvae: estimator must be one of \['mws', 'mss'\], got 'iwae'"):
        build_model("beta_tcvae", estimator="iwae")

    class Joint(StandardNormal):
        factorised = False

    cls = MODELS.get("beta_tcvae")
    with pytest.raises(ConfigError, match="factorised prior"):
        cls(cls.config_class(), prior=Joint(10))


# --- model-specific terms -----------------------------------------------------------------------
@pytest.mark.parametrize("step, capacity", [(0, 0.0), (25_000, 6.25), (100_000, 25.0), (250_000, 25.0)])
def test_annealed_vae_capacity_at_chosen_steps(step, capacity):
    torch.manual_seed(0)
    model = build_model("annealed_vae", c_max=25.0, iteration_threshold=100_000, gamma=1000.0)
    out = model(_batch((1, 64, 64)), step)
    assert float(out.terms["capacity"]) == pytest.approx(capacity)
    expected = out.terms["reconstruction"] + 1000.0 * (out.terms["kl"] - capacity).abs()
    assert float(out.loss.detach()) == pytest.approx(float(expected), rel=1e-6)


@pytest.mark.parametrize("name, ratio, cov_fn", [("dip_vae_i", 10.0, lambda o: covariance_of_means(o.mu)),
                                                 ("dip_vae_ii", 1.0, lambda o: aggregate_posterior_covariance(o.mu, o.logvar))])
def test_dip_vae_penalties_use_the_reference_ties(name, ratio, cov_fn):
    torch.manual_seed(0)
    model = build_model(name, lambda_od=2.0)
    out = model(_batch((1, 64, 64), n=16))
    p = dip_penalty(cov_fn(out).detach(), 2.0, 2.0 * ratio)
    torch.testing.assert_close(out.terms["dip_off_diagonal"], p["off_diagonal"])
    torch.testing.assert_close(out.terms["dip_diagonal"], p["diagonal"])
    torch.testing.assert_close(out.loss.detach(), out.terms["reconstruction"] + out.terms["kl"]
                               + p["off_diagonal"] + p["diagonal"])
    explicit = build_model(name, lambda_od=2.0, lambda_d=7.0)
    explicit.load_state_dict(model.state_dict())
    assert float(explicit(_batch((1, 64, 64), n=16)).terms["dip_diagonal"]) == pytest.approx(
        float(p["diagonal"]) * 7.0 / (2.0 * ratio), rel=1e-5)


def test_factor_vae_discriminator_is_trained_apart():
    torch.manual_seed(0)
    model = build_model("factor_vae", gamma=10.0)
    assert model.optimizer_options() == {"discriminator": {"lr": 1e-4, "betas": (0.5, 0.9)}}
    n_disc = sum(p.numel() for p in model.optimizer_groups()["discriminator"])
    assert n_disc == 10 * 1000 + 5 * 1000 * 1000 + 1000 * 2 + 6 * 1000 + 2  # 6 × 1000 → 2 logits
    out = model(_batch((1, 64, 64), n=16))
    # the discriminator's loss reaches no encoder or decoder weight
    enc = list(model.encoder.parameters())
    assert all(g is None for g in torch.autograd.grad(out.aux_losses["discriminator"], enc,
                                                       retain_graph=True, allow_unused=True))
    # the VAE's loss carries γ · TC: its gradient reaches the encoder through the discriminator
    rest = out.terms["reconstruction"] + out.terms["kl"] + 10.0 * out.terms["total_correlation"]
    torch.testing.assert_close(out.loss.detach(), rest)
    with pytest.raises(ConfigError, match="at least 2"):
        model(_batch((1, 64, 64), n=1))


# --- networks -----------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["conv64", "burgess64", "mlp", "mlp_small"])
@pytest.mark.parametrize("channels", [1, 3])
def test_networks_shapes(key, channels):
    enc, dec = ENCODERS.get(key)((channels, 64, 64), 7), DECODERS.get(key)((channels, 64, 64), 7)
    mu, logvar = enc(torch.rand(2, channels, 64, 64))
    assert mu.shape == logvar.shape == (2, 7)
    assert dec(mu).shape == (2, channels, 64, 64)


def test_mlp_sizes_and_shape_errors():
    enc, dec = ENCODERS.get("mlp")((1, 64, 64), 10), DECODERS.get("mlp")((1, 64, 64), 10)
    widths = [m.out_features for m in enc.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [1200, 1200, 10, 10]
    widths = [m.out_features for m in dec.modules() if isinstance(m, torch.nn.Linear)]
    assert widths == [1200, 1200, 1200, 4096]
    assert ENCODERS.get("mlp_small")((3, 16, 16), 4)(torch.rand(2, 3, 16, 16))[0].shape == (2, 4)
    with pytest.raises(ConfigError, match="64×64"):
        ENCODERS.get("burgess64")((1, 32, 32), 4)
    with pytest.raises(ConfigError, match=r"\(C, H, W\)"):
        DECODERS.get("mlp")((64, 64), 4)


# --- learning -----------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.parametrize("name", ["vae", "beta_tcvae"])
def test_learns_toy_blobs(name):
    """On toy_blobs (1,024 images, rendered at 32×32 to keep the test a few seconds), 400 Adam steps
    (lr 3e-3, batch 64) with the small MLP lower the loss and reconstruct (posterior mean) with an
    MSE below 25 % of the mean image's. Measured: MSE ratio 0.07 (vae), 0.09 (beta_tcvae); last-50
    loss 0.38 of the first-50's; about 7 s of CPU each."""
    from dislab.data import get_dataset

    torch.manual_seed(0)
    ds = get_dataset("toy_blobs", side=32)
    images = ds.images(np.arange(len(ds)))  # (1024, 3, 32, 32)
    model = build_model(name, encoder="mlp_small", decoder="mlp_small", observation_shape=(3, 32, 32),
                        dataset_size=len(ds), **({"beta": 2.0} if name == "beta_tcvae" else {}))
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(0)
    losses = []
    for step in range(400):
        x = images[torch.randint(len(ds), (64,), generator=g)]
        out = model(x, step)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert np.mean(losses[-50:]) < 0.6 * np.mean(losses[:50])
    model.eval()
    with torch.no_grad():
        recon = model.decode_mean(model.encode(images)[0])
    mse_model = float((recon - images).pow(2).mean())
    mse_mean = float((images.mean(0, keepdim=True) - images).pow(2).mean())
    assert mse_model < 0.25 * mse_mean, (mse_model, mse_mean)


# --- every prior ----------------------------------------------------------------------------------
FLAT = ["vae", "beta_vae", "annealed_vae", "beta_tcvae", "factor_vae", "dip_vae_i", "dip_vae_ii"]


@pytest.mark.parametrize("prior", ["mog", "vamp", "flow"])
@pytest.mark.parametrize("name", FLAT)
def test_every_flat_model_takes_every_prior(name, prior):
    cls = MODELS.get(name)
    cfg = cls.config_class(observation_shape=(1, 16, 16), encoder="mlp_small", decoder="mlp_small",
                           n_latents=3, prior=prior, dataset_size=100)
    if name == "beta_tcvae" and prior in ("mog", "vamp"):  # mixtures couple the dimensions
        with pytest.raises(ConfigError, match="factorised prior"):
            cls(cfg)
        return
    torch.manual_seed(0)
    model = cls(cfg)
    out = model(_batch((1, 16, 16)), 10)
    assert torch.isfinite(out.loss)
    assert float(out.terms["kl_monte_carlo"]) == (0.0 if model.prior.analytic_kl else 1.0)


# --- reparameterisation noise -----------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS.names())
def test_default_noise_is_torch_randn_like_bit_for_bit(name, monkeypatch):
    """``model.noise`` by default draws what ``torch.randn_like`` on torch's global generator drew
    before models had a noise source (the old staticmethod, re-created here as the reference):
    same loss, terms and z, bit for bit, for every model (ladder VAE and pro-VLAE draw per level;
    FactorVAE also draws its permutation after it)."""
    from dislab.models.base import LatentVariableModel

    cls = MODELS.get(name)
    torch.manual_seed(0)
    model = cls(cls.config_class(observation_shape=(1, 64, 64), dataset_size=1024))
    x = _batch((1, 64, 64))
    torch.manual_seed(5)
    new = model(x, 3)
    old = staticmethod(lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    monkeypatch.setattr(LatentVariableModel, "reparameterize", old)
    torch.manual_seed(5)
    ref = model(x, 3)
    assert torch.equal(new.loss, ref.loss) and torch.equal(new.z, ref.z)
    assert new.terms.keys() == ref.terms.keys()
    assert all(torch.equal(torch.as_tensor(new.terms[k]), torch.as_tensor(ref.terms[k])) for k in ref.terms)


def test_noise_sources():
    """``Noise(generator)`` draws from that generator and leaves torch's global one alone;
    ``given(eps)`` hands ``eps`` to the first draw of its shape only, and is forgotten after."""
    from dislab.models.noise import Noise

    t = torch.zeros(4, 3)
    global_state = torch.get_rng_state()
    drawn = Noise(torch.Generator().manual_seed(2)).normal_like(t)
    assert torch.equal(drawn, torch.randn(4, 3, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(torch.get_rng_state(), global_state)
    noise, eps = Noise(), torch.full((4, 3), 7.0)
    with noise.given(eps):
        other = noise.normal_like(torch.zeros(4, 2))  # another shape: drawn
        assert noise.normal_like(t) is eps
        assert not torch.equal(noise.normal_like(t), eps)  # the second draw of the shape: drawn
    with noise.given(eps):
        pass
    assert not torch.equal(noise.normal_like(t), eps) and other.shape == (4, 2)
