"""Networks: encoders map images ``(n, C, H, W)`` to ``(mu, logvar)`` each ``(n, n_latents)``;
decoders map codes ``(n, n_latents)`` to pixel logits ``(n, C, H, W)``. No losses live here.

Every constructor takes ``(observation_shape, n_latents, **options)``. Keys: ``conv64`` (the
reference study's), ``burgess64`` (Burgess et al., 4×4 kernels throughout), ``mlp`` (Chen et al.'s
1200-1200 pair), ``mlp_small`` (256-256, toy data). FactorVAE's discriminator is
:class:`dislab.nn.discriminator.FCDiscriminator`.
"""
from dislab.registry import Registry

ENCODERS = Registry(
    "encoder",
    {
        "conv64": "dislab.nn.conv64:Conv64Encoder",
        "burgess64": "dislab.nn.burgess64:Burgess64Encoder",
        "mlp": "dislab.nn.mlp:MLPEncoder",
        "mlp_small": "dislab.nn.mlp:MLPSmallEncoder",
    },
)
DECODERS = Registry(
    "decoder",
    {
        "conv64": "dislab.nn.conv64:Conv64Decoder",
        "burgess64": "dislab.nn.burgess64:Burgess64Decoder",
        "mlp": "dislab.nn.mlp:MLPDecoder",
        "mlp_small": "dislab.nn.mlp:MLPSmallDecoder",
    },
)

__all__ = ["ENCODERS", "DECODERS"]
