"""Any folder of images, without ground-truth factors: for unsupervised training and UDR.

Every ``.png``, ``.jpg``/``.jpeg``, ``.bmp``, ``.gif`` or ``.webp`` under ``path`` (recursively,
sorted by path) is read once with PIL, centre-cropped to a square, resized to ``side × side``
(Lanczos) and kept as uint8. ``factor_names = ()``: metrics that need factors refuse this dataset.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from dislab import progress as bars
from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset
from dislab.errors import DataError

SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")


class ImageFolder(FactorDataset):
    """Args: ``path`` (the folder), ``side`` (pixels, default 64), ``channels`` (3 RGB or 1 grey)."""

    name = "image_folder"
    factor_names = ()
    factor_sizes = ()

    def __init__(self, *, path: str | os.PathLike | None = None, side: int = 64, channels: int = 3):
        from PIL import Image, UnidentifiedImageError
        from tqdm import tqdm

        channels = checks.choice("image_folder", "channels", channels, (1, 3))
        side = checks.whole("image_folder", "side", side, minimum=4)  # pixels
        path = checks.path("image_folder", "path", path)
        if path is None:
            raise DataError("image_folder: pass path=... (the folder of images)")
        folder = Path(path).expanduser()
        if not folder.is_dir():
            raise DataError(f"image_folder: not a folder: {folder}")
        paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
        if not paths:
            raise DataError(f"image_folder: no images ({', '.join(SUFFIXES)}) under {folder}")
        self.path, self.side, self.channels = folder, int(side), channels
        self.files = [str(p.relative_to(folder)) for p in paths]
        self.observation_shape = (channels, self.side, self.side)
        out = np.empty((len(paths), self.side, self.side) + ((3,) if channels == 3 else ()), np.uint8)
        for i, p in enumerate(tqdm(paths, desc="image_folder", leave=False, disable=bars.disable())):
            try:
                with Image.open(p) as im:
                    im = im.convert("RGB" if channels == 3 else "L")
                    w, h = im.size
                    s = min(w, h)
                    box = ((w - s) // 2, (h - s) // 2, (w - s) // 2 + s, (h - s) // 2 + s)
                    out[i] = np.asarray(im.resize((self.side, self.side), Image.LANCZOS, box=box))
            except (UnidentifiedImageError, OSError) as e:
                raise DataError(f"image_folder: {p} is not a readable image ({e})") from None
        self._images = out

    def __len__(self) -> int:
        return len(self._images)

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        return files.float_images(self._images[idx])

    def describe(self) -> dict:
        return {**super().describe(), "source": str(self.path)}
