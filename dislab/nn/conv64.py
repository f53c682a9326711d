"""The convolutional encoder/decoder of the field's reference study (Locatello et al., ICML 2019,
Table 1; disentanglement_lib ``conv_encoder`` / ``deconv_decoder``), for 64×64 images.

Encoder: Conv 32 4×4 s2 → Conv 32 4×4 s2 → Conv 64 2×2 s2 → Conv 64 2×2 s2 (ReLU each)
         → Dense 256 (ReLU) → two Dense heads: mean and log-variance, each ``n_latents``.
Decoder: Dense 256 → Dense 1024 (ReLU) → reshape (64, 4, 4) → ConvT 64, 32, 32 (4×4 s2, ReLU)
         → ConvT C (4×4 s2) to pixel logits.
Spatial sizes: 64 → 32 → 16 → 8 → 4 and back ("same" padding of the reference).
"""
from __future__ import annotations

import torch
from torch import nn

from dislab.errors import ConfigError


def _check_shape(observation_shape, who: str) -> tuple[int, int, int]:
    c, h, w = (int(s) for s in observation_shape)
    if (h, w) != (64, 64):
        raise ConfigError(f"{who} expects 64×64 images, got observation_shape {(c, h, w)}")
    return c, h, w


class Conv64Encoder(nn.Module):
    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__()
        c, _, _ = _check_shape(observation_shape, "conv64 encoder")
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 4, stride=2, padding=1), nn.ReLU(),   # (32, 32, 32)
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 16, 16)
            nn.Conv2d(32, 64, 2, stride=2), nn.ReLU(),             # (64, 8, 8)
            nn.Conv2d(64, 64, 2, stride=2), nn.ReLU(),             # (64, 4, 4)
            nn.Flatten(),
            nn.Linear(64 * 4 * 4, 256), nn.ReLU(),
        )
        self.mean = nn.Linear(256, n_latents)
        self.logvar = nn.Linear(256, n_latents)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)  # (n, 256)
        return self.mean(h), self.logvar(h)  # (n, n_latents) each


class Conv64Decoder(nn.Module):
    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__()
        c, _, _ = _check_shape(observation_shape, "conv64 decoder")
        self.net = nn.Sequential(
            nn.Linear(n_latents, 256), nn.ReLU(),
            nn.Linear(256, 1024), nn.ReLU(),
            nn.Unflatten(1, (64, 4, 4)),
            nn.ConvTranspose2d(64, 64, 4, stride=2, padding=1), nn.ReLU(),  # (64, 8, 8)
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 16, 16)
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 32, 32)
            nn.ConvTranspose2d(32, c, 4, stride=2, padding=1),              # (C, 64, 64)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (n, C, 64, 64) logits
