"""The training configuration: one frozen dataclass, a TOML file, and ``--set key=value`` overrides.

A run is fully described by a :class:`TrainConfig` (what to train, on what, for how long) plus the
model's own frozen config (``model_options``, validated against ``<Name>Config`` of the model).
Keys given as ``key=value`` are routed by name: a field of :class:`TrainConfig` sets that field, a
field of the model's config goes to ``model_options``; ``dataset_options.KEY`` and
``model_options.KEY`` name a destination explicitly. Unknown keys raise :class:`ConfigError` naming
the key and listing the allowed ones.
"""
from __future__ import annotations

import dataclasses
import json
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from dislab.errors import ConfigError

# The model config fields the trainer fills in from the dataset; a user value would only disagree.
DATASET_FILLED = ("observation_shape", "dataset_size")


@dataclass(frozen=True)
class TrainConfig:
    """Everything the trainer needs besides the model's own hyperparameters.

    Defaults follow the field's reference study (Locatello et al., ICML 2019, Table 2): batch 64,
    Adam lr 1e-4 with β = (0.9, 0.999), 300,000 steps.
    """

    # What to train: keys of dislab.models.MODELS / dislab.data.DATASETS.
    model: str = "vae"
    dataset: str = "toy_blobs"
    # Keyword options of the dataset constructor (e.g. {"side": 64}); part of the run's identity.
    dataset_options: dict = field(default_factory=dict)
    # Fields of the model's <Name>Config (e.g. {"beta": 6}); validated against it when training
    # starts. observation_shape and dataset_size are filled in from the dataset, never given here.
    model_options: dict = field(default_factory=dict)
    # Number of gradient steps (one batch each); the reference study trains for 300,000.
    steps: int = 300_000
    batch_size: int = 64
    # Adam for the "model" group (reference: lr 1e-4, β1 0.9, β2 0.999). Other optimizer groups
    # (FactorVAE's discriminator) take their options from the model, see dislab.training.fit.
    lr: float = 1e-4
    betas: tuple[float, float] = (0.9, 0.999)
    # Seeds every generator of the run: weight init, the batch sampler, reparameterisation noise.
    seed: int = 0
    # "auto" picks cuda > mps > cpu; or name one ("cpu", "cuda", "cuda:1", "mps").
    device: str = "auto"
    # A line in train_log.jsonl (and the progress bar's numbers) every log_every steps; reading the
    # numbers synchronises an accelerator, so not every step.
    log_every: int = 100
    # Resume state every checkpoint_every steps (and at the end). A checkpoint of a conv64 model is
    # ~10 MB and takes tens of milliseconds: negligible at this interval.
    checkpoint_every: int = 1000
    # Convolutions in NHWC layout: 1.15-1.3x faster on CPU (docs/benchmarks.md "Training"); the
    # results differ from NCHW only by float rounding.
    channels_last: bool = True
    # Also write TensorBoard event files under <run>/tensorboard (needs the "tensorboard" extra).
    tensorboard: bool = False
    # Arithmetic of the networks: "fp32"; "bf16" (encoder and decoder under bf16 autocast, every
    # parameter, optimizer state and loss term in fp32; dislab.training.precision); "auto" (bf16
    # where the device has fast bf16 units: AMX / AVX512-BF16 CPUs, bf16 GPUs). A run records the
    # resolved value. Default fp32: the reference study's numbers were fp32 and a result should not
    # depend on which machine ran it (docs/training.md "Precision").
    precision: str = "fp32"

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        for name in ("model", "dataset", "device", "precision"):
            if not isinstance(getattr(self, name), str):
                raise ConfigError(f"{name} must be a string, got {getattr(self, name)!r}")
        for name in ("dataset_options", "model_options"):
            value = getattr(self, name)
            if not isinstance(value, Mapping):
                raise ConfigError(f"{name} must be a mapping of option names to values, got {value!r}")
            put(name, dict(value))
        for name in ("steps", "batch_size", "seed", "log_every", "checkpoint_every"):
            put(name, _as_int(name, getattr(self, name)))
        put("lr", _as_float("lr", self.lr))
        betas = self.betas
        if not isinstance(betas, (list, tuple)) or len(betas) != 2:
            raise ConfigError(f"betas must be two numbers (beta1, beta2), got {betas!r}")
        put("betas", tuple(_as_float("betas", b) for b in betas))
        for name in ("channels_last", "tensorboard"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got {getattr(self, name)!r}")
        if self.steps < 0:
            raise ConfigError(f"steps must be >= 0, got {self.steps}")
        for name in ("batch_size", "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"lr must be a positive number, got {self.lr}")
        if not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"betas must lie in [0, 1), got {self.betas}")
        if self.precision not in ("fp32", "bf16", "auto"):
            raise ConfigError(f"precision must be 'fp32', 'bf16' or 'auto', got {self.precision!r}")
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", self.device):
            raise ConfigError(f"device must be 'auto', 'cpu', 'mps', 'cuda' or 'cuda:N', got {self.device!r}")
        bad = sorted(set(self.model_options) & set(DATASET_FILLED))
        if bad:
            raise ConfigError(f"model option(s) {bad} are filled in from the dataset; do not set them")

    # -- conversions -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict (tuples as lists)."""
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """Inverse of :meth:`to_dict`; unknown keys raise ConfigError listing the known ones."""
        names = train_keys()
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"unknown train option(s) {unknown}; expected one of {names}")
        return cls(**dict(data))

    def replace(self, **changes) -> "TrainConfig":
        return TrainConfig.from_dict({**self.to_dict(), **changes})


