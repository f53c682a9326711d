"""Networks: encoders map images ``(n, C, H, W)`` to ``(mu, logvar)`` each ``(n, n_latents)``;
decoders map codes ``(n, n_latents)`` to pixel logits ``(n, C, H, W)``. No losses live here.

Every constructor takes ``(observation_shape, n_latents, **options)``.
"""
from dislab.registry import Registry

ENCODERS = Registry(
    "encoder",
    {
        "conv64": "dislab.nn.conv64:Conv64Encoder",
    },
)
DECODERS = Registry(
    "decoder",
    {
        "conv64": "dislab.nn.conv64:Conv64Decoder",
    },
)

__all__ = ["ENCODERS", "DECODERS"]
