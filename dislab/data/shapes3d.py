"""3DShapes (Burgess & Kim 2018, deepmind/3d-shapes): an object in a room, six factors.

Factors, in file order, last fastest (480,000 images, 64 × 64 × 3):

    floor_hue    10   0.0, 0.1, …, 0.9
    wall_hue     10   0.0, 0.1, …, 0.9
    object_hue   10   0.0, 0.1, …, 0.9
    scale         8   linspace(0.75, 1.25, 8)
    shape         4   cube, cylinder, sphere, capsule   (values 0, 1, 2, 3)
    orientation  15   linspace(−30, 30, 15) degrees

Two sources:

* **procedural** (default, ``path=None``): a *shapes3d-like* 2.5-D render with the same factor grid,
  cheap enough to train on. It is not the original (which was rendered in 3-D with MuJoCo and
  never re-released as code): a room corner — two wall planes meeting at a vertical edge, a floor
  whose far edge rises towards the corner — and a shaded object standing on the floor in the
  middle. Orientation turns the view: the corner moves across the frame (column
  ``0.5 − 0.8 sin θ`` of the width) and the object turns with it, so orientation is visible for
  every shape. Shapes, with the object's size proportional to ``scale``:

  - cube: a box turned by θ about the vertical axis, seen slightly from above (visible faces are
    convex quadrilaterals, each Lambert-shaded by its normal);
  - cylinder: upright, a shaded body and an elliptic top face;
  - sphere: a Lambert-shaded disc;
  - capsule: lying on the floor along the turned horizontal axis (its apparent length changes with θ).

  Colours are HSV(hue, 1, 1), multiplied by the shading. Object silhouettes and shading
  (4·8·15 = 480 layers) and the room (15 layers) are rendered once on first use at 2× resolution
  and averaged down (anti-aliased edges); :meth:`Shapes3D.images` then only mixes colours.

* **the original file** (``path=...`` or ``$DISLAB_DATA/3dshapes.h5``): ``images`` (N, 64, 64, 3)
  uint8 and ``labels`` (N, 6) float64, read lazily with h5py (install ``dislab[h5]``). The factor
  grid is inferred from ``labels`` (distinct values per column) and must be full-factorial in file
  order; the real file gives the sizes above.
"""
from __future__ import annotations

import colorsys
import functools
import os
from pathlib import Path

import numpy as np
import torch

from dislab import checks
from dislab.data import files
from dislab.data.base import FactorDataset
from dislab.errors import DataError

FILE_NAME = "3dshapes.h5"
FACTOR_NAMES = ("floor_hue", "wall_hue", "object_hue", "scale", "shape", "orientation")
FACTOR_SIZES = (10, 10, 10, 8, 4, 15)
SHAPES = ("cube", "cylinder", "sphere", "capsule")
SIDE = 64
_SUPER = 2  # supersampling factor of the pre-rendered layers
_LIGHT = np.array([-0.5, 0.7, 0.5]) / np.linalg.norm([-0.5, 0.7, 0.5])  # world: x right, y up, z to camera
_TILT = 0.35  # screen-y per unit of depth: the camera looks slightly down
_BASE_Y = 0.8  # screen row (fraction of the height) where the object touches the floor


def factor_values() -> tuple[np.ndarray, ...]:
    hues = np.arange(10) / 10.0
    return (hues, hues, hues, np.linspace(0.75, 1.25, 8), np.arange(4, dtype=np.float64),
            np.linspace(-30.0, 30.0, 15))


def _lambert(nx, ny, nz):
    """Ambient + diffuse brightness of unit normals (arrays), in [0.35, 1]."""
    return 0.35 + 0.65 * np.clip(nx * _LIGHT[0] + ny * _LIGHT[1] + nz * _LIGHT[2], 0, None)


