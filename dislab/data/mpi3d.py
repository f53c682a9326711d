"""MPI3D (Gondal et al., NeurIPS 2019, rr-learning/disentanglement_dataset): a robot finger
holding an object, photographed (``real``) or rendered (``toy``, ``realistic``).

Factors, in file order, last fastest (the ``6x6`` layout: 1,036,800 images, 64 × 64 × 3):

    object_color      6   white, green, red, blue, brown, olive
    object_shape      6   cone, cube, cylinder, hexagonal, pyramid, sphere
    object_size       2   small, large
    camera_height     3   top, center, bottom
    background_color  3   purple, sea green, salmon
    horizontal_axis  40   first degree of freedom of the arm
    vertical_axis    40   second degree of freedom

``layout="4x4"`` reads the 4-colour × 4-shape files: the earlier toy/realistic release the
field's reference study used, and ``mpi3d_complex`` (coffee cup, tennis ball, croissant, beer cup).

Read from the user's ``.npz`` (key ``images``, ``(N, 64, 64, 3)`` uint8, rows in factor order).
An uncompressed archive (as published) is memory-mapped, so the 12 GB ``real`` file is not loaded;
a compressed one is loaded into memory. ``path`` is the file or a folder holding
``mpi3d_{subset}.npz``; ``None`` looks in ``$DISLAB_DATA``.

The two arm axes must have the same number of steps ``k``; ``k`` is read from the file's length
(``N = 6·6·2·3·3·k²``), 40 for every published file. Files with fewer steps (tests, subsets made
by the user) are read through the same code path.
"""
from __future__ import annotations

import math
import os

import numpy as np
import torch

from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset
from dislab.errors import DataError

FACTOR_NAMES = ("object_color", "object_shape", "object_size", "camera_height",
                "background_color", "horizontal_axis", "vertical_axis")
LAYOUTS = {"6x6": (6, 6, 2, 3, 3), "4x4": (4, 4, 2, 3, 3)}
SUBSETS = ("toy", "realistic", "real", "complex")
AXIS_STEPS = 40


class MPI3D(FactorDataset):
    """Args:
        path: the ``.npz`` file or its folder (``None``: ``$DISLAB_DATA``).
        subset: ``toy``, ``realistic``, ``real`` or ``complex``: names the default file
            ``mpi3d_{subset}.npz`` and, for ``complex``, implies ``layout="4x4"``.
        layout: ``"6x6"`` or ``"4x4"`` colours × shapes; default from ``subset``.
    """

    name = "mpi3d"
    factor_names = FACTOR_NAMES
    observation_shape = (3, 64, 64)

    def __init__(self, *, path: str | os.PathLike | None = None, subset: str = "toy",
                 layout: str | None = None):
        subset = checks.choice(self.name, "subset", subset, SUBSETS)
        layout = checks.choice(self.name, "layout", layout, (*LAYOUTS, None))
        layout = layout or ("4x4" if subset == "complex" else "6x6")
        path = checks.path(self.name, "path", path)
        self.subset, self.layout = subset, layout
        self.path = files.resolve_path(path, f"mpi3d_{subset}.npz", self.name)
        files.require_keys(self.path, ("images",))
        shape, dtype = files.npz_member_info(self.path, "images")
        files.check_array(shape, dtype, path=self.path, field="images", shape=(None, 64, 64, 3),
                          dtypes=(np.uint8,))
        base = int(np.prod(LAYOUTS[layout]))
        k = math.isqrt(shape[0] // base) if shape[0] % base == 0 else 0
        if k < 1 or base * k * k != shape[0]:
            raise DataError(
                f"{self.path}: field 'images' has {shape[0]} rows; layout {layout} expects "
                f"{base}·k² rows ({base * AXIS_STEPS ** 2:,} for the published files, k = {AXIS_STEPS})"
            )
        self.factor_sizes = LAYOUTS[layout] + (k, k)
        self.factor_values = tuple(np.arange(s, dtype=np.float64) for s in self.factor_sizes)
        self._images = self._open()

    def _open(self) -> np.ndarray:
        mapped = files.npz_memmap(self.path, "images")
        if mapped is None:  # compressed: no way to map it, load it once
            return files.npz_load(self.path, "images")
        return mapped

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        if self._images is None:
            self._images = self._open()
        return files.float_images(self._images[idx])

    def __getstate__(self):  # pickling a memmap copies the whole array; send the path instead
        state = dict(self.__dict__)
        if isinstance(self._images, np.memmap):
            state["_images"] = None
        return state

    def describe(self) -> dict:
        return {**super().describe(), "source": str(self.path), "layout": self.layout}
