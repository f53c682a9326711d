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
        "color_dsprites": "dislab.data.color_dsprites:ColorDSprites",
        "noisy_dsprites": "dislab.data.noisy_dsprites:NoisyDSprites",
        "scream_dsprites": "dislab.data.scream_dsprites:ScreamDSprites",
        "shapes3d": "dislab.data.shapes3d:Shapes3D",
        "mpi3d": "dislab.data.mpi3d:MPI3D",
        "smallnorb": "dislab.data.smallnorb:SmallNORB",
        "cars3d": "dislab.data.cars3d:Cars3D",
        "image_folder": "dislab.data.image_folder:ImageFolder",
    },
)


def check_dataset_options(name: str, options) -> None:
    """The names of ``options`` are keywords of dataset ``name`` (ConfigError naming the unknown
    ones otherwise). Their values are checked by the dataset's constructor, which may read files,
    so a study file is checked with this before any run starts."""
    from dislab.checks import keyword_options

    keyword_options(f"dataset {name!r}", DATASETS.get(name), options)


def get_dataset(name: str, **options) -> FactorDataset:
    """Build the dataset registered as ``name`` with keyword ``options``.

    >>> ds = get_dataset("toy_blobs")
    >>> ds.factor_names, len(ds)
    (('x', 'y', 'size', 'hue'), 1024)
    """
    check_dataset_options(name, options)
    return DATASETS.get(name)(**options)


def list_datasets() -> list[str]:
    return DATASETS.names()


__all__ = ["FactorDataset", "DATASETS", "get_dataset", "check_dataset_options", "list_datasets",
           "as_generator"]
