"""The study's figures, in the style of Locatello et al. (ICML 2019) and Duan et al. (ICLR 2020).

* ``scores_<metric>.png``: each score's distribution over seeds, per model and per value of each
  swept hyperparameter (violins with the runs as dots; Locatello et al. Fig. 2–4);
* ``rank_correlation.png``: Spearman rank correlation between every pair of scores over the runs
  (Locatello et al. Fig. 1);
* ``udr_vs_<metric>.png``: UDR (Spearman and Lasso) of each run against each supervised score, with
  the rank correlation in the title (Duan et al. Fig. 3).

Pure functions of the study table (:func:`dislab.studies.aggregate.rows`); each returns PNG paths.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

def not_scores() -> set[str]:
    """Columns ``"metric.key"`` that count things or describe an estimate, or repeat another
    column (``MetricSpec`` scores whose direction is count / diagnostic, or an alias): not scores
    to rank models by."""
    from dislab.metrics.spec import all_specs

    return {f"{spec.name}.{s.key}" for spec in all_specs() for s in spec.scores if not s.ranks_models}


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def score_columns(table: list[dict[str, Any]], scores: list[str]) -> list[str]:
    """Score columns with at least one finite number and some spread, minus counts."""
    out, skip = [], not_scores()
    for c in scores:
        if c in skip:
            continue
        vals = _finite([r.get(c) for r in table])
        if len(vals):
            out.append(c)
    return out


def _finite(values) -> np.ndarray:
    return np.asarray([float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and math.isfinite(float(v))], dtype=float)


def _pairs(table, x: str, y: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    keep = [r for r in table if _finite([r.get(x)]).size and _finite([r.get(y)]).size]
    return (np.asarray([float(r[x]) for r in keep]), np.asarray([float(r[y]) for r in keep]), keep)


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation; NaN when either side is constant or has < 3 points."""
    from scipy import stats

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(stats.spearmanr(a, b)[0])


def rank_correlation_matrix(table, cols: list[str]) -> np.ndarray:
    """``(len(cols), len(cols))`` Spearman correlations over the runs having both scores."""
    m = np.full((len(cols), len(cols)), np.nan)
    for i, a in enumerate(cols):
        for j, b in enumerate(cols):
            x, y, _ = _pairs(table, a, b)
            m[i, j] = 1.0 if i == j and len(x) else spearman(x, y)
    return m


def _distribution_axes(table, swept: list[str]) -> list[tuple[str, list[str], list[list[dict]]]]:
    """Panels of a score figure: by model, then by each swept hyperparameter (not seed)."""
    panels = []
    keys = ["model"] + [k for k in swept if k not in ("model", "seed")]
    for key in keys:
        values = []
        for r in table:
            v = r.get(key)
            if v not in values:
                values.append(v)
        if key != "model" and len(values) < 2:
            continue
        if key == "model":
            labels = [str(v) for v in values]
            groups = [[r for r in table if r.get(key) == v] for v in values]
        else:  # one box per (model, value): a hyperparameter means something within its model
            labels, groups = [], []
            for m in dict.fromkeys(r.get("model") for r in table):
                for v in values:
                    g = [r for r in table if r.get("model") == m and r.get(key) == v]
                    if g:
                        labels.append(f"{m}\n{key.rsplit('.', 1)[-1]}={v}")
                        groups.append(g)
        panels.append((key, labels, groups))
    return panels


def draw(table: list[dict[str, Any]], scores: list[str], swept: list[str], out_dir: Path) -> list[Path]:
    """Write every study figure into ``out_dir``; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    cols = score_columns(table, scores)
    paths: list[Path] = []
    rng = np.random.default_rng(0)  # jitter of the dots only

    for c in cols:
        panels = _distribution_axes(table, swept)
        fig, axes = plt.subplots(1, len(panels), figsize=(max(4.0, 1.3 * sum(len(p[1]) for p in panels) + 1.5), 3.6),
                                 squeeze=False)
        for ax, (key, labels, groups) in zip(axes[0], panels):
            data = [_finite([r.get(c) for r in g]) for g in groups]
            pos = [i for i, d in enumerate(data) if d.size]
            if any(data[i].size > 1 for i in pos):
                parts = ax.violinplot([data[i] for i in pos], positions=pos, showmedians=True, widths=0.8)
                for body in parts["bodies"]:
                    body.set_alpha(0.35)
            for i in pos:
                ax.scatter(i + rng.uniform(-0.08, 0.08, size=data[i].size), data[i], s=12, color="k", zorder=3)
            ax.set_xticks(range(len(labels)))
            ax.set_xticklabels(labels, fontsize=7)
            ax.set_title(f"by {key.rsplit('.', 1)[-1]}", fontsize=9)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].set_ylabel(c)
        fig.suptitle(f"{c} over seeds", fontsize=10)
        fig.tight_layout()
        p = out_dir / f"scores_{_safe(c)}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)

    if len(cols) >= 2:
        m = rank_correlation_matrix(table, cols)
        fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(cols), 0.6 + 0.5 * len(cols)))
        im = ax.imshow(np.nan_to_num(m, nan=0.0), vmin=-1, vmax=1, cmap="RdBu_r")
        ax.set_xticks(range(len(cols)))
        ax.set_yticks(range(len(cols)))
        ax.set_xticklabels(cols, rotation=60, ha="right", fontsize=7)
        ax.set_yticklabels(cols, fontsize=7)
        for i in range(len(cols)):
            for j in range(len(cols)):
                ax.text(j, i, "–" if math.isnan(m[i, j]) else f"{m[i, j]:.2f}", ha="center", va="center",
                        fontsize=6)
        fig.colorbar(im, ax=ax, fraction=0.046, label="Spearman ρ over runs")
        ax.set_title("rank correlation between scores", fontsize=10)
        fig.tight_layout()
        p = out_dir / "rank_correlation.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)

    udr_cols = [c for c in cols if c.startswith("udr.")]
    supervised = [c for c in cols if not c.startswith(("udr.", "unsupervised."))]
    models = list(dict.fromkeys(r.get("model") for r in table))
    colors = {m: plt.cm.tab10(i % 10) for i, m in enumerate(models)}
    for s in supervised:
        if not udr_cols:
            break
        fig, axes = plt.subplots(1, len(udr_cols), figsize=(3.6 * len(udr_cols), 3.3), squeeze=False)
        for ax, u in zip(axes[0], udr_cols):
            x, y, keep = _pairs(table, s, u)
            for m in models:
                idx = [i for i, r in enumerate(keep) if r.get("model") == m]
                if idx:
                    ax.scatter(x[idx], y[idx], s=16, color=colors[m], label=str(m))
            rho = spearman(x, y)
            ax.set_title(f"ρ = {rho:.2f}" if not math.isnan(rho) else "ρ undefined", fontsize=9)
            ax.set_xlabel(s, fontsize=8)
            ax.set_ylabel(u, fontsize=8)
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        p = out_dir / f"udr_vs_{_safe(s)}.png"
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths
