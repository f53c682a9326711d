"""A study file: the base config, a sweep (grid × zip × chain), seeds, metrics and UDR groups.

The smallest study (the issue's example) is::

    [base]
    dataset = "dsprites"
    steps = 10
    [grid]
    model = ["beta_vae", "beta_tcvae"]
    seed = [0, 1, 2]

Keys, anywhere in ``[base]``, ``[grid]``, ``[zip]`` or ``[chain]``, are routed like ``dislab train
--set KEY=VALUE`` (:func:`dislab.training.config.apply_overrides`): a field of ``TrainConfig``, a field
of the model's config (``beta``), or an explicit ``model_options.KEY`` / ``dataset_options.KEY``.
Optional top-level keys (before the first table): ``name``, ``seeds`` (a list, or a count ``n`` for
seeds ``0..n-1``, crossed with every setting), ``metrics`` (names of :data:`dislab.metrics.METRICS`;
default: what ``dislab evaluate`` computes by default). An optional ``[udr]`` table sets
``group_by`` (the keys whose values define a group; default: every swept key except ``seed``, i.e.
all seeds of one setting), ``n_points`` and ``seed`` (which points are encoded).

Everything is checked before anything starts: an unknown key or value raises ConfigError naming it
and the allowed ones. See docs/studies.md.
"""
from __future__ import annotations

import dataclasses
import hashlib
import inspect
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from dislab.errors import ConfigError
from dislab.metrics.active import ACTIVE_KL_THRESHOLD
from dislab.studies.grid import Setting, expand, swept_keys

TOP_LEVEL_KEYS = ("name", "seeds", "metrics", "base", "grid", "zip", "chain", "udr", "evaluate", "report")
EVALUATE_KEYS = ("n_train", "seed", "options", "mode", "device")
UDR_KEYS = ("group_by", "n_points", "seed", "methods", "kl_threshold")
UDR_METHODS = ("spearman", "lasso")


@dataclass(frozen=True)
class UDRSpec:
    """Which runs are compared with which, and on which points.

    group_by: keys whose values define a group; ``None`` = every swept key except ``seed``.
    n_points: points of the run's dataset encoded by every model of a group (reference: 1,000).
    seed: which points (the same for every run of a group).
    methods: ``"spearman"`` and/or ``"lasso"`` (Duan et al., ICLR 2020, Sec. 3).
    kl_threshold: latents with mean KL <= this (nats) are inactive (default 0.1, dislab's active
        latents, dislab.metrics.active; the reference's UDR uses 0.01).
    """

    group_by: tuple[str, ...] | None = None
    n_points: int = 1000
    seed: int = 0
    methods: tuple[str, ...] = UDR_METHODS
    kl_threshold: float = ACTIVE_KL_THRESHOLD


@dataclass(frozen=True)
class RunSpec:
    """One run of a study.

    name: stable folder name (readable part + hash of ``overrides``).
    settings: the swept keys' values for this run (what tells it apart from the others).
    overrides: the full key/value set (base + setting) given to ``apply_overrides``.
    config: the resolved ``TrainConfig.to_dict()``.
    group: the UDR group's name.
    """

    name: str
    settings: dict
    overrides: dict
    config: dict
    group: str

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunSpec":
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls)})

    def train_config(self):
        from dislab.training.config import TrainConfig

        return TrainConfig.from_dict(self.config)


@dataclass(frozen=True)
class Study:
    name: str
    runs: tuple[RunSpec, ...]
    swept: tuple[str, ...]
    metrics: tuple[str, ...] | None = None
    udr: UDRSpec = field(default_factory=UDRSpec)
    evaluate: dict = field(default_factory=dict)  # keyword options of dislab.runs.evaluate
    report: dict = field(default_factory=dict)  # keyword options of dislab.viz.report.write_report
    source: dict = field(default_factory=dict)  # the parsed file, kept in study.json for the record

    def groups(self) -> dict[str, list[RunSpec]]:
        out: dict[str, list[RunSpec]] = {}
        for r in self.runs:
            out.setdefault(r.group, []).append(r)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "swept": list(self.swept),
            "metrics": None if self.metrics is None else list(self.metrics),
            "udr": {k: (list(v) if isinstance(v, tuple) else v)
                    for k, v in dataclasses.asdict(self.udr).items()},
            "evaluate": self.evaluate,
            "report": self.report,
            "source": self.source,
            "runs": [r.to_dict() for r in self.runs],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Study":
        udr = dict(data.get("udr") or {})
        return cls(
            name=data["name"],
            runs=tuple(RunSpec.from_dict(r) for r in data["runs"]),
            swept=tuple(data.get("swept", ())),
            metrics=None if data.get("metrics") is None else tuple(data["metrics"]),
            udr=UDRSpec(
                group_by=None if udr.get("group_by") is None else tuple(udr["group_by"]),
                n_points=int(udr.get("n_points", 1000)), seed=int(udr.get("seed", 0)),
                methods=tuple(udr.get("methods", UDR_METHODS)),
                kl_threshold=float(udr.get("kl_threshold", ACTIVE_KL_THRESHOLD)),
            ),
            evaluate=dict(data.get("evaluate") or {}),
            report=dict(data.get("report") or {}),
            source=dict(data.get("source") or {}),
        )


