"""β-VAE (Higgins et al., ICLR 2017, "β-VAE: Learning Basic Visual Concepts with a Constrained
Variational Framework", Eq. 4): the ELBO with its KL weighted by β,

    L(x) = E_q(z|x)[−log p(x|z)] + β · KL(q(z|x) || p(z)),

averaged over the batch, one reparameterised sample. β = 1 is the VAE; β > 1 trades
reconstruction for a more factorised posterior. The KL comes from the prior (``self.prior.kl``),
closed form for the standard normal, so every prior plugs in.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check


@dataclass(frozen=True)
class BetaVAEConfig(ModelConfig):
    # Weight of the KL. Higgins et al. use β = 4 on dSprites; the reference study sweeps
    # β ∈ {1, 2, 4, 6, 8, 16} (disentanglement_lib unsupervised_study_v1).
    beta: float = 4.0

    model_name = "beta_vae"

    def __post_init__(self):
        super().__post_init__()
        check(self, "beta", checks.number, minimum=0)


class BetaVAE(LatentVariableModel):
    config_class = BetaVAEConfig
    name = "beta_vae"

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        loss = rec + self.config.beta * kl
        terms = self.elbo_terms(rec, kl)
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
