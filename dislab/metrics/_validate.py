"""Input validation shared by every array metric in dislab.metrics.

Each metric in this package calls these helpers first, so that every bad input fails the same way:
a :class:`dislab.errors.DataError` (a ``ValueError``) whose message names the argument, what was
wrong and what was expected. Metric authors: validate with :func:`check_codes`,
:func:`check_factors`, :func:`check_same_length` (one set of points) or :func:`check_split`
(train/test metrics), then use :func:`varying_factors` to apply the package-wide rule for constant
factors (skip them, report their indices, refuse when none varies).

Conventions checked here (docs/metrics.md, "Inputs"):

* codes: 2-D ``(n_samples, n_codes)`` of real numbers (any float or int dtype; bool, complex,
  object and string arrays are refused), all finite, at least one sample and one code. Floating
  arrays keep their dtype (the reference's histogram discretisation computes its bin edges in the
  input's precision, so float32 codes must stay float32 to give the same bins); integer codes are
  converted to float64.
* factors: 2-D ``(n_samples, n_factors)`` integer class indices (any int or bool dtype); floats are
  refused with a hint, unless the metric treats factors as continuous (``continuous=True``), where
  any finite real array is accepted.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from dislab.errors import DataError

__all__ = [
    "check_codes",
    "check_factors",
    "check_same_length",
    "check_split",
    "check_min_codes",
    "varying_factors",
]


def _as_2d_array(x, name: str, what: str) -> np.ndarray:
    try:
        arr = np.asarray(x)
    except Exception as exc:  # ragged lists and the like
        raise DataError(f"{name} must be a 2-D array {what}; could not convert it: {exc}") from exc
    if arr.ndim != 2:
        raise DataError(
            f"{name} must be a 2-D array {what}, got an array of shape {arr.shape} "
            f"(ndim {arr.ndim}); reshape a single column with x.reshape(-1, 1)"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{name} is empty (shape {arr.shape}); expected at least one sample and one column")
    return arr


def _check_finite(arr: np.ndarray, name: str) -> None:
    if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
        n_nan = int(np.isnan(arr).sum())
        n_inf = int(np.isinf(arr).sum())
        raise DataError(
            f"{name} contains {n_nan} NaN and {n_inf} infinite values; expected finite numbers"
        )


def check_codes(codes, name: str = "codes") -> np.ndarray:
    """Validate a code matrix ``(n_samples, n_codes)`` and return it as a real ndarray.

    Floating dtypes are kept as given (float32 stays float32); integer codes become float64.
    Raises DataError (a ValueError) for a wrong ndim, an empty array, a non-real dtype or NaN/inf.
    """
    arr = _as_2d_array(codes, name, "of shape (n_samples, n_codes)")
    kind = arr.dtype.kind
    if kind == "f":
        pass
    elif kind in "iu":
        arr = arr.astype(np.float64)
    else:
        raise DataError(
            f"{name} must hold real numbers (a float or int array), got dtype {arr.dtype}"
        )
    _check_finite(arr, name)
    return arr


def check_factors(factors, name: str = "factors", *, continuous: bool = False) -> np.ndarray:
    """Validate a factor matrix ``(n_samples, n_factors)``.

    ``continuous=False`` (the default): integer class indices (int, uint or bool dtype) returned as
    int64. ``continuous=True``: any finite real array, returned as float64 (ints converted).
    Raises DataError (a ValueError) otherwise.
    """
    arr = _as_2d_array(factors, name, "of shape (n_samples, n_factors)")
    kind = arr.dtype.kind
    if continuous:
        if kind not in "fiub":
            raise DataError(
                f"{name} must hold real numbers for continuous factors, got dtype {arr.dtype}"
            )
        arr = arr.astype(np.float64) if kind != "f" else arr
        _check_finite(arr, name)
        return arr
    if kind in "iub":
        return arr.astype(np.int64)
    if kind == "f":
        raise DataError(
            f"{name} must hold integer class indices (an int array), got dtype {arr.dtype}; "
            "convert class labels with factors.astype(int), or pass continuous_factors=True "
            "where the metric supports continuous factors"
        )
    raise DataError(f"{name} must hold integer class indices, got dtype {arr.dtype}")


def check_same_length(arrays: Sequence[np.ndarray], names: Sequence[str]) -> None:
    """All arrays have the same number of samples (rows); DataError naming them otherwise."""
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        described = ", ".join(f"{n} has {k}" for n, k in zip(names, lengths))
        raise DataError(f"mismatched numbers of samples: {described}; expected the same number of rows")


def check_split(codes_train, factors_train, codes_test, factors_test, *,
                continuous_factors: bool = False):
    """Validate a train/test split; returns the four arrays (see check_codes / check_factors).

    Train and test must have matching rows within a split and the same numbers of codes and of
    factors across splits.
    """
    ctr = check_codes(codes_train, "codes_train")
    ftr = check_factors(factors_train, "factors_train", continuous=continuous_factors)
    cte = check_codes(codes_test, "codes_test")
    fte = check_factors(factors_test, "factors_test", continuous=continuous_factors)
    check_same_length([ctr, ftr], ["codes_train", "factors_train"])
    check_same_length([cte, fte], ["codes_test", "factors_test"])
    if ctr.shape[1] != cte.shape[1]:
        raise DataError(
            f"codes_train has {ctr.shape[1]} codes but codes_test has {cte.shape[1]}; expected the same"
        )
    if ftr.shape[1] != fte.shape[1]:
        raise DataError(
            f"factors_train has {ftr.shape[1]} factors but factors_test has {fte.shape[1]}; "
            "expected the same"
        )
    return ctr, ftr, cte, fte


def check_min_codes(codes: np.ndarray, minimum: int, metric: str, why: str) -> None:
    """Refuse fewer than ``minimum`` codes for a metric that compares codes (e.g. a top-two gap)."""
    if codes.shape[1] < minimum:
        raise DataError(
            f"{metric} needs at least {minimum} codes ({why}), got {codes.shape[1]}"
        )


def varying_factors(factors: np.ndarray, metric: str, name: str = "factors") -> np.ndarray:
    """Boolean mask of the factors that take more than one value in ``factors``.

    The package-wide rule: a factor constant over the sample carries no information to recover,
    so metrics skip it from their averages (reporting its index under ``skipped_factors``); a
    sample where no factor varies is refused with a DataError.
    """
    mask = (factors != factors[:1]).any(axis=0)
    if not mask.any():
        raise DataError(
            f"{metric}: every column of {name} is constant over the {factors.shape[0]} samples; "
            "at least one factor must vary"
        )
    return mask
