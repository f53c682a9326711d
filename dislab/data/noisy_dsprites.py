"""noisy-dSprites (Locatello et al., ICML 2019, Sec. 5): white sprites on uniform noise.

Image = min(sprite + ε, 1) with ε ~ U(0, 1) per pixel and channel; 3 × 64 × 64. The noise is
per-image randomness, deterministic in ``(seed, index)``, not a factor.
"""
from __future__ import annotations

import numpy as np
import torch

from dislab.data import per_index
from dislab.data.dsprites import SIDE, DSpritesVariant


class NoisyDSprites(DSpritesVariant):
    name = "noisy_dsprites"

    def paint(self, sprites: torch.Tensor, index: np.ndarray) -> torch.Tensor:
        noise = per_index.uniform(self.seed, index, 3 * SIDE * SIDE, stream=2).view(-1, 3, SIDE, SIDE)
        return noise.add_(sprites).clamp_(max=1.0)  # (n, 3, 64, 64)
