"""The FactorVAE discriminator (Kim & Mnih, ICML 2018, "Disentangling by Factorising",
Appendix A; disentanglement_lib ``fc_discriminator``): an MLP on codes with six hidden layers of
1000 leaky-ReLU units (slope 0.2) and two output logits, (joint, permuted)."""
from __future__ import annotations

import torch
from torch import nn

from dislab.errors import ConfigError


class FCDiscriminator(nn.Module):
    def __init__(self, n_latents: int = 10, hidden: int = 1000, n_layers: int = 6,
                 negative_slope: float = 0.2):
        super().__init__()
        if hidden < 1 or n_layers < 1:
            raise ConfigError(f"discriminator needs hidden >= 1 and n_layers >= 1, got {hidden}, {n_layers}")
        layers: list[nn.Module] = []
        width = n_latents
        for _ in range(n_layers):
            layers += [nn.Linear(width, hidden), nn.LeakyReLU(negative_slope)]
            width = hidden
        layers.append(nn.Linear(width, 2))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)  # (n, 2) logits: index 0 = drawn from q(z), 1 = dimensions permuted
