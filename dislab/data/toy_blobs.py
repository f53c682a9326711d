"""A tiny ground-truth dataset that renders in milliseconds: one coloured Gaussian blob.

Factors (all independent, full factorial, last one fastest):
    x     ``n_pos`` positions, centre from 0.25 to 0.75 of the width
    y     ``n_pos`` positions, likewise for the height
    size  4 radii, 0.06 to 0.14 of the side (standard deviation of the blob)
    hue   4 hues from the HSV circle, 0, 0.25, 0.5, 0.75 (saturation and value 1)

Images are ``(3, side, side)`` float32 in [0, 1]: ``rgb(hue) * exp(-d² / 2σ²)`` on black.
With the defaults (8 positions, side 64) the set has 8·8·4·4 = 1,024 images, all distinct.
"""
from __future__ import annotations

import colorsys

import numpy as np
import torch

from dislab import checks
from dislab.data.base import FactorDataset


class ToyBlobs(FactorDataset):
    name = "toy_blobs"
    factor_names = ("x", "y", "size", "hue")

    def __init__(self, *, side: int = 64, n_pos: int = 8):
        side = checks.whole(self.name, "side", side, minimum=8)  # pixels
        n_pos = checks.whole(self.name, "n_pos", n_pos, minimum=2)
        self.side = side
        self.factor_sizes = (int(n_pos), int(n_pos), 4, 4)
        self.observation_shape = (3, self.side, self.side)
        pos = np.linspace(0.25, 0.75, n_pos)
        sizes = np.linspace(0.06, 0.14, 4)
        hues = np.arange(4) / 4.0
        self.factor_values = (pos, pos, sizes, hues)
        self._rgb = torch.tensor([colorsys.hsv_to_rgb(h, 1.0, 1.0) for h in hues], dtype=torch.float32)
        grid = (torch.arange(self.side, dtype=torch.float32) + 0.5) / self.side
        self._grid = grid  # (side,) pixel centres in [0, 1]

    def images(self, index) -> torch.Tensor:
        f = torch.from_numpy(self.factors_of(index))  # (n, 4)
        pos = torch.as_tensor(self.factor_values[0], dtype=torch.float32)
        sizes = torch.as_tensor(self.factor_values[2], dtype=torch.float32)
        cx, cy, sigma = pos[f[:, 0]], pos[f[:, 1]], sizes[f[:, 2]]  # (n,)
        g = self._grid
        # separable Gaussian: exp(-(dx² + dy²) / 2σ²) = outer(exp(-dy²/2σ²), exp(-dx²/2σ²))
        gx = torch.exp(-((g[None, :] - cx[:, None]) ** 2) / (2 * sigma[:, None] ** 2))  # (n, W)
        gy = torch.exp(-((g[None, :] - cy[:, None]) ** 2) / (2 * sigma[:, None] ** 2))  # (n, H)
        blob = gy[:, :, None] * gx[:, None, :]  # (n, H, W)
        rgb = self._rgb[f[:, 3]]  # (n, 3)
        return (rgb[:, :, None, None] * blob[:, None]).contiguous()  # (n, 3, H, W)
