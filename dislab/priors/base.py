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

    def estimator_terms(self) -> dict[str, torch.Tensor]:
        """What a model adds to its logged terms so the log says how ``kl`` was computed:
        ``kl_monte_carlo`` = 1.0 when it is the one-sample Monte Carlo estimate, 0.0 when closed form."""
        return {"kl_monte_carlo": torch.tensor(0.0 if self.analytic_kl else 1.0)}


class BlockProduct(Prior):
    """p(z) = Π_b p_b(z_b): independent priors over consecutive blocks of columns (the levels of a
    hierarchical model such as :class:`dislab.models.pro_vlae.ProVLAE`), each any prior.

    ``kl_blocks`` gives each block's KL ``(n,)``: closed form where that block's prior has one, Monte
    Carlo otherwise. ``marginal_log_prob`` concatenates the blocks' exact marginals; the product is
    factorised when every block is.
    """

    def __init__(self, parts: list[Prior]):
        super().__init__(sum(p.n_latents for p in parts))
        self.parts = nn.ModuleList(parts)
        self.sizes = tuple(p.n_latents for p in parts)
        self.analytic_kl = all(p.analytic_kl for p in parts)
        self.factorised = all(p.factorised for p in parts)

    def attach(self, model) -> None:
        start = 0
        for p in self.parts:
            if hasattr(p, "block"):  # priors built from the encoder (VampPrior) cover their own columns
                p.block = (start, start + p.n_latents)
            p.attach(model)
            start += p.n_latents

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(z, self.sizes, dim=-1)

    def log_prob(self, z):
        return sum(p.log_prob(zb) for p, zb in zip(self.parts, self.split(z)))

    def marginal_log_prob(self, z):
        return torch.cat([p.marginal_log_prob(zb) for p, zb in zip(self.parts, self.split(z))], dim=-1)

    def sample(self, n, generator=None):
        return torch.cat([p.sample(n, generator) for p in self.parts], dim=-1)

    def kl_blocks(self, mu, logvar, z) -> list[torch.Tensor]:
        """KL of each block, a list of ``(n,)`` tensors (nats)."""
        return [p.kl(m, lv, zb) for p, m, lv, zb in zip(self.parts, self.split(mu), self.split(logvar), self.split(z))]

    def kl(self, mu, logvar, z):
        return sum(self.kl_blocks(mu, logvar, z))

    def kl_per_latent(self, mu, logvar, z):
        return torch.cat([p.kl_per_latent(m, lv, zb) for p, m, lv, zb in
                          zip(self.parts, self.split(mu), self.split(logvar), self.split(z))], dim=-1)
