"""Factor × latent matrices, drawn with factors as rows and latents as columns.

* :func:`mi_heatmap`: the mutual information I(z_j; v_k) between each latent and each factor that
  MIG is computed from (Chen et al., NeurIPS 2018, Eq. 6); a disentangled model has one bright cell
  per row, in a different column for each factor. Optionally normalised by the factor's entropy
  H(v_k), as MIG does, so each cell lies in [0, 1].
* :func:`hinton_diagram`: the DCI importance matrix R (Eastwood & Williams, ICLR 2018, Section 3
  and Fig. 2), one square per cell whose *area* is proportional to the importance of latent j for
  predicting factor k (largest cell fills its box). Disentanglement shows as one square per column,
  completeness as one square per row.

Both take the matrices as :mod:`dislab.metrics` returns them, ``(n_latents, n_factors)``
(``mig(...)["mutual_info"]``, ``dci(...)["importance"]``), draw them transposed (factors as rows,
latents as columns) and return matplotlib Figures (Agg, never a display).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dislab.errors import DataError
from dislab.viz.grid import new_figure


def _check_matrix(matrix, factor_names, latent_names, what: str):
    m = np.asarray(matrix, dtype=np.float64)
    if m.ndim != 2 or m.size == 0:
        raise DataError(f"{what} must be a non-empty (n_latents, n_factors) matrix, got shape {m.shape}")
    m = m.T  # (n_factors, n_latents): factors as rows
    if not np.all(np.isfinite(m)):
        raise DataError(f"{what} contains NaN or infinite values")
    n_f, n_z = m.shape
    factor_names = list(factor_names) if factor_names is not None else [f"factor {k}" for k in range(n_f)]
    latent_names = list(latent_names) if latent_names is not None else [f"z{j}" for j in range(n_z)]
    if len(factor_names) != n_f or len(latent_names) != n_z:
        raise DataError(
            f"{what} has shape {m.T.shape} (n_latents, n_factors) but {len(factor_names)} factor names and "
            f"{len(latent_names)} latent names were given"
        )
    return m, factor_names, latent_names


def _label_axes(ax, factor_names, latent_names) -> None:
    """Factor names down the rows, latent names along the columns."""
    ax.set_xticks(np.arange(len(latent_names)))
    ax.set_xticklabels(latent_names, fontsize=8)
    ax.set_yticks(np.arange(len(factor_names)))
    ax.set_yticklabels(factor_names, fontsize=9)
    ax.set_xlabel("latent")
    ax.set_ylabel("factor")


def _size(n_f: int, n_z: int) -> tuple[float, float]:
    return max(4.0, 0.5 * n_z + 2.2), max(2.5, 0.5 * n_f + 1.3)


def mi_heatmap(mutual_info, factor_names: Sequence[str] | None = None, *,
               latent_names: Sequence[str] | None = None, factor_entropy=None,
               annotate: bool = True, title: str | None = None):
    """Heatmap of the mutual information ``(n_latents, n_factors)`` in nats (factors drawn as rows).

    With ``factor_entropy`` ``(n_factors,)`` each row is divided by H(v_k) (colour scale [0, 1]).
    Cells are annotated with their value when ``annotate`` and the matrix is small enough to read.
    """
    m, factor_names, latent_names = _check_matrix(mutual_info, factor_names, latent_names, "mutual information")
    unit = "nats"
    if factor_entropy is not None:
        h = np.asarray(factor_entropy, dtype=np.float64).reshape(-1)
        if h.shape[0] != m.shape[0]:
            raise DataError(f"factor_entropy needs {m.shape[0]} entries, got {h.shape[0]}")
        m = m / np.where(h > 0, h, 1.0)[:, None]
        unit = "normalised by H(factor)"
    n_f, n_z = m.shape
    fig = new_figure(*_size(n_f, n_z))
    ax = fig.add_subplot(1, 1, 1)
    vmax = 1.0 if factor_entropy is not None else max(float(m.max()), 1e-12)
    im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=vmax, aspect="auto")
    _label_axes(ax, factor_names, latent_names)
    if annotate and n_f * n_z <= 400:
        for k in range(n_f):
            for j in range(n_z):
                v = m[k, j]
                ax.text(j, k, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="black" if v > 0.6 * vmax else "white")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label=f"mutual information ({unit})")
    ax.set_title(title or "Mutual information between factors and latents")
    fig.tight_layout()
    return fig


def hinton_diagram(importance, factor_names: Sequence[str] | None = None, *,
                   latent_names: Sequence[str] | None = None, title: str | None = None):
    """Hinton diagram of a non-negative ``(n_latents, n_factors)`` importance matrix R.

    Cell of factor ``k`` and latent ``j`` is centred at data coordinates ``(x=j, y=k)`` (factor 0 at the top) and holds a
    white square of side ``0.9 * sqrt(R[k, j] / max R)`` on a grey background, so areas are
    proportional to importance (``R[j, k]``).
    """
    from matplotlib.patches import Rectangle

    m, factor_names, latent_names = _check_matrix(importance, factor_names, latent_names, "importance")
    if (m < 0).any():
        raise DataError("importance must be non-negative")
    n_f, n_z = m.shape
    fig = new_figure(*_size(n_f, n_z))
    ax = fig.add_subplot(1, 1, 1)
    ax.set_facecolor("#808080")
    top = float(m.max())
    for k in range(n_f):
        for j in range(n_z):
            side = 0.9 * np.sqrt(m[k, j] / top) if top > 0 else 0.0
            if side > 0:
                ax.add_patch(Rectangle((j - side / 2, k - side / 2), side, side,
                                       facecolor="white", edgecolor="none"))
    ax.set_xlim(-0.5, n_z - 0.5)
    ax.set_ylim(n_f - 0.5, -0.5)
    ax.set_aspect("equal")
    _label_axes(ax, factor_names, latent_names)
    ax.tick_params(length=0)
    ax.set_title(title or "DCI importance (square area ∝ importance)")
    fig.tight_layout()
    return fig
