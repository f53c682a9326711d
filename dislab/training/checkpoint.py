"""Resume state that survives a kill at any instant, stored without pickle.

Layout inside a run folder::

    checkpoint/latest.json              {"step": N, "folder": "step-000000N"}   (atomic replace)
    checkpoint/step-000000N/model.safetensors      weights and buffers
    checkpoint/step-000000N/optimizer.safetensors  every tensor of every optimizer's state
                                                   ("<group>/<param index>/<name>", e.g. Adam's
                                                   exp_avg, exp_avg_sq and step)
    checkpoint/step-000000N/rng.safetensors        torch generator states as uint8 tensors
                                                   ("torch_cpu", "torch_cuda_<i>", "torch_mps")
    checkpoint/step-000000N/state.json             step, wall time, the numpy bit generator's
                                                   state, optimizer hyperparameters and scalars

A checkpoint is written into a temporary folder, each file fsynced, the folder renamed to
``step-…`` and only then ``latest.json`` replaced (one atomic ``os.replace``); older folders are
deleted last. A kill before the manifest's replace leaves the previous checkpoint in force, a kill
after it the new one, so ``latest.json`` always names a complete folder. Nothing is unpickled on
load: tensors come from safetensors, everything else from JSON.

dislab draws no numbers from Python's ``random`` module, so its state is not saved.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open

from dislab.errors import DislabError, RunError
from dislab.io import atomic_path, read_json, write_json
from dislab.io import save_tensors as save_file  # a failed write is an OSError naming the file
from dislab.runs.layout import (CHECKPOINT_FILES, CHECKPOINT_OPTIMIZERS, CHECKPOINT_RNG, CHECKPOINT_STATE,
                                CHECKPOINT_WEIGHTS, MANIFEST)

PRODUCER = "dislab.training"
# The only names latest.json may give: a folder of checkpoint/ itself, never a path elsewhere.
FOLDER_PATTERN = re.compile(r"step-(\d{9,18})")  # f"step-{step:09d}"
# What to do when a checkpoint file cannot be read: the run's weights are only as good as it.
DAMAGED = ("the checkpoint is damaged (a kill or a full disk while it was written, or an edit); "
           "restore the run folder from a copy, or retrain it (dislab train --overwrite)")


# -- reading, one line naming the file on any failure ----------------------------------------
def read_tensors(path: Path, *, hint: str = DAMAGED) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file, read through one open so that the two always
    belong together (a writer replacing the file cannot give the metadata of one version and the
    tensors of another). A missing, truncated, empty or corrupt file raises :class:`RunError`
    naming it: safetensors' own ``SafetensorError: invalid header length`` names no file."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file not found; {hint}")
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError) as e:
        raise RunError(f"{path}: not a readable safetensors file ({e}); {hint}") from None


def weights_step(path: Path) -> int | None:
    """The ``step`` recorded in a weights file's metadata; None when the file is missing,
    unreadable or has no step (then it cannot be trusted to match any checkpoint)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return int((f.metadata() or {})["step"])
    except (SafetensorError, OSError, ValueError, KeyError):
        return None


def read_state(path: Path, *, hint: str = DAMAGED) -> dict[str, Any]:
    """A checkpoint JSON file (state.json, latest.json); unreadable or not JSON: :class:`RunError`
    naming it (read_json's DataError says "not valid JSON" but not what to do)."""
    try:
        return read_json(path)
    except (DislabError, OSError) as e:
        raise RunError(f"{e}; {hint}") from None


# -- weights ---------------------------------------------------------------------------------
def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors (safetensors stores dense row-major data only;
    channels_last weights are copied to the default layout)."""
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def save_weights(path: Path, model: torch.nn.Module, metadata: dict[str, str]) -> None:
    """Atomically write ``model``'s weights to ``path`` (safetensors)."""
    with atomic_path(path) as tmp:
        save_file(model_tensors(model), str(tmp), metadata=dict(metadata))


def load_weights(path: Path, model: torch.nn.Module, *, hint: str = DAMAGED) -> dict[str, str]:
    """Copy weights from a safetensors file into ``model`` (strict: every key must match);
    returns the file's metadata (``step``, ``model``)."""
    tensors, metadata = read_tensors(path, hint=hint)
    set_weights(model, tensors, path)
    return metadata