def _in_convex(px, py, verts) -> np.ndarray:
    """Points inside a convex polygon ``verts`` (k, 2) in either winding; px, py (H, W)."""
    sign = None
    inside = np.ones(px.shape, bool)
    for i in range(len(verts)):
        (x1, y1), (x2, y2) = verts[i], verts[(i + 1) % len(verts)]
        cross = (x2 - x1) * (py - y1) - (y2 - y1) * (px - x1)
        if sign is None:
            # winding from the polygon's own area sign, so both orientations work
            area = sum(verts[j][0] * verts[(j + 1) % len(verts)][1] - verts[(j + 1) % len(verts)][0] * verts[j][1]
                       for j in range(len(verts)))
            sign = 1.0 if area >= 0 else -1.0
        inside &= sign * cross >= 0
    return inside


def _object(shape: int, s: float, theta: float, px, py):
    """(alpha, shade) of one object on the pixel grid px, py (H, W) in [0, 1]; theta in radians."""
    alpha = np.zeros(px.shape, bool)
    shade = np.zeros(px.shape)
    x0 = 0.5
    c, si = np.cos(theta), np.sin(theta)
    if shape == 0:  # cube: footprint corners (X, Z) turned by θ, projected x = X, y = base − Y + tilt·Z
        a = 0.1 * s
        corners = [(-a, -a), (a, -a), (a, a), (-a, a)]
        turned = [(x * c + z * si, -x * si + z * c) for x, z in corners]

        def proj(X, Z, Y):
            return (x0 + X, _BASE_Y - Y + _TILT * Z)

        faces = []
        for i in range(4):  # side faces: normal of edge i -> i+1, visible when it faces the camera
            (xa, za), (xb, zb) = turned[i], turned[(i + 1) % 4]
            n = np.array([zb - za, 0.0, -(xb - xa)])
            n /= np.linalg.norm(n)
            if (xa + xb) * n[0] + (za + zb) * n[2] < 0:
                n = -n
            if n[2] > 1e-9:
                faces.append(([proj(xa, za, 0), proj(xb, zb, 0), proj(xb, zb, 2 * a), proj(xa, za, 2 * a)], n))
        faces.append(([proj(x, z, 2 * a) for x, z in turned], np.array([0.0, 1.0, 0.0])))  # top
        for verts, n in faces:
            m = _in_convex(px, py, verts)
            alpha |= m
            shade = np.where(m, _lambert(*n), shade)
    elif shape == 1:  # cylinder: upright, radius r, height h, top face an ellipse
        r, h = 0.1 * s, 0.22 * s
        dx = (px - x0) / r
        er = _TILT * r  # vertical semi-axis of the elliptic rims
        body = (np.abs(dx) <= 1) & (py >= _BASE_Y - h) & (py <= _BASE_Y + er * np.sqrt(np.clip(1 - dx**2, 0, 1)))
        top = dx**2 + ((py - (_BASE_Y - h)) / er) ** 2 <= 1
        nz = np.sqrt(np.clip(1 - dx**2, 0, 1))
        alpha = body | top
        shade = np.where(top, _lambert(0.0, 1.0, 0.0), np.where(body, _lambert(dx, 0.0, nz), 0.0))
    elif shape == 2:  # sphere
        r = 0.12 * s
        dx, dy = (px - x0) / r, -(py - (_BASE_Y - r)) / r
        d2 = dx**2 + dy**2
        alpha = d2 <= 1
        shade = np.where(alpha, _lambert(dx, dy, np.sqrt(np.clip(1 - d2, 0, 1))), 0.0)
    else:  # capsule: radius r around a horizontal segment of half-length l, turned by θ
        r, l = 0.075 * s, 0.11 * s
        ex, ey = l * c, _TILT * (-l * si)  # screen offset of one end of the axis
        cy = _BASE_Y - r
        qx, qy = px - x0, py - cy
        t = np.clip((qx * ex + qy * ey) / (ex**2 + ey**2), -1, 1)
        dx, dy = (qx - t * ex) / r, -(qy - t * ey) / r
        d2 = dx**2 + dy**2
        alpha = d2 <= 1
        shade = np.where(alpha, _lambert(dx, dy, np.sqrt(np.clip(1 - d2, 0, 1))), 0.0)
    return alpha, shade