# -- reading -------------------------------------------------------------------------------------
def read_study_file(path: str | Path) -> dict[str, Any]:
    """The raw tables of a TOML (``.toml``) or YAML (``.yaml``/``.yml``, needs PyYAML) study file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: study file not found")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError as e:  # pragma: no cover - PyYAML is optional
            raise ConfigError(f"{path}: reading YAML study files needs PyYAML (pip install pyyaml); "
                              "or write the study as TOML") from e
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as e:
            raise ConfigError(f"{path}: not valid YAML ({e})") from e
    elif suffix == ".toml":
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover - Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{path}: not valid TOML ({e})") from e
    else:
        raise ConfigError(f"{path}: unknown study file type {suffix!r}; expected .toml, .yaml or .yml")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a table of [base], [grid], ... at the top level")
    return data


def load_study(path: str | Path, *, name: str | None = None) -> Study:
    """Read and validate a study file (see :func:`parse_study`)."""
    path = Path(path)
    return parse_study(read_study_file(path), name=name or path.stem, where=str(path))


def parse_study(data: Mapping[str, Any], *, name: str = "study", where: str = "study") -> Study:
    """Expand and validate a study given as its tables; ConfigError names any bad key or value."""
    unknown = sorted(set(data) - set(TOP_LEVEL_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key(s) {unknown}; expected {list(TOP_LEVEL_KEYS)} "
                          "(run options go in [base], [grid], [zip] or [chain])")
    for key in ("base", "grid", "zip", "udr", "evaluate", "report"):
        if key in data and not isinstance(data[key], Mapping):
            raise ConfigError(f"{where}: [{key}] must be a table, got {type(data[key]).__name__}")
    base = _flatten_options(dict(data.get("base") or {}))
    extra_axes = []
    if "seeds" in data:
        seeds = data["seeds"]
        if isinstance(seeds, int) and not isinstance(seeds, bool):
            if seeds < 1:
                raise ConfigError(f"{where}: seeds = {seeds}; expected a count >= 1 or a list of seeds")
            seeds = list(range(seeds))
        if not isinstance(seeds, list) or not seeds or not all(
                isinstance(s, int) and not isinstance(s, bool) for s in seeds):
            raise ConfigError(f"{where}: seeds must be a count or a non-empty list of integers, got {seeds!r}")
        extra_axes.append([{"seed": s} for s in seeds])
    settings = expand(data.get("grid"), data.get("zip"), data.get("chain"), extra_axes)
    settings = [_flatten_options(s) for s in settings]
    clash = sorted({k for s in settings for k in s} & set(base))
    if clash:
        raise ConfigError(f"{where}: key(s) {clash} are both in [base] and swept; give each in one place")
    swept = swept_keys(settings)
    udr = _parse_udr(data.get("udr") or {}, swept, where)
    metrics = _parse_metrics(data.get("metrics"), where)
    evaluate = _parse_evaluate(dict(data.get("evaluate") or {}), metrics, where)
    report = _parse_report(dict(data.get("report") or {}), where)

    runs: list[RunSpec] = []
    seen: dict[str, Setting] = {}
    for setting in settings:
        overrides = {**base, **setting}
        config = _resolve(overrides, setting, where)
        shown = {k: setting[k] for k in swept if k in setting}
        name_ = run_name({"model": config["model"], **shown}, config)
        if name_ in seen:
            raise ConfigError(f"{where}: settings {seen[name_]} and {shown} give the same run; "
                              "remove the duplicate from the sweep")
        seen[name_] = shown
        group_keys = udr.group_by if udr.group_by is not None else tuple(k for k in swept if k != "seed")
        runs.append(RunSpec(name=name_, settings=shown, overrides=overrides, config=config,
                            group=group_name({k: _lookup(config, overrides, k) for k in group_keys})))
    return Study(name=str(data.get("name", name)), runs=tuple(runs), swept=tuple(swept),
                 metrics=metrics, udr=udr, evaluate=evaluate, report=report, source=_jsonable(dict(data)))


def _flatten_options(table: Mapping[str, Any]) -> dict[str, Any]:
    """``{"model_options": {"beta": 4}}`` -> ``{"model_options.beta": 4}`` so each option can be
    swept or fixed on its own; other keys pass unchanged."""
    out: dict[str, Any] = {}
    for k, v in table.items():
        if k in ("model_options", "dataset_options") and isinstance(v, Mapping):
            out.update({f"{k}.{name}": x for name, x in v.items()})
        else:
            out[k] = v
    return out


def _lookup(config: Mapping[str, Any], overrides: Mapping[str, Any], key: str) -> Any:
    if key in overrides:
        return overrides[key]
    if key in config:
        return config[key]
    return config.get("model_options", {}).get(key, config.get("dataset_options", {}).get(key))


def _parse_udr(table: Mapping[str, Any], swept: list[str], where: str) -> UDRSpec:
    unknown = sorted(set(table) - set(UDR_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [udr]; expected {list(UDR_KEYS)}")
    group_by = table.get("group_by")
    if group_by is not None:
        if isinstance(group_by, str):
            group_by = [group_by]
        if not isinstance(group_by, list) or not all(isinstance(k, str) for k in group_by):
            raise ConfigError(f"{where}: [udr] group_by must be a list of keys, got {group_by!r}")
        bad = sorted(set(group_by) - set(swept))
        if bad:
            raise ConfigError(f"{where}: [udr] group_by names key(s) {bad} that the study does not "
                              f"sweep; expected some of {swept}")
        group_by = tuple(group_by)
    methods = table.get("methods", list(UDR_METHODS))
    if isinstance(methods, str):
        methods = [methods]
    bad = sorted(set(methods) - set(UDR_METHODS))
    if bad or not methods:
        raise ConfigError(f"{where}: [udr] methods {methods!r}; expected some of {list(UDR_METHODS)}")
    n_points = table.get("n_points", 1000)
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ConfigError(f"{where}: [udr] n_points must be an integer >= 2, got {n_points!r}")
    seed = table.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ConfigError(f"{where}: [udr] seed must be an integer, got {seed!r}")
    kl_threshold = table.get("kl_threshold", ACTIVE_KL_THRESHOLD)
    if isinstance(kl_threshold, bool) or not isinstance(kl_threshold, (int, float)) or not kl_threshold >= 0:
        raise ConfigError(f"{where}: [udr] kl_threshold must be a number >= 0 (nats), got {kl_threshold!r}")
    return UDRSpec(group_by=group_by, n_points=n_points, seed=seed, methods=tuple(methods),
                   kl_threshold=float(kl_threshold))


def _parse_metrics(metrics: Any, where: str) -> tuple[str, ...] | None:
    if metrics is None:
        return None
    from dislab.metrics import METRICS

    if isinstance(metrics, str):
        metrics = [metrics]
    if not isinstance(metrics, list) or not all(isinstance(m, str) for m in metrics):
        raise ConfigError(f"{where}: metrics must be a list of metric names, got {metrics!r}")
    bad = [m for m in metrics if m not in METRICS and m != "udr"]
    if bad:
        raise ConfigError(f"{where}: unknown metric(s) {bad}; expected some of {METRICS.names()} "
                          "(UDR is computed over the study by `dislab udr`)")
    return tuple(m for m in metrics if m != "udr")


def _parse_evaluate(table: dict[str, Any], metrics, where: str) -> dict[str, Any]:
    """``[evaluate]``: ``n_train`` (points per metric instead of the published 10,000), ``seed``,
    ``mode`` ("mean" or "sample") and ``[evaluate.options.METRIC]`` tables of sampler options."""
    unknown = sorted(set(table) - set(EVALUATE_KEYS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown} in [evaluate]; expected {list(EVALUATE_KEYS)}")
    for key in ("n_train", "seed"):
        v = table.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < (2 if key == "n_train" else 0)):
            raise ConfigError(f"{where}: [evaluate] {key} must be an integer >= "
                              f"{2 if key == 'n_train' else 0}, got {v!r}")
    if table.get("mode", "mean") not in ("mean", "sample"):
        raise ConfigError(f"{where}: [evaluate] mode must be 'mean' or 'sample', got {table['mode']!r}")
    options = table.get("options", {})
    if not isinstance(options, Mapping) or not all(isinstance(v, Mapping) for v in options.values()):
        raise ConfigError(f"{where}: [evaluate.options] must hold one table per metric, e.g. "
                          "[evaluate.options.dci] predictor = \"gbt\"")
    from dislab.metrics import METRICS

    bad = sorted(m for m in options if m not in METRICS)
    if bad:
        raise ConfigError(f"{where}: [evaluate.options] names unknown metric(s) {bad}; expected some of "
                          f"{METRICS.names()}")
    return _jsonable(table)


def _parse_report(table: dict[str, Any], where: str) -> dict[str, Any]:
    """``[report]``: keyword options of :func:`dislab.viz.report.write_report` (``n_encode``,
    ``gif``, ...), checked against its signature."""
    if not table:
        return {}
    from dislab.viz.report import write_report

    params = inspect.signature(write_report).parameters
    allowed = [n for n, p in params.items() if p.kind is p.KEYWORD_ONLY and n not in ("out", "progress")]
    bad = sorted(set(table) - set(allowed))
    if bad:
        raise ConfigError(f"{where}: unknown key(s) {bad} in [report]; expected some of {allowed}")
    return _jsonable(table)


def _resolve(overrides: Mapping[str, Any], setting: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Route ``overrides`` into a TrainConfig and check every name and value now, not mid-study."""
    from dislab.data import DATASETS
    from dislab.models import MODELS
    from dislab.training.config import TrainConfig, apply_overrides

    label = f"{where}: run {dict(setting)}" if setting else where
    for key, registry in (("model", MODELS), ("dataset", DATASETS)):
        value = overrides.get(key, getattr(TrainConfig, key, None))
        if not isinstance(value, str) or value not in registry:
            raise ConfigError(f"{label}: unknown {key} {value!r}; expected one of {registry.names()}")
    try:
        config = apply_overrides(dict(overrides))
    except ConfigError as e:
        raise ConfigError(f"{label}: {e}") from None
    _check_options(config, label)
    return config.to_dict()