def set_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], path: Path) -> None:
    """Load ``tensors`` (read from ``path``) into ``model``; keys and shapes must match exactly.
    A mismatch is a RunError naming ``path`` and the first tensor that differs: config.json and
    the weights disagree (config.json edited after training, or weights copied from another run)."""
    own = model.state_dict()
    diff = [(k, list(tensors[k].shape), list(v.shape)) for k, v in own.items()  # the model's order
            if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)]
    if diff:
        k, saved, wanted = diff[0]
        raise RunError(f"{path}: the weights do not fit the model that config.json describes ({len(diff)} "
                       f"tensor(s) differ; {k} is {saved} in the file, {wanted} in the model); config.json "
                       f"and the weights disagree (was config.json edited after training?)")
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing or unexpected:
        raise RunError(f"{path}: weights do not fit the model (missing {missing}, unexpected {unexpected})")


# -- optimizers ------------------------------------------------------------------------------
def _optimizer_payload(optimizers: dict[str, torch.optim.Optimizer]):
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {}
    for group, opt in optimizers.items():
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for idx, state in sd["state"].items():
            for name, value in state.items():
                if torch.is_tensor(value):
                    tensors[f"{group}/{idx}/{name}"] = value.detach().to("cpu").contiguous()
                else:
                    scalars.setdefault(str(idx), {})[name] = value
        meta[group] = {"param_groups": sd["param_groups"], "scalars": scalars}
    return tensors, meta