def _pixel_grid(side: int):
    g = (np.arange(side * _SUPER) + 0.5) / (side * _SUPER)
    py, px = np.meshgrid(g, g, indexing="ij")
    return px, py


def _down(a: np.ndarray, side: int) -> np.ndarray:
    return a.reshape(side, _SUPER, side, _SUPER).mean(axis=(1, 3))


@functools.lru_cache(maxsize=2)
def _object_layers(side: int = SIDE) -> tuple[torch.Tensor, torch.Tensor]:
    """alpha and alpha·shade, float32 (4, 8, 15, side, side) each (shape, scale, orientation)."""
    px, py = _pixel_grid(side)
    vals = factor_values()
    alpha = np.zeros((4, 8, 15, side, side), np.float32)
    lit = np.zeros_like(alpha)
    for sh in range(4):
        for k, s in enumerate(vals[3]):
            for o, deg in enumerate(vals[5]):
                a, shade = _object(sh, s, np.deg2rad(deg), px, py)
                alpha[sh, k, o] = _down(a.astype(np.float64), side)
                lit[sh, k, o] = _down(a * shade, side)
    return torch.from_numpy(alpha), torch.from_numpy(lit)


@functools.lru_cache(maxsize=2)
def _room_layers(side: int = SIDE) -> tuple[torch.Tensor, torch.Tensor]:
    """floor coverage and shading, float32 (15, side, side) each, per orientation."""
    px, py = _pixel_grid(side)
    floor = np.zeros((15, side, side), np.float32)
    shade = np.zeros_like(floor)
    for o, deg in enumerate(factor_values()[5]):
        corner = 0.5 - 0.8 * np.sin(np.deg2rad(deg))
        edge = 0.42 + 0.18 * np.abs(px - corner)  # far edge of the floor, highest at the corner
        is_floor = py >= edge
        wall = np.where(px < corner, 0.78, 0.95)  # the two wall planes catch different light
        depth = np.clip((py - edge) / np.maximum(1 - edge, 1e-6), 0, 1)
        s = np.where(is_floor, 0.7 + 0.3 * depth, wall)
        floor[o] = _down(is_floor.astype(np.float64), side)
        shade[o] = _down(s, side)
    return torch.from_numpy(floor), torch.from_numpy(shade)


@functools.lru_cache(maxsize=1)
def _layers() -> torch.Tensor:
    """Everything but the colours, float32 (4, 8, 15, 3, 64·64) per (shape, scale, orientation).

    With a = object coverage, S = room shading, F = floor coverage and L = object shading·a, an
    image is ``(1−a)·S·wall + (1−a)·S·F·(floor − wall) + L·object``: three layers times three
    colours, one batched matrix product per batch.
    """
    alpha, lit = _object_layers()  # (4, 8, 15, H, W)
    floor, shade = _room_layers()  # (15, H, W)
    room = (1 - alpha) * shade  # broadcasts over orientation, the last layer axis before H, W
    out = torch.stack([room, room * floor, lit], dim=3)  # (4, 8, 15, 3, H, W)
    return out.flatten(4).contiguous()


def _hue_rgb(hues: np.ndarray) -> torch.Tensor:
    return torch.tensor([colorsys.hsv_to_rgb(float(h), 1.0, 1.0) for h in hues], dtype=torch.float32)


