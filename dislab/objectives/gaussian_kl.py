"""KL divergence between diagonal Gaussians, in nats.

Kingma & Welling (ICLR 2014), Appendix B: for q = N(mu, diag(exp(logvar))) and p = N(0, I),

    KL(q || p) = ½ Σ_j (mu_j² + exp(logvar_j) − logvar_j − 1)   ≥ 0.
"""
from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl_per_latent(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mu, exp(logvar)) || N(0, 1)) per latent, shape ``(batch, n_latents)``, nats, ≥ 0."""
    return 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1.0)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL to the standard normal summed over latents, shape ``(batch,)``, nats."""
    return gaussian_kl_per_latent(mu, logvar).sum(dim=-1)


def gaussian_log_density(z: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Elementwise log N(z; mu, exp(logvar)), broadcasting, nats.

    log N(z; mu, σ²) = −½ (log 2π + log σ² + (z − mu)² / σ²).
    """
    return -0.5 * (LOG_2PI + logvar + (z - mu).pow(2) * torch.exp(-logvar))
