"""precision = fp32 | bf16 | auto: detection, what runs in bf16 (the networks only), gradients
against a float64 step, and exact resume within a precision."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from dislab.errors import ConfigError
from dislab.models import MODELS
from dislab.models.base import replace_config
from dislab.training import TrainConfig, open_run, resume, train
from dislab.training import precision as prec


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def test_auto_follows_the_cpu_flags(monkeypatch):
    for flags, expected in [({"avx2", "fma"}, "fp32"), ({"avx512f", "avx512_bf16"}, "bf16"),
                            ({"avx512f", "amx_tile", "amx_bf16"}, "bf16"), (set(), "fp32")]:
        monkeypatch.setattr(prec, "cpu_flags", lambda flags=flags: frozenset(flags))
        assert prec.resolve_precision("auto", "cpu") == expected
        assert prec.resolve_precision("fp32", "cpu") == "fp32"
        assert prec.resolve_precision("bf16", "cpu") == "bf16"  # asked for: honoured (maybe slow)
    with pytest.raises(ConfigError, match="precision must be one of"):
        prec.resolve_precision("fp16", "cpu")
    with pytest.raises(ConfigError, match="not on mps"):
        prec.resolve_precision("bf16", "mps")
    assert prec.resolve_precision("auto", "mps") == "fp32"


def test_train_config_checks_precision():
    assert TrainConfig().precision == "fp32"  # the reference study's numbers were fp32
    with pytest.raises(ConfigError, match="precision must be 'fp32', 'bf16' or 'auto', got 'half'"):
        TrainConfig(precision="half")
    with pytest.raises(ConfigError, match="precision must be a string"):
        TrainConfig(precision=16)


def _model(name, **options):
    cls = MODELS.get(name)
    torch.manual_seed(0)
    return cls(replace_config(cls.config_class(), observation_shape=(1, 64, 64), dataset_size=737_280,
                              **options))


def _batch(n=32):
    from dislab.data import get_dataset

    ds = get_dataset("dsprites")
    return ds.images(np.random.default_rng(0).integers(0, len(ds), n))


def _step(model, x, eps):
    """Loss, its gradient (flat, float64) and the terms, with the reparameterisation noise fixed."""
    with model.noise.given(eps.to(next(model.parameters()).dtype)):
        out = model(x.to(next(model.parameters()).dtype), 0)
    grads = torch.autograd.grad(out.loss, list(model.parameters()))
    return out, torch.cat([g.flatten().double() for g in grads]), {k: float(v) for k, v in out.terms.items()}


@pytest.mark.parametrize("name,options", [("beta_tcvae", {}), ("beta_tcvae", {"estimator": "mss"}),
                                          ("dip_vae_ii", {}), ("beta_vae", {"beta": 4.0})])
def test_bf16_step_matches_float64(name, options):
    """Only the networks compute in bf16: outputs, z and every term are float32, parameters stay
    float32, and on the same weights, inputs and noise the loss gradient is within 1 % (relative
    L2; measured 0.09 %, fp32 0.0003 %) of a float64 step, each term within 1e-3 relative or 1e-3
    nats."""
    x = _batch()
    base = _model(name, **options)
    eps = torch.randn(32, base.config.n_latents, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    bf = copy.deepcopy(base)
    bf.network_dtype = torch.bfloat16
    seen = []
    bf.encoder.register_forward_hook(lambda m, i, o: seen.append(o[0].dtype))
    out64, g64, t64 = _step(copy.deepcopy(base).double(), x, eps)
    out, g, t = _step(bf, x, eps)
    assert seen == [torch.bfloat16]  # the encoder did run in bf16 ...
    for v in (out.loss, out.mu, out.logvar, out.z, out.x_logits, *out.terms.values()):
        assert v.dtype == torch.float32  # ... and nothing after it did
    assert all(p.dtype == torch.float32 for p in bf.parameters())
    rel = float((g - g64).norm() / g64.norm())
    assert rel < 0.01, rel
    for k in t64:
        assert abs(t[k] - t64[k]) <= max(1e-3 * abs(t64[k]), 1e-3), (k, t[k], t64[k])


def _tc_terms(mu, logvar, logits, x, eps, prior, dataset_size):
    """β-TCVAE's terms recomputed from network outputs (any dtype), as the model composes them."""
    from dislab.objectives.reconstruction import reconstruction_nll
    from dislab.objectives.total_correlation import kl_decomposition

    z = mu + torch.exp(0.5 * logvar) * eps.to(mu.dtype)
    parts = kl_decomposition(z, mu, logvar, prior.marginal_log_prob(z), estimator="mss",
                             dataset_size=dataset_size)
    terms = {k: v.mean() for k, v in parts.items()}
    terms["reconstruction"] = reconstruction_nll("bernoulli", logits, x.to(logits.dtype)).mean()
    terms["kl"] = prior.kl(mu, logvar, z).mean()
    return terms