class Shapes3D(FactorDataset):
    """3DShapes, procedural by default or read lazily from ``3dshapes.h5`` (``path=``; ``"env"``
    reads ``$DISLAB_DATA/3dshapes.h5``)."""

    name = "shapes3d"
    factor_names = FACTOR_NAMES
    factor_sizes = FACTOR_SIZES
    observation_shape = (3, SIDE, SIDE)

    def __init__(self, *, path: str | os.PathLike | None = None):
        path = checks.path(self.name, "path", path)
        self.factor_values = factor_values()
        self.path: Path | None = None
        self._h5 = None
        if path is not None:
            self.path = files.resolve_path(path, FILE_NAME, self.name)
            self._check_file(self.path)

    @property
    def source(self) -> str:
        return "procedural" if self.path is None else str(self.path)

    def describe(self) -> dict:
        return {**super().describe(), "source": self.source}

    def images(self, index) -> torch.Tensor:
        idx = self.validate_indices(index)
        if self.path is not None:
            return self._read(idx)
        f = torch.from_numpy(self.factors_of(idx))
        rgb = _hue_rgb(self.factor_values[0])  # (10, 3): the same hue grid for floor, wall, object
        wall, floor, obj = rgb[f[:, 1]], rgb[f[:, 0]], rgb[f[:, 2]]  # (n, 3) each
        colours = torch.stack([wall, floor - wall, obj], dim=2)  # (n, channel, layer)
        layers = _layers()[f[:, 4], f[:, 3], f[:, 5]]  # (n, layer, H·W)
        # The colour mix is a sum of products of values in [0, 1] whose exact result lies in [0, 1];
        # its float rounding depends on the CPU's kernels (AVX-512 lands at -2e-8), so clamp.
        return torch.bmm(colours, layers).clamp_(0.0, 1.0).view(len(idx), 3, SIDE, SIDE)

    # -- the original file ---------------------------------------------------------------------
    def _open(self):
        try:
            import h5py
        except ImportError:  # pragma: no cover - h5py is in the dev install
            raise DataError("shapes3d: reading 3dshapes.h5 needs h5py; pip install 'dislab[h5]'") from None
        try:
            return h5py.File(self.path, "r")
        except OSError as e:
            raise DataError(f"{self.path}: not a readable HDF5 file ({e})") from None

    def _check_file(self, path: Path) -> None:
        with self._open() as h5:
            for key in ("images", "labels"):
                if key not in h5:
                    raise DataError(f"{path}: missing field {key!r}; expected 'images' and 'labels', "
                                    f"found {sorted(h5.keys())}")
            labels = h5["labels"][()]
            files.check_array(labels.shape, labels.dtype, path=path, field="labels",
                              shape=(None, 6), dtypes=(np.float64, np.float32))
            img = h5["images"]
            files.check_array(img.shape, img.dtype, path=path, field="images",
                              shape=(labels.shape[0], SIDE, SIDE, 3), dtypes=(np.uint8,))
        values, classes = [], []
        for j in range(6):
            # classes from rounded values (float noise), physical values as stored
            _, first, c = np.unique(np.round(labels[:, j], 6), return_index=True, return_inverse=True)
            values.append(labels[first, j].astype(np.float64))
            classes.append(c.reshape(-1))
        sizes = files.infer_grid(np.stack(classes, 1), where=f"{path}: field 'labels'", names=FACTOR_NAMES)
        if any(s > m for s, m in zip(sizes, FACTOR_SIZES)):
            raise DataError(f"{path}: factor sizes {sizes} exceed 3DShapes' {FACTOR_SIZES}")
        self.factor_sizes = sizes
        self.factor_values = tuple(values)

    def _read(self, idx: np.ndarray) -> torch.Tensor:
        if self._h5 is None:
            self._h5 = self._open()
        uniq, inv = np.unique(idx, return_inverse=True)  # h5py wants increasing indices
        data = self._h5["images"][uniq]  # (u, 64, 64, 3) uint8
        x = torch.from_numpy(data[inv.reshape(-1)]).permute(0, 3, 1, 2).float().div_(255.0)
        return x.contiguous()

    def __getstate__(self):  # an open h5py handle cannot cross processes; reopen on first use
        state = dict(self.__dict__)
        state["_h5"] = None
        return state
