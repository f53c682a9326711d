"""Ladder VAE (Sønderby, Raiko, Maaløe, Sønderby & Winther, NeurIPS 2016, "Ladder Variational
Autoencoders").

Generative model, levels numbered from the image up (level 0 lowest, L−1 top; codes concatenated
``[z_0, …, z_{L−1}]``, sizes in ``latent_levels``):

    p(z) = p(z_{L−1}) Π_{l<L−1} p(z_l | z_{>l}),   p(z_l | z_{>l}) = N(μ_p,l, σ²_p,l)(g_{l+1})
    p(x | z) through the top-down path g of :class:`dislab.nn.hierarchical.LadderDecoder`.

p(z_{L−1}) is the configured prior (``prior=normal|mog|vamp|flow``); the conditionals are read from
the top-down features g_{l+1}, which depend on every code above l. The whole p(z) is
:class:`LadderPrior`, the model's ``prior``: ``sample`` is ancestral, ``log_prob`` exact; it is
not factorised.

Inference (Sønderby et al., Eq. 17–19): a bottom-up pass gives each level an "approximate
likelihood" N(μ̂_l, σ̂²_l); going down, it is merged with the top-down prior by precision weighting,

    σ_q² = 1 / (σ̂⁻² + σ_p⁻²),     μ_q = (μ̂ σ̂⁻² + μ_p σ_p⁻²) σ_q²,

and z_l ~ q(z_l | x, z_{>l}) = N(μ_q, σ_q²) feeds the next level down. The top level's posterior is
the bottom-up term alone. ``encode`` runs this pass with z_l = μ_q (no noise) and returns every
level's (μ_q, log σ_q²); ``decode`` runs the top-down path on a concatenated code.

Unlike the paper's MNIST model (x depends on z_0 only, MLP layers), x here depends on all levels
through the deterministic top-down path of a variational ladder (Zhao et al. 2017), so traversing
any level changes the image; the inference and the prior are the paper's.

Objective, level by level (``objective``):

* ``"beta_vae"``: L = E[−log p(x|z)] + β Σ_l KL_l, with KL_l = E KL(q(z_l|x, z_{>l}) || p(z_l|z_{>l}))
  in closed form between the two Gaussians for l < L−1, and the configured prior's KL for the top
  level (closed form for ``normal``, one-sample Monte Carlo otherwise; ``kl_monte_carlo`` in the
  terms says which). β = 1 is the Ladder VAE's ELBO.
* ``"beta_tcvae"``: L = E[−log p(x|z)] + Σ_l [KL_l + (β − 1) TC_l], TC_l the total correlation of
  level l's aggregate posterior q(z_l) estimated on the minibatch (Chen et al. 2018, Eq. 4 with
  α = γ = 1, the form disentanglement_lib trains; :func:`dislab.objectives.total_correlation.
  total_correlation`). TC needs no factorised prior, so it applies to the conditional levels too.

Terms: ``reconstruction``, ``kl`` (sum of levels), ``elbo``, ``kl/level<l>``, with β-TCVAE
``total_correlation`` and ``total_correlation/level<l>``, and ``kl_monte_carlo``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dislab.errors import ConfigError
from dislab import checks
from dislab.models.base import LatentVariableModel, ModelConfig, ModelOutput, check
from dislab.nn.hierarchical import ConditionalGaussian, LadderDecoder, LadderEncoder, level_sizes_for
from dislab.objectives.gaussian_kl import gaussian_log_density
from dislab.objectives.reconstruction import reconstruction_nll
from dislab.objectives.total_correlation import ESTIMATORS, total_correlation
from dislab.priors.base import Prior

OBJECTIVES = ("beta_vae", "beta_tcvae")
HIERARCHICAL = "hierarchical"  # the only encoder/decoder value: these models build their ladders


def gaussian_kl_between(mu_q, logvar_q, mu_p, logvar_p) -> torch.Tensor:
    """KL(N(mu_q, σ_q²) || N(mu_p, σ_p²)) summed over the last axis, ``(n,)`` nats, ≥ 0:
    ½ Σ [log σ_p² − log σ_q² + (σ_q² + (mu_q − mu_p)²) / σ_p² − 1]."""
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).pow(2)) * torch.exp(-logvar_p) - 1.0).sum(-1)


def precision_weighted(mu_hat, logvar_hat, mu_p, logvar_p) -> tuple[torch.Tensor, torch.Tensor]:
    """Sønderby et al. Eq. 18–19: merge N(mu_hat, σ̂²) and N(mu_p, σ_p²) by precision,
    σ_q² = 1/(σ̂⁻² + σ_p⁻²), mu_q = (mu_hat σ̂⁻² + mu_p σ_p⁻²) σ_q² (log-space for stability)."""
    logvar_q = -torch.logaddexp(-logvar_hat, -logvar_p)
    mu_q = (mu_hat * torch.exp(logvar_q - logvar_hat) + mu_p * torch.exp(logvar_q - logvar_p))
    return mu_q, logvar_q


def check_hierarchical_fields(cfg) -> None:
    """The fields the two hierarchical configs share, checked in their ``__post_init__``
    (encoder and decoder must be ``"hierarchical"``: ``networks`` of the config says so)."""
    check(cfg, "n_levels", checks.whole, minimum=1)
    check(cfg, "level_sizes", checks.wholes, minimum=1)
    check(cfg, "objective", checks.choice, OBJECTIVES)
    check(cfg, "beta", checks.number, minimum=0)
    check(cfg, "estimator", checks.choice, ESTIMATORS)
    check(cfg, "channels", checks.whole, minimum=1)
    check(cfg, "hidden", checks.whole, minimum=1)
    try:
        level_sizes_for(cfg.n_latents, cfg.n_levels, cfg.level_sizes)  # they fit n_latents
    except ConfigError as e:
        raise ConfigError(f"{cfg.model_name}: {e}") from None


def check_hierarchical_config(cfg, who: str) -> tuple[int, ...]:
    """What the config alone cannot check (the trainer fills in dataset_size); returns the level
    sizes (lowest first)."""
    if cfg.objective == "beta_tcvae" and cfg.estimator == "mss" and cfg.dataset_size is None:
        raise ConfigError(f"{who} with estimator='mss' needs dataset_size (the trainer fills it in)")
    return level_sizes_for(cfg.n_latents, cfg.n_levels, cfg.level_sizes)


def level_penalties(cfg, levels, weights) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The level-by-level regulariser shared by the hierarchical models.

    Args:
        cfg: a config with ``objective``, ``beta``, ``estimator``, ``dataset_size``.
        levels: per level (lowest first) ``(z, mu, logvar, kl)``: codes and posterior ``(n, size)``,
            ``kl`` the per-sample KL ``(n,)``.
        weights: per level ``None`` (the objective applies) or a float (that KL weight alone, no TC:
            pro-VLAE's penalty on levels not yet learned).

    Returns the penalty (scalar) and terms ``kl``, ``kl/level<l>`` (and ``total_correlation``...).
    """
    penalty, terms, kl_total, tc_total = 0.0, {}, 0.0, 0.0
    for l, ((z, mu, logvar, kl), w) in enumerate(zip(levels, weights)):
        kl = kl.mean()
        kl_total = kl_total + kl
        terms[f"kl/level{l}"] = kl.detach()
        if w is not None:
            penalty = penalty + w * kl
        elif cfg.objective == "beta_vae":
            penalty = penalty + cfg.beta * kl
        else:  # beta_tcvae, α = γ = 1
            tc = total_correlation(z, mu, logvar, estimator=cfg.estimator, dataset_size=cfg.dataset_size).mean()
            penalty = penalty + kl + (cfg.beta - 1.0) * tc
            tc_total = tc_total + tc.detach()
            terms[f"total_correlation/level{l}"] = tc.detach()
    terms["kl"] = kl_total.detach()
    if cfg.objective == "beta_tcvae":
        terms["total_correlation"] = torch.as_tensor(tc_total)
    return penalty, terms