def _check_options(config, label: str) -> None:
    """The model's options through its ``<Name>Config`` (types, ranges, choices: the check
    ``dislab train`` makes) and the dataset's option names, so a typo fails the study file now and
    not one run at a time. Dataset values are checked by the dataset's constructor when its run
    starts (building it may read files); a refused value fails that run alone."""
    from dislab.data import check_dataset_options
    from dislab.models import MODELS
    from dislab.models.base import replace_config

    try:
        replace_config(MODELS.get(config.model).config_class(), **config.model_options)
        check_dataset_options(config.dataset, config.dataset_options)
    except ConfigError as e:
        raise ConfigError(f"{label}: {e}") from None


# -- naming --------------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return "x".join(_short(v) for v in value)
    return str(value)


def config_hash(config: Mapping[str, Any]) -> str:
    """8 hex digits of the SHA-256 of the canonical JSON of a resolved run config."""
    text = json.dumps(_jsonable(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def run_name(settings: Mapping[str, Any], config: Mapping[str, Any], *, max_readable: int = 80) -> str:
    """Stable folder name of a run: its swept values, readable, then a hash of the full config.

    Names (model, dataset) are written alone; other keys as ``key`` + value, with dotted prefixes
    dropped. The hash covers the whole resolved config, so two runs that differ anywhere (also in
    ``[base]``) never share a folder, and the same settings always give the same name.

    >>> run_name({"model": "beta_vae", "model_options.beta": 4, "seed": 0}, {"x": 1})
    'beta_vae-beta4-seed0-...'  # doctest: +SKIP
    """
    parts = []
    for key, value in settings.items():
        short_key = key.rsplit(".", 1)[-1]
        parts.append(_short(value) if short_key in ("model", "dataset") else f"{short_key}{_short(value)}")
    readable = _UNSAFE.sub("_", "-".join(parts)).strip("-_.")[:max_readable] or "run"
    return f"{readable}-{config_hash(config)}"


def group_name(values: Mapping[str, Any]) -> str:
    """Name of a UDR group from its defining values (``"all"`` when nothing defines it)."""
    if not values:
        return "all"
    return _UNSAFE.sub("_", "-".join(
        _short(v) if k.rsplit(".", 1)[-1] in ("model", "dataset") else f"{k.rsplit('.', 1)[-1]}{_short(v)}"
        for k, v in values.items()))


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "isoformat"):  # TOML dates
        return obj.isoformat()
    return obj
