"""smallNORB (LeCun, Huang & Bottou, CVPR 2004): toys photographed under varying pose and light.

Factors (the field's reference study: both splits concatenated, camera 0 only, 96 → 64 pixels):

    category    5   four-legged animal, human figure, airplane, truck, car
    elevation   9   30° to 70° in steps of 5°
    azimuth    18   0° to 340° in steps of 20° (stored as even numbers 0–34, halved here)
    lighting    6   lighting conditions

The instance (10 toys per category, 5 per split) is **not** a factor: several images share each
factor combination. ``instance=None`` (default) draws the instance at random on every call, as
the reference does (one generator per dataset, seeded by ``seed``); ``instance=k`` always shows the
``k``-th instance present for that category (0 ≤ k < 10), which makes ``images`` a pure
function of the index.

Files (in the folder ``path``, by default ``$DISLAB_DATA/small_norb``):
``smallnorb-5x46789x9x18x6x2x96x96-training-{dat,cat,info}.mat`` and
``smallnorb-5x01235x9x18x6x2x96x96-testing-{dat,cat,info}.mat``, in the NORB binary matrix format:
int32 magic (0x1E3D4C55 uint8, 0x1E3D4C54 int32), int32 ndim, max(3, ndim) int32 dims, then the
data, little-endian. ``-dat`` is (N, 2, H, W) uint8, ``-cat`` (N,) int32, ``-info`` (N, 4) int32
(instance, elevation, azimuth, lighting).

The factor sizes are read from the files (largest class + 1, azimuth halved) and every combination
must be present; the published files give the sizes above. Images are resized once at load
(PIL Lanczos, like the reference) and kept as uint8.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from dislab import progress as bars
from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset, as_generator
from dislab.errors import DataError

FACTOR_NAMES = ("category", "elevation", "azimuth", "lighting")
FACTOR_SIZES = (5, 9, 18, 6)
SPLITS = ("5x46789x9x18x6x2x96x96-training", "5x01235x9x18x6x2x96x96-testing")
MAGIC = {0x1E3D4C55: np.uint8, 0x1E3D4C54: np.int32, 0x1E3D4C51: np.float32, 0x1E3D4C53: np.float64}


def read_norb_matrix(path: Path) -> np.ndarray:
    """One NORB binary matrix file as a numpy array (validated header, size and dtype)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise DataError(f"smallnorb: cannot read {path} ({e})") from None
    if len(raw) < 20:
        raise DataError(f"{path}: too short for a NORB binary matrix header")
    magic, ndim = (int(v) for v in np.frombuffer(raw, "<i4", 2))
    if magic not in MAGIC:
        raise DataError(f"{path}: unknown NORB magic number {magic:#x}; expected one of "
                        + ", ".join(f"{m:#x}" for m in MAGIC))
    if not 1 <= ndim <= 8:
        raise DataError(f"{path}: NORB header gives {ndim} dimensions; expected 1 to 8")
    n_dims = max(3, ndim)
    dims = tuple(int(d) for d in np.frombuffer(raw, "<i4", n_dims, 8)[:ndim])
    dtype = np.dtype(MAGIC[magic]).newbyteorder("<")
    offset = 8 + 4 * n_dims
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise DataError(f"{path}: holds {len(raw) - offset} data bytes; the header {dims} "
                        f"{dtype} needs {expected}")
    return np.frombuffer(raw, dtype, offset=offset).reshape(dims)


