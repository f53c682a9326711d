"""Networks of the hierarchical models: a bottom-up ladder encoder and a top-down ladder decoder.

Levels are numbered from the image up: **level 0 is the lowest** (closest to the pixels, most
detailed), level L−1 the top (most abstract). Codes of all levels are concatenated in that order,
``[z_0, z_1, …, z_{L−1}]``, and ``latent_levels`` lists their sizes.

The layout is that of the variational ladder autoencoder (Zhao, Song & Ermon, ICML 2017) as used by
pro-VLAE (Li et al., ICLR 2020, Fig. 1 and the authors' code), for square images of side S with S
divisible by 2^(L+1) (64 with L ≤ 5; 16 with L ≤ 3 for tests):

Bottom-up (inference):
    h_1 = conv(x), h_{l+1} = conv(h_l)                  Conv C 4×4 stride 2, ELU: side S/2^l
    level l reads h_{l+1}: Conv C 4×4 s2 → flatten → Dense H (ELU) → mean and log-variance heads.
Top-down (generation):
    g_{L−1} = deconv(map(z_{L−1}))                      map(z) = Dense H → Dense C·s² (ELU), reshape
    g_l = deconv([gate_l · map_l(z_l), g_{l+1}])        channel concatenation, ConvT C 4×4 s2, ELU
    logits = ConvT(g_0) to the image's channels.
Level l's map has side S/2^(l+2) and g_l side S/2^(l+1). Every level reaches the image through the
deterministic path g, so decoding the concatenated code uses all of it.

Widths: C = 32 channels, H = 256 hidden units (the pro-VLAE code's hidden_dim and fc_dim). The
authors' batch normalisation is left out: it makes a model's output depend on its batch and on
train/eval mode, which the contract (encode one image, Jacobians of the decoder) does not allow.

``gates`` (one float per level; default all 1) scale what a level contributes: pro-VLAE fades a new
level in (0 → 1) and blocks levels not yet learned (0), on both the encoder head's input and the
decoder's injection, as the authors do.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from dislab.errors import ConfigError


def level_sizes_for(n_latents: int, n_levels: int, level_sizes: Sequence[int] = ()) -> tuple[int, ...]:
    """Sizes of the levels, lowest first: ``level_sizes`` if given (must sum to ``n_latents``), else
    ``n_latents`` split as evenly as possible with the remainder on the lowest levels.

    >>> level_sizes_for(10, 3)
    (4, 3, 3)
    """
    n_latents, n_levels = int(n_latents), int(n_levels)
    if level_sizes:
        sizes = tuple(int(s) for s in level_sizes)
        if any(s < 1 for s in sizes) or sum(sizes) != n_latents:
            raise ConfigError(f"level_sizes {list(sizes)} must be positive and sum to n_latents={n_latents}")
        return sizes
    if n_levels < 1 or n_latents < n_levels:
        raise ConfigError(f"n_levels must be in [1, n_latents={n_latents}], got {n_levels}")
    base, extra = divmod(n_latents, n_levels)
    return tuple(base + (1 if i < extra else 0) for i in range(n_levels))


def check_geometry(observation_shape, n_levels: int) -> tuple[int, int]:
    """(channels, side) of a square image whose side is divisible by 2^(n_levels + 1)."""
    c, h, w = (int(s) for s in observation_shape)
    need = 2 ** (int(n_levels) + 1)
    if h != w or h % need or h < need:
        raise ConfigError(f"hierarchical networks with {n_levels} levels need square images with a side "
                          f"divisible by {need}; got observation_shape {(c, h, w)}")
    return c, h


def _conv(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 4, stride=2, padding=1), nn.ELU())


def _deconv(cin, cout, act=True):
    layers = [nn.ConvTranspose2d(cin, cout, 4, stride=2, padding=1)]
    return nn.Sequential(*layers, nn.ELU()) if act else layers[0]


class LadderEncoder(nn.Module):
    """Bottom-up ladder: ``forward(x, gates)`` -> list of ``(mu, logvar)`` per level, lowest first,
    each ``(n, size_l)`` (the "approximate likelihood" terms of a Ladder VAE, the posteriors of a VLAE)."""

    def __init__(self, observation_shape, level_sizes: Sequence[int], *, channels: int = 32, hidden: int = 256):
        super().__init__()
        self.level_sizes = tuple(int(s) for s in level_sizes)
        n = len(self.level_sizes)
        cin, side = check_geometry(observation_shape, n)
        self.trunk = nn.ModuleList([_conv(cin if l == 0 else channels, channels) for l in range(n)])
        self.heads = nn.ModuleList()
        for l, size in enumerate(self.level_sizes):
            out_side = side // 2 ** (l + 2)
            self.heads.append(nn.ModuleDict({
                "features": nn.Sequential(_conv(channels, channels), nn.Flatten(),
                                          nn.Linear(channels * out_side * out_side, hidden), nn.ELU()),
                "mean": nn.Linear(hidden, size), "logvar": nn.Linear(hidden, size)}))

    def forward(self, x: torch.Tensor, gates: Sequence[float] | None = None):
        out, h = [], x
        for l, (block, head) in enumerate(zip(self.trunk, self.heads)):
            h = block(h)  # (n, C, S/2^(l+1), S/2^(l+1))
            gate = 1.0 if gates is None else gates[l]
            f = head["features"](h * gate if gate != 1.0 else h)  # (n, H)
            out.append((head["mean"](f), head["logvar"](f)))
        return out


class LadderDecoder(nn.Module):
    """Top-down ladder: ``top(z_top)``, ``inject(l, g, z_l, gate)`` and ``out(g)``; ``forward(zs, gates)``
    runs them all for a list of per-level codes (lowest first) and returns pixel logits ``(n, C, S, S)``.
    ``feature_shape(l)``: shape ``(C, s, s)`` of g_l, which a Ladder VAE's conditional prior reads."""

    def __init__(self, observation_shape, level_sizes: Sequence[int], *, channels: int = 32, hidden: int = 256):
        super().__init__()
        self.level_sizes = tuple(int(s) for s in level_sizes)
        n = len(self.level_sizes)
        cout, self.side = check_geometry(observation_shape, n)
        self.channels = channels
        self.maps = nn.ModuleList()
        self.deconvs = nn.ModuleList()
        for l, size in enumerate(self.level_sizes):
            s = self.side // 2 ** (l + 2)
            self.maps.append(nn.Sequential(nn.Linear(size, hidden), nn.ELU(),
                                           nn.Linear(hidden, channels * s * s), nn.ELU(),
                                           nn.Unflatten(1, (channels, s, s))))
            top = l == n - 1
            self.deconvs.append(_deconv(channels if top else 2 * channels, channels))
        self.final = _deconv(channels, cout, act=False)

    def feature_shape(self, level: int) -> tuple[int, int, int]:
        s = self.side // 2 ** (level + 1)
        return (self.channels, s, s)

    def top(self, z_top: torch.Tensor) -> torch.Tensor:
        top = len(self.level_sizes) - 1
        return self.deconvs[top](self.maps[top](z_top))  # g_{L-1}

    def inject(self, level: int, g: torch.Tensor, z: torch.Tensor, gate: float = 1.0) -> torch.Tensor:
        m = self.maps[level](z)  # (n, C, s, s), s = side of g_{level+1}
        if gate != 1.0:
            m = m * gate
        return self.deconvs[level](torch.cat([m, g], dim=1))  # g_level

    def out(self, g0: torch.Tensor) -> torch.Tensor:
        return self.final(g0)  # (n, C_img, S, S) logits

    def forward(self, zs: Sequence[torch.Tensor], gates: Sequence[float] | None = None) -> torch.Tensor:
        n = len(self.level_sizes)
        g = self.top(zs[-1])
        for l in reversed(range(n - 1)):
            g = self.inject(l, g, zs[l], 1.0 if gates is None else gates[l])
        return self.out(g)


class ConditionalGaussian(nn.Module):
    """p(z_l | z_{>l}) = N(μ(g_{l+1}), diag σ²(g_{l+1})) read from the top-down features: flatten →
    Dense H (ELU) → mean and log-variance heads (Sønderby et al. 2016, Eq. 15's top-down Gaussian)."""

    def __init__(self, feature_shape: tuple[int, int, int], size: int, *, hidden: int = 256):
        super().__init__()
        c, h, w = feature_shape
        self.features = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ELU())
        self.mean = nn.Linear(hidden, size)
        self.logvar = nn.Linear(hidden, size)

    def forward(self, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = self.features(g)
        return self.mean(f), self.logvar(f)
