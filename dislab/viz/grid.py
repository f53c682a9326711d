"""Image plumbing shared by every picture: tensors to uint8, grids, labels, atomic PNG/GIF files.

Pictures are plain arrays: ``uint8`` of shape ``(H, W, 3)`` (RGB), so they can be tested pixel by
pixel, shown with any viewer and embedded in the report. Figures made with matplotlib use the Agg
backend only (no display is ever opened).
"""
from __future__ import annotations

import io as _io
import os
from typing import Sequence

import numpy as np
import torch

from dislab.errors import DataError
from dislab.io import atomic_path

BACKGROUND = 255  # white gutters between cells
LABEL_COLOR = (20, 20, 20)
MUTED_COLOR = (150, 150, 150)


def to_uint8(images) -> np.ndarray:
    """Images ``(n, C, H, W)`` float in [0, 1] (tensor or array; C = 1 or 3) -> ``(n, H, W, 3)`` uint8.

    Values outside [0, 1] are clipped; one channel is repeated to grey RGB.
    """
    if isinstance(images, torch.Tensor):
        images = images.detach().cpu().float().numpy()
    arr = np.asarray(images, dtype=np.float32)
    if arr.ndim != 4 or arr.shape[1] not in (1, 3):
        raise DataError(f"images must have shape (n, 1 or 3, H, W), got {arr.shape}")
    arr = np.clip(np.nan_to_num(arr, nan=0.0), 0.0, 1.0)
    arr = np.round(arr * 255.0).astype(np.uint8).transpose(0, 2, 3, 1)  # (n, H, W, C)
    if arr.shape[-1] == 1:
        arr = np.repeat(arr, 3, axis=-1)
    return arr


def image_grid(cells: np.ndarray, *, pad: int = 2, background: int = BACKGROUND) -> np.ndarray:
    """Tile ``cells`` ``(rows, cols, H, W, 3)`` uint8 into one ``(H', W', 3)`` picture.

    Cell ``(r, c)`` occupies rows ``pad + r*(H+pad) : pad + r*(H+pad) + H`` and likewise for columns,
    so tests can find each cell; gutters of ``pad`` pixels are ``background``.
    """
    cells = np.asarray(cells)
    if cells.ndim != 5 or cells.shape[-1] != 3:
        raise DataError(f"cells must have shape (rows, cols, H, W, 3), got {cells.shape}")
    rows, cols, h, w, _ = cells.shape
    out = np.full((pad + rows * (h + pad), pad + cols * (w + pad), 3), background, dtype=np.uint8)
    for r in range(rows):
        for c in range(cols):
            y, x = cell_origin(r, c, h, w, pad)
            out[y:y + h, x:x + w] = cells[r, c]
    return out


def cell_origin(row: int, col: int, h: int, w: int, pad: int = 2) -> tuple[int, int]:
    """Top-left pixel ``(y, x)`` of cell ``(row, col)`` in :func:`image_grid`'s layout."""
    return pad + row * (h + pad), pad + col * (w + pad)