@dataclass(frozen=True)
class LadderVAEConfig(ModelConfig):
    encoder: str = HIERARCHICAL
    decoder: str = HIERARCHICAL
    # Number of latent levels; Sønderby et al. use 5 on MNIST (64-32-16-8-4 units). Three levels of
    # the 10 latents of the reference study, split (4, 3, 3) lowest first, suit 64×64 images.
    n_levels: int = 3
    # Explicit sizes, lowest level first (must sum to n_latents); empty: split n_latents evenly.
    level_sizes: tuple = ()
    # "beta_vae" (β on every level's KL) or "beta_tcvae" (KL + (β − 1)·TC on every level).
    objective: str = "beta_vae"
    # β = 1 with "beta_vae" is the Ladder VAE of the paper.
    beta: float = 1.0
    # Total-correlation estimator for "beta_tcvae": "mws" or "mss" (see objectives.total_correlation).
    estimator: str = "mws"
    # Widths of the ladder networks (dislab.nn.hierarchical).
    channels: int = 32
    hidden: int = 256

    model_name = "ladder_vae"
    networks = (HIERARCHICAL,)

    def __post_init__(self):
        super().__post_init__()
        check_hierarchical_fields(self)


class LadderPrior(Prior):
    """p(z) = p(z_{L−1}) Π_l p(z_l | z_{>l}) over the concatenated code (see the module docstring).

    ``top`` is the configured prior of the top level; ``conditionals[l]`` the Gaussian of level l.
    The top-down features come from the owning model's decoder, kept by :meth:`attach` as a plain
    reference (not a submodule). Not factorised; KL by one-sample Monte Carlo.
    """

    analytic_kl = False
    factorised = False

    def __init__(self, top: Prior, level_sizes, decoder: LadderDecoder, *, hidden: int = 256):
        super().__init__(sum(level_sizes))
        self.level_sizes = tuple(level_sizes)
        self.top = top
        self.conditionals = nn.ModuleList(
            [ConditionalGaussian(decoder.feature_shape(l + 1), size, hidden=hidden)
             for l, size in enumerate(self.level_sizes[:-1])])
        self.__dict__["_owner"] = None

    def attach(self, model) -> None:
        self.__dict__["_owner"] = model
        self.top.attach(model)  # a VampPrior on top encodes its pseudo-inputs (last columns = top level)

    def _decoder(self) -> LadderDecoder:
        owner = self.__dict__.get("_owner")
        if owner is None:
            raise RuntimeError("LadderPrior is not attached to its model")
        return owner.decoder

    def log_prob(self, z: torch.Tensor) -> torch.Tensor:
        zs = torch.split(z, self.level_sizes, dim=-1)
        dec = self._decoder()
        out = self.top.log_prob(zs[-1])
        g = dec.top(zs[-1])
        for l in reversed(range(len(zs) - 1)):
            mu_p, logvar_p = self.conditionals[l](g)
            out = out + gaussian_log_density(zs[l], mu_p, logvar_p).sum(-1)
            g = dec.inject(l, g, zs[l])
        return out

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ancestral sampling, top level first; ``(n, n_latents)`` lowest level first."""
        dec = self._decoder()
        z_top = self.top.sample(n, generator).to(dec.final.weight.dtype)  # the networks' dtype
        device = z_top.device
        gdev = generator.device if generator is not None else device
        zs = [z_top]
        g = dec.top(z_top)
        for l in reversed(range(len(self.level_sizes) - 1)):
            mu_p, logvar_p = self.conditionals[l](g)
            eps = torch.randn(mu_p.shape, generator=generator, device=gdev).to(device)
            z_l = mu_p + torch.exp(0.5 * logvar_p) * eps
            zs.insert(0, z_l)
            g = dec.inject(l, g, z_l)
        return torch.cat(zs, dim=-1)

    def estimator_terms(self) -> dict[str, torch.Tensor]:
        return self.top.estimator_terms()  # the conditional levels' KL is always closed form


class LadderVAE(LatentVariableModel):
    config_class = LadderVAEConfig
    name = "ladder_vae"

    def __init__(self, config: LadderVAEConfig | None = None):
        from dislab.priors import PRIORS

        config = LadderVAEConfig() if config is None else config
        if not isinstance(config, LadderVAEConfig):
            raise ConfigError(f"LadderVAE needs a LadderVAEConfig, got {type(config).__name__}")
        sizes = check_hierarchical_config(config, "ladder_vae")
        shape = tuple(config.observation_shape)
        encoder = LadderEncoder(shape, sizes, channels=config.channels, hidden=config.hidden)
        decoder = LadderDecoder(shape, sizes, channels=config.channels, hidden=config.hidden)
        top = PRIORS.get(config.prior)(sizes[-1], **dict(config.prior_options))
        prior = LadderPrior(top, sizes, decoder, hidden=config.hidden)
        super().__init__(config, encoder=encoder, decoder=decoder, prior=prior)
        self.latent_levels: tuple[int, ...] = sizes  # lowest level first

    def _split(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return torch.split(z, self.latent_levels, dim=-1)

    def _infer(self, x: torch.Tensor, sample: bool):
        """Bottom-up then top-down; per level (lowest first) (z, mu_q, logvar_q, kl) and the final g.
        ``kl`` is None without ``sample`` (encode; a VampPrior's own encode must not recurse into it)."""
        bottom_up = self.network(self.encoder, x)  # [(mu_hat, logvar_hat)] lowest first
        n_levels = len(bottom_up)
        mu, logvar = bottom_up[-1]  # the top posterior is the bottom-up term alone
        z = self.reparameterize(mu, logvar) if sample else mu
        levels = [None] * n_levels
        levels[-1] = (z, mu, logvar, self.prior.top.kl(mu, logvar, z) if sample else None)
        g = self.network(self.decoder.top, z)
        for l in reversed(range(n_levels - 1)):
            mu_p, logvar_p = self.prior.conditionals[l](g)
            mu, logvar = precision_weighted(*bottom_up[l], mu_p, logvar_p)
            z = self.reparameterize(mu, logvar) if sample else mu
            levels[l] = (z, mu, logvar, gaussian_kl_between(mu, logvar, mu_p, logvar_p) if sample else None)
            g = self.network(self.decoder.inject, l, g, z)
        return levels, g

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior means and log-variances of every level, ``(n, n_latents)`` each, lowest level
        first, from the deterministic pass (z_l = μ_q at every level)."""
        levels, _ = self._infer(x, sample=False)
        return torch.cat([lv[1] for lv in levels], -1), torch.cat([lv[2] for lv in levels], -1)

    def prior_encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z_top | x) alone, ``(n, top size)`` each: the bottom-up term, no top-down pass. A
        VampPrior on the top level encodes its pseudo-inputs with this."""
        return self.network(self.encoder, x)[-1]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.network(self.decoder, self._split(z))

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:
        levels, g = self._infer(x, sample=True)
        logits = self.network(self.decoder.out, g)
        rec = reconstruction_nll(self.config.reconstruction, logits, x).mean()
        penalty, terms = level_penalties(self.config, levels, [None] * len(levels))
        loss = rec + penalty
        terms = {"reconstruction": rec.detach(), **terms, "elbo": -(rec + terms["kl"]),
                 **self.prior.estimator_terms()}
        cat = lambda i: torch.cat([lv[i] for lv in levels], -1)  # noqa: E731
        return ModelOutput(loss=loss, terms=terms, x_logits=logits, mu=cat(1), logvar=cat(2), z=cat(0))
