"""Samples from the prior: decode z ~ p(z) (``model.prior.sample``) to the mean image of p(x | z).

A model whose aggregate posterior matches its prior draws samples that look like the data; blurry or
broken samples show prior holes (the gap that VampPrior and flow priors aim to close).
"""
from __future__ import annotations

import numpy as np
import torch

from dislab.viz.grid import tile, to_uint8
from dislab.viz.kl import model_device


@torch.no_grad()
def prior_samples(model, n: int = 32, *, seed: int = 0) -> torch.Tensor:
    """``n`` images ``(n, C, H, W)`` in [0, 1] decoded from seeded prior samples (CPU generator)."""
    g = torch.Generator().manual_seed(int(seed))
    z = model.prior.sample(int(n), generator=g)  # (n, n_latents)
    return model.decode_mean(z.to(model_device(model))).float().cpu()


def samples_grid(model, n: int = 32, *, ncol: int = 8, seed: int = 0, pad: int = 2) -> np.ndarray:
    """uint8 ``(H', W', 3)`` grid of :func:`prior_samples`, ``ncol`` per row."""
    return tile(to_uint8(prior_samples(model, n, seed=seed)), ncol, pad=pad)