def _restore_optimizers(optimizers, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    if sorted(meta) != sorted(optimizers):
        raise RunError(f"checkpoint has optimizer groups {sorted(meta)}, the model has {sorted(optimizers)}")
    for group, opt in optimizers.items():
        state: dict[int, dict[str, Any]] = {}
        for key, value in tensors.items():
            g, idx, name = key.split("/", 2)
            if g == group:
                state.setdefault(int(idx), {})[name] = value
        for idx, scalars in meta[group]["scalars"].items():
            state.setdefault(int(idx), {}).update(scalars)
        param_groups = [
            {k: (tuple(v) if isinstance(v, list) and k != "params" else v) for k, v in pg.items()}
            for pg in meta[group]["param_groups"]
        ]
        opt.load_state_dict({"state": state, "param_groups": param_groups})
        # load_state_dict copies tensors in the default layout; give moments the layout of their
        # parameter (channels_last) so the update runs on matching strides, as before the kill.
        for pg in opt.param_groups:
            for p in pg["params"]:
                st = opt.state.get(p, {})
                for name, value in st.items():
                    if torch.is_tensor(value) and value.shape == p.shape and value.stride() != p.stride():
                        st[name] = torch.empty_like(p, dtype=value.dtype).copy_(value)


# -- random generators -----------------------------------------------------------------------
def rng_tensors() -> dict[str, torch.Tensor]:
    """Every torch generator state as uint8 tensors (CPU, each CUDA device, MPS)."""
    out = {"torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i in range(torch.cuda.device_count()):
            out[f"torch_cuda_{i}"] = torch.cuda.get_rng_state(i)
    if hasattr(torch, "mps") and torch.backends.mps.is_available():
        with contextlib.suppress(Exception):
            out["torch_mps"] = torch.mps.get_rng_state()
    return out


def restore_rng(tensors: dict[str, torch.Tensor]) -> None:
    torch.set_rng_state(tensors["torch_cpu"])
    for key, value in tensors.items():
        if key.startswith("torch_cuda_") and torch.cuda.is_available():
            i = int(key.rsplit("_", 1)[1])
            if i < torch.cuda.device_count():
                torch.cuda.set_rng_state(value, i)
        elif key == "torch_mps" and torch.backends.mps.is_available():
            torch.mps.set_rng_state(value)


# -- whole checkpoints -----------------------------------------------------------------------
def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name == "posix":  # directories cannot be opened for fsync on Windows
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def read_manifest(ckpt_dir: Path) -> tuple[int, Path] | None:
    """``(step, folder)`` of the checkpoint in force, or None when there is no ``latest.json``.

    The folder must be a plain ``step-<digits>`` name inside ``checkpoint/`` whose number is the
    step: a manifest naming an absolute path, ``..`` or anything else would make a resume load
    weights from outside the run, so it raises :class:`RunError` naming ``latest.json``."""
    ckpt_dir = Path(ckpt_dir)
    manifest = ckpt_dir / MANIFEST
    if not manifest.is_file():
        return None
    data = read_state(manifest)
    step, name = data.get("step"), data.get("folder")
    match = FOLDER_PATTERN.fullmatch(name) if isinstance(name, str) else None
    if (match is None or isinstance(step, bool) or not isinstance(step, int)
            or int(match.group(1)) != step):
        raise RunError(f'{manifest}: expected {{"step": N, "folder": "step-<N, 9 digits>"}} naming a '
                       f"folder of {ckpt_dir}, found step={step!r}, folder={name!r}; {DAMAGED}")
    return step, ckpt_dir / name


def latest_step(ckpt_dir: Path) -> int | None:
    """Step of the checkpoint in force, or None when there is none."""
    found = read_manifest(ckpt_dir)
    return None if found is None else found[0]


def save_checkpoint(ckpt_dir: Path, *, step: int, model: torch.nn.Module,
                    optimizers: dict[str, torch.optim.Optimizer], np_rng: np.random.Generator,
                    extra: dict[str, Any] | None = None,
                    rng: dict[str, torch.Tensor] | None = None) -> Path:
    """Write the complete resume state at ``step``; returns the checkpoint's folder. ``rng``: the
    torch generator states to record (:func:`rng_tensors`' keys); None: this process's."""
    ckpt_dir = Path(ckpt_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:09d}"
    final = ckpt_dir / name
    if latest_step(ckpt_dir) == step and final.is_dir():
        return final  # already saved (e.g. the last step is also a checkpoint step)
    tmp = ckpt_dir / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    opt_tensors, opt_meta = _optimizer_payload(optimizers)
    meta = {"step": str(step)}
    save_file(model_tensors(model), str(tmp / CHECKPOINT_WEIGHTS), metadata=meta)
    save_file(opt_tensors, str(tmp / CHECKPOINT_OPTIMIZERS), metadata=meta)
    save_file(rng_tensors() if rng is None else rng, str(tmp / CHECKPOINT_RNG), metadata=meta)
    write_json(tmp / CHECKPOINT_STATE, {
        "step": step,
        "numpy_rng": np_rng.bit_generator.state,
        "optimizers": opt_meta,
        # CPU kernels reduce in an order that depends on the thread count: resume restores it
        "torch_threads": torch.get_num_threads(),
        **(extra or {}),
    }, produced_by=PRODUCER)
    for f in tmp.iterdir():
        _fsync(f)
    _fsync_dir(tmp)
    if final.exists():  # a complete folder a kill left unreferenced before its manifest update
        shutil.rmtree(final)
    os.replace(tmp, final)
    _fsync_dir(ckpt_dir)
    write_json(ckpt_dir / MANIFEST, {"step": step, "folder": name}, produced_by=PRODUCER)
    for old in ckpt_dir.iterdir():  # only now is the previous checkpoint no longer needed
        if old.is_dir() and old.name != name and (old.name.startswith("step-") or old.name.startswith(".tmp-")):
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_checkpoint(ckpt_dir: Path, *, model: torch.nn.Module,
                    optimizers: dict[str, torch.optim.Optimizer]) -> dict[str, Any]:
    """Restore weights, optimizer state and torch generators from the checkpoint in force;
    returns its ``state.json`` (with ``numpy_rng`` for the caller's Generator)."""
    ckpt_dir = Path(ckpt_dir)
    found = read_manifest(ckpt_dir)
    if found is None:
        raise RunError(f"{ckpt_dir}: no checkpoint to resume from ({MANIFEST} missing)")
    step, folder = found
    files = list(CHECKPOINT_FILES)
    missing = [f for f in files if not (folder / f).is_file()]
    if missing:
        raise RunError(f"{folder}: incomplete checkpoint, missing {missing}; {DAMAGED}")
    # read every file before changing anything, so a damaged one leaves model and optimizers as
    # they were
    state = read_state(folder / CHECKPOINT_STATE)
    absent = [k for k in ("step", "numpy_rng", "optimizers") if k not in state]
    if absent or state["step"] != step:
        raise RunError(f"{folder / CHECKPOINT_STATE}: expected the keys step (= {step}), numpy_rng and "
                       f"optimizers, found step={state.get('step')!r}, missing {absent}; {DAMAGED}")
    weights, _ = read_tensors(folder / CHECKPOINT_WEIGHTS)
    opt_tensors, _ = read_tensors(folder / CHECKPOINT_OPTIMIZERS)
    rng, _ = read_tensors(folder / CHECKPOINT_RNG)
    if "torch_cpu" not in rng:
        raise RunError(f"{folder / CHECKPOINT_RNG}: no torch_cpu generator state; {DAMAGED}")
    set_weights(model, weights, folder / CHECKPOINT_WEIGHTS)
    try:
        _restore_optimizers(optimizers, opt_tensors, state["optimizers"])
    except (KeyError, ValueError, TypeError, RuntimeError) as e:
        raise RunError(f"{folder / CHECKPOINT_OPTIMIZERS}: does not fit the model's optimizers "
                       f"({type(e).__name__}: {e}); {DAMAGED}") from None
    try:
        restore_rng(rng)
    except (RuntimeError, ValueError, TypeError) as e:
        raise RunError(f"{folder / CHECKPOINT_RNG}: not a generator state ({e}); {DAMAGED}") from None
    return state
