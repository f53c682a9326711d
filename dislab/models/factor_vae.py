"""FactorVAE (Kim & Mnih, ICML 2018, "Disentangling by Factorising", Eq. 2 and Algorithm 2):
the VAE plus γ times a density-ratio estimate of the total correlation,

    L(x) = E_q(z|x)[−log p(x|z)] + KL(q(z|x) || p(z)) + γ · E_q(z)[log D(z) / (1 − D(z))],

where the discriminator D tells codes of q(z) from codes whose dimensions were permuted
independently across a batch (:mod:`dislab.objectives.discriminator`).

Training. ``loss`` (minimised over the ``"model"`` group: encoder, decoder, prior) uses the codes
of the whole batch. The discriminator (its own ``"discriminator"`` group and Adam, lr 1e-4,
β₁ 0.5, β₂ 0.9 as in the reference study) minimises ``aux_losses["discriminator"]``: following
Algorithm 2, the batch is split in two halves; the codes of the first half are the "joint"
examples and the independently permuted codes of the second half the "product" examples, so the
two sets are independent. Both are detached: the discriminator's loss never reaches the VAE.
The VAE's gradient does flow through D into z, but the trainer takes the ``"model"`` group's
gradient only with respect to that group's parameters.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dislab.errors import ConfigError
from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.nn.discriminator import FCDiscriminator
from dislab.objectives.discriminator import density_ratio_tc, discriminator_loss, permute_dims


@dataclass(frozen=True)
class FactorVAEConfig(ModelConfig):
    # Weight of the total correlation; reference grid γ ∈ {10, 20, 30, 40, 50, 100}.
    gamma: float = 40.0
    # Discriminator MLP: six hidden layers of 1000 leaky-ReLU units (Kim & Mnih, Appendix A).
    discriminator_hidden: int = 1000
    discriminator_layers: int = 6
    # Its Adam (reference study: lr 1e-4, β₁ 0.5, β₂ 0.9); the VAE's Adam is the trainer's.
    discriminator_lr: float = 1e-4
    discriminator_beta1: float = 0.5
    discriminator_beta2: float = 0.9

    model_name = "factor_vae"

    def __post_init__(self):
        super().__post_init__()
        check(self, "gamma", checks.number, minimum=0)
        check(self, "discriminator_hidden", checks.whole, minimum=1)
        check(self, "discriminator_layers", checks.whole, minimum=1)
        check(self, "discriminator_lr", checks.number, above=0)
        for name in ("discriminator_beta1", "discriminator_beta2"):  # Adam's: in [0, 1)
            check(self, name, checks.number, minimum=0, below=1)


class FactorVAE(LatentVariableModel):
    config_class = FactorVAEConfig
    name = "factor_vae"

    def __init__(self, config: FactorVAEConfig | None = None, *, discriminator: nn.Module | None = None,
                 **parts):
        super().__init__(config, **parts)
        cfg = self.config
        self.discriminator = (discriminator if discriminator is not None else
                              FCDiscriminator(cfg.n_latents, cfg.discriminator_hidden, cfg.discriminator_layers))

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        disc = {id(p) for p in self.discriminator.parameters()}
        return {
            "model": [p for p in self.parameters() if p.requires_grad and id(p) not in disc],
            "discriminator": [p for p in self.discriminator.parameters() if p.requires_grad],
        }

    def optimizer_options(self) -> dict[str, dict]:
        cfg = self.config
        return {"discriminator": {"lr": cfg.discriminator_lr,
                                  "betas": (cfg.discriminator_beta1, cfg.discriminator_beta2)}}

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        if x.shape[0] < 2:
            raise ConfigError(f"factor_vae needs a batch of at least 2 images (one half for each "
                              f"discriminator class), got {x.shape[0]}")
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        tc = density_ratio_tc(self.discriminator(z)).mean()
        loss = rec + kl + self.config.gamma * tc
        half = z.shape[0] // 2
        codes = z.detach()  # (n, d); the discriminator's loss must not train the encoder
        d_loss = discriminator_loss(self.discriminator(codes[:half]),
                                    self.discriminator(permute_dims(codes[half:])))
        terms = {**self.elbo_terms(rec, kl),
                 "total_correlation": tc.detach()}
        return ModelOutput(loss=loss, terms=terms, aux_losses={"discriminator": d_loss},
                           x_logits=logits, mu=mu, logvar=logvar, z=z)
