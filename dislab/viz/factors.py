"""Latent-vs-factor plots for datasets with ground-truth factors.

One panel per (active latent, factor): the latent's posterior mean E_q[z_j | x] over inputs that
share a factor value, plotted against that value, with the band between its 10th and 90th
percentiles. A disentangled latent varies monotonically with one factor and stays flat against the
others (Chen et al. 2018, Fig. 5 show the same for dSprites).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dislab.errors import DataError
from dislab.viz.grid import new_figure


def factor_response(mu: np.ndarray, factors: np.ndarray, factor_size: int, latent: int, factor: int):
    """Per value ``v`` of ``factor``: ``(mean, p10, p90)`` of ``mu[:, latent]`` over rows with
    ``factors[:, factor] == v``; three ``(factor_size,)`` arrays, NaN where no row has the value."""
    col = mu[:, latent]
    f = factors[:, factor]
    mean = np.full(factor_size, np.nan)
    lo = np.full(factor_size, np.nan)
    hi = np.full(factor_size, np.nan)
    for v in range(factor_size):
        sel = col[f == v]
        if sel.size:
            mean[v] = sel.mean()
            lo[v], hi[v] = np.percentile(sel, [10, 90])
    return mean, lo, hi


def _axis(values, size: int):
    """x positions of a factor's classes: their physical values when numeric (one per class), else
    the class index with the values as tick labels."""
    if values is not None:
        try:
            xs = np.asarray(values, dtype=float)
            if xs.shape == (size,) and np.all(np.isfinite(xs)):
                return xs, None
        except (TypeError, ValueError):
            pass
        if len(values) == size:
            return np.arange(size, dtype=float), [str(v) for v in values]
    return np.arange(size, dtype=float), None


def latent_factor_plot(mu, factors, factor_names: Sequence[str], *, factor_sizes: Sequence[int] | None = None,
                       latents: Sequence[int] | None = None, factor_values=None, title: str | None = None):
    """Grid of panels, rows = ``latents`` (all by default), columns = factors. Returns a Figure.

    Args:
        mu: posterior means ``(n, n_latents)``.
        factors: int class indices ``(n, n_factors)``.
        factor_sizes: number of values per factor (``max + 1`` of each column by default).
        factor_values: per factor, the physical value of each class (x axis); class index otherwise.
    """
    mu = np.asarray(mu, dtype=np.float64)
    factors = np.asarray(factors)
    if mu.ndim != 2 or factors.ndim != 2 or mu.shape[0] != factors.shape[0]:
        raise DataError(f"mu (n, n_latents) and factors (n, n_factors) must have the same n; got {mu.shape} and {factors.shape}")
    n_f = factors.shape[1]
    if len(factor_names) != n_f:
        raise DataError(f"{len(factor_names)} factor names for {n_f} factor columns")
    sizes = list(factor_sizes) if factor_sizes is not None else [int(factors[:, k].max()) + 1 for k in range(n_f)]
    latents = list(range(mu.shape[1])) if latents is None else [int(j) for j in latents]
    if not latents:
        raise DataError("no latents to plot (none is active?)")
    rows = len(latents)
    fig = new_figure(1.9 * n_f + 0.8, 1.35 * rows + 0.9)
    axes = fig.subplots(rows, n_f, squeeze=False, sharey="row")
    for r, j in enumerate(latents):
        for k in range(n_f):
            ax = axes[r, k]
            xs, names = _axis(factor_values[k] if factor_values is not None else None, sizes[k])
            mean, lo, hi = factor_response(mu, factors, sizes[k], j, k)
            ax.fill_between(xs, lo, hi, color="#1f77b4", alpha=0.2, linewidth=0)
            ax.plot(xs, mean, color="#1f77b4", marker="o" if sizes[k] <= 8 else None, markersize=3, linewidth=1.2)
            ax.tick_params(labelsize=7)
            if names is not None and len(names) <= 8:
                ax.set_xticks(xs)
                ax.set_xticklabels(names, rotation=45, ha="right")
            if r == 0:
                ax.set_title(factor_names[k], fontsize=9)
            if k == 0:
                ax.set_ylabel(f"z{j}", fontsize=9)
    fig.suptitle(title or "Posterior mean of each latent against each factor (band: 10–90%)", fontsize=10)
    fig.tight_layout()
    return fig
