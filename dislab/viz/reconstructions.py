"""Reconstructions: inputs over what the model makes of them.

Each input ``x`` is encoded to its posterior mean ``mu(x)`` and decoded to the mean image of
p(x | z = mu(x)) (no sampling, so the picture is reproducible). The grid alternates a row of inputs
with the row of their reconstructions beneath, ``ncol`` pairs per row.
"""
from __future__ import annotations

import numpy as np
import torch

from dislab.errors import DataError
from dislab.viz.grid import image_grid, to_uint8
from dislab.viz.kl import model_device


@torch.no_grad()
def reconstruct(model, images: torch.Tensor) -> torch.Tensor:
    """Mean reconstructions ``(n, C, H, W)`` in [0, 1] of ``images`` ``(n, C, H, W)``."""
    if images.ndim != 4:
        raise DataError(f"images must have shape (n, C, H, W), got {tuple(images.shape)}")
    mu, _ = model.encode(images.to(model_device(model)))
    return model.decode_mean(mu).float().cpu()


def reconstruction_grid(model, images: torch.Tensor, *, ncol: int = 8, pad: int = 2) -> np.ndarray:
    """uint8 ``(H', W', 3)``: rows ``2r`` are inputs ``r*ncol .. r*ncol+ncol-1``, rows ``2r+1`` their
    reconstructions; a short last row is filled with blank cells."""
    x = to_uint8(images)
    y = to_uint8(reconstruct(model, images))
    n, h, w, _ = x.shape
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    cells = np.full((nrow, 2, ncol, h, w, 3), 255, dtype=np.uint8)
    for i in range(n):
        r, c = divmod(i, ncol)
        cells[r, 0, c] = x[i]
        cells[r, 1, c] = y[i]
    return image_grid(cells.reshape(2 * nrow, ncol, h, w, 3), pad=pad)
