"""DIP-VAE-I (Kumar et al., ICLR 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations", Eq. 6): the VAE plus a penalty pulling the covariance of the encoder
means over the batch, Cov_p(x)[μ(x)], towards the identity,

    L(x) = E_q(z|x)[−log p(x|z)] + KL(q(z|x) || p(z))
           + λ_od Σ_{i≠j} Cov[μ]_ij² + λ_d Σ_i (Cov[μ]_ii − 1)²

(:mod:`dislab.objectives.dip`). The reference study ties λ_d = 10 λ_od for DIP-VAE-I.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.objectives.dip import covariance_of_means, dip_penalty


@dataclass(frozen=True)
class DIPVAEIConfig(ModelConfig):
    # Off-diagonal weight; reference grid λ_od ∈ {1, 2, 5, 10, 20, 50}.
    lambda_od: float = 10.0
    # Diagonal weight; None means the reference's tie λ_d = 10 λ_od.
    lambda_d: float | None = None

    model_name = "dip_vae_i"

    def __post_init__(self):
        super().__post_init__()
        check(self, "lambda_od", checks.number, minimum=0)
        check(self, "lambda_d", checks.number, minimum=0, optional=True)


class DIPVAEI(LatentVariableModel):
    config_class = DIPVAEIConfig
    name = "dip_vae_i"

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        cfg = self.config
        lambda_d = 10.0 * cfg.lambda_od if cfg.lambda_d is None else cfg.lambda_d
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        penalty = dip_penalty(covariance_of_means(mu), cfg.lambda_od, lambda_d)
        loss = rec + kl + penalty["off_diagonal"] + penalty["diagonal"]
        terms = {**self.elbo_terms(rec, kl),
                 "dip_off_diagonal": penalty["off_diagonal"].detach(),
                 "dip_diagonal": penalty["diagonal"].detach()}
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
