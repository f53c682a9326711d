"""Priors p(z) over ``n_latents`` dimensions; each is a config option (``prior=``) of every model.

Contract (:class:`dislab.priors.base.Prior`)::

    log_prob(z)            (n,)            log p(z), nats
    marginal_log_prob(z)   (n, n_latents)  log p(z_j) per dimension (factorised priors only)
    sample(n, generator)   (n, n_latents)
    kl(mu, logvar, z)      (n,)            KL(q(z|x) || p(z)): closed form where one exists,
                                           else the one-sample Monte Carlo estimate
                                           log q(z|x) − log p(z) at the reparameterised z
    analytic_kl: bool      which of the two ``kl`` is
    factorised: bool       whether p(z) = Π_j p(z_j) (β-TCVAE's dimension-wise KL needs it)
"""
from dislab.registry import Registry

PRIORS = Registry(
    "prior",
    {
        "normal": "dislab.priors.normal:StandardNormal",
        "mog": "dislab.priors.mog:MoG",
        "vamp": "dislab.priors.vamp:VampPrior",
        "flow": "dislab.priors.flow:FactorialFlow",
    },
)

__all__ = ["PRIORS"]