def tile(images: np.ndarray, ncol: int, *, pad: int = 2) -> np.ndarray:
    """Lay ``(n, H, W, 3)`` uint8 images row-major into a grid of ``ncol`` columns (blank fill)."""
    n, h, w, _ = images.shape
    ncol = max(1, min(ncol, n))
    nrow = -(-n // ncol)
    cells = np.full((nrow * ncol, h, w, 3), BACKGROUND, dtype=np.uint8)
    cells[:n] = images
    return image_grid(cells.reshape(nrow, ncol, h, w, 3), pad=pad)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1: fixed-size bitmap font
        return ImageFont.load_default()


def add_margin_labels(picture: np.ndarray, labels: Sequence[str], centers: Sequence[int], *,
                      side: str = "left", colors: Sequence[tuple[int, int, int]] | None = None,
                      font_size: int = 12, margin: int | None = None) -> np.ndarray:
    """Add a white margin on ``side`` ("left" or "top") and write ``labels`` centred at ``centers``
    (pixel rows for "left", pixel columns for "top" of ``picture``). Returns a new array."""
    from PIL import Image, ImageDraw

    font = _font(font_size)
    colors = list(colors) if colors is not None else [LABEL_COLOR] * len(labels)
    widths = [font.getbbox(t)[2] for t in labels] or [0]
    h, w, _ = picture.shape
    if side == "left":
        m = margin if margin is not None else max(widths) + 8
        out = np.full((h, w + m, 3), BACKGROUND, dtype=np.uint8)
        out[:, m:] = picture
        img = Image.fromarray(out)
        draw = ImageDraw.Draw(img)
        for text, cy, color in zip(labels, centers, colors):
            draw.text((m - 4, cy), text, fill=color, font=font, anchor="rm")
    elif side == "top":
        m = margin if margin is not None else font_size + 8
        out = np.full((h + m, w, 3), BACKGROUND, dtype=np.uint8)
        out[m:] = picture
        img = Image.fromarray(out)
        draw = ImageDraw.Draw(img)
        for text, cx, color in zip(labels, centers, colors):
            draw.text((cx, m - 3), text, fill=color, font=font, anchor="mb")
    else:
        raise ValueError(f"side must be 'left' or 'top', got {side!r}")
    return np.asarray(img)


def png_bytes(picture: np.ndarray) -> bytes:
    """PNG encoding of a ``(H, W, 3)`` uint8 picture."""
    from PIL import Image

    buf = _io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def gif_bytes(frames: Sequence[np.ndarray], *, fps: float = 10.0) -> bytes:
    """Animated GIF (looping forever) of ``(H, W, 3)`` uint8 frames at ``fps`` frames per second."""
    from PIL import Image

    if len(frames) == 0:
        raise DataError("an animation needs at least one frame")
    # One palette for the whole animation, no dithering: frames do not flicker between palettes,
    # and flat regions compress well (a third of the size of per-frame dithered palettes).
    stack = np.concatenate([np.asarray(f) for f in frames], axis=0)
    palette = Image.fromarray(np.ascontiguousarray(stack)).quantize(colors=255, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(np.ascontiguousarray(f)).quantize(palette=palette, dither=Image.Dither.NONE)
              for f in frames]
    buf = _io.BytesIO()
    images[0].save(buf, format="GIF", save_all=True, append_images=images[1:],
                   duration=max(20, int(round(1000.0 / fps))), loop=0, disposal=1)
    return buf.getvalue()


def figure_png_bytes(fig, *, dpi: int = 100) -> bytes:
    """PNG encoding of a matplotlib figure (Agg); the figure is left open.

    The figures of dislab lay themselves out (``tight_layout``), so no ``bbox_inches="tight"``:
    that option draws the whole figure a second time, the slowest step of a report."""
    buf = _io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white")
    return buf.getvalue()


def figure_to_array(fig, *, dpi: int = 100) -> np.ndarray:
    """Render a matplotlib figure to ``(H, W, 3)`` uint8 (exact canvas, no cropping)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig.set_dpi(dpi)
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba())[..., :3].copy()


def new_figure(width: float, height: float):
    """A matplotlib Figure drawn by Agg, never attached to pyplot (no display, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height))
    FigureCanvasAgg(fig)
    return fig


def save_picture(picture, path: str | os.PathLike, *, fps: float = 10.0) -> None:
    """Atomically save a picture by the file's suffix.

    ``picture`` is a ``(H, W, 3)`` uint8 array (``.png``), a list of such frames (``.gif``) or a
    matplotlib Figure (``.png``, ``.svg``, ``.pdf``).
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    if hasattr(picture, "savefig"):
        with atomic_path(path) as tmp:
            picture.savefig(tmp, format=suffix.lstrip(".") or "png", dpi=100, facecolor="white")
        return
    if suffix == ".gif":
        frames = picture if isinstance(picture, (list, tuple)) else [picture]
        data = gif_bytes(frames, fps=fps)
    elif suffix == ".png":
        if isinstance(picture, (list, tuple)):
            raise DataError(f"{path}: an animation can only be saved as .gif")
        data = png_bytes(np.asarray(picture))
    else:
        raise DataError(f"{path}: unsupported picture format {suffix!r}; expected .png or .gif")
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
