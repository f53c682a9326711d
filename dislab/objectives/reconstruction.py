"""Reconstruction terms −log p(x | z), summed over pixels, per sample ``(batch,)``, nats.

* ``bernoulli``: pixels in [0, 1] as Bernoulli probabilities of the decoder's logits,
  −Σ [x log σ(l) + (1 − x) log(1 − σ(l))] (binary cross-entropy with logits), as in the field's
  reference study. For non-binary x it is the cross-entropy, whose minimum is the entropy of x.
* ``gaussian``: N(x; σ(l), var) with fixed variance ``var``; −log p = Σ (x − σ(l))² / 2var
  + const. With the constant dropped and var = ½ this is the reference's ``l2`` loss
  Σ (x − σ(l))².
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from dislab.errors import ConfigError

RECONSTRUCTIONS = ("bernoulli", "gaussian")


def bernoulli_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Bernoulli negative log-likelihood per sample, ``(batch,)``."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(dim=1)


def gaussian_nll(logits: torch.Tensor, x: torch.Tensor, var: float = 0.5) -> torch.Tensor:
    """Fixed-variance Gaussian negative log-likelihood (constant dropped) per sample, ``(batch,)``."""
    return ((x - torch.sigmoid(logits)).pow(2) / (2.0 * var)).flatten(1).sum(dim=1)


def reconstruction_nll(kind: str, logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if kind == "bernoulli":
        return bernoulli_nll(logits, x)
    if kind == "gaussian":
        return gaussian_nll(logits, x)
    raise ConfigError(f"unknown reconstruction {kind!r}; expected one of {RECONSTRUCTIONS}")
