"""dSprites (Matthey et al. 2017, deepmind/dsprites-dataset): 2-D sprites with five factors.

Factors (the original's constant colour column dropped), in file order, last fastest:

    shape        3   square, ellipse, heart            (values 1, 2, 3 as in the file)
    scale        6   linspace(0.5, 1, 6)
    orientation 40   linspace(0, 2π, 40) radians      (0 and 2π both present: same image)
    posX        32   linspace(0, 1, 32)
    posY        32   linspace(0, 1, 32)

737,280 binary 64×64 images, flat index = classes · [245760, 40960, 1024, 32, 1].

Two sources:

* **procedural** (default, ``path=None``): dSprites-*like*, not byte-identical. The original
  generator was never released (the images were drawn with a 2-D game framework) and the heart's
  geometry is undocumented, so no exact re-rendering exists. Geometry here:

  - a sprite of scale ``s`` fits in a disc of radius ``10·s`` pixels around its centre;
    square: ``max(|u|, |v|) ≤ R/√2``; ellipse: semi-axes ``R`` and ``R/2`` (long axis along x at
    orientation 0); heart: the parametric curve ``x = 16 sin³t``,
    ``y = 13 cos t − 5 cos 2t − 2 cos 3t − cos 4t`` (tip down), scaled by ``R/17`` so that its
    farthest point from the origin (the tip, 17 units) lies at ``R``. The curve is star-shaped
    around the origin, so a pixel is inside when its distance is below the curve's radius at its
    angle (tabulated once);
  - orientation rotates the sprite counter-clockwise on screen by the factor's value in radians;
  - the centre moves in whole-pixel steps: ``posX = i`` puts the centre at pixel column
    ``16.5 + i`` (so 16.5 … 47.5, the centre half of the frame), likewise ``posY`` for rows,
    counted from the top. Every sprite stays at least 6 pixels inside the frame;
  - a pixel is 1 when its centre is inside the shape (no anti-aliasing: binary, as the original).

  Because the positions are whole pixels, every image is a translated copy of one of
  3·6·40 = 720 templates (25×25 pixels). Those are rasterised once (numpy, float64) on first use,
  and :meth:`DSprites.images` stamps them into empty frames: exact (it equals rasterising each
  image in full, see the tests), needs no set-up beyond the templates and no memory, and costs
  about 0.1% of a conv64 training step. See docs/benchmarks.md "## Data" for the measured
  alternatives (per-batch rasterisation: ~100× slower; full pre-rendering, bit-packed: 3× faster
  per batch but 360 MiB and about a minute to build).

* **the original file** (``path=...``, or ``$DISLAB_DATA``): ``dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``
  with fields ``imgs`` (N, 64, 64) uint8 0/1, ``latents_classes`` (N, 6) int64 and
  ``latents_values`` (N, 6) float64; ``metadata`` (a pickle) is never read. The images are
  streamed from the archive and kept bit-packed (360 MiB for the full set).

:func:`export_npz` writes the procedural set in the original file's layout.
"""
from __future__ import annotations

import functools
import os
import zipfile
from pathlib import Path

import numpy as np
import torch

from dislab import progress as bars
from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset
from dislab.errors import DataError

FILE_NAME = "dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz"
SIDE = 64
FACTOR_NAMES = ("shape", "scale", "orientation", "posX", "posY")
FACTOR_SIZES = (3, 6, 40, 32, 32)
SHAPES = ("square", "ellipse", "heart")

RADIUS_PX = 10.0  # radius of the disc that holds a sprite at scale 1, in pixels
TEMPLATE = 25  # template side; its centre is at pixel centre (12.5, 12.5)
TEMPLATE_ORIGIN = 4  # frame row/column of the template's top-left at posX = posY = 0
_CENTRE0 = TEMPLATE_ORIGIN + TEMPLATE / 2  # 16.5: sprite centre at position index 0


def factor_values() -> tuple[np.ndarray, ...]:
    """Physical value of each class index, per factor, as in the original ``latents_values``."""
    return (
        np.array([1.0, 2.0, 3.0]),
        np.linspace(0.5, 1.0, 6),
        np.linspace(0.0, 2 * np.pi, 40),
        np.linspace(0.0, 1.0, 32),
        np.linspace(0.0, 1.0, 32),
    )


