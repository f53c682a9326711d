"""Base class of priors p(z); see :mod:`dislab.priors` for the contract."""
from __future__ import annotations

import torch
from torch import nn

from dislab.objectives.gaussian_kl import gaussian_log_density


class Prior(nn.Module):
    analytic_kl: bool = False
    factorised: bool = True

    def __init__(self, n_latents: int):
        super().__init__()
        self.n_latents = int(n_latents)

    def attach(self, model) -> None:
        """Called once by the model that owns this prior, after its networks are built.

        A prior that depends on the model (VampPrior encodes learnable pseudo-inputs) keeps what it
        needs here; it must not register ``model`` as a submodule (that would make a cycle).
        """

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z), ``(n,)``; factorised priors sum their marginals."""
        return self.marginal_log_prob(z).sum(dim=-1)

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} is not factorised: no per-dimension marginals")

    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        raise NotImplementedError

    def kl(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """One-sample Monte Carlo KL(q(z|x) || p(z)) = log q(z|x) − log p(z) at ``z ~ q``, ``(n,)``."""
        return gaussian_log_density(z, mu, logvar).sum(dim=-1) - self.log_prob(z)

    def kl_per_latent(self, mu: torch.Tensor, logvar: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Per-dimension KL ``(n, n_latents)`` (factorised priors; Monte Carlo unless analytic)."""
        return gaussian_log_density(z, mu, logvar) - self.marginal_log_prob(z)
