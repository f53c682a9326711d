"""A run folder, read back: its config, model, dataset, training log and evaluation.

Layout (docs/training.md)::

    config.json          {"train": TrainConfig, "model": {"name", "config"}, "dataset": describe()}
    model.safetensors    latest weights (written at every checkpoint and at the end)
    checkpoint/          resume state (dislab.training.checkpoint): safetensors + JSON
    train_log.jsonl      one JSON object per log_every steps
    train.lock           who trains the run (a study's runs use the study's locks/<run>.lock)
    tensorboard/         event files, when TrainConfig.tensorboard
    evaluation.json      written by dislab.evaluate

The root ``model.safetensors`` is a copy of the checkpoint in force, written just after it, so a
kill between the two writes leaves it one checkpoint behind. Nothing reads it without
:meth:`Run.weights_in_force`, which compares the step in its metadata with ``latest.json`` and
restores it from the checkpoint when they differ.
"""
from __future__ import annotations

import contextlib
import json
import re
import shutil
import sys
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

import torch

from dislab.errors import RunError
from dislab.io import atomic_path, read_json
from dislab.training.config import TrainConfig

from dislab.runs.layout import (CHECKPOINT, CONFIG, EVALUATION, MANIFEST, STUDY_JSON,  # noqa: F401
                                 STUDY_RUNS, TENSORBOARD, TRAIN_LOCK, TRAIN_LOG, WEIGHTS)

# Temporaries dislab.io.atomic_path leaves when a kill interrupts a write (".NAME.<8 chars>.tmp",
# tempfile.mkstemp's pattern) of the files only a trainer holding the run's lock writes, and
# checkpoint folders save_checkpoint had not finished (".tmp-step-<N>-<pid>").
_STALE_FILES = re.compile(r"\.(" + "|".join(re.escape(n) for n in (CONFIG, WEIGHTS, TRAIN_LOG, EVALUATION)) + r")\.[a-z0-9_]{8}\.tmp")
_STALE_CHECKPOINT_FILES = re.compile(r"\." + re.escape(MANIFEST) + r"\.[a-z0-9_]{8}\.tmp")
_STALE_CHECKPOINT_DIRS = re.compile(r"\.tmp-step-\d+-\d+")


def lock_path(run_dir: str | Path) -> Path:
    """The lock file that says who trains a run.

    A run folder of a study (``<study>/runs/<name>`` beside ``study.json``) uses the lock its
    sweeps take, ``<study>/locks/<name>.lock``, so a resume by hand and a sweep exclude each other;
    any other run folder has its own ``train.lock``."""
    from dislab.studies.folder import StudyFolder

    run_dir = Path(run_dir).resolve()
    study = run_dir.parent.parent
    if run_dir.parent.name == STUDY_RUNS and (study / STUDY_JSON).is_file():
        return StudyFolder(study).lock_path(run_dir.name)
    return run_dir / TRAIN_LOCK


@contextlib.contextmanager
def run_lock(run_dir: str | Path, *, busy_ok: bool = False) -> Iterator[bool]:
    """Hold the run's training lock (the sweeps' ``fcntl.flock``, :mod:`dislab.studies.locking`)
    for the ``with`` block; yields whether it is held.

    If this thread already holds it (a sweep worker that resumes the run it locked) the block runs
    under that hold: a second ``flock`` on the same file from this process would conflict with the
    first. When another process holds it, :class:`RunError` names that process, or with
    ``busy_ok`` the block runs with ``False`` (a reader that then writes nothing); so does a lock
    that cannot be created (a read-only run folder)."""
    from dislab.studies.locking import RunLock, held_by_this_thread

    path = lock_path(run_dir)
    if held_by_this_thread(path):
        yield True
        return
    lock = RunLock(path)
    try:
        got = lock.acquire()
    except OSError:
        if not busy_ok:
            raise
        got = False
    if not got:
        if busy_ok:
            yield False
            return
        holder = lock.holder() or {}
        where = f" on {holder['host']}" if holder.get("host") else ""
        raise RunError(f"{run_dir} is being trained by another process (pid {holder.get('pid', 'unknown')}"
                       f"{where}, lock {path}); wait for it to finish or stop it, then resume")
    try:
        yield True
    finally:
        lock.release()


