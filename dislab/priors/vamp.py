"""VampPrior: the variational mixture of posteriors (Tomczak & Welling, AISTATS 2018, Eq. 9).

    p(z) = (1/K) Σ_k q(z | u_k),

a uniform mixture of the model's own encoder posteriors at K learnable pseudo-inputs u_k (images of
the observation shape, kept in [0, 1] by a hard clamp as in the authors' hardtanh). The prior is
learned with the model: its pseudo-inputs are parameters (saved in the model's state_dict as
``prior.pseudo_inputs``) and gradients reach the encoder through both q(z|x) and p(z).

The prior needs the model's encoder, which it receives from :meth:`attach` (called by the model once
its networks exist). It keeps a plain reference, not a registered submodule, so the encoder's
weights are neither saved twice nor moved twice. Until attached, using the prior raises RuntimeError.

Which columns: ``encode(u)`` may return more columns than this prior covers (a hierarchical model
whose prior is over one level). By default the prior covers the LAST ``n_latents`` columns (the
top level of :class:`dislab.models.ladder_vae.LadderVAE`); a model may set ``block=(start, stop)``.
A model may offer ``prior_encode(x)`` returning fewer columns ending with this prior's (the Ladder
VAE returns its top level's bottom-up posterior alone, skipping the top-down pass); the prior uses it
instead of ``encode``.

**Not factorised** (a mixture couples the dimensions); ``marginal_log_prob`` gives the exact
marginals p(z_j) = (1/K) Σ_k N(z_j; μ_kj, σ_kj²). KL(q || p) has no closed form: :meth:`kl` is
the one-sample Monte Carlo estimate (``analytic_kl = False``).

Cost: each call of ``log_prob`` encodes the K pseudo-inputs (one encoder pass over K images).
The authors used K = 500 on 28×28 images; the default here is 50 to keep that extra pass below
one batch of the reference study (64 images).
"""
from __future__ import annotations

import math

import torch
from torch import nn

from dislab import checks
from dislab.errors import ConfigError
from dislab.objectives.gaussian_kl import gaussian_log_density
from dislab.priors.base import Prior


class VampPrior(Prior):
    analytic_kl = False
    factorised = False

    def __init__(self, n_latents: int, *, n_components: int = 50, init_mean: float = 0.5,
                 init_std: float = 0.05, block: tuple[int, int] | list | None = None):
        """``init_mean`` / ``init_std``: the pseudo-inputs start as N(init_mean, init_std²) pixels."""
        super().__init__(n_latents)
        n_components = checks.whole("vamp", "n_components", n_components, minimum=1)
        init_mean = checks.number("vamp", "init_mean", init_mean)
        init_std = checks.number("vamp", "init_std", init_std, minimum=0)
        if block is not None:
            block = (int(block[0]), int(block[1]))
            if block[1] - block[0] != self.n_latents:
                raise ConfigError(f"vamp: block {block} must span n_latents={self.n_latents} columns")
        self.n_components = int(n_components)
        self.init_mean, self.init_std = float(init_mean), float(init_std)
        self.block = block
        self.register_parameter("pseudo_inputs", None)  # (K, C, H, W), created by attach
        self.__dict__["_owner"] = None  # set by attach; a plain reference, never a submodule

    def attach(self, model) -> None:
        """Create the pseudo-inputs ``(K, C, H, W)`` from ``model.config.observation_shape`` and keep
        ``model.encode``. Re-attaching (a deepcopy of the model) keeps existing pseudo-inputs."""
        shape = tuple(int(s) for s in model.config.observation_shape)
        if self.pseudo_inputs is None or tuple(self.pseudo_inputs.shape[1:]) != shape:
            init = self.init_mean + self.init_std * torch.randn(self.n_components, *shape)
            self.pseudo_inputs = nn.Parameter(init.clamp(0.0, 1.0))
        self.__dict__["_owner"] = model

    def _posteriors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(μ_k, log σ_k²) of q(z | u_k), each ``(K, n_latents)``."""
        owner = self.__dict__.get("_owner")
        if owner is None or self.pseudo_inputs is None:
            raise RuntimeError("VampPrior is not attached to a model: call prior.attach(model) first")
        u = self.pseudo_inputs.clamp(0.0, 1.0)  # (K, C, H, W); hard clamp like the authors' hardtanh
        encode = getattr(owner, "prior_encode", owner.encode)  # a cheaper encoder of the prior's columns
        mu, logvar = encode(u)  # (K, columns): at least this prior's block
        start, stop = self.block if self.block is not None else (mu.shape[1] - self.n_latents, mu.shape[1])
        return mu[:, start:stop], logvar[:, start:stop]

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        mu, logvar = self._posteriors()
        comp = gaussian_log_density(z[:, None, :], mu[None], logvar[None]).sum(dim=-1)  # (n, K)
        return torch.logsumexp(comp, dim=1) - math.log(self.n_components)  # (n,)

    def marginal_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        """Exact marginals log p(z_j), ``(n, n_latents)``; they do not sum to log p(z)."""
        mu, logvar = self._posteriors()
        comp = gaussian_log_density(z[:, None, :], mu[None], logvar[None])  # (n, K, d)
        return torch.logsumexp(comp, dim=1) - math.log(self.n_components)

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        mu, logvar = self._posteriors()  # (K, d)
        device = mu.device
        gdev = generator.device if generator is not None else device
        k = torch.randint(self.n_components, (n,), generator=generator, device=gdev).to(device)
        eps = torch.randn(n, self.n_latents, generator=generator, device=gdev).to(device)
        return mu[k] + torch.exp(0.5 * logvar[k]) * eps

    def extra_repr(self) -> str:
        return f"n_latents={self.n_latents}, n_components={self.n_components}"
