"""The convolutional encoder/decoder of Burgess et al. (2018, "Understanding disentangling in
β-VAE", Sec. 4 / Appendix A.1), with 4×4 kernels throughout, for 64×64 images.

Encoder: four Conv 32 4×4 s2 (ReLU) → Dense 256 → Dense 256 (ReLU) → mean and log-variance heads.
Decoder: the transpose: Dense 256 → Dense 256 → Dense 32·4·4 (ReLU) → three ConvT 32 4×4 s2 (ReLU)
         → ConvT C 4×4 s2 to pixel logits.
Spatial sizes: 64 → 32 → 16 → 8 → 4 and back. (The paper's heads output a log standard deviation;
ours output the log-variance, the same parameterisation up to a factor 2.)
"""
from __future__ import annotations

import torch
from torch import nn

from dislab.nn.conv64 import _check_shape


class Burgess64Encoder(nn.Module):
    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__()
        c, _, _ = _check_shape(observation_shape, "burgess64 encoder")
        self.features = nn.Sequential(
            nn.Conv2d(c, 32, 4, stride=2, padding=1), nn.ReLU(),   # (32, 32, 32)
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 16, 16)
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 8, 8)
            nn.Conv2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 4, 4)
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
        )
        self.mean = nn.Linear(256, n_latents)
        self.logvar = nn.Linear(256, n_latents)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)  # (n, 256)
        return self.mean(h), self.logvar(h)  # (n, n_latents) each


class Burgess64Decoder(nn.Module):
    def __init__(self, observation_shape=(1, 64, 64), n_latents: int = 10):
        super().__init__()
        c, _, _ = _check_shape(observation_shape, "burgess64 decoder")
        self.net = nn.Sequential(
            nn.Linear(n_latents, 256), nn.ReLU(),
            nn.Linear(256, 256), nn.ReLU(),
            nn.Linear(256, 32 * 4 * 4), nn.ReLU(),
            nn.Unflatten(1, (32, 4, 4)),
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 8, 8)
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 16, 16)
            nn.ConvTranspose2d(32, 32, 4, stride=2, padding=1), nn.ReLU(),  # (32, 32, 32)
            nn.ConvTranspose2d(32, c, 4, stride=2, padding=1),              # (C, 64, 64)
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (n, C, 64, 64) logits
