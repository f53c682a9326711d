"""Per-image randomness that is a function of (dataset seed, flat index), not of call order.

The dSprites variants draw a colour, a noise field or a crop for each image. Tying those draws to
the image's flat index keeps :meth:`FactorDataset.images` a pure function: the same index gives the
same image in every batch, process and run, and a metric sees the same observation a training run
saw. The randomness is still not a factor: it is independent of the factors by construction.

Streams are separated by ``stream`` (one per use), so the colour of image ``i`` is independent of
its noise.
"""
from __future__ import annotations

import numpy as np
import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser (Steele, Lea & Flood, OOPSLA 2014): a bijection on uint64."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def index_keys(seed: int, index: np.ndarray, stream: int = 0) -> np.ndarray:
    """A well-mixed uint64 key per index ``(n,)`` for ``(seed, stream)``."""
    with np.errstate(over="ignore"):
        s = _mix(np.uint64(int(seed) & (2**64 - 1)) * _GOLDEN + np.uint64(int(stream) & 0xFFFF))
        return _mix(s + np.asarray(index, dtype=np.int64).astype(np.uint64) * _GOLDEN)


def uniform(seed: int, index, m: int, stream: int = 0) -> torch.Tensor:
    """float32 ``(n, m)`` in [0, 1), deterministic in ``(seed, stream, index[i])``.

    Small ``m`` (a colour, an offset): counter-based hashing, vectorised over all ``n·m`` values.
    Large ``m`` (a noise image): one numpy PCG64 generator per image, seeded with the key; it drew
    3×64×64 noise images about 2× faster than a seeded ``torch.Generator`` or hashing every pixel
    (docs/benchmarks.md, "## Data").
    """
    keys = index_keys(seed, index, stream)
    n = len(keys)
    if m <= 64:
        with np.errstate(over="ignore"):
            z = _mix(keys[:, None] + np.arange(1, m + 1, dtype=np.uint64)[None, :] * _GOLDEN)
        # top 24 bits -> exactly representable float32 in [0, 1)
        return torch.from_numpy((z >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24))
    out = np.empty((n, m), np.float32)
    for i, k in enumerate(keys.tolist()):
        np.random.Generator(np.random.PCG64(k)).random(m, dtype=np.float32, out=out[i])
    return torch.from_numpy(out)
