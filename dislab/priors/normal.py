"""The standard normal prior p(z) = N(0, I) (Kingma & Welling, ICLR 2014); closed-form KL."""
from __future__ import annotations

import torch

from dislab.objectives.gaussian_kl import gaussian_kl, gaussian_kl_per_latent, LOG_2PI
from dislab.priors.base import Prior


class StandardNormal(Prior):
    analytic_kl = True
    factorised = True

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (LOG_2PI + z.pow(2))  # (n, n_latents)

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = generator.device if generator is not None else None
        return torch.randn(n, self.n_latents, generator=generator, device=device)

    def kl(self, mu, logvar, z=None):
        return gaussian_kl(mu, logvar)  # (n,)

    def kl_per_latent(self, mu, logvar, z=None):
        return gaussian_kl_per_latent(mu, logvar)  # (n, n_latents)
