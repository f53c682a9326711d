"""Training precision: ``fp32`` everywhere, or the networks in bfloat16 with everything else fp32.

``precision="bf16"`` runs the model's networks (encoder, decoder: the convolutions and linear
layers that cost ~all of a step's FLOPs) under :func:`torch.autocast` with ``dtype=bfloat16`` and
casts their outputs back to float32 (:meth:`LatentVariableModel.network`). Parameters, Adam's
state, the reparameterised samples and every loss term, including the minibatch log-sum-exp of the
β-TCVAE estimators and DIP-VAE's covariances, stay float32: they are computed outside the autocast
region. ``"auto"`` resolves to ``"bf16"`` where the device has fast bf16 arithmetic (a CPU with AMX
or AVX512-BF16; a CUDA GPU that supports bf16) and to ``"fp32"`` elsewhere; the resolved value is
what a run records in its config.json, so a resumed run keeps its precision on any machine.

Why not bf16 everywhere: bf16 keeps 8 bits of mantissa (relative rounding 2^-9 ≈ 2e-3). Summed
over a batch of M samples, log q(z) = logsumexp_j log q(z | x_j) − log(M·N) would carry errors of a
few 1e-3 nats per pair and TC is a small difference of such sums.
"""
from __future__ import annotations

import contextlib

import torch

from dislab.errors import ConfigError
from dislab.machine import cpu_flags  # noqa: F401 - re-exported (benchmarks/precision.py)

PRECISIONS = ("fp32", "bf16", "auto")
DTYPES = {"fp32": None, "bf16": torch.bfloat16}


def has_fast_bf16(device: torch.device | str) -> bool:
    """True where bf16 matrix arithmetic runs in hardware: AMX-BF16 or AVX512-BF16 on a CPU (oneDNN
    uses them for convolutions; without them bf16 is emulated and slower than fp32), a CUDA device
    with native bf16 (compute capability >= 8.0). MPS and anything else: False."""
    device = torch.device(device)
    if device.type == "cpu":
        return bool({"amx_bf16", "avx512_bf16"} & cpu_flags())
    if device.type == "cuda":
        try:
            return torch.cuda.is_available() and torch.cuda.get_device_capability(device)[0] >= 8
        except (RuntimeError, AssertionError):
            return False
    return False


def resolve_precision(precision: str, device: torch.device | str) -> str:
    """``"fp32"`` or ``"bf16"`` for ``precision`` on ``device`` (``"auto"`` decided by
    :func:`has_fast_bf16`). ``"bf16"`` asked for explicitly is honoured on CPU and CUDA even without
    fast units (it is then only slower); on MPS it is refused."""
    if precision not in PRECISIONS:
        raise ConfigError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    device = torch.device(device)
    if precision == "auto":
        return "bf16" if has_fast_bf16(device) else "fp32"
    if precision == "bf16" and device.type not in ("cpu", "cuda"):
        raise ConfigError(f"precision 'bf16' is supported on cpu and cuda, not on {device.type}; use fp32")
    return precision


def network_autocast(dtype: torch.dtype | None, device_type: str):
    """The autocast context a network runs in: a no-op for fp32 (``dtype`` None)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device_type, dtype=dtype)


def to_float32(value):
    """``value`` with every floating tensor in it (nested tuples/lists) cast to float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, (tuple, list)):
        return type(value)(to_float32(v) for v in value)
    return value
