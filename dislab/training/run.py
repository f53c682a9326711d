"""A run folder, read back: its config, model, dataset, training log and evaluation.

Layout (docs/training.md)::

    config.json          {"train": TrainConfig, "model": {"name", "config"}, "dataset": describe()}
    model.safetensors    latest weights (written at every checkpoint and at the end)
    checkpoint/          resume state (dislab.training.checkpoint): safetensors + JSON
    train_log.jsonl      one JSON object per log_every steps
    tensorboard/         event files, when TrainConfig.tensorboard
    evaluation.json      written by dislab.evaluate
"""
from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

import torch

from dislab.errors import RunError
from dislab.io import read_json
from dislab.training.config import TrainConfig

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
CHECKPOINT = "checkpoint"
TRAIN_LOG = "train_log.jsonl"
EVALUATION = "evaluation.json"
TENSORBOARD = "tensorboard"


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


def _mismatch(weights: Path, model, error: RuntimeError) -> Exception:
    """A RunError saying that ``weights`` and config.json disagree (config.json edited after
    training, or weights copied from another run), naming the first tensor whose shape differs.
    Other RuntimeErrors are returned unchanged."""
    try:
        from safetensors import safe_open

        with safe_open(str(weights), "pt") as f:
            saved = {k: list(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception:  # noqa: BLE001 - the message below is still right without the detail
        saved = {}
    diff = [(k, saved[k], list(v.shape)) for k, v in model.state_dict().items()
            if k in saved and saved[k] != list(v.shape)]
    if not diff and "size mismatch" not in str(error):
        return error
    detail = (f" ({len(diff)} tensor(s) differ; {diff[0][0]} is {diff[0][1]} in the file, {diff[0][2]} "
              f"in the model)" if diff else "")
    return RunError(f"{weights}: the weights do not fit the model that {CONFIG} describes{detail}; "
                    f"{CONFIG} and the weights disagree (was {CONFIG} edited after training?)")


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
        """The trained model (latest weights) in eval mode on ``device``."""
        from dislab.training.checkpoint import load_weights

        if not (self.path / WEIGHTS).is_file():
            raise RunError(f"{self.path}: no weights yet ({WEIGHTS} missing); has training started?")
        model = build_model_from_record(self.record["model"])
        try:
            load_weights(self.path / WEIGHTS, model)
        except RuntimeError as e:  # torch's load_state_dict: tensors of other shapes
            raise _mismatch(self.path / WEIGHTS, model, e) from None
        return model.to(device).eval()

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
