"""Latent traversals: decode the code of an input with one latent swept over a range, the others held.

This is how the field first judges disentanglement by eye (Higgins et al., ICLR 2017, Fig. 1 and 7;
Locatello et al., ICML 2019, show the same as animations): in a disentangled model each row changes
one factor of the image only, and a latent the decoder ignores gives a constant row.

Two pictures:

* :func:`traversal_grid`: a PNG grid, rows = latents (sorted by KL, most used first, inactive ones
  dimmed and labelled), columns = sweep steps; with several inputs, their blocks of columns sit
  side by side.
* :func:`traversal_frames`: frames of an animated GIF, rows = inputs, columns = latents; in frame
  ``t`` every latent sits at step ``t`` of a cycle that starts at the input's own code, rises to
  the top of the range, falls to the bottom and comes back, so all latents move at once and the
  animation loops without a jump.

Sweep ranges (:func:`sweep_values`): ``"fixed"``, the interval ``[-limit, limit]`` (2 standard
deviations of the N(0, 1) prior by default, as in the reference library), or ``"quantile"``, the
quantiles ``q .. 1-q`` of the latent's posterior means over a set of inputs, which follows
latents that use a narrower or shifted range.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from dislab import progress as bars
from dislab.errors import ConfigError, DataError
from dislab.viz.grid import (BACKGROUND, LABEL_COLOR, MUTED_COLOR, add_margin_labels, image_grid,
                             to_uint8)
from dislab.viz.kl import LatentActivity, model_device

MODES = ("fixed", "quantile")


def n_latents_of(model) -> int:
    return int(model.config.n_latents)


def check_latents(latents: Sequence[int] | None, n_latents: int) -> np.ndarray:
    """Validate latent indices against ``n_latents``; ``None`` means all. Returns int64 ``(k,)``."""
    if latents is None:
        return np.arange(n_latents, dtype=np.int64)
    idx = np.asarray(list(latents))
    if idx.ndim != 1 or idx.size == 0:
        raise ConfigError("latents must be a non-empty list of latent indices")
    if not np.issubdtype(idx.dtype, np.integer):
        raise ConfigError(f"latent indices must be integers, got {list(latents)}")
    bad = [int(j) for j in idx if j < 0 or j >= n_latents]
    if bad:
        raise ConfigError(
            f"latent index {bad[0]} is out of range: this model has {n_latents} latents "
            f"(indices 0 to {n_latents - 1})"
        )
    return idx.astype(np.int64)


def latent_levels(model) -> list[np.ndarray]:
    """Latent indices per level of a hierarchical model (its ``latent_levels`` block sizes, in code
    order); one level holding every latent for flat models."""
    n = n_latents_of(model)
    sizes = getattr(model, "latent_levels", None)
    if not sizes:
        return [np.arange(n, dtype=np.int64)]
    sizes = [int(s) for s in sizes]
    if sum(sizes) != n or min(sizes) < 1:
        raise ConfigError(f"model.latent_levels {sizes} must be positive and sum to n_latents = {n}")
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [np.arange(a, b, dtype=np.int64) for a, b in zip(edges[:-1], edges[1:])]


def sweep_values(n_latents: int, steps: int, *, mode: str = "fixed", limit: float = 2.0,
                 mu: np.ndarray | None = None, quantile: float = 0.05) -> np.ndarray:
    """Values each latent takes along its traversal: float32 ``(n_latents, steps)``, increasing.

    Args:
        mode: ``"fixed"`` (``linspace(-limit, limit)``) or ``"quantile"`` (the ``quantile`` to
            ``1 - quantile`` quantiles of ``mu[:, j]``, posterior means ``(n, n_latents)``).
    """
    if steps < 2:
        raise ConfigError(f"a traversal needs at least 2 steps, got {steps}")
    if mode == "fixed":
        if not limit > 0:
            raise ConfigError(f"limit must be > 0, got {limit}")
        return np.tile(np.linspace(-limit, limit, steps, dtype=np.float32), (n_latents, 1))
    if mode == "quantile":
        if mu is None:
            raise ConfigError("mode 'quantile' needs the posterior means mu of a set of inputs")
        mu = np.asarray(mu, dtype=np.float64)
        if mu.ndim != 2 or mu.shape[1] != n_latents:
            raise DataError(f"mu must have shape (n, {n_latents}), got {mu.shape}")
        if not 0 <= quantile < 0.5:
            raise ConfigError(f"quantile must be in [0, 0.5), got {quantile}")
        qs = np.linspace(quantile, 1.0 - quantile, steps)
        return np.quantile(mu, qs, axis=0).T.astype(np.float32)  # (n_latents, steps)
    raise ConfigError(f"unknown traversal mode {mode!r}; expected one of {MODES}")


@torch.no_grad()
def traverse(model, code, latents: Sequence[int], values: np.ndarray, *,
             batch_size: int = 256) -> torch.Tensor:
    """Decode ``code`` ``(n_latents,)`` with latent ``latents[i]`` set to each of ``values[i]``.

    Returns images in [0, 1] ``(len(latents), steps, C, H, W)`` (``model.decode_mean``).
    """
    n = n_latents_of(model)
    latents = check_latents(latents, n)
    code = torch.as_tensor(np.asarray(code, dtype=np.float32)).reshape(-1)
    if code.shape[0] != n:
        raise DataError(f"code must have {n} entries, got {code.shape[0]}")
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or values.shape[0] != len(latents):
        raise DataError(f"values must have shape ({len(latents)}, steps), got {values.shape}")
    steps = values.shape[1]
    z = code.repeat(len(latents) * steps, 1).reshape(len(latents), steps, n)  # (k, steps, n)
    z[torch.arange(len(latents)), :, torch.as_tensor(latents)] = torch.as_tensor(values)
    z = z.reshape(-1, n).to(model_device(model))
    out = torch.cat([model.decode_mean(z[s:s + batch_size]).float().cpu()
                     for s in range(0, z.shape[0], batch_size)])
    return out.reshape(len(latents), steps, *out.shape[1:])


def _dim(cells: np.ndarray, amount: float = 0.6) -> np.ndarray:
    """Blend uint8 pixels ``amount`` of the way to the white background (marks inactive latents)."""
    return np.round(cells * (1 - amount) + BACKGROUND * amount).astype(np.uint8)


def _row_order(latents, activity: LatentActivity | None, sort: bool) -> np.ndarray:
    if activity is None or not sort:
        return np.asarray(latents)
    rank = {int(j): r for r, j in enumerate(activity.order)}
    return np.asarray(sorted(latents, key=lambda j: rank[int(j)]))


def traversal_grid(model, codes, *, latents: Sequence[int] | None = None, steps: int = 10,
                   values: np.ndarray | None = None, activity: LatentActivity | None = None,
                   sort: bool = True, labels: bool = True, pad: int = 2) -> np.ndarray:
    """PNG grid of traversals: uint8 ``(H', W', 3)``.

    Args:
        codes: posterior means of the inputs, ``(n_inputs, n_latents)`` (or one ``(n_latents,)``).
        latents: which latents (rows); all by default.
        values: ``(n_latents, steps)`` sweep of every latent (:func:`sweep_values`); the fixed
            interval [-2, 2] in ``steps`` steps by default.
        activity: per-latent KL; rows are sorted by it (most used first) when ``sort`` and latents
            below its threshold are dimmed and labelled "off".
        labels: write ``"z3 KL 1.25"`` beside each row (left margin); without labels the grid is
            exactly :func:`dislab.viz.grid.image_grid`'s layout.

    Layout: row ``r`` is latent ``rows[r]``; input ``i`` at step ``s`` is column ``i*steps + s``.
    """
    n = n_latents_of(model)
    codes = np.atleast_2d(np.asarray(codes, dtype=np.float32))
    if codes.shape[1] != n:
        raise DataError(f"codes must have shape (n_inputs, {n}), got {codes.shape}")
    rows = _row_order(check_latents(latents, n), activity, sort)
    if values is None:
        values = sweep_values(n, steps)
    values = np.asarray(values, dtype=np.float32)
    if values.shape[0] != n:
        raise DataError(f"values must have shape ({n}, steps), got {values.shape}")
    blocks = [to_uint8(traverse(model, c, rows, values[rows]).flatten(0, 1)) for c in codes]
    k, s = len(rows), values.shape[1]
    h, w = blocks[0].shape[1:3]
    cells = np.stack([b.reshape(k, s, h, w, 3) for b in blocks], axis=1)  # (k, inputs, s, h, w, 3)
    cells = cells.reshape(k, len(codes) * s, h, w, 3)
    active = activity.active if activity is not None else np.ones(n, dtype=bool)
    for r, j in enumerate(rows):
        if not active[j]:
            cells[r] = _dim(cells[r])
    picture = image_grid(cells, pad=pad)
    if not labels:
        return picture
    texts, colors = [], []
    for j in rows:
        text = activity.describe(int(j)) if activity is not None else f"z{int(j)}"
        texts.append(text if active[j] else f"{text} (off)")
        colors.append(LABEL_COLOR if active[j] else MUTED_COLOR)
    centers = [pad + r * (h + pad) + h // 2 for r in range(k)]
    return add_margin_labels(picture, texts, centers, side="left", colors=colors)


def cycle(start: float, low: float, high: float, n_frames: int) -> np.ndarray:
    """``n_frames`` values of a triangle wave over ``[low, high]`` that starts at ``start``, rises to
    ``high``, falls to ``low`` and returns, so that the animation loops seamlessly. ``(n_frames,)``."""
    span = float(high) - float(low)
    if span <= 0:
        return np.full(n_frames, float(low), dtype=np.float32)
    offset = float(np.clip(start, low, high)) - float(low)  # distance travelled up from ``low``
    pos = (offset + np.arange(n_frames) * (2.0 * span / n_frames)) % (2.0 * span)
    return (low + np.where(pos <= span, pos, 2.0 * span - pos)).astype(np.float32)


@torch.no_grad()
def traversal_frames(model, codes, *, latents: Sequence[int] | None = None, n_frames: int = 20,
                     values: np.ndarray | None = None, activity: LatentActivity | None = None,
                     sort: bool = True, labels: bool = True, pad: int = 2,
                     progress: bool = False) -> list[np.ndarray]:
    """Frames of the animated traversal: a list of ``n_frames`` uint8 ``(H', W', 3)`` pictures.

    Frame ``t``: rows = inputs (``codes`` ``(n_inputs, n_latents)``), columns = latents (sorted by
    ``activity``, inactive ones dimmed); the cell of input ``i`` and latent ``j`` decodes input
    ``i``'s code with latent ``j`` at step ``t`` of :func:`cycle` over ``[values[j, 0],
    values[j, -1]]`` (``[-2, 2]`` by default). Save with :func:`dislab.viz.grid.save_picture`.
    """
    from tqdm.auto import tqdm

    n = n_latents_of(model)
    codes = np.atleast_2d(np.asarray(codes, dtype=np.float32))
    if codes.shape[1] != n:
        raise DataError(f"codes must have shape (n_inputs, {n}), got {codes.shape}")
    if n_frames < 2:
        raise ConfigError(f"an animation needs at least 2 frames, got {n_frames}")
    cols = _row_order(check_latents(latents, n), activity, sort)
    if values is None:
        values = sweep_values(n, 2)
    values = np.asarray(values, dtype=np.float32)
    active = activity.active if activity is not None else np.ones(n, dtype=bool)
    # (inputs, latents, frames) value of the swept latent
    sweep = np.stack([np.stack([cycle(c[j], values[j, 0], values[j, -1], n_frames) for j in cols])
                      for c in codes])
    n_in, k = len(codes), len(cols)
    device = model_device(model)
    decoded = []
    for i in tqdm(range(n_in), desc="rendering animation", unit="input", disable=bars.disable(progress),
                  leave=False):
        z = torch.as_tensor(codes[i]).repeat(k * n_frames, 1).reshape(k, n_frames, n)
        z[torch.arange(k), :, torch.as_tensor(cols)] = torch.as_tensor(sweep[i])
        decoded.append(to_uint8(model.decode_mean(z.reshape(-1, n).to(device)).float().cpu()))
    h, w = decoded[0].shape[1:3]
    cells = np.stack(decoded).reshape(n_in, k, n_frames, h, w, 3)
    for c, j in enumerate(cols):
        if not active[j]:
            cells[:, c] = _dim(cells[:, c])
    frames = []
    for t in range(n_frames):
        picture = image_grid(cells[:, :, t], pad=pad)
        if labels:
            centers = [pad + c * (w + pad) + w // 2 for c in range(k)]
            texts = [f"z{int(j)}" for j in cols]
            colors = [LABEL_COLOR if active[j] else MUTED_COLOR for j in cols]
            picture = add_margin_labels(picture, texts, centers, side="top", colors=colors)
        frames.append(picture)
    return frames