# -- geometry ----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _heart_radius_table(n: int = 8192) -> np.ndarray:
    """Radius of the unit heart (farthest point 1) at ``n`` equally spaced polar angles."""
    t = np.linspace(0.0, 2 * np.pi, 64 * n, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    phi = np.mod(np.arctan2(y, x), 2 * np.pi)
    r = np.hypot(x, y) / 17.0
    order = np.argsort(phi)
    grid = np.arange(n) * (2 * np.pi / n)
    return np.interp(grid, phi[order], r[order], period=2 * np.pi)


def _inside(shape: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test in the sprite's own frame (unit disc radius), ``u`` right, ``v`` up.

    shape ``(n,)`` in {0, 1, 2}; u, v ``(n, H, W)``. Returns bool ``(n, H, W)``.
    """
    square = np.maximum(np.abs(u), np.abs(v)) <= 1 / np.sqrt(2)
    ellipse = u**2 + (2 * v) ** 2 <= 1.0
    table = _heart_radius_table()
    phi = np.mod(np.arctan2(v, u), 2 * np.pi)
    k = np.rint(phi / (2 * np.pi) * len(table)).astype(np.int64) % len(table)
    heart = np.hypot(u, v) <= table[k]
    s = shape[:, None, None]
    return np.where(s == 0, square, np.where(s == 1, ellipse, heart))


def rasterize(shape, scale, orientation, cx, cy, side: int = SIDE) -> np.ndarray:
    """Binary sprites rasterised directly (the reference the fast path is checked against).

    Args:
        shape: ``(n,)`` int in {0: square, 1: ellipse, 2: heart}.
        scale: ``(n,)`` float, 0.5 … 1 (the sprite's disc radius is ``10·scale`` pixels).
        orientation: ``(n,)`` radians, counter-clockwise on screen.
        cx, cy: ``(n,)`` centre in pixel units (pixel ``j`` spans ``[j, j+1)``; rows from the top).
        side: frame side in pixels.

    Returns:
        uint8 ``(n, side, side)`` in {0, 1}: a pixel is 1 when its centre is inside the sprite.
    """
    shape = np.asarray(shape, dtype=np.int64)
    scale, orientation, cx, cy = (np.asarray(a, dtype=np.float64)[:, None, None]
                                  for a in (scale, orientation, cx, cy))
    centres = np.arange(side, dtype=np.float64) + 0.5
    dx = centres[None, None, :] - cx  # (n, 1, W)
    dy = cy - centres[None, :, None]  # (n, H, 1): screen rows grow downwards, v grows upwards
    c, s = np.cos(orientation), np.sin(orientation)
    r = RADIUS_PX * scale
    u = (c * dx + s * dy) / r  # rotate the pixel by -θ into the sprite's frame
    v = (-s * dx + c * dy) / r
    return _inside(shape, u, v).astype(np.uint8)


@functools.lru_cache(maxsize=1)
def _templates() -> torch.Tensor:
    """All 720 sprites (shape, scale, orientation), centred in 25×25 frames, float32 (720, 625)."""
    sh, sc, ori = np.meshgrid(np.arange(3), np.arange(6), np.arange(40), indexing="ij")
    vals = factor_values()
    centre = np.full(sh.size, TEMPLATE / 2)
    t = rasterize(sh.ravel(), vals[1][sc.ravel()], vals[2][ori.ravel()], centre, centre, side=TEMPLATE)
    return torch.from_numpy(t.reshape(len(t), -1).astype(np.float32))


@functools.lru_cache(maxsize=1)
def _template_offsets() -> torch.Tensor:
    """Flat frame offsets (625,) of a template's pixels relative to its top-left corner."""
    r = torch.arange(TEMPLATE)
    return (r[:, None] * SIDE + r[None, :]).reshape(-1)


def render_factors(factors: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """Procedural dSprites images of factor rows ``(n, 5)`` (class indices), float32 (n, 1, 64, 64)
    on ``device``.

    Stamps the precomputed template of (shape, scale, orientation) at the position's whole-pixel
    offset: one scatter of n·625 values, no Python per image. On a GPU the templates are kept on
    the device (:func:`_device_templates`) and only the ``(n,)`` template ids and offsets travel.
    """
    device = torch.device(device)
    f = torch.from_numpy(np.ascontiguousarray(factors, dtype=np.int64))
    tid = (f[:, 0] * 6 + f[:, 1]) * 40 + f[:, 2]
    top_left = (TEMPLATE_ORIGIN + f[:, 4]) * SIDE + (TEMPLATE_ORIGIN + f[:, 3])  # (n,)
    templates, offsets = _device_templates(str(device))
    tid, top_left = tid.to(device, non_blocking=True), top_left.to(device, non_blocking=True)
    out = torch.zeros(len(f), SIDE * SIDE, device=device)
    out.scatter_(1, top_left[:, None] + offsets[None, :], templates[tid])
    return out.view(len(f), 1, SIDE, SIDE)


@functools.lru_cache(maxsize=4)
def _device_templates(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The templates (720, 625) and their frame offsets (625,) on ``device`` (copied once)."""
    if torch.device(device).type == "cpu":
        return _templates(), _template_offsets()
    return _templates().to(device), _template_offsets().to(device)


# -- dataset -----------------------------------------------------------------------------------
class DSprites(FactorDataset):
    """dSprites, procedural by default or read from the original ``.npz`` (``path=``).

    Args:
        path: the original file, or a folder holding it; ``None`` renders the images. Pass
            ``path="env"`` to read ``$DISLAB_DATA/dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz``.
    """

    name = "dsprites"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (1, SIDE, SIDE)

    def __init__(self, *, path: str | os.PathLike | None = None):
        path = checks.path(self.name, "path", path)
        self.factor_values = factor_values()
        self.path: Path | None = None
        self._packed: np.ndarray | None = None
        if path is not None:
            self.path = files.resolve_path(path, FILE_NAME, self.name)
            self._read_file(self.path)

    @property
    def source(self) -> str:
        return "procedural" if self.path is None else str(self.path)

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        if self._packed is None:
            return render_factors(self.factors_of(idx))
        bits = np.unpackbits(self._packed[idx], axis=1, count=SIDE * SIDE)
        return torch.from_numpy(bits).view(len(idx), 1, SIDE, SIDE).float()

    def images_on(self, index, device) -> torch.Tensor:
        if self._packed is None:
            return render_factors(self.factors_of(self.validate_indices(index)), device)
        return super().images_on(index, device)

    def describe(self) -> dict:
        return {**super().describe(), "source": self.source}

    # -- the original file ---------------------------------------------------------------------
    def _read_file(self, path: Path) -> None:
        files.require_keys(path, ("imgs", "latents_classes", "latents_values"))
        classes = files.npz_load(path, "latents_classes")
        values = files.npz_load(path, "latents_values")
        files.check_array(classes.shape, classes.dtype, path=path, field="latents_classes",
                          shape=(None, 6), dtypes=(np.int64, np.int32))
        files.check_array(values.shape, values.dtype, path=path, field="latents_values",
                          shape=(classes.shape[0], 6), dtypes=(np.float64, np.float32))
        img_shape, img_dtype = files.npz_member_info(path, "imgs")
        files.check_array(img_shape, img_dtype, path=path, field="imgs",
                          shape=(classes.shape[0], SIDE, SIDE), dtypes=(np.uint8,))
        if np.any(classes[:, 0] != 0):
            raise DataError(f"{path}: field 'latents_classes' column 0 (color) must be 0 everywhere")
        sizes = files.infer_grid(classes[:, 1:], where=f"{path}: field 'latents_classes'",
                                 names=FACTOR_NAMES)
        if any(s > m for s, m in zip(sizes, FACTOR_SIZES)):
            raise DataError(f"{path}: factor sizes {sizes} exceed dSprites' {FACTOR_SIZES}")
        # A smaller file in the same format (tests) keeps its own grid; the real one is the full grid.
        self.factor_sizes = sizes
        self.factor_values = tuple(self._values_per_class(values[:, j + 1], classes[:, j + 1], sizes[j], path)
                                   for j in range(5))
        n = classes.shape[0]
        packed = np.empty((n, SIDE * SIDE // 8), dtype=np.uint8)
        done = 0
        from tqdm import tqdm

        blocks = files.npz_iter_rows(path, "imgs", 16384)
        for block in tqdm(blocks, total=-(-n // 16384), desc="dsprites: reading imgs", unit="block",
                          leave=False, disable=True if n < 100_000 else bars.disable()):
            if block.max(initial=0) > 1:
                raise DataError(f"{path}: field 'imgs' must hold 0/1 pixels; found {int(block.max())}")
            packed[done:done + len(block)] = np.packbits(block.reshape(len(block), -1), axis=1)
            done += len(block)
        self._packed = packed

    @staticmethod
    def _values_per_class(values: np.ndarray, classes: np.ndarray, size: int, path: Path) -> np.ndarray:
        out = np.zeros(size)
        out[classes] = values
        if not np.allclose(out[classes], values):
            raise DataError(f"{path}: 'latents_values' disagree with 'latents_classes' for one factor")
        return out


def export_npz(path: str | os.PathLike, dataset: DSprites | None = None, *, factors: np.ndarray | None = None,
               compress: bool = True, chunk: int = 8192, progress: bool = True) -> int:
    """Write dSprites in the original file's layout; returns the number of images.

    Fields: ``imgs`` (N, 64, 64) uint8 0/1, ``latents_classes`` (N, 6) int64 and
    ``latents_values`` (N, 6) float64, the size-1 colour column first (class 0, value 1.0). No
    ``metadata`` pickle. The images are streamed into the archive block by block, so the full set
    (2.9 GB of uint8) is never held in memory. ``factors`` (class rows, ``(N, 5)``) restricts the
    export to those images (tests); by default all 737,280, in the original order.
    """
    from tqdm import tqdm

    from dislab.io import atomic_path

    ds = dataset or DSprites()
    if factors is None:
        n = len(ds)
        classes = ds.factors_of(np.arange(n))
    else:
        classes = ds.validate_factors(factors)
        n = len(classes)
    vals = np.stack([ds.factor_values[j][classes[:, j]] for j in range(5)], axis=1)
    latents_classes = np.concatenate([np.zeros((n, 1), np.int64), classes], axis=1)
    latents_values = np.concatenate([np.ones((n, 1)), vals], axis=1).astype(np.float64)
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    index = classes @ np.asarray(ds.strides)
    with atomic_path(path) as tmp:
        with zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
            for key, arr in (("latents_classes", latents_classes), ("latents_values", latents_values)):
                with zf.open(key + ".npy", "w", force_zip64=True) as fp:
                    np.lib.format.write_array(fp, arr, allow_pickle=False)
            with zf.open("imgs.npy", "w", force_zip64=True) as fp:
                header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.uint8)),
                          "fortran_order": False, "shape": (n, SIDE, SIDE)}
                np.lib.format.write_array_header_1_0(fp, header)
                for start in tqdm(range(0, n, chunk), desc="export dsprites", unit="block",
                                  disable=bars.disable(progress)):
                    block = ds.images(index[start:start + chunk])
                    fp.write(block.to(torch.uint8).numpy().tobytes())
    return n


class DSpritesVariant(FactorDataset):
    """Base of the coloured dSprites of the field's reference study (Locatello et al., ICML 2019):
    the five dSprites factors, 3-channel images, and per-image randomness (a colour, noise, a
    background crop) that is *not* a factor. The randomness is a function of ``(seed, index)``
    (:mod:`dislab.data.per_index`), so an index always gives the same image.

    Subclasses implement :meth:`paint` on binary sprites ``(n, 1, 64, 64)``.

    Args:
        seed: seed of the per-image randomness.
        path: the original dSprites file (as for ``dsprites``); ``None`` renders the sprites.
    """

    factor_names = FACTOR_NAMES
    observation_shape = (3, SIDE, SIDE)

    def __init__(self, *, seed: int = 0, path: str | os.PathLike | None = None):
        self.seed = checks.whole(self.name, "seed", seed, minimum=0)
        self.sprites = DSprites(path=checks.path(self.name, "path", path))
        self.factor_sizes = self.sprites.factor_sizes
        self.factor_values = self.sprites.factor_values

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        return self.paint(self.sprites.images(idx), idx)

    def paint(self, sprites: torch.Tensor, index: np.ndarray) -> torch.Tensor:
        """Float32 ``(n, 3, 64, 64)`` in [0, 1] from binary sprites ``(n, 1, 64, 64)``."""
        raise NotImplementedError

    def describe(self) -> dict:
        return {**super().describe(), "source": self.sprites.source, "seed": self.seed}
