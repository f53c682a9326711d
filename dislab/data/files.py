"""Reading the published dataset files safely: where they are, and what is in them.

* Data roots are arguments. ``path=None`` falls back to the environment variable ``DISLAB_DATA``
  (a folder), read when a dataset is opened, never at import.
* ``.npz`` members are read without unpickling (``allow_pickle=False``), row by row when they are
  large (a compressed member is streamed, an uncompressed one is memory-mapped), so a 3 GB array
  never has to be held twice.
* Every failure is a :class:`~dislab.errors.DataError` that names the file, the field and what was
  expected.
"""
from __future__ import annotations

import contextlib
import os
import zipfile
from pathlib import Path
from typing import Iterator

import numpy as np

from dislab.errors import DataError

DATA_ENV = "DISLAB_DATA"


def resolve_path(path: str | os.PathLike | None, default_name: str, dataset: str, *,
                 folder: bool = False) -> Path:
    """The file (or, with ``folder=True``, the folder) a dataset reads.

    A file may be given as itself or as a folder holding ``default_name``; a folder is given as
    itself. When ``path`` is None or ``"env"``, ``$DISLAB_DATA/default_name`` is used. Raises
    DataError when nothing is found.
    """
    if path is None or (isinstance(path, str) and path == "env"):
        root = os.environ.get(DATA_ENV)
        if not root:
            raise DataError(
                f"{dataset}: no data file given; pass path=... (the file {default_name!r} or its "
                f"folder) or set ${DATA_ENV} to the folder that holds it"
            )
        path = Path(root) / default_name
    p = Path(path).expanduser()
    if p.is_dir() and default_name and not folder:
        p = p / default_name
    if not p.exists():
        what = "expected the folder of its files" if folder else f"expected {default_name!r}"
        raise DataError(f"{dataset}: file not found: {p} ({what})")
    return p


