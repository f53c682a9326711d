"""``dislab datasets``: list the datasets, show one (factors and a PNG grid), export dSprites.

    dislab datasets list
    dislab datasets show dsprites --out grid.png
    dislab datasets show shapes3d --set path=/data/3dshapes.h5 --out grid.png
    dislab datasets export dsprites dsprites_ndarray_co1sh3sc6or40x32y32_64x64.npz

The grid has one row per factor: that factor steps through its values (evenly spaced, at most
``--cols``) while every other factor keeps the value of one base sample (``--seed``). A dataset
without factors shows rows of random samples.
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from dislab.errors import ConfigError, DataError

LABEL_WIDTH = 96  # pixels left of each row for the factor's name
PAD = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    sub.add_parser("list", help="the registered datasets, their factors and where they come from")
    show = sub.add_parser("show", help="factor names and sizes, image shape, size; a PNG grid of samples")
    show.add_argument("name")
    show.add_argument("--out", help="write the grid to this PNG file")
    show.add_argument("--cols", type=int, default=10, help="values per factor row (default 10)")
    show.add_argument("--seed", type=int, default=0, help="seed of the base sample (default 0)")
    show.add_argument("--zoom", type=int, default=2, help="pixels per image pixel in the PNG (default 2)")
    show.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="dataset option, e.g. path=/data/3dshapes.h5 (repeatable)")
    export = sub.add_parser("export", help="write dsprites in the original .npz layout")
    export.add_argument("name", choices=["dsprites"])
    export.add_argument("out", help="the .npz file to write")
    export.add_argument("--no-compress", action="store_true", help="store instead of deflate (2.9 GB)")
    export.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="dataset option")


def parse_options(pairs: list[str]) -> dict:
    """``["a=1", "b=x"]`` -> ``{"a": 1, "b": "x"}`` (values parsed as JSON when they are JSON)."""
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def factor_grid(ds, *, cols: int = 10, seed: int = 0) -> tuple[torch.Tensor, np.ndarray | None]:
    """Images ``(rows, cols, C, H, W)`` and their factors ``(rows, cols, n_factors)`` (or None).

    Row ``j`` varies factor ``j`` alone over ``min(size_j, cols)`` evenly spaced values, starting at
    a base sample drawn with ``seed``; shorter rows are padded with blank (zero) images.
    """
    if cols < 1:
        raise ConfigError(f"--cols must be >= 1, got {cols}")
    c, h, w = ds.observation_shape
    if not ds.has_factors:
        n = min(3 * cols, len(ds))
        imgs = ds.images(ds.sample_indices(n, seed) if len(ds) > n else np.arange(n))
        out = torch.zeros(-(-n // cols) * cols, c, h, w)
        out[:n] = imgs
        return out.view(-1, cols, c, h, w), None
    base = ds.sample_factors(1, seed)[0]
    rows = np.repeat(base[None, None, :], ds.n_factors * cols, 0).reshape(ds.n_factors, cols, -1).copy()
    valid = np.zeros((ds.n_factors, cols), bool)
    for j, size in enumerate(ds.factor_sizes):
        k = min(size, cols)
        rows[j, :k, j] = np.unique(np.linspace(0, size - 1, k).round().astype(np.int64))
        valid[j, :k] = True
    imgs = torch.zeros(ds.n_factors, cols, c, h, w)
    imgs[torch.from_numpy(valid)] = ds.observations(rows[valid])
    return imgs, np.where(valid[:, :, None], rows, -1)


def grid_png(path, imgs: torch.Tensor, labels: list[str], *, zoom: int = 2,
             blank: np.ndarray | None = None) -> tuple[int, int]:
    """Write ``imgs`` ``(rows, cols, C, H, W)`` as one RGB PNG with a label left of each row.

    Cell ``(r, k)`` holds image ``imgs[r, k]`` scaled ``zoom`` times, its top-left corner at
    ``(x, y) = (98 + k·(W·zoom + 2), 2 + r·(H·zoom + 2))``; cells where ``blank`` ``(rows, cols)``
    is True stay white. Size: width ``96 + cols·(W·zoom + 2) + 2``, height
    ``rows·(H·zoom + 2) + 2`` pixels. Returns ``(width, height)``.
    """
    from PIL import Image, ImageDraw

    from dislab.io import atomic_path

    rows, cols, c, h, w = imgs.shape
    x = imgs.clamp(0, 1).mul(255).round().to(torch.uint8)
    if c == 1:
        x = x.expand(rows, cols, 3, h, w)
    x = x.repeat_interleave(zoom, 3).repeat_interleave(zoom, 4)  # (rows, cols, 3, H·z, W·z)
    ch, cw = h * zoom + PAD, w * zoom + PAD
    canvas = np.full((rows * ch + PAD, LABEL_WIDTH + cols * cw + PAD, 3), 255, np.uint8)
    for r in range(rows):
        for k in range(cols):
            if blank is not None and blank[r, k]:
                continue
            y0, x0 = PAD + r * ch, LABEL_WIDTH + PAD + k * cw
            canvas[y0:y0 + h * zoom, x0:x0 + w * zoom] = x[r, k].permute(1, 2, 0).numpy()
    im = Image.fromarray(canvas)
    draw = ImageDraw.Draw(im)
    for r, label in enumerate(labels):
        draw.text((4, PAD + r * ch + h * zoom // 2 - 5), label[:15], fill=(0, 0, 0))
    with atomic_path(path) as tmp:
        im.save(tmp, format="PNG")
    return im.size


def _list() -> None:
    from dislab.data import DATASETS, get_dataset

    print(f"{'name':16} {'images':>9}  {'shape':11} factors")
    for name in DATASETS.names():
        try:
            ds = get_dataset(name)
        except DataError:  # file-backed: needs the user's files
            print(f"{name:16} {'-':>9}  {'-':11} reads your files: --set path=... (docs/datasets.md)")
            continue
        shape = "x".join(str(s) for s in ds.observation_shape)
        fs = ", ".join(f"{n} {s}" for n, s in zip(ds.factor_names, ds.factor_sizes))
        print(f"{name:16} {len(ds):>9,}  {shape:11} {fs}")


def _show(args) -> None:
    from dislab.data import get_dataset

    ds = get_dataset(args.name, **parse_options(args.set))
    d = ds.describe()
    print(f"dataset      {d['name']}")
    for key, value in d.items():
        if key not in ("name", "factor_names", "factor_sizes"):
            print(f"{key:12} {value}")
    print("factors:")
    for j, (n, s) in enumerate(zip(ds.factor_names, ds.factor_sizes)):
        vals = ds.factor_values[j] if ds.factor_values is not None else np.arange(s)
        shown = ", ".join(f"{v:g}" for v in np.asarray(vals)[:4]) + (", …" if s > 4 else "")
        print(f"  {n:18} {s:4}   {shown}")
    if not ds.has_factors:
        print("  (none: an unsupervised dataset)")
    if args.out:
        imgs, factors = factor_grid(ds, cols=args.cols, seed=args.seed)
        labels = list(ds.factor_names) if ds.has_factors else ["samples"] * imgs.shape[0]
        blank = None if factors is None else factors[:, :, 0] < 0
        w, h = grid_png(args.out, imgs, labels, zoom=args.zoom, blank=blank)
        what = "one row per factor varying alone" if ds.has_factors else "random samples"
        print(f"wrote {args.out} ({w}×{h} px: {what})")


def _export(args) -> None:
    from dislab.data import get_dataset
    from dislab.data.dsprites import export_npz

    ds = get_dataset("dsprites", **parse_options(args.set))
    n = export_npz(args.out, ds, compress=not args.no_compress)
    print(f"wrote {args.out}: {n:,} images (imgs, latents_classes, latents_values)")


def main(args: argparse.Namespace) -> int:
    {"list": lambda a: _list(), "show": _show, "export": _export}[args.action](args)
    return 0
