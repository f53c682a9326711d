"""color-dSprites (Locatello et al., ICML 2019, Sec. 5): each sprite drawn in a random colour.

Image = sprite · c with c ~ U(0.5, 1)³ per image, on black; 3 × 64 × 64. The colour is per-image
randomness, deterministic in ``(seed, index)``, not a factor: the factors are dSprites' five.
"""
from __future__ import annotations

import numpy as np
import torch

from dislab.data import per_index
from dislab.data.dsprites import DSpritesVariant


class ColorDSprites(DSpritesVariant):
    name = "color_dsprites"

    def paint(self, sprites: torch.Tensor, index: np.ndarray) -> torch.Tensor:
        colour = 0.5 + 0.5 * per_index.uniform(self.seed, index, 3, stream=1)  # (n, 3) in [0.5, 1)
        return sprites * colour[:, :, None, None]  # (n, 3, 64, 64)
