"""Fully connected encoder/decoder pairs for any observation shape (images are flattened).

* ``mlp``: the networks Chen et al. (NeurIPS 2018, "Isolating Sources of Disentanglement in VAEs",
  Sec. 6 and their code) used on dSprites, after Higgins et al. (ICLR 2017, Table 1 row 1):
  encoder C·H·W → 1200 → 1200 (ReLU) → mean and log-variance heads; decoder latents → 1200 → 1200
  → 1200 (tanh) → C·H·W pixel logits.
* ``mlp_small``: a 256-256 ReLU pair for toy data and quick tests (a few ms per step on a CPU).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dislab.errors import ConfigError


def _flat_size(observation_shape, who: str) -> tuple[tuple[int, int, int], int]:
    shape = tuple(int(s) for s in observation_shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ConfigError(f"{who} expects observation_shape (C, H, W) of positive sizes, got {shape}")
    return shape, math.prod(shape)


class _MLPEncoder(nn.Module):
    def __init__(self, observation_shape, n_latents: int, hidden: tuple[int, ...], who: str):
        super().__init__()
        _, flat = _flat_size(observation_shape, who)
        layers: list[nn.Module] = [nn.Flatten()]
        width = flat
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.features = nn.Sequential(*layers)
        self.mean = nn.Linear(width, n_latents)
        self.logvar = nn.Linear(width, n_latents)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)  # (n, hidden[-1])
        return self.mean(h), self.logvar(h)  # (n, n_latents) each


class _MLPDecoder(nn.Module):
    def __init__(self, observation_shape, n_latents: int, hidden: tuple[int, ...], activation, who: str):
        super().__init__()
        shape, flat = _flat_size(observation_shape, who)
        layers: list[nn.Module] = []
        width = n_latents
        for h in hidden:
            layers += [nn.Linear(width, h), activation()]
            width = h
        layers += [nn.Linear(width, flat), nn.Unflatten(1, shape)]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (n, C, H, W) logits


class MLPEncoder(_MLPEncoder):
    """Chen et al.'s dSprites encoder: 1200-1200 ReLU."""

    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__(observation_shape, n_latents, (1200, 1200), "mlp encoder")


class MLPDecoder(_MLPDecoder):
    """Chen et al.'s dSprites decoder: 1200-1200-1200 tanh."""

    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__(observation_shape, n_latents, (1200, 1200, 1200), nn.Tanh, "mlp decoder")


class MLPSmallEncoder(_MLPEncoder):
    """256-256 ReLU encoder for toy data."""

    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__(observation_shape, n_latents, (256, 256), "mlp_small encoder")


class MLPSmallDecoder(_MLPDecoder):
    """256-256 ReLU decoder for toy data."""

    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__(observation_shape, n_latents, (256, 256), nn.ReLU, "mlp_small decoder")
