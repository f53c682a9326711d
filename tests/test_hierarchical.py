"""Ladder VAE and pro-VLAE: the precision-weighted merge, the hierarchical prior's density, the
per-level objective, pro-VLAE's schedule, every model with every prior, and training from the CLI."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dislab.errors import ConfigError
from dislab.models import MODELS, build_model
from dislab.models.ladder_vae import gaussian_kl_between, precision_weighted
from dislab.models.pro_vlae import gates_at, progress
from dislab.nn.hierarchical import level_sizes_for

SMALL = {"observation_shape": (1, 16, 16), "channels": 4, "hidden": 16}


def _x(n=6, shape=(1, 16, 16), seed=0):
    return torch.rand((n, *shape), generator=torch.Generator().manual_seed(seed))


def test_precision_weighted_merge_is_eq_18_19():
    g = torch.Generator().manual_seed(0)
    mu_hat, mu_p = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    lv_hat, lv_p = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    mu, lv = precision_weighted(mu_hat, lv_hat, mu_p, lv_p)
    prec_hat, prec_p = torch.exp(-lv_hat), torch.exp(-lv_p)
    var = 1.0 / (prec_hat + prec_p)
    torch.testing.assert_close(lv.exp(), var)
    torch.testing.assert_close(mu, (mu_hat * prec_hat + mu_p * prec_p) * var)


def test_gaussian_kl_between_matches_torch():
    g = torch.Generator().manual_seed(1)
    a, b, c, d = (torch.randn(4, 3, generator=g) for _ in range(4))
    expected = torch.distributions.kl_divergence(torch.distributions.Normal(a, (0.5 * b).exp()),
                                                 torch.distributions.Normal(c, (0.5 * d).exp())).sum(-1)
    torch.testing.assert_close(gaussian_kl_between(a, b, c, d), expected)


def test_level_sizes_and_bad_configs():
    assert level_sizes_for(10, 3) == (4, 3, 3) and level_sizes_for(6, 2, (1, 5)) == (1, 5)
    with pytest.raises(ConfigError, match="sum to n_latents"):
        build_model("ladder_vae", level_sizes=(2, 2), **SMALL)
    with pytest.raises(ConfigError, match="side divisible by 16"):
        build_model("pro_vlae", observation_shape=(1, 24, 24))
    with pytest.raises(ConfigError, match="encoder must be one of.*builds its own networks"):
        build_model("ladder_vae", encoder="conv64")
    with pytest.raises(ConfigError, match="objective"):
        build_model("pro_vlae", objective="factor_vae", **SMALL)


def test_ladder_prior_is_a_normalised_density_and_sampling_follows_it():
    """p(z_1) p(z_0 | z_1) with one latent per level, integrated on a grid, is 1; the ancestral
    samples have the mean of that density."""
    torch.manual_seed(0)
    model = build_model("ladder_vae", n_latents=2, n_levels=2, **SMALL).double()
    with torch.no_grad():  # make the conditional depend visibly on the level above
        for p in model.prior.conditionals.parameters():
            p.mul_(3.0)
    t = torch.linspace(-9, 9, 201, dtype=torch.float64)
    a, b = torch.meshgrid(t, t, indexing="ij")  # a: level 0, b: level 1
    with torch.no_grad():
        dens = model.prior.log_prob(torch.stack([a.flatten(), b.flatten()], 1)).exp().reshape(201, 201)
    h = float(t[1] - t[0])
    assert float(dens.sum()) * h * h == pytest.approx(1.0, abs=2e-3)
    mean0 = float((dens * a).sum()) * h * h
    z = model.prior.sample(10_000, torch.Generator().manual_seed(1))
    assert z.shape == (10_000, 2)
    assert float(z[:, 0].mean()) == pytest.approx(mean0, abs=0.05)


def test_ladder_vae_terms_and_every_level_reaches_the_image():
    torch.manual_seed(0)
    model = build_model("ladder_vae", n_latents=5, n_levels=2, beta=3.0, **SMALL)
    assert model.latent_levels == (3, 2)
    x = _x()
    out = model(x, 0)
    kl = out.terms["kl/level0"] + out.terms["kl/level1"]
    torch.testing.assert_close(out.terms["kl"], kl)
    torch.testing.assert_close(out.loss.detach(), out.terms["reconstruction"] + 3.0 * kl)
    assert out.terms["kl_monte_carlo"] == 0.0
    mu, logvar = model.encode(x)
    # the top level (the last 2 latents) has the N(0, I) prior: its KL is the closed form's
    top_mu, top_lv = mu[:, 3:], logvar[:, 3:]
    closed = 0.5 * (top_mu ** 2 + top_lv.exp() - 1 - top_lv).sum(1).mean()
    torch.testing.assert_close(out.terms["kl/level1"], closed.detach())
    base = model.decode(mu)
    for cols in ([0], [4]):  # a lowest-level and a top-level latent
        z = mu.clone()
        z[:, cols] += 2.0
        assert not torch.allclose(model.decode(z), base)


def test_ladder_vae_beta_tcvae_adds_the_level_tc():
    torch.manual_seed(0)
    model = build_model("ladder_vae", n_latents=4, n_levels=2, objective="beta_tcvae", beta=5.0, **SMALL)
    out = model(_x(8), 0)
    tc = out.terms["total_correlation/level0"] + out.terms["total_correlation/level1"]
    torch.testing.assert_close(out.terms["total_correlation"], tc)
    torch.testing.assert_close(out.loss.detach(), out.terms["reconstruction"] + out.terms["kl"] + 4.0 * tc)


@pytest.mark.parametrize("step, expected", [(0, (1, 1.0)), (99, (1, 1.0)), (100, (2, 0.0)), (105, (2, 0.5)),
                                            (150, (2, 1.0)), (200, (3, 0.0)), (10_000, (3, 1.0))])
def test_pro_vlae_schedule_is_a_function_of_the_step(step, expected):
    assert progress(step, n_levels=3, steps_per_level=100, fade_in_steps=10) == expected


def test_pro_vlae_gates_and_pre_kl_penalty():
    assert gates_at(3, 1, 1.0) == [0.0, 0.0, 1.0] and gates_at(3, 2, 0.25) == [0.0, 0.25, 1.0]
    torch.manual_seed(0)
    model = build_model("pro_vlae", beta=4.0, pre_kl_weight=0.5, steps_per_level=10, fade_in_steps=4, **SMALL)
    assert model.latent_levels == (2, 2, 2)
    x = _x()
    out = model(x, 3)  # stage 0: the top level alone
    t = out.terms
    assert t["active_levels"] == 1.0
    expected = t["reconstruction"] + 4.0 * t["kl/level2"] + 0.5 * (t["kl/level0"] + t["kl/level1"])
    torch.testing.assert_close(out.loss.detach(), expected)
    assert int(model.progress_step) == 3  # saved with the weights; encode/decode use its gates
    mu, _ = model.encode(x)
    z = mu.clone()
    z[:, :4] += 3.0  # blocked levels do not reach the image yet
    torch.testing.assert_close(model.decode(z), model.decode(mu))
    out = model(x, 12)  # stage 1, half faded in
    assert out.terms["active_levels"] == 2.0 and out.terms["fade_in"] == 0.5
    model.eval()
    model(x, 25)  # evaluation does not move the schedule
    assert int(model.progress_step) == 12


PRIOR_KINDS = ["mog", "vamp", "flow"]  # "normal" with every model: tests/test_models.py's contract table


@pytest.mark.slow
@pytest.mark.parametrize("prior", PRIOR_KINDS)
def test_every_model_takes_every_prior(prior):
    """Each model of MODELS builds with each prior and takes one finite step; β-TCVAE refuses
    priors that are not factorised (its dimension-wise KL needs log p(z_j) to sum to log p(z))."""
    torch.manual_seed(0)
    x = _x(6)
    for name in MODELS.names():
        opts = dict(SMALL) if name in ("ladder_vae", "pro_vlae") else {
            "observation_shape": (1, 16, 16), "encoder": "mlp_small", "decoder": "mlp_small"}
        opts = {**opts, "prior": prior, "dataset_size": 100,
                "prior_options": {"n_components": 3} if prior in ("mog", "vamp") else {}}
        try:
            model = build_model(name, **opts)
        except ConfigError as err:
            assert name == "beta_tcvae" and prior in ("mog", "vamp") and "factorised" in str(err), (name, err)
            continue
        out = model(x, 1)
        assert torch.isfinite(out.loss), (name, prior)
        out.loss.backward()
        if prior == "vamp":
            assert model.prior.state_dict() and any("pseudo_inputs" in k for k in model.state_dict())
        z = model.prior.sample(3, torch.Generator().manual_seed(0))
        assert model.decode_mean(z).shape == (3, 1, 16, 16), name


@pytest.mark.slow
@pytest.mark.parametrize("model, prior", [("ladder_vae", "vamp"), ("pro_vlae", "flow"), ("beta_vae", "mog")])
def test_trains_from_the_cli_and_reloads_its_prior(tmp_path, model, prior):
    from dislab import cli
    from dislab.training import load

    out = tmp_path / "run"
    model_sets = (["--set", "channels=4", "--set", "hidden=16"] if model != "beta_vae"
                  else ["--set", "encoder=mlp_small", "--set", "decoder=mlp_small"])
    argv = ["train", "--model", model, "--dataset", "toy_blobs", "--out", str(out), "--no-progress",
            "--set", "dataset_options.side=16", "--set", "dataset_options.n_pos=4", "--set", "steps=3",
            "--set", "batch_size=8", "--set", "log_every=1", "--set", "device=cpu",
            "--set", f"prior={prior}", "--set", 'prior_options={"n_components": 3}' if prior != "flow"
            else "prior_options={}", *model_sets]
    assert cli.main(argv) == 0
    record = json.loads((out / "config.json").read_text())
    assert record["model"]["config"]["prior"] == prior
    loaded = load(out)
    state = loaded.state_dict()
    key = {"vamp": "pseudo_inputs", "flow": "raw_w", "mog": "means"}[prior]
    assert any(key in k for k in state), sorted(state)
    again = load(out)
    x = _x(4, (3, 16, 16))
    with torch.no_grad():
        torch.testing.assert_close(loaded.encode(x)[0], again.encode(x)[0], rtol=0, atol=0)
        z = torch.randn(5, loaded.prior.n_latents)
        torch.testing.assert_close(loaded.prior.log_prob(z), again.prior.log_prob(z), rtol=0, atol=0)
    log = [json.loads(line) for line in (out / "train_log.jsonl").read_text().splitlines()]
    assert log[-1]["kl_monte_carlo"] == 1.0  # the logged terms say the KL was estimated
    assert np.isfinite(log[-1]["loss"])


def test_ladder_vamp_prior_uses_the_top_levels_posterior():
    torch.manual_seed(0)
    model = build_model("ladder_vae", n_latents=5, n_levels=2, prior="vamp", prior_options={"n_components": 3},
                        **SMALL)
    top = model.prior.top
    with torch.no_grad():
        mu, logvar = model.encode(top.pseudo_inputs.clamp(0, 1))
        got_mu, got_logvar = top._posteriors()
    torch.testing.assert_close(got_mu, mu[:, 3:])
    torch.testing.assert_close(got_logvar, logvar[:, 3:])