def remove_stale_temporaries(run_dir: str | Path) -> list[Path]:
    """Delete the temporary files and folders a killed trainer left in ``run_dir`` and its
    ``checkpoint/`` (only dislab's own names for the trainer's files, see ``_STALE_*``); returns
    what was removed. Call it holding the run's lock: no other writer of these files runs then."""
    run_dir = Path(run_dir)
    removed = [p for p in run_dir.iterdir() if p.is_file() and _STALE_FILES.fullmatch(p.name)]
    ckpt = run_dir / CHECKPOINT
    if ckpt.is_dir():
        for p in ckpt.iterdir():
            if (p.is_file() and _STALE_CHECKPOINT_FILES.fullmatch(p.name)) or \
                    (p.is_dir() and _STALE_CHECKPOINT_DIRS.fullmatch(p.name)):
                removed.append(p)
    for p in removed:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return removed


def build_model_from_record(record: dict[str, Any]):
    """The model described by config.json's ``"model"`` block (name + full config dict)."""
    from dislab.models import MODELS
    from dislab.models.base import config_from_dict

    cls = MODELS.get(record["name"])
    return cls(config_from_dict(cls.config_class, record["config"]))


def read_log(path: Path) -> list[dict]:
    """Parse a JSON-lines log; a line cut short by a kill (the last one) is skipped."""
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def _check_record(record: Any, path: Path) -> dict[str, Any]:
    """``record`` (config.json as read) if it has the shape a run folder's config has, else a
    RunError naming the file and the key. A hand-edited or foreign config.json used to fail later
    as a bare KeyError (``error: train``) or a TypeError traceback; here every value is also
    checked by TrainConfig and the model's config, the checks ``dislab train`` makes."""
    from dislab.errors import ConfigError
    from dislab.models import MODELS
    from dislab.models.base import config_from_dict

    def bad(what: str) -> RunError:
        return RunError(f"{path}: {what}; expected the config.json `dislab train` writes "
                        '({"train": {...}, "model": {"name": ..., "config": {...}}, "dataset": {...}})')

    if not isinstance(record, dict):
        raise bad(f"holds a JSON {type(record).__name__}, not an object")
    for key in ("train", "model"):
        if key not in record:
            raise bad(f"no {key!r} block")
        if not isinstance(record[key], dict):
            raise bad(f"{key!r} is {record[key]!r}, not an object")
    model = record["model"]
    if not isinstance(model.get("name"), str):
        raise bad(f"model.name is {model.get('name')!r}, not a model name")
    if not isinstance(model.get("config"), dict):
        raise bad(f"model.config is {model.get('config')!r}, not an object")
    try:
        TrainConfig.from_dict(record["train"])
    except ConfigError as e:
        raise RunError(f"{path}: train: {e}") from None
    try:
        config_from_dict(MODELS.get(model["name"]).config_class, model["config"])
    except ConfigError as e:
        raise RunError(f"{path}: model: {e}") from None
    return record


