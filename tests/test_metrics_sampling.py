"""Samplers: shapes, seeding, the shared code cache, sampled codes, and the published sizes.

``FactorPixels`` (also used by the BetaVAE / FactorVAE score tests) is a dataset whose "images"
hold their own factor indices, so an encoder can be any exact function of the factors.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dislab.data.base import FactorDataset
from dislab.errors import DataError
from dislab.metrics import METRICS
from dislab.metrics.sampling import (ModelEncoder, compute_mig, compute_udr, compute_unsupervised,
                                     encode_indices, sample_codes)


class FactorPixels(FactorDataset):
    """Images ``(n, 1, 1, n_factors)`` equal to the factor indices (as floats)."""

    name = "factor_pixels"

    def __init__(self, sizes=(3, 4, 5)):
        self.factor_sizes = tuple(sizes)
        self.factor_names = tuple(f"f{i}" for i in range(len(sizes)))
        self.observation_shape = (1, 1, len(sizes))
        self.calls = 0  # number of images() calls, to check caching

    def images(self, index):
        self.calls += 1
        return torch.from_numpy(self.factors_of(index).astype(np.float32))[:, None, None, :]


class Unlabelled(FactorDataset):
    """A dataset without factors: 50 random 1x1x2 images."""

    name = "unlabelled"
    observation_shape = (1, 1, 2)

    def __init__(self):
        self._x = torch.from_numpy(np.random.default_rng(0).random((50, 1, 1, 2)).astype(np.float32))

    def __len__(self):
        return 50

    def images(self, index):
        return self._x[torch.as_tensor(np.asarray(index))]


def factors_of_images(x: torch.Tensor) -> np.ndarray:
    return x[:, 0, 0, :].numpy().astype(np.float64)


class LinearModel(torch.nn.Module):
    """encode(x) = (x W, logvar const): a stand-in for a trained model."""

    def __init__(self, n_in=3, n_latents=4, logvar=-2.0, seed=0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w = torch.nn.Parameter(torch.randn(n_in, n_latents, generator=g))
        self.logvar = logvar

        class C:
            pass

        self.config = C()
        self.config.n_latents = n_latents

    def encode(self, x):
        mu = x.flatten(1) @ self.w
        return mu, torch.full_like(mu, self.logvar)


def test_sample_codes_shapes_seeding_and_factor_match():
    ds = FactorPixels()
    codes, factors = sample_codes(ds, factors_of_images, 200, 7, batch_size=16)
    assert codes.shape == (200, 3) and factors.shape == (200, 3) and factors.dtype == np.int64
    np.testing.assert_array_equal(codes, factors)  # each code row is the image of its factor row
    again, f2 = sample_codes(ds, factors_of_images, 200, 7)
    np.testing.assert_array_equal(f2, factors)  # same seed, same points
    _, f3 = sample_codes(ds, factors_of_images, 200, 8)
    assert not np.array_equal(f3, factors)
    with pytest.raises(ValueError, match="positive integer"):
        sample_codes(ds, factors_of_images, 0, 0)


def test_encode_indices_batches_and_checks_shape():
    ds = FactorPixels()
    out = encode_indices(ds, factors_of_images, np.arange(10), batch_size=3)
    np.testing.assert_array_equal(out, ds.factors_of(np.arange(10)))
    assert ds.calls == 4  # ceil(10 / 3) batches
    with pytest.raises(ValueError, match=r"shape \(n, n_codes\)"):
        encode_indices(ds, lambda x: x[:, 0, 0, 0], np.arange(3))


def test_model_encoder_means_are_cached_and_columns_selected():
    ds = FactorPixels()
    model = LinearModel()
    enc = ModelEncoder(model, batch_size=8, progress=False)
    idx = np.array([5, 1, 5, 7, 1])
    a = enc.encode_indices(ds, idx)
    expected = torch.from_numpy(ds.factors_of(idx).astype(np.float32)) @ model.w.detach()
    np.testing.assert_allclose(a, expected.numpy(), rtol=1e-6)
    calls = ds.calls
    b = enc.select(slice(1, 3)).encode_indices(ds, idx[:2])
    assert ds.calls == calls  # already encoded: served from the cache
    np.testing.assert_array_equal(b, a[:2, 1:3])
    np.testing.assert_allclose(enc(ds.images(idx)), a, rtol=1e-6)


def test_model_encoder_sampled_codes_are_seeded_and_spread():
    ds = FactorPixels()
    model = LinearModel(logvar=0.0)  # sigma 1
    idx = np.zeros(4000, dtype=np.int64)
    z1 = ModelEncoder(model, mode="sample", seed=3, progress=False).encode_indices(ds, idx)
    z2 = ModelEncoder(model, mode="sample", seed=3, progress=False).encode_indices(ds, idx)
    np.testing.assert_array_equal(z1, z2)
    mu = ModelEncoder(model, progress=False).encode_indices(ds, idx[:1])
    assert np.allclose(z1.mean(0), mu[0], atol=0.1) and np.allclose(z1.std(0), 1.0, atol=0.05)
    with pytest.raises(ValueError, match="mode"):
        ModelEncoder(model, mode="median")


def test_samplers_use_published_sizes_and_registry():
    sizes = {name: {k: v for k, v in METRICS.get(name).sampler_defaults().items()
                    if k in ("n_train", "n_test", "n_eval", "n_variance", "batch_size")}
             for name in METRICS if METRICS.get(name).sampler is not None}
    assert sizes["mig"]["n_train"] == 10_000 and sizes["irs"]["n_train"] == 10_000
    for name in ("dci", "sap", "modularity_explicitness"):
        assert (sizes[name]["n_train"], sizes[name]["n_test"]) == (10_000, 5_000), name
    assert sizes["beta_vae_score"] == {"batch_size": 64, "n_train": 10_000, "n_eval": 5_000}
    assert sizes["factor_vae_score"] == {"batch_size": 64, "n_train": 10_000, "n_eval": 5_000,
                                         "n_variance": 10_000}


def test_compute_mig_on_exact_factors_and_refuses_unlabelled():
    ds = FactorPixels((4, 5))
    out = compute_mig(ds, factors_of_images, seed=0, n_train=2000)
    assert out["mig"] > 0.9  # codes = factors: each factor has its own code
    with pytest.raises(DataError, match="no ground-truth factors"):
        compute_mig(Unlabelled(), lambda x: x.flatten(1).numpy(), seed=0, n_train=10)


def test_compute_unsupervised_works_without_factors():
    out = compute_unsupervised(Unlabelled(), lambda x: x.flatten(1).numpy(), seed=0, n_train=500)
    assert out["n_active_units"] == 2  # uniform [0, 1): variance 1/12 > 0.01
    assert "n_active" not in out  # a plain function gives no posterior, hence no KL
    assert 0 <= out["gaussian_total_correlation"] < 0.05  # independent coordinates


def test_compute_udr_on_models_same_up_to_permutation():
    ds = FactorPixels((6, 7, 8))
    a, b, c = (LinearModel(n_latents=3, seed=s) for s in range(3))
    with torch.no_grad():
        a.w.copy_(torch.diag(torch.tensor([1.0, 2.0, 3.0])))  # one latent per factor
        b.w.copy_(a.w[:, [2, 0, 1]] * -3.0)  # the same up to permutation, sign and scale
        # c keeps its random weights: every latent mixes every factor
    out = compute_udr(ds, [a, b, c], seed=0, n_points=500, progress=False)
    # not exactly 1: the sample correlations of independent factors (~1/sqrt(500)) add to each sum
    assert out["pairwise"][0][1] > 0.9
    assert out["pairwise"][0][2] < out["pairwise"][0][1] - 0.2, out["pairwise"]
    # KL of N(mu, e^-2) to N(0, 1), averaged: 0.5 (mean mu^2 + e^-2 + 2 - 1) > 0.1 -> all active
    assert out["n_active"] == [3, 3, 3]
    assert len(out["kl"]) == 3 and min(min(k) for k in out["kl"]) > 0.5
