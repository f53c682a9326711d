"""Models: one file per model, ``<name>.py`` holding ``<Name>Config`` (frozen dataclass) and
``<Name>`` (nn.Module). See :mod:`dislab.models.base` for the contract the trainer relies on."""
from __future__ import annotations

from dislab.registry import Registry

# name -> "module:Class"; file name = registry key, class name = CamelCase of it.
MODELS = Registry(
    "model",
    {
        "vae": "dislab.models.vae:VAE",
        "beta_vae": "dislab.models.beta_vae:BetaVAE",
        "annealed_vae": "dislab.models.annealed_vae:AnnealedVAE",
        "beta_tcvae": "dislab.models.beta_tcvae:BetaTCVAE",
        "factor_vae": "dislab.models.factor_vae:FactorVAE",
        "dip_vae_i": "dislab.models.dip_vae_i:DIPVAEI",
        "dip_vae_ii": "dislab.models.dip_vae_ii:DIPVAEII",
        "ladder_vae": "dislab.models.ladder_vae:LadderVAE",
        "pro_vlae": "dislab.models.pro_vlae:ProVLAE",
    },
)


def build_model(name: str, config=None, **overrides):
    """Build the model registered as ``name`` from its config (or the defaults) plus overrides."""
    cls = MODELS.get(name)
    cfg = config if config is not None else cls.config_class()
    if overrides:
        from dislab.models.base import replace_config

        cfg = replace_config(cfg, **overrides)
    return cls(cfg)


__all__ = ["MODELS", "build_model"]
