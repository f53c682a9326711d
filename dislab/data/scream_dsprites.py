"""scream-dSprites (Locatello et al., ICML 2019, Sec. 5): sprites cut out of a textured background.

For each image: a random 64 × 64 crop of the background picture, mixed with a random colour,
``background = (crop + c) / 2`` with ``c ~ U(0, 1)³``; sprite pixels are inverted,
``1 − background``. Crop position and colour are per-image randomness, deterministic in
``(seed, index)``, not factors.

The reference study used Munch's *The Scream* scaled to 350 × 274 pixels. By default dislab uses a
built-in procedural texture of that size (domain-warped sinusoids, see :func:`builtin_texture`)
so that nothing has to be downloaded; pass ``background=PATH`` to use any picture (read with
PIL, converted to RGB and resized to 350 × 274 like the reference).
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np
import torch

from dislab import checks
from dislab.data import per_index
from dislab.data.dsprites import SIDE, DSpritesVariant
from dislab.errors import DataError

BACKGROUND_SIZE = (350, 274)  # (width, height), as the reference scales its painting


@functools.lru_cache(maxsize=1)
def builtin_texture() -> torch.Tensor:
    """A painting-like texture, float32 ``(3, 274, 350)`` in [0, 1], the same on every machine.

    Each channel is ``½ + ½ sin(2π g·(p + 0.12 w(p)) + ψ)``, mixed over two waves, where ``p`` is
    the pixel position in [0, 1]² and ``w`` a warp field made of four low-frequency sinusoids: swirls
    of colour with structure at several scales, like brush strokes. Fixed constants, no randomness.
    """
    w, h = BACKGROUND_SIZE
    y, x = np.meshgrid(np.linspace(0, 1, h), np.linspace(0, w / h, w), indexing="ij")
    rng = np.random.default_rng(1893)  # fixed: the texture is part of the dataset's definition
    warp = []
    for _ in range(2):
        f = rng.uniform(0.5, 2.5, size=(4, 2))
        ph = rng.uniform(0, 2 * np.pi, size=4)
        warp.append(sum(np.sin(2 * np.pi * (f[k, 0] * x + f[k, 1] * y) + ph[k]) for k in range(4)) / 4)
    px, py = x + 0.12 * warp[0], y + 0.12 * warp[1]
    channels = []
    for _ in range(3):
        g = rng.uniform(1.0, 5.0, size=(2, 2)) * rng.choice([-1, 1], size=(2, 2))
        ph = rng.uniform(0, 2 * np.pi, size=2)
        waves = [np.sin(2 * np.pi * (g[k, 0] * px + g[k, 1] * py) + ph[k]) for k in range(2)]
        channels.append(0.5 + 0.25 * (waves[0] + waves[1]))
    return torch.from_numpy(np.stack(channels).astype(np.float32)).clamp_(0, 1)


def load_background(path: str | os.PathLike) -> torch.Tensor:
    """A user's picture as float32 ``(3, 274, 350)`` in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"scream_dsprites: background image not found: {p}")
    try:
        with Image.open(p) as im:
            rgb = im.convert("RGB").resize(BACKGROUND_SIZE, Image.BILINEAR)
    except (UnidentifiedImageError, OSError) as e:
        raise DataError(f"scream_dsprites: {p} is not a readable image ({e})") from None
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1).contiguous()


class ScreamDSprites(DSpritesVariant):
    """Args: ``seed``, ``path`` (the original dSprites file, optional) and ``background`` (a
    picture; default: the built-in texture)."""

    name = "scream_dsprites"

    def __init__(self, *, seed: int = 0, path=None, background: str | os.PathLike | None = None):
        super().__init__(seed=seed, path=path)
        background = checks.path(self.name, "background", background)
        self.background_path = None if background is None else str(background)
        self.background = builtin_texture() if background is None else load_background(background)

    def paint(self, sprites: torch.Tensor, index: np.ndarray) -> torch.Tensor:
        _, h, w = self.background.shape
        u = per_index.uniform(self.seed, index, 5, stream=3)  # (n, 5): crop x, crop y, colour
        x0 = (u[:, 0] * (w - SIDE + 1)).long().tolist()
        y0 = (u[:, 1] * (h - SIDE + 1)).long().tolist()
        # one slice per image: measured faster than one advanced-indexing gather of all crops
        crop = torch.stack([self.background[:, a:a + SIDE, b:b + SIDE] for a, b in zip(y0, x0)])
        back = crop.add_(u[:, 2:, None, None]).mul_(0.5)  # (n, 3, 64, 64)
        # sprite pixels become 1 − back: back + s·(1 − 2·back) with s in {0, 1}
        return back.addcmul_(sprites, back.mul(-2).add_(1))

    def describe(self) -> dict:
        return {**super().describe(), "background": self.background_path or "builtin"}
