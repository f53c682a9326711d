"""Mixture-of-Gaussians prior with learnable means, variances and weights.

Two shapes (option ``per_dimension``):

* ``per_dimension=False`` (default): K full-dimensional diagonal components,

      p(z) = Σ_k π_k N(z; m_k, diag(s_k²)),   z ∈ R^d,

  as in the GMVAE line of work (Dilokthanakul et al. 2016; Tomczak & Welling 2018 use it as their
  "MoG" baseline). **Not factorised**: p(z) ≠ Π_j p(z_j) in general (the mixture couples the
  dimensions), so β-TCVAE's dimension-wise KL is taken against the exact marginals
  ``marginal_log_prob`` (p(z_j) = Σ_k π_k N(z_j; m_kj, s_kj²)) and does not sum to the full KL.
* ``per_dimension=True``: each dimension its own 1-D mixture,
  p(z) = Π_j Σ_k π_jk N(z_j; m_jk, s_jk²): **factorised**, so log p(z) = Σ_j log p(z_j).

The KL(q(z|x) || p(z)) has no closed form for a mixture: :meth:`kl` is the base class's one-sample
Monte Carlo estimate log q(z|x) − log p(z) at the reparameterised z (``analytic_kl = False``).
Densities are in nats; all parameters are unconstrained (log-scales, logits).
"""
from __future__ import annotations

import torch
from torch import nn

from dislab import checks
from dislab.objectives.gaussian_kl import gaussian_log_density
from dislab.priors.base import Prior


class MoG(Prior):
    analytic_kl = False

    def __init__(self, n_latents: int, *, n_components: int = 10, per_dimension: bool = False,
                 init_spread: float = 1.0):
        """``init_spread``: standard deviation of the random initial means (unit component scales)."""
        super().__init__(n_latents)
        n_components = checks.whole("mog", "n_components", n_components, minimum=1)
        per_dimension = checks.flag("mog", "per_dimension", per_dimension)
        init_spread = checks.number("mog", "init_spread", init_spread, minimum=0)
        self.n_components = n_components
        self.per_dimension = per_dimension
        self.factorised = self.per_dimension
        k, d = self.n_components, self.n_latents
        self.means = nn.Parameter(torch.randn(k, d) * float(init_spread))  # (K, d)
        self.log_vars = nn.Parameter(torch.zeros(k, d))  # (K, d) log s²
        # (K,) shared weights, or (K, d) one set of weights per dimension
        self.logits = nn.Parameter(torch.zeros(k, d) if self.per_dimension else torch.zeros(k))

    def _log_weights(self) -> torch.Tensor:
        return torch.log_softmax(self.logits, dim=0)  # (K,) or (K, d)

    def _component_log_density(self, z: torch.Tensor) -> torch.Tensor:
        """log N(z_j; m_kj, s_kj²) for every sample, component, dimension: ``(n, K, d)``."""
        return gaussian_log_density(z[:, None, :], self.means[None], self.log_vars[None])

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Exact per-dimension marginals log p(z_j), ``(n, d)``; they sum to log p(z) only when
        ``per_dimension`` (factorised)."""
        comp = self._component_log_density(z)  # (n, K, d)
        log_w = self._log_weights()
        log_w = log_w[None, :, None] if log_w.dim() == 1 else log_w[None]  # (1, K, 1|d)
        return torch.logsumexp(comp + log_w, dim=1)  # (n, d)

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        if self.per_dimension:
            return self.marginal_log_prob(z).sum(dim=-1)
        comp = self._component_log_density(z).sum(dim=-1)  # (n, K)
        return torch.logsumexp(comp + self._log_weights()[None], dim=1)  # (n,)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        device = self.means.device
        gdev = generator.device if generator is not None else device  # draws where the generator lives
        d = self.n_latents
        probs = torch.softmax(self.logits, dim=0).to(gdev)  # (K,) or (K, d)
        if self.per_dimension:  # one component per (sample, dimension)
            comp = torch.multinomial(probs.T, n, replacement=True, generator=generator).T.to(device)  # (n, d)
            idx = torch.arange(d, device=device)[None].expand(n, d)
            m, lv = self.means[comp, idx], self.log_vars[comp, idx]  # (n, d)
        else:
            comp = torch.multinomial(probs, n, replacement=True, generator=generator).to(device)  # (n,)
            m, lv = self.means[comp], self.log_vars[comp]  # (n, d)
        eps = torch.randn(n, d, generator=generator, device=gdev).to(device)
        return m + torch.exp(0.5 * lv) * eps

    def extra_repr(self) -> str:
        return f"n_latents={self.n_latents}, n_components={self.n_components}, per_dimension={self.per_dimension}"
