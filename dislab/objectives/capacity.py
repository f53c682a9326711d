"""Controlled capacity of AnnealedVAE (Burgess et al. 2018, "Understanding disentangling in
β-VAE", Eq. 8): the KL target C rises linearly from 0 to ``c_max`` nats over
``iteration_threshold`` steps and then stays there, as in disentanglement_lib's ``anneal``.

A pure function of the step: nothing is mutated while training.
"""
from __future__ import annotations

import torch

from dislab.errors import ConfigError


def linear_capacity(step: int, c_max: float, iteration_threshold: int) -> float:
    """C(step) = min(c_max, c_max · step / iteration_threshold), nats; 0 at step 0.

    >>> linear_capacity(50_000, 25.0, 100_000)
    12.5
    """
    if iteration_threshold <= 0:
        raise ConfigError(f"iteration_threshold must be > 0 steps, got {iteration_threshold}")
    if step < 0:
        raise ConfigError(f"step must be >= 0, got {step}")
    return min(float(c_max), float(c_max) * float(step) / float(iteration_threshold))


def capacity_penalty(kl: torch.Tensor, capacity: float, gamma: float) -> torch.Tensor:
    """γ · |KL − C| (Burgess et al., Eq. 8), with ``kl`` the batch-mean KL (a scalar), nats."""
    return gamma * (kl - capacity).abs()
