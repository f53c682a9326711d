"""AnnealedVAE, β-VAE with controlled capacity (Burgess et al. 2018, "Understanding
disentangling in β-VAE", Eq. 8):

    L(x) = E_q(z|x)[−log p(x|z)] + γ · |KL(q(z|x) || p(z)) − C(step)|,

with C rising linearly from 0 to ``c_max`` nats over ``iteration_threshold`` steps
(:func:`dislab.objectives.capacity.linear_capacity`). As in disentanglement_lib, the absolute value
is taken of the batch-mean KL. The KL comes from ``self.prior.kl``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.objectives.capacity import capacity_penalty, linear_capacity


@dataclass(frozen=True)
class AnnealedVAEConfig(ModelConfig):
    # Weight of |KL − C|; Burgess et al. and the reference study fix γ = 1000.
    gamma: float = 1000.0
    # Final capacity C in nats; Burgess et al. use 25 on dSprites; reference grid
    # c_max ∈ {5, 10, 25, 50, 75, 100}.
    c_max: float = 25.0
    # Steps over which C rises from 0 to c_max (Burgess et al. and the reference: 100,000).
    iteration_threshold: int = 100_000

    model_name = "annealed_vae"

    def __post_init__(self):
        super().__post_init__()
        check(self, "gamma", checks.number, minimum=0)
        check(self, "c_max", checks.number, minimum=0)
        check(self, "iteration_threshold", checks.whole, minimum=1)


class AnnealedVAE(LatentVariableModel):
    config_class = AnnealedVAEConfig
    name = "annealed_vae"

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        cfg = self.config
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        capacity = linear_capacity(step, cfg.c_max, cfg.iteration_threshold)
        penalty = capacity_penalty(kl, capacity, cfg.gamma)
        loss = rec + penalty
        terms = {**self.elbo_terms(rec, kl),
                 "capacity": kl.new_tensor(capacity), "capacity_penalty": penalty.detach()}
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
