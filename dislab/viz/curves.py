"""Training curves: the loss and each of its named terms against the step, from train_log.jsonl.

Each numeric key of the log (``loss``, ``reconstruction``, ``kl``, ``total_correlation``, ...) gets
its own panel, the total loss first. A panel uses a log y axis when every value is positive and they
span more than a factor of 20 (a reconstruction loss that falls from thousands to tens), so the
late, slow part of the curve stays readable; other terms (an ELBO, which is negative, or a term
that crosses zero) keep a linear axis.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from dislab.errors import DataError
from dislab.viz.grid import new_figure

# Log keys that are bookkeeping, not terms of the objective.
NOT_TERMS = frozenset({
    "step", "epoch", "time", "wall_time", "wall_time_s", "elapsed", "elapsed_s", "seconds", "images_per_s",
    "images_per_second", "steps_per_s", "lr", "learning_rate",
    # a flag (1 = the KL is a Monte Carlo estimate, 0 = closed form), constant over a run
    "kl_monte_carlo",
})
LOG_SCALE_RATIO = 20.0


def curve_keys(log: Sequence[dict]) -> list[str]:
    """Numeric term names in ``log``, in order of first appearance with ``loss`` first."""
    keys: list[str] = []
    for row in log:
        for k, v in row.items():
            if k in NOT_TERMS or k in keys or isinstance(v, bool):
                continue
            if isinstance(v, (int, float)):
                keys.append(k)
    return sorted(keys, key=lambda k: (k != "loss", keys.index(k)))


def use_log_scale(values) -> bool:
    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    return v.size > 1 and bool((v > 0).all()) and v.max() / v.min() > LOG_SCALE_RATIO


def training_curves(log: Sequence[dict], *, keys: Sequence[str] | None = None, ncol: int = 3,
                    title: str | None = None):
    """Figure with one panel per term of ``log`` (rows of train_log.jsonl); x is ``step`` when the
    rows have it, else the row number. Missing or null values leave gaps."""
    if not log:
        raise DataError("the training log is empty: no curves to draw")
    keys = list(keys) if keys is not None else curve_keys(log)
    if not keys:
        raise DataError(f"the training log has no numeric terms (keys: {sorted(log[0])})")
    xs = np.asarray([row.get("step", i) for i, row in enumerate(log)], dtype=float)
    ncol = max(1, min(ncol, len(keys)))
    nrow = -(-len(keys) // ncol)
    fig = new_figure(3.4 * ncol, 2.5 * nrow + 0.4)
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for i, key in enumerate(keys):
        ax = axes.flat[i]
        ys = [row.get(key) for row in log]
        y = np.asarray([np.nan if v is None else float(v) for v in ys], dtype=float)
        ax.plot(xs, y, color="#1f77b4" if key == "loss" else "#2ca02c", linewidth=1.3)
        if use_log_scale(y):
            ax.set_yscale("log")
        ax.set_title(key + (" (log scale)" if ax.get_yscale() == "log" else ""), fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
