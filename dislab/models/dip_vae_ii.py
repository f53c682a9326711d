"""DIP-VAE-II (Kumar et al., ICLR 2018, "Variational Inference of Disentangled Latent Concepts
from Unlabeled Observations", Eq. 7): the VAE plus a penalty pulling the covariance of the codes
under the aggregate posterior, Cov_q(z)[z] = E_p(x)[diag σ²(x)] + Cov_p(x)[μ(x)], towards the
identity,

    L(x) = E_q(z|x)[−log p(x|z)] + KL(q(z|x) || p(z))
           + λ_od Σ_{i≠j} Cov_q(z)[z]_ij² + λ_d Σ_i (Cov_q(z)[z]_ii − 1)²

(:mod:`dislab.objectives.dip`). The reference study ties λ_d = λ_od for DIP-VAE-II.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.objectives.dip import aggregate_posterior_covariance, dip_penalty


@dataclass(frozen=True)
class DIPVAEIIConfig(ModelConfig):
    # Off-diagonal weight; reference grid λ_od ∈ {1, 2, 5, 10, 20, 50}.
    lambda_od: float = 10.0
    # Diagonal weight; None means the reference's tie λ_d = λ_od.
    lambda_d: float | None = None

    model_name = "dip_vae_ii"

    def __post_init__(self):
        super().__post_init__()
        check(self, "lambda_od", checks.number, minimum=0)
        check(self, "lambda_d", checks.number, minimum=0, optional=True)


class DIPVAEII(LatentVariableModel):
    config_class = DIPVAEIIConfig
    name = "dip_vae_ii"

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        cfg = self.config
        lambda_d = cfg.lambda_od if cfg.lambda_d is None else cfg.lambda_d
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        penalty = dip_penalty(aggregate_posterior_covariance(mu, logvar), cfg.lambda_od, lambda_d)
        loss = rec + kl + penalty["off_diagonal"] + penalty["diagonal"]
        terms = {**self.elbo_terms(rec, kl),
                 "dip_off_diagonal": penalty["off_diagonal"].detach(),
                 "dip_diagonal": penalty["diagonal"].detach()}
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