def test_bf16_loss_terms_are_float32_arithmetic():
    """Per term, value and gradient with respect to the network outputs (mu, logvar, logits): the
    bf16 model's terms equal a float64 recomputation from the same outputs to float32 rounding
    (1e-5 relative), where the same terms computed in bf16 miss by > 1e-4. With posteriors far from
    the prior (means of spread ~3: KL ~45 nats, TC > 1 nat), so the log-sum-exp of the estimators is
    exercised."""
    x = _batch()
    model = _model("beta_tcvae", estimator="mss")
    model.network_dtype = torch.bfloat16
    eps = torch.randn(32, 10, generator=torch.Generator().manual_seed(3))
    mu, logvar = model.encode(x)
    mu = 3.0 * (mu - mu.mean(0)) / mu.std(0)  # (32, 10) spread out
    mu[:, 1:5] = mu[:, :1] + 0.3 * mu[:, 1:5]  # and five of them correlated: TC well above 0
    mu = mu.detach().requires_grad_()
    logvar = logvar.detach().requires_grad_()
    logits = model.decode(mu.detach()).detach().requires_grad_()  # (32, 1, 64, 64) float32
    assert mu.dtype == logits.dtype == torch.float32
    inputs = (mu, logvar, logits)
    ours = _tc_terms(mu, logvar, logits, x, eps, model.prior, 737_280)
    ref_in = [v.detach().double().requires_grad_() for v in inputs]
    ref = _tc_terms(*ref_in, x, eps, model.prior, 737_280)
    low_in = [v.detach().bfloat16().requires_grad_() for v in inputs]
    low = _tc_terms(*low_in, x, eps, model.prior, 737_280)
    assert float(ref["kl"]) > 20 and float(ref["total_correlation"]) > 1
    worst_low = 0.0
    for k in ref:
        scale = abs(float(ref[k])) + 1.0
        assert abs(float(ours[k]) - float(ref[k])) <= 1e-5 * scale, k
        worst_low = max(worst_low, abs(float(low[k]) - float(ref[k])) / scale)
        g = torch.autograd.grad(ours[k], inputs, allow_unused=True, retain_graph=True)
        g_ref = torch.autograd.grad(ref[k], ref_in, allow_unused=True, retain_graph=True)
        for a, b in zip(g, g_ref):
            if b is None:
                continue
            assert float((a.double() - b).norm()) <= 1e-5 * float(b.norm()) + 1e-9, k
    assert worst_low > 1e-4  # the bound above tells float32 from bf16 arithmetic


TINY = dict(model="beta_tcvae", dataset="toy_blobs", batch_size=8, log_every=2, checkpoint_every=3,
            model_options={"n_latents": 3}, device="cpu")


def test_bf16_run_records_precision_and_resumes_bit_exact(tmp_path):
    full = train(TrainConfig(**TINY, steps=6, precision="bf16"), out=tmp_path / "full", progress=False)
    part = train(TrainConfig(**TINY, steps=3, precision="bf16"), out=tmp_path / "part", progress=False)
    resume(part, changes={"steps": 6}, progress=False)
    assert open_run(full).config.precision == "bf16"
    a = open_run(full).model().state_dict()
    b = open_run(part).model().state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    fp = train(TrainConfig(**TINY, steps=6), out=tmp_path / "fp32", progress=False)
    c = open_run(fp).model().state_dict()
    assert not all(torch.equal(a[k], c[k]) for k in a)  # bf16 did change the arithmetic
    # evaluation loads the weights in fp32, whatever the run trained in
    assert open_run(full).model().network_dtype is None


def test_auto_is_resolved_when_the_run_starts(tmp_path, monkeypatch):
    monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset({"avx2"}))
    run = train(TrainConfig(**TINY, steps=1, precision="auto"), out=tmp_path / "a", progress=False)
    assert open_run(run).config.precision == "fp32"
    monkeypatch.setattr(prec, "cpu_flags", lambda: frozenset({"amx_bf16"}))
    run = train(TrainConfig(**TINY, steps=1, precision="auto"), out=tmp_path / "b", progress=False)
    assert open_run(run).config.precision == "bf16"
