"""The density-ratio total correlation of FactorVAE (Kim & Mnih, ICML 2018, "Disentangling by
Factorising", Sec. 3 and Algorithm 2).

A discriminator D tells codes z ~ q(z) (label 0, "joint") from codes whose dimensions were
permuted independently across a batch, a sample of Π_j q(z_j) (label 1, "product"). With two
logits (l₀, l₁), D(z) = softmax(l)₀ and

    TC(z) = KL(q(z) || Π_j q(z_j)) ≈ E_q(z)[log D(z) / (1 − D(z))] = E_q(z)[l₀ − l₁]   (Eq. 3)

The discriminator minimises the cross-entropy of those two labels.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def permute_dims(z: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shuffle each column of ``z`` ``(n, D)`` with its own random permutation (Algorithm 1).

    Every dimension keeps exactly its batch values (its marginal); their pairing across
    dimensions is broken, so the result is a sample of Π_j q(z_j).
    """
    n, d = z.shape
    keys = torch.rand(n, d, generator=generator, device=z.device if generator is None else generator.device)
    order = keys.argsort(dim=0).to(z.device)  # (n, D): an independent permutation per column
    return z.gather(0, order)


def density_ratio_tc(logits: torch.Tensor) -> torch.Tensor:
    """Per-sample TC estimate log D/(1 − D) = l₀ − l₁ from ``(n, 2)`` logits, ``(n,)`` nats."""
    return logits[:, 0] - logits[:, 1]


def discriminator_loss(logits_joint: torch.Tensor, logits_product: torch.Tensor) -> torch.Tensor:
    """½ [CE(D(z), joint) + CE(D(z_perm), product)], a scalar in nats (log 2 at chance)."""
    joint = torch.zeros(logits_joint.shape[0], dtype=torch.long, device=logits_joint.device)
    product = torch.ones(logits_product.shape[0], dtype=torch.long, device=logits_product.device)
    return 0.5 * (F.cross_entropy(logits_joint, joint) + F.cross_entropy(logits_product, product))
