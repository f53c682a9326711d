"""Which latents does the model use? Per-latent KL over a set of inputs, and its bar chart.

The mean KL of each latent's posterior to the prior over the inputs,

    KL_j = E_x[ KL(q(z_j|x) || p(z_j)) ]   (nats, ≥ 0),

is near 0 for a latent the encoder does not use (it collapses onto the prior) and of order 1 or
more for an informative one, so it ranks latents and flags inactive ones (Higgins et al. 2017 show
traversals ordered this way). It is dislab's one definition of an active latent
(:mod:`dislab.metrics.active`: KL_j > 0.1 nats), shared with ``dislab diagnose``, the
``unsupervised`` metrics and UDR; priors without a closed-form KL (mixtures, VampPrior, flows)
are measured against their exact marginal p(z_j) by Monte Carlo.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from dislab import progress as bars
from dislab.errors import DataError


def model_device(model) -> torch.device:
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


@torch.no_grad()
def encode_images(model, images: torch.Tensor, *, batch_size: int = 256, progress: bool = False,
                  desc: str = "encoding") -> tuple[np.ndarray, np.ndarray]:
    """Posterior means and log-variances of ``images`` ``(n, C, H, W)``: two float32 ``(n, n_latents)``."""
    if images.ndim != 4:
        raise DataError(f"images must have shape (n, C, H, W), got {tuple(images.shape)}")
    from tqdm.auto import tqdm

    device = model_device(model)
    mus, logvars = [], []
    starts = range(0, images.shape[0], batch_size)
    for s in tqdm(starts, desc=desc, unit="batch", disable=bars.disable(progress), leave=False):
        mu, logvar = model.encode(images[s:s + batch_size].to(device))
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


def encode_sample(model, dataset, n: int, *, seed: int = 0, progress: bool = False):
    """Draw ``min(n, len(dataset))`` distinct inputs (seeded, sorted flat indices) and encode them.

    Returns ``(index (n,) int64, images (n, C, H, W) float32, mu, logvar (n, n_latents) float32)``.
    """
    rng = np.random.default_rng(seed)
    n = min(int(n), len(dataset))
    if n < 1:
        raise DataError(f"need at least one input to encode, got n = {n}")
    index = np.sort(rng.choice(len(dataset), size=n, replace=False)).astype(np.int64)
    with torch.no_grad():
        images = dataset.images(index)
    mu, logvar = encode_images(model, images, progress=progress, desc="encoding inputs")
    return index, images, mu, logvar


@dataclass(frozen=True)
class LatentActivity:
    """How much each latent is used.

    values: ``(n_latents,)`` mean KL per latent to the prior in nats
        (:func:`dislab.metrics.active.mean_kl_per_latent`).
    threshold: a latent is active when its value exceeds this (default 0.1 nats,
        :data:`dislab.metrics.active.ACTIVE_KL_THRESHOLD`).
    n_inputs: how many inputs the mean is over.
    information: ``(n_latents,)`` upper bound on the information each latent carries about the
        input, nats (:func:`dislab.metrics.active.information_bound`), where measured.
    """

    values: np.ndarray
    kind: str  # "kl" (kept for callers that built it with a kind)
    threshold: float
    n_inputs: int = 0
    information: np.ndarray | None = None

    @property
    def active(self) -> np.ndarray:
        """Boolean ``(n_latents,)``."""
        from dislab.metrics.active import active_mask

        return active_mask(self.values, threshold=self.threshold)

    @property
    def order(self) -> np.ndarray:
        """Latent indices from most to least used (stable for ties)."""
        return np.argsort(-self.values, kind="stable")

    @property
    def label(self) -> str:
        return "KL (nats)"

    def describe(self, j: int) -> str:
        """Short label of latent ``j`` for pictures: ``"z3 KL 1.25"``."""
        return f"z{j} KL {self.values[j]:.2f}"

    def summary(self) -> str:
        """``"3 of 10 latents active (mean KL > 0.1 nats over 1000 inputs)"``."""
        n = len(self.values)
        over = f" over {self.n_inputs} inputs" if self.n_inputs else ""
        return f"{int(self.active.sum())} of {n} latents active (mean KL > {self.threshold:g} nats{over})"


def latent_activity(model, mu: np.ndarray, logvar: np.ndarray, *, threshold: float | None = None,
                    seed: int = 0) -> LatentActivity:
    """Per-latent activity from posterior parameters ``mu``, ``logvar`` ``(n, n_latents)``: the
    mean KL to the model's prior over the ``n`` inputs (closed form for the standard normal, a
    seeded Monte Carlo estimate against the prior's marginals otherwise) and dislab's threshold
    (0.1 nats) unless ``threshold`` is given. Measure it on many inputs (the report and
    ``dislab traverse`` use 1,000-2,000), not on the few that are drawn."""
    from dislab.metrics.active import ACTIVE_KL_THRESHOLD, information_bound, mean_kl_per_latent

    mu = np.asarray(mu, dtype=np.float32)
    logvar = np.asarray(logvar, dtype=np.float32)
    if mu.ndim != 2 or mu.shape != logvar.shape:
        raise DataError(f"mu and logvar must both be (n, n_latents), got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    values = mean_kl_per_latent(getattr(model, "prior", None), mu, logvar, seed=seed)
    information = information_bound(mu, logvar) if len(mu) >= 2 else None
    return LatentActivity(values.astype(np.float64), "kl",
                          ACTIVE_KL_THRESHOLD if threshold is None else float(threshold), int(mu.shape[0]),
                          information)


def kl_bar_chart(activity: LatentActivity, *, title: str | None = None):
    """Bar chart of per-latent activity (latents in index order), inactive bars grey, the threshold
    dashed. Returns a matplotlib Figure."""
    from dislab.viz.grid import new_figure

    values = np.asarray(activity.values, dtype=float)
    n = values.shape[0]
    fig = new_figure(max(4.0, 0.45 * n + 1.5), 3.0)
    ax = fig.add_subplot(1, 1, 1)
    colors = ["#1f77b4" if a else "#bbbbbb" for a in activity.active]
    ax.bar(np.arange(n), values, color=colors)
    ax.axhline(activity.threshold, color="#d62728", linestyle="--", linewidth=1)
    ax.set_xticks(np.arange(n))
    ax.set_xticklabels([f"z{j}" for j in range(n)], fontsize=8)
    ax.set_ylabel(activity.label)
    ax.set_xlabel("latent")
    ax.set_title(title or f"Per-latent {activity.label}: {int(activity.active.sum())} of {n} active "
                 f"(above {activity.threshold:g}, dashed)", fontsize=10)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig
