"""One meaning of "active latent" for every stage of dislab (docs/metrics.md, "Active latents").

A latent j is **active** when its mean KL divergence to the prior over the inputs,

    KL_j = E_x[ KL(q(z_j | x) || p(z_j)) ]        (nats, >= 0),

exceeds ``ACTIVE_KL_THRESHOLD`` = 0.1 nats. ``dislab traverse``, the report's KL chart,
``dislab diagnose``, the ``unsupervised`` metrics' ``n_active`` and UDR's default
``kl_threshold`` all count with :func:`active_mask` on :func:`mean_kl_per_latent`.

Why the mean of the per-input KL and not the KL of the aggregate posterior
``q(z_j) = E_x q(z_j | x)`` against the prior (which the issue first suggested): a perfectly
informative latent can have an aggregate posterior *equal* to the prior -- e.g. ``q(z_j | x)``
a narrow Gaussian at a point whose distribution over x is N(0, 1) -- so that KL is 0 for a latent
that carries everything. The mean per-input KL is an upper bound on the information the latent
carries (``I(x; z_j) <= E_x KL(q(z_j|x) || p(z_j))``), 0 exactly when ``q(z_j | x) = p(z_j)``
for every input (the latent is ignored), and the quantity the ELBO pays for.

Why 0.1 nats and not the 0.01 of UDR's reference code (disentanglement_lib
``evaluation/udr/metrics/udr.py``, written for models trained 300,000 steps): latents that the
decoder ignores do not reach the prior exactly after a shorter training. On dislab's 2,000-step
beta-TC-VAE of dSprites (10 latents, runs/recipe b256-s0) the seven unused latents have mean KL
0.015-0.073 nats (posterior variance ~0.76, variance of the posterior mean ~0.001) and the three
used ones 2.07-2.81: 0.01 calls all ten active, 0.1 separates them. A latent below 0.1 nats carries
at most 0.14 bits about the input. UDR keeps the reference's value available
(``kl_threshold=0.01``), and the reproductions of Duan et al. use it.

The mean KL bounds the information a latent carries, but the bound can be loose: a KL can be
paid without encoding anything, by an offset of the posterior mean shared by every input and a
narrowed variance. :func:`information_bound` measures the information itself (an upper bound for
Gaussian posteriors); the report says when the active latents' KL is mostly not information. Seen
in the locatello2019 cpu study: a collapsed AnnealedVAE whose 23 nats of KL (meeting its capacity
target C = 25) carried at most 0.06 nats about the input, its means within ±0.03 of offsets up to
3.5, while a β-VAE's 8.75 nats of KL carried up to 8.73 (docs/results.md; 8.7–8.9 of each over 1,000–2,000 inputs).

Other counts measure other things and are named for them: IRS's ``num_active_dims`` (codes with
nonzero variance, the reference's key), the unsupervised metrics' ``n_active_units`` (posterior
means with variance > 0.01, Burda et al.'s active units), the FactorVAE score's ``n_kept`` (codes
with standard deviation >= 0.05 that vote) and ``dislab diagnose``'s ``n_polarised`` (mean
posterior variance < 0.5, Rolinek et al.'s active side of polarisation).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ACTIVE_KL_THRESHOLD", "mean_kl_per_latent", "kl_estimator", "active_mask", "n_active",
           "information_bound"]

ACTIVE_KL_THRESHOLD = 0.1  # nats
MC_SAMPLES = 16  # draws of z per input where the prior has no closed-form per-latent KL


def _standard_normal_kl(mu, logvar):
    """KL(N(mu, exp(logvar)) || N(0, 1)) per entry: ½(mu² + σ² − log σ² − 1), nats."""
    return 0.5 * (mu ** 2 + np.exp(logvar) - logvar - 1.0)


def kl_estimator(prior) -> str:
    """How :func:`mean_kl_per_latent` measures a prior: ``"closed form"`` (the standard normal,
    priors with an analytic factorised KL), ``"monte carlo"`` (against the prior's marginals) or
    ``"standard normal"`` (a prior without marginals: measured against N(0, 1), the reference)."""
    if prior is None or type(prior).__name__ == "StandardNormal" or (
            getattr(prior, "analytic_kl", False) and getattr(prior, "factorised", False)):
        return "closed form"
    import torch

    try:
        with torch.no_grad():
            prior.marginal_log_prob(torch.zeros(1, prior.n_latents))
    except NotImplementedError:
        return "standard normal"
    return "monte carlo"


def mean_kl_per_latent(prior, mu, logvar, *, n_samples: int = MC_SAMPLES, seed: int = 0) -> np.ndarray:
    """``KL_j = mean over inputs of KL(q(z_j|x) || p(z_j))``, ``(n_latents,)`` nats, clipped at 0.

    Args:
        prior: the model's prior (``model.prior``), or None for the standard normal.
        mu, logvar: posterior means and log-variances ``(n, n_latents)`` of n inputs.
        n_samples: draws of ``z ~ q(z|x)`` per input for priors without a closed-form per-latent
            KL (a Monte Carlo estimate of ``E_q[log q(z_j|x) - log p(z_j)]`` against the prior's
            marginal ``p(z_j)``; mixtures and the VampPrior have exact marginals).
        seed: seeds those draws.

    The standard normal (and any prior with ``analytic_kl``) uses the closed form
    ``½(mu² + σ² − log σ² − 1)``, the reference's formula. A prior that cannot give per-latent
    marginals is measured against N(0, 1), as the reference measures every model.
    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape or len(mu) == 0:
        raise ValueError(f"mu and logvar must both be (n, n_latents) with n >= 1, got "
                         f"{mu.shape} and {logvar.shape}")
    how = kl_estimator(prior)
    if how == "standard normal" or prior is None or type(prior).__name__ == "StandardNormal":
        return np.clip(_standard_normal_kl(mu, logvar).mean(axis=0), 0.0, None)
    import torch

    device = next(iter(prior.parameters()), torch.zeros(())).device
    m = torch.as_tensor(mu, dtype=torch.float32, device=device)
    lv = torch.as_tensor(logvar, dtype=torch.float32, device=device)
    with torch.no_grad():
        if how == "closed form":
            kl = prior.kl_per_latent(m, lv, m).double().mean(dim=0)
        else:  # E_q[log q(z_j|x) - log p(z_j)], n_samples draws per input
            g = torch.Generator(device=device).manual_seed(int(seed))
            total = torch.zeros(mu.shape[1], dtype=torch.float64, device=device)
            for _ in range(int(n_samples)):
                eps = torch.randn(m.shape, generator=g, device=device)
                z = m + torch.exp(0.5 * lv) * eps
                total += _monte_carlo_kl(prior, m, lv, z).double().mean(dim=0)
            kl = total / int(n_samples)
    return np.clip(kl.cpu().numpy(), 0.0, None)


def _monte_carlo_kl(prior, mu, logvar, z):
    """``log q(z_j|x) - log p(z_j)`` per entry at ``z`` (the prior's marginals)."""
    from dislab.objectives.gaussian_kl import gaussian_log_density

    return gaussian_log_density(z, mu, logvar) - prior.marginal_log_prob(z)


def active_mask(kl, *, threshold: float = ACTIVE_KL_THRESHOLD) -> np.ndarray:
    """Boolean ``(n_latents,)``: ``kl > threshold`` (mean KL per latent in nats)."""
    return np.asarray(kl, dtype=np.float64) > float(threshold)


def n_active(kl, *, threshold: float = ACTIVE_KL_THRESHOLD) -> int:
    """Number of active latents: mean KL above ``threshold`` (0.1 nats)."""
    return int(active_mask(kl, threshold=threshold).sum())


def information_bound(mu, logvar) -> np.ndarray:
    """Upper bound on the information each latent carries about the input, ``(n_latents,)`` nats.

    For Gaussian posteriors ``z_j = mu_j(x) + sigma_j(x) eps`` over the inputs' empirical
    distribution, ``I(x; z_j) = h(z_j) - h(z_j | x)`` with ``h(z_j | x) = E_x[1/2 log(2 pi e
    sigma_j^2)]`` and ``h(z_j) <= 1/2 log(2 pi e Var(z_j))`` (the Gaussian has the largest entropy
    at a given variance), ``Var(z_j) = Var_x(mu_j) + E_x[sigma_j^2]``, so

        I(x; z_j) <= 1/2 (log(Var_x(mu_j) + E_x[sigma_j^2]) - E_x[log sigma_j^2]),

    equal to ``1/2 log(1 + Var_x(mu_j) / sigma_j^2)`` when sigma_j does not depend on x, and 0 for a
    posterior that does not depend on the input (whatever its KL to the prior). ``mu``, ``logvar``:
    ``(n, n_latents)`` posterior means and log-variances, n >= 2. Clipped at 0.
    """
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mu.ndim != 2 or mu.shape != logvar.shape or len(mu) < 2:
        raise ValueError(f"mu and logvar must both be (n, n_latents) with n >= 2, got "
                         f"{mu.shape} and {logvar.shape}")
    total = mu.var(axis=0) + np.exp(logvar).mean(axis=0)
    return np.clip(0.5 * (np.log(total) - logvar.mean(axis=0)), 0.0, None)
