"""The FactorDataset contract: images with (optionally) ground-truth generating factors.

What a dataset *is* (factor names and sizes, image shape) is kept apart from how it is batched
(``dislab.training`` samples indices and calls :meth:`FactorDataset.images`).

Conventions (docs/design.md):

* factors are ``(n, n_factors)`` int64 class indices, ``0 <= f[:, j] < factor_sizes[j]``;
* observations are float32 torch tensors ``(n, C, H, W)`` with values in [0, 1];
* randomness is an argument (``numpy.random.Generator`` or an int seed), never global state;
* full-factorial sets order images like the original files: the *last* factor varies fastest, so
  ``index = factors @ strides`` with ``strides[j] = prod(factor_sizes[j+1:])``.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from dislab.errors import DataError


def as_generator(rng: np.random.Generator | int | None) -> np.random.Generator:
    """Accept a Generator, an int seed or None (fresh entropy) and return a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


class FactorDataset:
    """Base class of every dataset. Subclasses set the class/instance attributes below and
    implement :meth:`images` (by flat index); full-factorial sets get the factor helpers for free.

    Attributes:
        name: registry key.
        factor_names: one name per factor; ``()`` for unsupervised data (no factors).
        factor_sizes: number of values of each factor.
        observation_shape: ``(C, H, W)``.
        factor_values: optional list, per factor, of the physical value of each class index
            (e.g. scale 0.5..1); used for plots and exports.
    """

    name: str = "dataset"
    factor_names: tuple[str, ...] = ()
    factor_sizes: tuple[int, ...] = ()
    observation_shape: tuple[int, int, int] = (1, 64, 64)
    factor_values: tuple[np.ndarray, ...] | None = None

    # -- size and factors ------------------------------------------------------------------
    @property
    def has_factors(self) -> bool:
        return len(self.factor_names) > 0

    @property
    def n_factors(self) -> int:
        return len(self.factor_names)

    def __len__(self) -> int:
        if not self.has_factors:
            raise NotImplementedError
        return int(np.prod(self.factor_sizes, dtype=np.int64))

    @property
    def strides(self) -> np.ndarray:
        """Flat-index strides of the full factor grid (last factor fastest)."""
        sizes = np.asarray(self.factor_sizes, dtype=np.int64)
        return np.concatenate([np.cumprod(sizes[::-1])[::-1][1:], [1]]).astype(np.int64)

    def require_factors(self, what: str = "this operation") -> None:
        if not self.has_factors:
            raise DataError(
                f"dataset {self.name!r} has no ground-truth factors, which {what} needs; "
                "use a dataset with factors (see `dislab datasets list`)"
            )

    def validate_factors(self, factors) -> np.ndarray:
        """Check a factor array's width, dtype and range; return it as int64 ``(n, n_factors)``."""
        self.require_factors("indexing by factors")
        arr = np.asarray(factors)
        if arr.ndim == 1 and arr.shape[0] == self.n_factors:
            arr = arr[None, :]
        if arr.ndim != 2 or arr.shape[1] != self.n_factors:
            raise DataError(
                f"{self.name}: factors must have shape (n, {self.n_factors}) for factors "
                f"{list(self.factor_names)}, got shape {arr.shape}"
            )
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise DataError(f"{self.name}: factors must be integer class indices, got {arr.dtype}")
        arr = arr.astype(np.int64, copy=False)
        sizes = np.asarray(self.factor_sizes)
        bad = (arr < 0) | (arr >= sizes)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"{self.name}: factor {self.factor_names[col]!r} has index {arr[row, col]} "
                f"(row {row}); expected 0 <= index < {sizes[col]}"
            )
        return arr

    def index_of(self, factors) -> np.ndarray:
        """Flat indices ``(n,)`` of factor rows ``(n, n_factors)``."""
        return self.validate_factors(factors) @ self.strides

    def factors_of(self, index) -> np.ndarray:
        """Factor rows ``(n, n_factors)`` of flat indices ``(n,)``."""
        self.require_factors("factors_of")
        idx = self.validate_indices(index)
        return (idx[:, None] // self.strides[None, :]) % np.asarray(self.factor_sizes)[None, :]

    def validate_indices(self, index) -> np.ndarray:
        idx = np.atleast_1d(np.asarray(index))
        if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
            raise DataError(f"{self.name}: indices must be a 1-D integer array, got {idx.dtype} {idx.shape}")
        n = len(self)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise DataError(f"{self.name}: index out of range; expected 0 <= index < {n}")
        return idx.astype(np.int64, copy=False)

    def sample_factors(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` factor rows drawn uniformly and independently per factor, int64 ``(n, n_factors)``."""
        self.require_factors("sample_factors")
        g = as_generator(rng)
        return np.stack([g.integers(0, s, size=n) for s in self.factor_sizes], axis=1).astype(np.int64)

    def sample_indices(self, n: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
        """``n`` flat indices drawn uniformly with replacement."""
        return as_generator(rng).integers(0, len(self), size=n, dtype=np.int64)

    # -- images ----------------------------------------------------------------------------
    def images(self, index: np.ndarray | Sequence[int]) -> torch.Tensor:
        """Float32 images ``(n, C, H, W)`` in [0, 1] at flat ``index`` ``(n,)``."""
        raise NotImplementedError

    def images_on(self, index: np.ndarray | Sequence[int], device: torch.device | str) -> torch.Tensor:
        """:meth:`images` on ``device``. This default renders on the host and copies; datasets that
        can render on the device itself (procedural dSprites stamps its templates there) override
        it, so a GPU training step moves only the batch's indices."""
        device = torch.device(device)
        out = self.images(index)
        return out if device.type == "cpu" else out.to(device, non_blocking=True)

    def observations(self, factors) -> torch.Tensor:
        """Float32 images ``(n, C, H, W)`` in [0, 1] of factor rows ``(n, n_factors)``."""
        return self.images(self.index_of(factors))

    def sample(self, n: int, rng: np.random.Generator | int | None = None):
        """``(factors (n, n_factors) int64, observations (n, C, H, W) float32)``."""
        factors = self.sample_factors(n, rng)
        return factors, self.observations(factors)

    def describe(self) -> dict:
        """JSON-ready summary (used by ``dislab datasets show`` and run configs)."""
        return {
            "name": self.name,
            "factor_names": list(self.factor_names),
            "factor_sizes": list(self.factor_sizes),
            "observation_shape": list(self.observation_shape),
            "n_images": len(self),
        }

    def __repr__(self) -> str:
        fs = ", ".join(f"{n}={s}" for n, s in zip(self.factor_names, self.factor_sizes))
        return f"{type(self).__name__}({fs}; images {self.observation_shape})"
