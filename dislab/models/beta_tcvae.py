"""β-TCVAE (Chen et al., NeurIPS 2018, "Isolating Sources of Disentanglement in Variational
Autoencoders", Eq. 4): the KL of the ELBO split into index-code mutual information, total
correlation and dimension-wise KL (Eq. 2; :mod:`dislab.objectives.total_correlation`), each
with its own weight,

    L(x) = E_q(z|x)[−log p(x|z)] + α I_q(z; n) + β KL(q(z) || Π_j q(z_j))
           + γ Σ_j KL(q(z_j) || p(z_j)).

How it is computed. The three estimated terms sum, sample by sample, to the one-sample KL, so

    L = reconstruction + KL + (α − 1) MI + (β − 1) TC + (γ − 1) DWKL

is the same objective, and we minimise this form with KL from ``self.prior.kl`` (closed form for
the standard normal). It has the same expectation (and expected gradient) as Eq. 4 with every term
estimated, less variance, and with α = β = γ = 1 it is exactly the VAE. disentanglement_lib's
``beta_tc_vae`` is the special case α = γ = 1 (``kl_loss + (β − 1) · TC``).

The minibatch estimator of log q(z) (``"mws"`` or ``"mss"``) and its constants are described in
:mod:`dislab.objectives.total_correlation`; ``"mss"`` needs the dataset size, which the trainer
fills in as ``config.dataset_size``. log p(z_j) comes from ``self.prior.marginal_log_prob``, so any
factorised prior (standard normal, factorial flow) works; non-factorised priors are refused,
since Σ_j KL(q(z_j) || p(z_j)) is then not the remainder of the decomposition.

The estimators look at every pair in the batch, O(M² D) time and memory for batch size M.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from dislab.errors import ConfigError
from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.objectives.total_correlation import ESTIMATORS, kl_decomposition


@dataclass(frozen=True)
class BetaTCVAEConfig(ModelConfig):
    # Weight of the index-code mutual information; Chen et al. and the reference keep α = 1.
    alpha: float = 1.0
    # Weight of the total correlation; reference grid β ∈ {1, 2, 4, 6, 8, 10}.
    beta: float = 6.0
    # Weight of the dimension-wise KL; Chen et al. and the reference keep γ = 1.
    gamma: float = 1.0
    # "mws" (minibatch weighted sampling, the authors' default and the reference's form) or
    # "mss" (minibatch stratified sampling; needs dataset_size).
    estimator: str = "mws"

    model_name = "beta_tcvae"

    def __post_init__(self):
        super().__post_init__()
        for name in ("alpha", "beta", "gamma"):
            check(self, name, checks.number, minimum=0)
        check(self, "estimator", checks.choice, ESTIMATORS)


class BetaTCVAE(LatentVariableModel):
    config_class = BetaTCVAEConfig
    name = "beta_tcvae"

    def __init__(self, config: BetaTCVAEConfig | None = None, **parts):
        super().__init__(config, **parts)
        cfg = self.config
        # Field values are checked by the config; what is left needs the trainer's dataset_size
        # or the built prior.
        if cfg.estimator == "mss" and cfg.dataset_size is None:
            raise ConfigError("beta_tcvae with estimator='mss' needs the number of training images as "
                              "dataset_size (the trainer fills it in from the dataset); got None")
        if not getattr(self.prior, "factorised", False):
            raise ConfigError(f"beta_tcvae needs a factorised prior (its dimension-wise KL uses "
                              f"log p(z_j)); prior {cfg.prior!r} is not factorised")

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        cfg = self.config
        mu, logvar, z, logits, rec = self.encode_sample_decode(x)
        rec = rec.mean()
        kl = self.prior.kl(mu, logvar, z).mean()
        parts = kl_decomposition(z, mu, logvar, self.prior.marginal_log_prob(z),
                                 estimator=cfg.estimator, dataset_size=cfg.dataset_size)
        mi, tc, dwkl = (parts[k].mean() for k in ("mutual_info", "total_correlation", "dimension_wise_kl"))
        loss = rec + kl + (cfg.alpha - 1.0) * mi + (cfg.beta - 1.0) * tc + (cfg.gamma - 1.0) * dwkl
        terms = {
            **self.elbo_terms(rec, kl),
            "mutual_info": mi.detach(), "total_correlation": tc.detach(),
            "dimension_wise_kl": dwkl.detach(),
        }
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=mu, logvar=logvar, z=z)
