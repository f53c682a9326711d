"""Files that survive a crash: atomic writes, and JSON that says who wrote it.

A crash or a kill never leaves a half-written checkpoint or results file: everything is written to a
temporary file in the same folder, flushed, fsynced and then renamed over the target
(``os.replace`` is atomic on POSIX and Windows).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

from dislab.errors import DataError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed to ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    # mkstemp creates 0600; give the result the permissions a plain open() would (umask applies)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays to plain Python; non-finite floats to None."""
    import numpy as np

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch tensor
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def provenance(produced_by: str) -> dict[str, Any]:
    """The block every JSON file of dislab carries: version, producer, UTC time, machine
    (:func:`dislab.machine.describe`: the CPU and its vector units)."""
    from dislab import __version__
    from dislab.machine import describe

    return {
        "dislab_version": __version__,
        "produced_by": produced_by,
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": describe(),
    }


def write_json(path: str | os.PathLike, payload: dict[str, Any], *, produced_by: str) -> None:
    """Atomically write ``payload`` plus a ``"dislab"`` provenance block as pretty JSON."""
    body = {"dislab": provenance(produced_by), **_jsonable(payload)}
    atomic_write_text(path, json.dumps(body, indent=2, sort_keys=False) + "\n")


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    """Read a JSON object; a missing or corrupt file raises DataError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from e
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, found {type(data).__name__}")
    return data


def save_tensors(tensors: dict, path: str | os.PathLike, metadata: dict[str, str] | None = None) -> None:
    """``safetensors.torch.save_file``, except that a failed write raises ``OSError`` with its
    errno and ``path``. safetensors reports I/O errors as its own ``SafetensorError`` with the
    errno only in the text ("No space left on device (os error 28)"), which the command line
    cannot tell from a bug; as an OSError it becomes ``PATH: No space left on device (...)``."""
    import re

    from safetensors import SafetensorError
    from safetensors.torch import save_file

    try:
        save_file(tensors, str(path), metadata=metadata)
    except SafetensorError as e:
        m = re.search(r"os error (\d+)", str(e))
        if m is None:
            raise
        code = int(m.group(1))
        raise OSError(code, os.strerror(code), str(path)) from e
