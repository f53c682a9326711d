"""Datasets with ground-truth factors, through one contract (:class:`FactorDataset`) and one
registry (:func:`get_dataset`). See docs/datasets.md for each dataset's factors and provenance."""
from __future__ import annotations

from dislab.data.base import FactorDataset, as_generator
from dislab.registry import Registry

# name -> "module:Class". File name = registry key.
DATASETS = Registry(
    "dataset",
    {
        "toy_blobs": "dislab.data.toy_blobs:ToyBlobs",
        "dsprites": "dislab.data.dsprites:DSprites",
    },
)


def get_dataset(name: str, **options) -> FactorDataset:
    """Build the dataset registered as ``name`` with keyword ``options``.

    >>> ds = get_dataset("toy_blobs")
    >>> ds.factor_names, len(ds)
    (('x', 'y', 'size', 'hue'), 1024)
    """
    return DATASETS.get(name)(**options)


def list_datasets() -> list[str]:
    return DATASETS.names()


__all__ = ["FactorDataset", "DATASETS", "get_dataset", "list_datasets", "as_generator"]