def _open_npz(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise DataError(f"{path}: not a readable .npz file ({e})") from None


def npz_keys(path: Path) -> list[str]:
    with _open_npz(path) as zf:
        return [n[:-4] for n in zf.namelist() if n.endswith(".npy")]


def require_keys(path: Path, keys: list[str] | tuple[str, ...]) -> list[str]:
    present = npz_keys(path)
    missing = [k for k in keys if k not in present]
    if missing:
        raise DataError(
            f"{path}: missing field(s) {missing}; expected {list(keys)}, found {present}"
        )
    return present


def _member_header(fp, path: Path, key: str):
    try:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
    except ValueError as e:
        raise DataError(f"{path}: field {key!r} is not a valid .npy array ({e})") from None
    if dtype.hasobject:
        raise DataError(f"{path}: field {key!r} holds Python objects; refusing to unpickle it")
    return shape, fortran, dtype


@contextlib.contextmanager
def _member(path: Path, key: str):
    """Yield ``(file object positioned at the data, shape, fortran_order, dtype)`` of one member."""
    with _open_npz(path) as zf:
        try:
            fp = zf.open(key + ".npy")
        except KeyError:
            raise DataError(f"{path}: missing field {key!r}; found {npz_keys(path)}") from None
        with fp:
            shape, fortran, dtype = _member_header(fp, path, key)
            yield fp, tuple(shape), fortran, dtype


def npz_member_info(path: Path, key: str) -> tuple[tuple[int, ...], np.dtype]:
    """``(shape, dtype)`` of one member, read from its header only."""
    with _member(path, key) as (_, shape, _, dtype):
        return shape, dtype


def npz_load(path: Path, key: str) -> np.ndarray:
    """One member, fully loaded, without pickles."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if key not in z.files:
                raise DataError(f"{path}: missing field {key!r}; found {list(z.files)}")
            return z[key]
    except DataError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise DataError(f"{path}: field {key!r} could not be read ({e})") from None


def npz_iter_rows(path: Path, key: str, chunk_rows: int) -> Iterator[np.ndarray]:
    """Yield consecutive blocks of ``chunk_rows`` rows of a C-ordered member, never the whole."""
    with _member(path, key) as (fp, shape, fortran, dtype):
        if fortran and len(shape) > 1:
            raise DataError(f"{path}: field {key!r} is stored in Fortran order; expected C order")
        row = int(np.prod(shape[1:], dtype=np.int64)) if shape else 1
        n = shape[0] if shape else 1
        done = 0
        while done < n:
            k = min(chunk_rows, n - done)
            buf = fp.read(k * row * dtype.itemsize)
            if len(buf) != k * row * dtype.itemsize:
                raise DataError(
                    f"{path}: field {key!r} is truncated: expected {n} rows of shape "
                    f"{shape[1:]}, the file ends after {done + len(buf) // max(row * dtype.itemsize, 1)}"
                )
            yield np.frombuffer(buf, dtype=dtype).reshape((k,) + shape[1:])
            done += k


def npz_memmap(path: Path, key: str) -> np.ndarray | None:
    """A read-only memory map of an *uncompressed* member, or None when it is compressed."""
    with _open_npz(path) as zf:
        try:
            info = zf.getinfo(key + ".npy")
        except KeyError:
            raise DataError(f"{path}: missing field {key!r}; found {npz_keys(path)}") from None
        if info.compress_type != zipfile.ZIP_STORED:
            return None
        with zf.open(info) as fp:
            shape, fortran, dtype = _member_header(fp, path, key)
            header_len = fp.tell()
    with open(path, "rb") as raw:
        raw.seek(info.header_offset)
        local = raw.read(30)
        if local[:4] != b"PK\x03\x04":
            raise DataError(f"{path}: corrupt zip entry for field {key!r}")
        name_len = int.from_bytes(local[26:28], "little")
        extra_len = int.from_bytes(local[28:30], "little")
    start = info.header_offset + 30 + name_len + extra_len + header_len
    return np.memmap(path, dtype=dtype, mode="r", offset=start, shape=tuple(shape),
                     order="F" if fortran else "C")


def check_array(arr_shape, arr_dtype, *, path: Path, field: str, shape: tuple, dtypes: tuple) -> None:
    """DataError unless ``arr_shape`` matches ``shape`` (None = any) and the dtype is allowed."""
    ok = len(arr_shape) == len(shape) and all(s is None or s == a for s, a in zip(shape, arr_shape))
    if not ok:
        want = "(" + ", ".join("N" if s is None else str(s) for s in shape) + ")"
        raise DataError(f"{path}: field {field!r} has shape {tuple(arr_shape)}; expected {want}")
    if np.dtype(arr_dtype) not in [np.dtype(d) for d in dtypes]:
        raise DataError(
            f"{path}: field {field!r} has dtype {np.dtype(arr_dtype)}; expected "
            + " or ".join(str(np.dtype(d)) for d in dtypes)
        )


def infer_grid(classes: np.ndarray, *, where: str, names: tuple[str, ...]) -> tuple[int, ...]:
    """Factor sizes of a full-factorial class table stored in flat-index order (last fastest).

    Sizes are ``max + 1`` per column; the table must list every combination exactly once, in
    order, so that row ``i`` of the file is flat index ``i``. Raises DataError otherwise.
    """
    if classes.ndim != 2 or classes.shape[1] != len(names):
        raise DataError(f"{where}: factor table has shape {classes.shape}; expected (N, {len(names)})")
    if classes.size == 0:
        raise DataError(f"{where}: factor table is empty")
    if classes.min() < 0:
        col = int(np.argwhere(classes < 0)[0, 1])
        raise DataError(f"{where}: factor {names[col]!r} has a negative class index")
    sizes = tuple(int(m) + 1 for m in classes.max(axis=0))
    n = int(np.prod(sizes, dtype=np.int64))
    if n != classes.shape[0]:
        raise DataError(
            f"{where}: {classes.shape[0]} rows but the factor sizes {dict(zip(names, sizes))} "
            f"make {n} combinations; expected a full factorial grid"
        )
    strides = np.concatenate([np.cumprod(np.asarray(sizes[::-1]))[::-1][1:], [1]]).astype(np.int64)
    if not np.array_equal(classes.astype(np.int64) @ strides, np.arange(n, dtype=np.int64)):
        raise DataError(
            f"{where}: rows are not in full-factorial order (last factor fastest); "
            "expected row i to hold the i-th combination"
        )
    return sizes


def float_images(arr: np.ndarray) -> "torch.Tensor":
    """uint8 images ``(n, H, W, C)`` or ``(n, H, W)`` -> float32 torch ``(n, C, H, W)`` in [0, 1]."""
    import torch

    a = np.ascontiguousarray(arr)
    t = torch.from_numpy(a)
    t = t[:, None] if t.ndim == 3 else t.permute(0, 3, 1, 2)
    return t.float().div_(255.0).contiguous()


def resize_uint8(img: np.ndarray, side: int) -> np.ndarray:
    """One uint8 image ``(H, W)`` or ``(H, W, C)`` resized to ``side × side`` with PIL's Lanczos
    filter (what the field's reference loaders use to bring 96- and 128-pixel sets to 64)."""
    from PIL import Image

    if img.shape[0] == side and img.shape[1] == side:
        return img
    return np.asarray(Image.fromarray(img).resize((side, side), Image.LANCZOS))