def write_norb_matrix(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write ``arr`` (uint8 or int32) in the NORB binary matrix format (for tests and subsets)."""
    from dislab.io import atomic_write_bytes

    arr = np.asarray(arr)
    magic = {np.dtype(np.uint8): 0x1E3D4C55, np.dtype(np.int32): 0x1E3D4C54}.get(arr.dtype)
    if magic is None:
        raise DataError(f"NORB matrices here are uint8 or int32, got {arr.dtype}")
    dims = list(arr.shape) + [1] * max(0, 3 - arr.ndim)
    header = np.array([magic, arr.ndim, *dims], "<i4").tobytes()
    atomic_write_bytes(path, header + np.ascontiguousarray(arr, arr.dtype.newbyteorder("<")).tobytes())


class SmallNORB(FactorDataset):
    """Args:
        path: folder holding the six ``.mat`` files (``None``: ``$DISLAB_DATA/small_norb``).
        side: image side after resizing (64 as in the reference).
        camera: which of the two stereo cameras, 0 or 1.
        instance: ``None`` for a random instance per call, or a fixed instance number 0 … 9.
        seed: seed of the instance draws.
    """

    name = "smallnorb"
    factor_names = FACTOR_NAMES

    def __init__(self, *, path: str | os.PathLike | None = None, side: int = 64, camera: int = 0,
                 instance: int | None = None, seed: int = 0):
        from tqdm import tqdm

        camera = checks.choice("smallnorb", "camera", camera, (0, 1))
        side = checks.whole("smallnorb", "side", side, minimum=4)  # pixels
        instance = checks.whole("smallnorb", "instance", instance, minimum=0, optional=True)
        seed = checks.whole("smallnorb", "seed", seed, minimum=0)
        path = checks.path("smallnorb", "path", path)
        folder = files.resolve_path(path, "small_norb", self.name, folder=True)
        if not folder.is_dir():
            raise DataError(f"smallnorb: path must be the folder holding the .mat files, got {folder}")
        self.path, self.side, self.camera = folder, int(side), camera
        self.observation_shape = (1, self.side, self.side)
        imgs, cats, infos = [], [], []
        for split in SPLITS:
            parts = {}
            for kind in ("dat", "cat", "info"):
                p = folder / f"smallnorb-{split}-{kind}.mat"
                if not p.exists():
                    raise DataError(f"smallnorb: file not found: {p}")
                parts[kind] = read_norb_matrix(p)
            dat, cat, info = parts["dat"], parts["cat"].reshape(-1), parts["info"]
            n = dat.shape[0]
            if dat.ndim != 4 or dat.shape[1] != 2 or dat.dtype != np.uint8:
                raise DataError(f"{folder}: {split}-dat is {dat.dtype} {dat.shape}; expected uint8 (N, 2, H, W)")
            if cat.shape != (n,) or info.shape != (n, 4):
                raise DataError(f"{folder}: {split}-cat {cat.shape} / -info {info.shape} do not match "
                                f"-dat's {n} images; expected ({n},) and ({n}, 4)")
            imgs.append(np.stack([files.resize_uint8(dat[i, camera], self.side)
                                  for i in tqdm(range(n), desc=f"smallnorb {split[-8:]}", leave=False,
                                                   disable=bars.disable())]))
            cats.append(cat.astype(np.int64))
            infos.append(info.astype(np.int64))
        self._images = np.concatenate(imgs)  # (N, side, side) uint8
        info = np.concatenate(infos)
        if np.any(info[:, 2] % 2):
            raise DataError(f"{folder}: azimuth values must be even (0, 2, …, 34)")
        classes = np.column_stack([np.concatenate(cats), info[:, 1], info[:, 2] // 2, info[:, 3]])
        if classes.min() < 0:
            raise DataError(f"{folder}: negative factor values in -cat/-info")
        self.factor_sizes = tuple(int(m) + 1 for m in classes.max(0))
        if any(s > m for s, m in zip(self.factor_sizes, FACTOR_SIZES)):
            raise DataError(f"{folder}: factor sizes {self.factor_sizes} exceed smallNORB's {FACTOR_SIZES}")
        self.factor_values = (np.arange(self.factor_sizes[0], dtype=float),
                              30.0 + 5.0 * np.arange(self.factor_sizes[1]),
                              20.0 * np.arange(self.factor_sizes[2]),
                              np.arange(self.factor_sizes[3], dtype=float))
        # rows of each factor combination, ordered by instance: (n_combinations, n_instances)
        flat = classes @ self.strides
        order = np.lexsort((info[:, 0], flat))
        counts = np.bincount(flat, minlength=len(self))
        if counts.min() == 0:
            missing = self.factors_of(np.array([int(np.argmin(counts))]))[0]
            raise DataError(f"{folder}: no image for factors {dict(zip(FACTOR_NAMES, missing.tolist()))}; "
                            "expected every combination")
        if counts.min() != counts.max():
            raise DataError(f"{folder}: factor combinations hold {counts.min()} to {counts.max()} images; "
                            "expected the same number of instances for each")
        self._rows = order.reshape(len(self), counts[0])
        if instance is not None and not 0 <= instance < counts[0]:
            raise DataError(f"smallnorb: instance must be in 0 … {counts[0] - 1}, got {instance}")
        self.instance = instance
        self._rng = as_generator(seed)

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        if self.instance is None:
            pick = self._rng.integers(0, self._rows.shape[1], size=len(idx))
        else:
            pick = np.full(len(idx), self.instance)
        return files.float_images(self._images[self._rows[idx, pick]])

    def describe(self) -> dict:
        return {**super().describe(), "source": str(self.path), "camera": self.camera,
                "instance": "random" if self.instance is None else self.instance,
                "instances_per_combination": int(self._rows.shape[1])}
