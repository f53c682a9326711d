"""Which latents does the model use? Per-latent KL over a set of inputs, and its bar chart.

For a factorised prior the KL of q(z|x) to p(z) splits over latents; its average over the data,

    KL_j = E_x[ KL(q(z_j|x) || p(z_j)) ]   (nats, ≥ 0),

is near 0 for a latent the encoder does not use (it collapses onto the prior) and of order 1 or
more for an informative one, so it ranks latents and flags inactive ones (Higgins et al. 2017 show
traversals ordered this way). Priors that are not factorised (mixtures, VampPrior) have no
per-latent KL; for them the activity is the variance of the posterior mean over the data,
``Var_x(E_q[z_j|x])``, the "active units" statistic of Burda et al. (ICLR 2016, Section 5.2), whose
usual threshold is 0.01.
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

    values: ``(n_latents,)`` mean KL per latent in nats (``kind == "kl"``) or the variance of the
        posterior mean (``kind == "variance"``, non-factorised priors).
    threshold: a latent is active when its value exceeds this.
    """

    values: np.ndarray
    kind: str
    threshold: float

    @property
    def active(self) -> np.ndarray:
        """Boolean ``(n_latents,)``."""
        return self.values > self.threshold

    @property
    def order(self) -> np.ndarray:
        """Latent indices from most to least used (stable for ties)."""
        return np.argsort(-self.values, kind="stable")

    @property
    def label(self) -> str:
        return "KL (nats)" if self.kind == "kl" else "Var of posterior mean"

    def describe(self, j: int) -> str:
        """Short label of latent ``j`` for pictures: ``"z3 KL 1.25"``."""
        name = "KL" if self.kind == "kl" else "var"
        return f"z{j} {name} {self.values[j]:.2f}"


DEFAULT_KL_THRESHOLD = 0.1  # nats; informative latents of a trained model sit well above 0.5
DEFAULT_VARIANCE_THRESHOLD = 0.01  # Burda et al. (2016)


@torch.no_grad()
def latent_activity(model, mu: np.ndarray, logvar: np.ndarray, *, threshold: float | None = None,
                    seed: int = 0) -> LatentActivity:
    """Per-latent activity from posterior parameters ``mu``, ``logvar`` ``(n, n_latents)``.

    Uses ``model.prior.kl_per_latent`` (closed form for the standard normal; a one-sample Monte
    Carlo estimate at a seeded reparameterised ``z`` otherwise) averaged over the ``n`` inputs; falls
    back to ``Var(mu)`` when the prior is not factorised.
    """
    mu_t = torch.as_tensor(np.asarray(mu, dtype=np.float32))
    logvar_t = torch.as_tensor(np.asarray(logvar, dtype=np.float32))
    if mu_t.ndim != 2 or mu_t.shape != logvar_t.shape:
        raise DataError(f"mu and logvar must both be (n, n_latents), got {tuple(mu_t.shape)} and {tuple(logvar_t.shape)}")
    prior = getattr(model, "prior", None)
    if prior is not None and getattr(prior, "factorised", False):
        g = torch.Generator().manual_seed(seed)
        eps = torch.randn(mu_t.shape, generator=g)
        z = mu_t + torch.exp(0.5 * logvar_t) * eps
        device = model_device(model)
        try:
            kl = prior.kl_per_latent(mu_t.to(device), logvar_t.to(device), z.to(device))
        except NotImplementedError:
            kl = None
        if kl is not None:
            values = kl.float().mean(dim=0).cpu().numpy()
            return LatentActivity(values, "kl", DEFAULT_KL_THRESHOLD if threshold is None else float(threshold))
    values = mu_t.var(dim=0, unbiased=False).numpy() if mu_t.shape[0] > 1 else np.zeros(mu_t.shape[1], np.float32)
    return LatentActivity(values, "variance", DEFAULT_VARIANCE_THRESHOLD if threshold is None else float(threshold))


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
