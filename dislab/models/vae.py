"""The variational autoencoder (Kingma & Welling, ICLR 2014).

Minimises the negative ELBO, averaged over the batch (Eq. 3):

    L(x) = E_q(z|x)[−log p(x|z)] + KL(q(z|x) || p(z))

estimated with one reparameterised sample.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput


@dataclass(frozen=True)
class VAEConfig(ModelConfig):
    model_name = "vae"


class VAE(LatentVariableModel):
    config_class = VAEConfig
    name = "vae"

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        loss = rec + kl
        terms = self.elbo_terms(rec, kl)
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