class Run:
    """A run folder. ``Run(path)`` checks that ``config.json`` is there; the rest loads on use."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if not self.path.exists():  # say so, rather than that config.json is missing from it
            raise RunError(f"{self.path} does not exist; expected a run folder (written by dislab train)")
        if not (self.path / CONFIG).is_file():
            raise RunError(f"{self.path}: not a dislab run folder ({CONFIG} missing)")

    @cached_property
    def record(self) -> dict[str, Any]:
        """The whole config.json (train config, model name and config, dataset description)."""
        return _check_record(read_json(self.path / CONFIG), self.path / CONFIG)

    @property
    def config(self) -> TrainConfig:
        return TrainConfig.from_dict(self.record["train"])

    @property
    def model_name(self) -> str:
        return self.record["model"]["name"]

    def model(self, device: str | torch.device = "cpu"):
        """The trained model (the weights of the checkpoint in force) in eval mode on ``device``."""
        from dislab.training.checkpoint import set_weights

        tensors, source = self.weights_in_force()
        model = build_model_from_record(self.record["model"])
        set_weights(model, tensors, source)
        return model.to(device).eval()

    def weights_in_force(self) -> tuple[dict[str, torch.Tensor], Path]:
        """The run's weights, equal to the checkpoint named in ``checkpoint/latest.json``, and the
        file they were read from. Every reader of the weights goes through here.

        The root ``model.safetensors`` is used when the step in its metadata is the manifest's.
        Otherwise (a kill between the checkpoint and the root write, or a damaged or missing root
        file) the checkpoint's weights are copied to the root atomically, holding the run's lock,
        with a note on stderr; while another process trains the run they are read from the
        checkpoint and nothing is written. A run without ``latest.json`` (its ``checkpoint/``
        deleted to save space) has only its root weights, taken as they are."""
        from dislab.io import save_tensors as save_file  # a failed write is an OSError naming the file
        from dislab.training.checkpoint import read_manifest, read_tensors

        root = self.path / WEIGHTS
        for _ in range(5):  # a trainer moving on may delete the folder we were about to read
            found = read_manifest(self.path / CHECKPOINT)
            if found is None:
                if not root.is_file():
                    raise RunError(f"{self.path}: no weights yet ({WEIGHTS} missing); has training started?")
                return read_tensors(root, hint="there is no checkpoint/ to restore it from; retrain the "
                                               "run (dislab train --overwrite)")[0], root
            step, folder = found
            was = "missing"
            if root.is_file():
                try:
                    tensors, meta = read_tensors(root)
                except RunError:
                    was = "unreadable"  # damaged: restored below
                else:
                    if meta.get("step") == str(step):
                        return tensors, root
                    was = f"step {meta['step']}" if "step" in meta else "no step in its metadata"
            source = folder / "model.safetensors"
            with run_lock(self.path, busy_ok=True) as ours:
                if read_manifest(self.path / CHECKPOINT) != found:
                    continue  # a checkpoint was written meanwhile: look again
                if not ours:  # another process trains the run: read, write nothing
                    try:
                        return read_tensors(source)[0], source
                    except RunError:
                        if source.is_file():
                            raise
                        continue
                tensors, _ = read_tensors(source)
                with atomic_path(root) as tmp:
                    save_file(tensors, str(tmp), metadata={"step": str(step), "model": self.model_name})
                print(f"dislab: {root} was not the checkpoint in force ({was}, latest.json: step {step}); "
                      f"restored it from {source}", file=sys.stderr)
                return tensors, root
        raise RunError(f"{self.path / CHECKPOINT}: the checkpoint in force changed at every look while "
                       f"reading the weights; try again when the run's training has stopped")

    def dataset(self):
        """The training dataset, rebuilt from its name and options."""
        from dislab.data import get_dataset

        cfg = self.config
        return get_dataset(cfg.dataset, **cfg.dataset_options)

    def train_log(self) -> list[dict]:
        return read_log(self.path / TRAIN_LOG)

    def evaluation(self) -> dict | None:
        p = self.path / EVALUATION
        return read_json(p) if p.is_file() else None

    @property
    def step(self) -> int:
        """Step of the last checkpoint (0 before the first)."""
        from dislab.training.checkpoint import latest_step

        return latest_step(self.path / CHECKPOINT) or 0

    @property
    def complete(self) -> bool:
        return self.step >= self.config.steps

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, model={self.model_name!r}, step={self.step}/{self.config.steps})"


def open_run(run_dir: str | Path) -> Run:
    return Run(run_dir)


def load(run_dir: str | Path, *, device: str | torch.device = "cpu"):
    """The trained model of a run folder, in eval mode, on ``device`` (CPU unless asked)."""
    return Run(run_dir).model(device)
