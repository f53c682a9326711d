"""What every model offers the trainer, the metrics and the pictures.

A model is an ``nn.Module`` with a frozen ``config`` dataclass (saved as JSON beside the weights)::

    encode(x)             (n, C, H, W) -> (mu, logvar), each (n, n_latents)
    decode(z)             (n, n_latents) -> pixel logits (n, C, H, W)
    decode_mean(z)        images in [0, 1], the mean of p(x | z)
    forward(x, step)      -> ModelOutput(loss, terms, aux_losses, ...)
    optimizer_groups()    {"model": [params], "discriminator": [params], ...}

``ModelOutput.loss`` is minimised with respect to the ``"model"`` group; each entry of
``aux_losses`` with respect to the group of the same name (FactorVAE's discriminator). The trainer
takes gradients group by group (``torch.autograd.grad``), so one loss never leaks into another
group's parameters.

Models share this one shallow base class for the plumbing (building networks and prior,
reparameterising); each model's ``forward`` composes the pure terms of :mod:`dislab.objectives`.
No model inherits another model to change one term.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import nn

from dislab import checks
from dislab.errors import ConfigError
from dislab.models.noise import Noise
from dislab.objectives.reconstruction import reconstruction_nll


@dataclass(frozen=True)
class ModelConfig:
    """Options every model shares.

    Attributes:
        n_latents: number of latent dimensions (reference study: 10).
        encoder / decoder: keys of :data:`dislab.nn.ENCODERS` / ``DECODERS``.
        reconstruction: ``"bernoulli"`` (reference default) or ``"gaussian"`` (fixed variance).
        prior: key of :data:`dislab.priors.PRIORS`.
        prior_options: keyword options of that prior (e.g. ``{"n_components": 10}``), JSON-ready.
        observation_shape: ``(C, H, W)``; the trainer fills it in from the dataset.
        dataset_size: number of distinct training images; filled in by the trainer (β-TCVAE's
            minibatch estimators need it).
    """

    n_latents: int = 10
    encoder: str = "conv64"
    decoder: str = "conv64"
    reconstruction: str = "bernoulli"
    prior: str = "normal"
    prior_options: dict = field(default_factory=dict)
    observation_shape: tuple[int, int, int] = (1, 64, 64)
    dataset_size: int | None = None

    # The registry key of the model, for messages ("beta_tcvae: beta must be ...").
    model_name: ClassVar[str] = "model"
    # Allowed encoder/decoder names; None: the keys of dislab.nn.ENCODERS / DECODERS. Models that
    # build their own networks (the hierarchical ones) name theirs.
    networks: ClassVar[tuple[str, ...] | None] = None

    def __post_init__(self):
        """Check every field's type and range here, when the config is made, so ``--set``, a
        study file and the Python API all fail the same way before any run folder is written
        (a wrong value used to surface as a TypeError in the first training step). Subclasses
        call this, then :func:`check` their own fields."""
        from dislab.nn import DECODERS, ENCODERS
        from dislab.objectives.reconstruction import RECONSTRUCTIONS
        from dislab.priors import PRIORS

        who = self.model_name
        check(self, "n_latents", checks.whole, minimum=1)
        for name, registry in (("encoder", ENCODERS), ("decoder", DECODERS)):
            if self.networks is None:
                check(self, name, checks.choice, registry.names())
            elif getattr(self, name) not in self.networks:
                raise checks.fail(who, name, getattr(self, name),
                                  f"one of {list(self.networks)} (the model builds its own networks)")
        check(self, "reconstruction", checks.choice, RECONSTRUCTIONS)
        check(self, "prior", checks.choice, PRIORS.names())
        check(self, "prior_options", checks.mapping)
        checks.keyword_options(f"{who}: prior {self.prior!r}", PRIORS.get(self.prior), self.prior_options)
        check(self, "observation_shape", checks.wholes, length=3)
        check(self, "dataset_size", checks.whole, minimum=1, optional=True)


def check(config, name: str, checker, *args, **kwargs) -> None:
    """Run ``checker(who, name, value, *args, **kwargs)`` (a function of :mod:`dislab.checks`) on
    field ``name`` of a frozen config and store the canonical value it returns."""
    value = checker(config.model_name, name, getattr(config, name), *args, **kwargs)
    object.__setattr__(config, name, value)


def replace_config(config, **overrides):
    """A copy of a frozen config with ``overrides``; unknown keys raise ConfigError naming them."""
    names = {f.name for f in dataclasses.fields(config)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(
            f"unknown option(s) {unknown} for {type(config).__name__}; expected one of {sorted(names)}"
        )
    return dataclasses.replace(config, **overrides)  # __post_init__ checks the values


def config_to_dict(config) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def config_from_dict(cls, data: dict[str, Any]):
    return replace_config(cls(), **dict(data))


@dataclass
class ModelOutput:
    """What ``forward`` returns.

    loss: scalar minimised by the ``"model"`` optimizer group.
    terms: named scalars for logging (``reconstruction``, ``kl``, model-specific terms);
        detached or not, the trainer only reads them.
    aux_losses: scalars minimised by other optimizer groups, keyed by group name.
    """

    loss: torch.Tensor
    terms: dict[str, torch.Tensor] = field(default_factory=dict)
    aux_losses: dict[str, torch.Tensor] = field(default_factory=dict)
    x_logits: torch.Tensor | None = None
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    z: torch.Tensor | None = None


class LatentVariableModel(nn.Module):
    """Shared plumbing: encoder, decoder and prior built from the config unless passed in."""

    config_class = ModelConfig
    name = "model"

    def __init__(self, config: ModelConfig | None = None, *, encoder: nn.Module | None = None,
                 decoder: nn.Module | None = None, prior: nn.Module | None = None):
        super().__init__()
        from dislab.nn import DECODERS, ENCODERS
        from dislab.priors import PRIORS

        config = self.config_class() if config is None else config
        if not isinstance(config, self.config_class):
            raise ConfigError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config
        shape = tuple(config.observation_shape)
        self.encoder = encoder if encoder is not None else ENCODERS.get(config.encoder)(shape, config.n_latents)
        self.decoder = decoder if decoder is not None else DECODERS.get(config.decoder)(shape, config.n_latents)
        self.prior = (prior if prior is not None
                      else PRIORS.get(config.prior)(config.n_latents, **dict(config.prior_options)))
        self.prior.attach(self)  # priors built from the model (VampPrior's pseudo-inputs) hook in here
        # dtype the networks compute in (None: float32). The trainer sets it from TrainConfig.precision
        # (dislab.training.precision); it is not part of the config, since the weights are the same.
        self.network_dtype: torch.dtype | None = None
        # where reparameterize draws ε (dislab.models.noise): torch's default generator unless a
        # caller gives another source; not part of the config or the weights
        self.noise = Noise()

    def network(self, net: nn.Module, *args):
        """``net(*args)`` at the training precision: under bf16 autocast when ``network_dtype`` is
        set, with floating outputs cast back to float32, so that everything outside the networks
        (reparameterisation, priors, every loss term) computes in float32. Models call their
        encoder and decoder through this."""
        if self.network_dtype is None:
            return net(*args)
        from dislab.training.precision import network_autocast, to_float32

        device_type = next(self.parameters()).device.type
        with network_autocast(self.network_dtype, device_type):
            out = net(*args)
        return to_float32(out)

    # -- inference and generation -----------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.network(self.encoder, x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.network(self.decoder, z)

    def decode_mean(self, z: torch.Tensor) -> torch.Tensor:
        """Mean image of p(x | z) in [0, 1] (both reconstructions use σ(logits) as the mean)."""
        return torch.sigmoid(self.decode(z))

    def reparameterize(self, mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """z = mu + exp(½ logvar) · ε (Kingma & Welling 2014, Eq. 10), ``(n, d)`` each, with
        ε ~ N(0, I) drawn from ``self.noise`` (:class:`dislab.models.noise.Noise`)."""
        return mu + torch.exp(0.5 * logvar) * self.noise.normal_like(mu)

    def encode_sample_decode(self, x: torch.Tensor):
        """The step every single-layer model shares: ``(mu, logvar, z, x_logits, rec)`` with
        ``z ~ q(z|x)`` reparameterised and ``rec`` the per-sample −log p(x|z), ``(n,)`` nats."""
        mu, logvar = self.encode(x)  # (n, d) each
        z = self.reparameterize(mu, logvar)
        logits = self.decode(z)
        return mu, logvar, z, logits, reconstruction_nll(self.config.reconstruction, logits, x)

    def elbo_terms(self, rec: torch.Tensor, kl: torch.Tensor) -> dict[str, torch.Tensor]:
        """The logged terms every model shares, from the batch-mean reconstruction and KL:
        ``reconstruction``, ``kl``, ``elbo`` = −(rec + kl) and the prior's ``kl_monte_carlo`` flag."""
        flags = {k: torch.as_tensor(v, device=rec.device) for k, v in self.prior.estimator_terms().items()}
        return {"reconstruction": rec.detach(), "kl": kl.detach(), "elbo": -(rec + kl).detach(), **flags}

    def optimizer_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def optimizer_options(self) -> dict[str, dict[str, Any]]:
        """Adam options per optimizer group that differ from the trainer's (e.g. FactorVAE's
        ``{"discriminator": {"lr": 1e-4, "betas": (0.5, 0.9)}}``); the ``"model"`` group always
        uses the training config's. Empty by default."""
        return {}

    def forward(self, x: torch.Tensor, step: int = 0) -> ModelOutput:  # pragma: no cover
        raise NotImplementedError
