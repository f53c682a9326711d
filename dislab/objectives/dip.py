"""Covariance penalties of DIP-VAE (Kumar et al., ICLR 2018, "Variational Inference of
Disentangled Latent Concepts from Unlabeled Observations").

Both variants push a covariance matrix of the codes towards the identity:

    penalty(Σ) = λ_od Σ_{i≠j} Σ_ij² + λ_d Σ_i (Σ_ii − 1)²                       (Eqs. 6 and 7)

* DIP-VAE-I (Eq. 6): Σ = Cov_p(x)[μ(x)], the covariance of the encoder means over the batch.
* DIP-VAE-II (Eq. 7): Σ = Cov_q(z)[z] = E_p(x)[diag σ²(x)] + Cov_p(x)[μ(x)], the covariance of the
  sampled codes under the aggregate posterior, in closed form.

Covariances are the batch moments E[μμᵀ] − E[μ]E[μ]ᵀ (divisor n, not n − 1), as in
disentanglement_lib's ``compute_covariance_z_mean``.
"""
from __future__ import annotations

import torch


def covariance_of_means(mu: torch.Tensor) -> torch.Tensor:
    """Cov_p(x)[μ(x)] over the batch, ``(n, D) -> (D, D)``, divisor n."""
    centred = mu - mu.mean(dim=0, keepdim=True)
    return centred.T @ centred / mu.shape[0]


def aggregate_posterior_covariance(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Cov_q(z)[z] = E[diag exp(logvar)] + Cov[μ], ``(D, D)`` (Kumar et al., Eq. 7)."""
    return torch.diag(logvar.exp().mean(dim=0)) + covariance_of_means(mu)


def dip_penalty(covariance: torch.Tensor, lambda_od: float, lambda_d: float) -> dict[str, torch.Tensor]:
    """The two weighted parts of the DIP penalty of a ``(D, D)`` covariance.

    Returns ``{"off_diagonal": λ_od Σ_{i≠j} C_ij², "diagonal": λ_d Σ_i (C_ii − 1)²}`` (scalars, ≥ 0).
    """
    diag = torch.diagonal(covariance)
    off = covariance - torch.diag(diag)
    return {
        "off_diagonal": lambda_od * off.pow(2).sum(),
        "diagonal": lambda_d * (diag - 1.0).pow(2).sum(),
    }
