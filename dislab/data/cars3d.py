"""Cars3D (Reed, Zhang, Zhang & Lee, NeurIPS 2015, "Deep Visual Analogy-Making"): renderings of
183 car models from 4 elevations and 24 azimuths.

Factors, last fastest (17,568 images, resized to 64 × 64 × 3):

    elevation   4
    azimuth    24
    object    183   the car model (files sorted by name)

Files: one ``.mat`` (MATLAB v5, read with ``scipy.io.loadmat``) per car model, as published
(``car_001_mesh.mat`` …), each with the variable ``im`` of shape ``(H, W, 3, 24, 4)`` uint8:
height, width, colour, azimuth, elevation (128 × 128 in the published set). ``path`` is the folder
(``None``: ``$DISLAB_DATA/cars``). The number of models is the number of files found (183 for the
published set). Images are resized once at load (PIL Lanczos) and kept as uint8.
"""
from __future__ import annotations

import os

import numpy as np
import torch

from dislab import progress as bars
from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset
from dislab.errors import DataError

FACTOR_NAMES = ("elevation", "azimuth", "object")
FACTOR_SIZES = (4, 24, 183)


def read_car(path) -> np.ndarray:
    """One car's ``im`` as uint8 ``(elevation 4, azimuth 24, H, W, 3)``."""
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=["im"])
    except Exception as e:  # scipy raises several types for a damaged file
        raise DataError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from None
    if "im" not in mat:
        raise DataError(f"{path}: missing variable 'im'; expected im of shape (H, W, 3, 24, 4)")
    im = mat["im"]
    if im.ndim != 5 or im.shape[2:] != (3, 24, 4) or im.dtype != np.uint8:
        raise DataError(f"{path}: 'im' is {im.dtype} {im.shape}; expected uint8 (H, W, 3, 24, 4)")
    return np.ascontiguousarray(np.transpose(im, (4, 3, 0, 1, 2)))


class Cars3D(FactorDataset):
    """Args: ``path`` (folder of the ``.mat`` files) and ``side`` (64)."""

    name = "cars3d"
    factor_names = FACTOR_NAMES

    def __init__(self, *, path: str | os.PathLike | None = None, side: int = 64):
        from tqdm import tqdm

        side = checks.whole(self.name, "side", side, minimum=4)  # pixels
        folder = files.resolve_path(checks.path(self.name, "path", path), "cars", self.name, folder=True)
        if not folder.is_dir():
            raise DataError(f"cars3d: path must be the folder of the .mat files, got {folder}")
        mats = sorted(p for p in folder.iterdir() if p.suffix == ".mat")
        if not mats:
            raise DataError(f"cars3d: no .mat files in {folder}; expected one per car model")
        if len(mats) > FACTOR_SIZES[2]:
            raise DataError(f"cars3d: {len(mats)} .mat files in {folder}; expected at most {FACTOR_SIZES[2]}")
        self.path, self.side = folder, int(side)
        self.files = [p.name for p in mats]
        self.factor_sizes = (4, 24, len(mats))
        self.observation_shape = (3, self.side, self.side)
        self.factor_values = (np.arange(4, dtype=float), np.arange(24, dtype=float),
                              np.arange(len(mats), dtype=float))
        images = np.empty((4, 24, len(mats), self.side, self.side, 3), np.uint8)  # object fastest
        for k, p in enumerate(tqdm(mats, desc="cars3d", leave=False, disable=bars.disable())):
            car = read_car(p)
            for e in range(4):
                for a in range(24):
                    images[e, a, k] = files.resize_uint8(car[e, a], self.side)
        self._images = images.reshape(-1, self.side, self.side, 3)

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        return files.float_images(self._images[idx])

    def describe(self) -> dict:
        return {**super().describe(), "source": str(self.path)}