def train_keys() -> list[str]:
    return [f.name for f in dataclasses.fields(TrainConfig)]


def _as_int(name: str, value) -> int:
    # 3e4 or 30000.0 from a TOML/JSON value is accepted when it is a whole number.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    return int(value)


def _as_float(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    return float(value)


# -- key=value overrides ---------------------------------------------------------------------
def parse_value(text: str) -> Any:
    """A ``--set`` value: JSON (numbers, true/false, null, lists, objects), Python's True/False,
    else the string itself.

    >>> parse_value("6"), parse_value("1e-4"), parse_value("true"), parse_value("[0.5, 0.9]")
    (6, 0.0001, True, [0.5, 0.9])
    >>> parse_value("dsprites")
    'dsprites'
    """
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text in ("True", "False"):
        return text == "True"
    return text


def parse_sets(items: Sequence[str]) -> dict[str, Any]:
    """``["beta=6", "steps=300"]`` -> ``{"beta": 6, "steps": 300}`` (later items win)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key] = parse_value(value.strip())
    return out


def model_keys(model: str) -> list[str]:
    """Settable fields of the model's config (those not filled in from the dataset)."""
    from dislab.models import MODELS

    cls = MODELS.get(model).config_class
    return [f.name for f in dataclasses.fields(cls) if f.name not in DATASET_FILLED]


def apply_overrides(overrides: Mapping[str, Any], base: TrainConfig | None = None) -> TrainConfig:
    """``base`` (defaults if None) with ``overrides`` routed by key name.

    Keys: fields of :class:`TrainConfig`; fields of the model's config (after ``model`` is applied
    from the overrides themselves); ``model_options.KEY`` / ``dataset_options.KEY`` explicitly.
    A key that is both a train and a model field must be written explicitly.

    >>> cfg = apply_overrides({"model": "vae", "n_latents": 4, "steps": 10})
    >>> cfg.steps, cfg.model_options
    (10, {'n_latents': 4})
    """
    base = base if base is not None else TrainConfig()
    train = base.to_dict()
    if "model" in overrides:
        if overrides["model"] != base.model:
            train["model_options"] = {}  # another model's options do not carry over
        train["model"] = overrides["model"]
    if "dataset" in overrides:
        if overrides["dataset"] != base.dataset:
            train["dataset_options"] = {}
        train["dataset"] = overrides["dataset"]
    tkeys = train_keys()
    mkeys = model_keys(train["model"])
    model_options = dict(train["model_options"])
    dataset_options = dict(train["dataset_options"])
    for key, value in overrides.items():
        if key in ("model", "dataset"):
            continue
        if key.startswith("model_options."):
            name = key.split(".", 1)[1]
            if name not in mkeys:
                raise ConfigError(f"unknown option {name!r} of model {train['model']!r}; expected one of {mkeys}")
            model_options[name] = value
        elif key.startswith("dataset_options."):
            dataset_options[key.split(".", 1)[1]] = value  # the dataset constructor validates
        elif key in ("model_options", "dataset_options"):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{key} must be a table/object, got {value!r}")
            target = model_options if key == "model_options" else dataset_options
            for name, v in value.items():
                if key == "model_options" and name not in mkeys:
                    raise ConfigError(
                        f"unknown option {name!r} of model {train['model']!r}; expected one of {mkeys}")
                target[name] = v
        elif key in tkeys and key in mkeys:
            raise ConfigError(
                f"{key!r} is both a train option and an option of model {train['model']!r}; "
                f"write model_options.{key}=... or set it in a [model_options] table")
        elif key in tkeys:
            train[key] = value
        elif key in mkeys:
            model_options[key] = value
        else:
            allowed = sorted(set(tkeys) - {"model_options", "dataset_options"}) + \
                [f"{k} (model {train['model']})" for k in mkeys] + ["dataset_options.KEY", "model_options.KEY"]
            raise ConfigError(f"unknown option {key!r}; expected one of: {', '.join(allowed)}")
    train["model_options"] = model_options
    train["dataset_options"] = dataset_options
    return TrainConfig.from_dict(train)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The key/value pairs of a TOML run file (top-level keys routed like ``--set``; tables
    ``[model_options]`` and ``[dataset_options]`` explicit). Pass the result to
    :func:`apply_overrides`."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: config file not found")
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML ({e})") from e
    return data
