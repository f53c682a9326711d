"""The fit loop: sample a batch by index, one forward, a gradient step per optimizer group, log,
checkpoint. :func:`train` starts a run folder, :func:`resume` continues one; :func:`_fit` is the
one loop, for one model (:class:`LoneStepper`) or K stacked seeds
(:class:`dislab.studies.stacked.StackedStepper`).

Reproducibility: every generator is seeded from ``TrainConfig.seed`` (torch's global generators
for weight init and the reparameterisation noise ``model.noise`` draws by default, a numpy
``Generator`` for batch indices) inside
``torch.random.fork_rng``, so a call leaves the caller's generators untouched. A checkpoint holds
all of their states and the thread count it was trained with (which :func:`resume` restores), so
on CPU a run resumed from a checkpoint ends with the same weights, bit for bit, as one that was
never interrupted. What holds after a kill at any instant is listed in docs/training.md
("Guarantees").
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Protocol

import numpy as np
import torch

from dislab import progress as bars
from dislab.errors import ConfigError, RunError
from dislab.io import atomic_write_text, write_json
from dislab.runs.layout import CHECKPOINT, CHECKPOINT_STATE, CONFIG, MANIFEST, TENSORBOARD, TRAIN_LOG, WEIGHTS
from dislab.training.checkpoint import (DAMAGED, FOLDER_PATTERN, PRODUCER, load_checkpoint, read_manifest,
                                        rng_tensors, save_checkpoint, save_weights, weights_step)
from dislab.training.config import TrainConfig
from dislab.training.precision import DTYPES, resolve_precision
from dislab.training.run import Run, build_model_from_record, read_log, remove_stale_temporaries, run_lock

# Train options that may change when a run is resumed; the others define the run's result.
RESUMABLE = ("steps", "log_every", "checkpoint_every", "tensorboard", "device")


class NonFiniteLossError(RunError):
    """The loss or one of its terms became NaN or infinite; the run stopped before the update."""


def select_device(name: str = "auto") -> torch.device:
    """``"auto"``: cuda if available, else mps, else cpu; otherwise the named device, checked."""
    mps = getattr(torch.backends, "mps", None)
    mps_ok = bool(mps is not None and mps.is_available())
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r} asked for, but CUDA is not available; use device=cpu or auto")
    if name == "mps" and not mps_ok:
        raise ConfigError("device 'mps' asked for, but MPS is not available; use device=cpu or auto")
    return torch.device(name)


def build_optimizers(model, config: TrainConfig) -> tuple[dict[str, list], dict[str, torch.optim.Optimizer]]:
    """One Adam per optimizer group of the model. The ``"model"`` group uses the config's lr and
    betas; other groups (FactorVAE's discriminator) take ``model.optimizer_options()[group]``
    over those."""
    groups = model.optimizer_groups()
    if "model" not in groups:
        raise ConfigError(f"{type(model).__name__}.optimizer_groups() has no 'model' group: {sorted(groups)}")
    own = model.optimizer_options() if hasattr(model, "optimizer_options") else {}
    optimizers = {}
    for name, params in groups.items():
        options = {"lr": config.lr, "betas": config.betas}
        if name != "model":
            options.update(own.get(name, {}))
        optimizers[name] = _adam(params, options)
    return groups, optimizers


def _adam(params, options: dict) -> torch.optim.Optimizer:
    """Adam, fused into one kernel where torch offers it: on CPU 4-5x faster than the default
    per-tensor loop for FactorVAE's 5.7M parameters (benchmarks/train_throughput.py); same update
    rule, float rounding aside."""
    params = list(params)
    if params and all(p.device.type in ("cpu", "cuda") and p.dtype.is_floating_point for p in params):
        try:
            return torch.optim.Adam(params, **options, fused=True)
        except (RuntimeError, TypeError, ValueError):  # older torch: no fused Adam on this device
            pass
    return torch.optim.Adam(params, **options)


def match_layout(grad: torch.Tensor | None, param: torch.Tensor) -> torch.Tensor | None:
    """``grad`` in ``param``'s memory layout. vmap's backward (and autograd.grad) can return a gradient with other
    strides than its parameter; the fused Adam kernel pairs elements by memory position, so it
    must get matching layouts."""
    if grad is None or grad.stride() == param.stride():
        return grad
    return torch.empty_like(param).copy_(grad)


def _gradient_step(out, groups, optimizers) -> None:
    """Minimise ``out.loss`` over group "model" and each ``out.aux_losses[g]`` over group ``g``.

    Gradients are taken group by group with ``torch.autograd.grad`` so that no loss reaches another
    group's parameters; all gradients are computed before any update, because an update changes
    parameters that the other losses' graphs still hold. A single-group model takes the plain
    backward path (one backward pass).
    """
    if not out.aux_losses:
        opt = optimizers["model"]
        opt.zero_grad(set_to_none=True)
        out.loss.backward()
        opt.step()
        return
    losses = {"model": out.loss, **out.aux_losses}
    unknown = sorted(set(losses) - set(groups))
    if unknown:
        raise RunError(f"aux losses {unknown} have no optimizer group; groups are {sorted(groups)}")
    names = list(losses)
    grads = {}
    for i, name in enumerate(names):
        grads[name] = torch.autograd.grad(losses[name], groups[name], retain_graph=i < len(names) - 1,
                                          allow_unused=True)
    for name in names:
        for p, g in zip(groups[name], grads[name]):
            p.grad = match_layout(g, p)
        optimizers[name].step()


def _term_names(out) -> list[str]:
    """Names of the logged values, in the order of :func:`_term_values`."""
    return ["loss", *out.terms, *(f"{k}_loss" for k in out.aux_losses)]


def _term_values(out) -> torch.Tensor:
    """``(n_terms,)`` float tensor: loss, terms, aux losses (stacked so one sync reads them all)."""
    vals = [out.loss, *out.terms.values(), *out.aux_losses.values()]
    device = out.loss.device
    return torch.stack([torch.as_tensor(v, device=device).detach().float().reshape(()) for v in vals])


def _non_finite(step: int, names: list[str], values: torch.Tensor) -> NonFiniteLossError:
    vals = values.tolist()
    bad = [(n, v) for n, v in zip(names, vals) if not math.isfinite(v)]
    # name a term before the total it makes non-finite
    name, value = next(((n, v) for n, v in bad if n != "loss"), bad[0])
    return NonFiniteLossError(
        f"non-finite {name} ({value}) at step {step}; stopped before updating the weights"
    )


def memory_format(model, config: TrainConfig, device: torch.device) -> torch.memory_format:
    """channels_last when asked, useful (the model has convolutions) and supported (cpu, cuda)."""
    useful = any(p.dim() == 4 for p in model.parameters())
    if config.channels_last and useful and device.type in ("cpu", "cuda"):
        return torch.channels_last
    return torch.contiguous_format


def prepare_model(model, config: TrainConfig, device: torch.device):
    """Move ``model`` to ``device`` in its training memory format and precision and build its
    optimizers; returns ``(model, groups, optimizers, fmt)`` with ``fmt`` the input memory format."""
    model.network_dtype = DTYPES[resolve_precision(config.precision, device)]
    fmt = memory_format(model, config, device)
    model = model.to(device=device, memory_format=fmt) if fmt == torch.channels_last else model.to(device)
    groups, optimizers = build_optimizers(model, config)
    return model, groups, optimizers, fmt


def sample_batch(dataset, batch_size: int, rng: np.random.Generator, device: torch.device,
                 fmt: torch.memory_format) -> torch.Tensor:
    """``(batch_size, C, H, W)`` images at flat indices drawn uniformly with replacement by ``rng``:
    one vectorised ``dataset.images_on`` call (rendered on the device where the dataset can), no
    per-item loader."""
    index = dataset.sample_indices(batch_size, rng)  # (B,)
    return dataset.images_on(index, device).contiguous(memory_format=fmt)


def training_step(model, x: torch.Tensor, step: int, groups, optimizers) -> tuple[list[str], torch.Tensor]:
    """One forward and one update of every optimizer group; returns the logged names and their
    values ``(n_terms,)`` (still on the device). A non-finite value raises
    :class:`NonFiniteLossError` before any weight changes."""
    out = model(x, step)
    values = _term_values(out)
    if not bool(torch.isfinite(values).all()):  # one sync per step; on CPU it costs nothing
        raise _non_finite(step, _term_names(out), values)
    _gradient_step(out, groups, optimizers)
    return _term_names(out), values


def _tensorboard(run_dir: Path, config: TrainConfig, step: int):
    if not config.tensorboard:
        return None
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise ConfigError("tensorboard=true needs the tensorboard package: pip install 'dislab[tensorboard]'") from e
    # purge_step drops events a killed run wrote after its last checkpoint
    return SummaryWriter(log_dir=str(run_dir / TENSORBOARD), purge_step=step if step > 0 else None)


def log_interval(names: list[str], acc: torch.Tensor | None, n_acc: int) -> dict[str, Any]:
    """The log interval in progress, for state.json: a checkpoint between two log rows keeps the
    sums of the steps since the last row, so a resumed run writes the next row over its whole
    interval, as an uninterrupted run does (float32 sums: exact as JSON numbers)."""
    sums = [] if acc is None else acc.reshape(-1).tolist()
    return {"names": list(names), "sums": sums, "count": int(n_acc) if sums else 0}


def restore_log_interval(saved: Any, where: Path, device) -> tuple[list[str], torch.Tensor | None, int]:
    """``(names, sums (n_terms,), count)`` from :func:`log_interval`'s record; nothing when
    absent (a checkpoint of an older dislab, or one at a log row)."""
    if saved is None:
        return [], None, 0
    try:
        names, sums, count = list(saved["names"]), list(saved["sums"]), int(saved["count"])
        if count == 0:
            return [], None, 0
        if count < 0 or len(names) != len(sums) or not all(isinstance(n, str) for n in names):
            raise ValueError(f"{len(names)} names, {len(sums)} sums, count {count}")
        # a sum that overflowed float32 was written as null (JSON has no inf)
        acc = torch.tensor([math.nan if v is None else float(v) for v in sums], dtype=torch.float32,
                           device=device)
    except (KeyError, TypeError, ValueError) as e:
        raise RunError(f"{where}: log_interval is not {{names, sums, count}} ({e}); {DAMAGED}") from None
    return names, acc, count


@dataclass
class Member:
    """One run the loop trains: its folder and the state its checkpoints hold.

    ``model`` / ``groups`` / ``optimizers`` as :func:`prepare_model` builds them (for a stacked
    member: the module its slice of the stack is copied into before each checkpoint); ``np_rng``
    draws its batch indices; ``wall_time`` is the seconds it trained before this session;
    ``interval`` the log interval its checkpoint was taken in (:func:`restore_log_interval`);
    ``generator`` its own torch generator, recorded as the run's torch state in its checkpoints
    (None: the process's generators, which a lone run draws from).
    """

    path: Path
    model: torch.nn.Module
    groups: dict[str, list]
    optimizers: dict[str, torch.optim.Optimizer]
    np_rng: np.random.Generator
    wall_time: float = 0.0
    interval: tuple[list[str], torch.Tensor | None, int] = field(default_factory=lambda: ([], None, 0))
    generator: torch.Generator | None = None


class Stepper(Protocol):
    """What :func:`_fit` trains: K >= 1 members in lockstep, one batch each per step.

    ``members``: the members still training; row ``j`` of ``forward``'s values is ``members[j]``.
    ``forward(step)``: draw each member's batch and run the forward; returns the logged names and
    the values ``(K, n_terms)`` (on the device), and keeps what ``update`` needs.
    ``drop(positions, step)``: those members stop before this step's update; the others' update
    is what it would have been without them (float rounding of a smaller stack apart).
    ``update()``: one gradient step of every optimizer group of every member, from the forward.
    ``sync()``: the members' ``model`` and ``optimizers`` hold the current state (before a checkpoint).
    ``extra``: keys added to each checkpoint's state.json.
    """

    members: list[Member]
    extra: dict[str, Any]

    def forward(self, step: int) -> tuple[list[str], torch.Tensor]: ...

    def drop(self, positions: list[int], step: int) -> None: ...

    def update(self) -> None: ...

    def sync(self) -> None: ...


class LoneStepper:
    """One model: a batch (:func:`sample_batch`), ``model(x, step)``, then :func:`_gradient_step`:
    :func:`training_step` in two halves, so that the loop decides what a non-finite value does."""

    def __init__(self, member: Member, dataset, batch_size: int, device: torch.device,
                 fmt: torch.memory_format):
        self.members = [member]
        self.dataset, self.batch_size, self.device, self.fmt = dataset, batch_size, device, fmt
        self._out = None  # the last forward's ModelOutput, until its update

    @property
    def extra(self) -> dict[str, Any]:
        return {}

    def forward(self, step: int) -> tuple[list[str], torch.Tensor]:
        m = self.members[0]
        x = sample_batch(self.dataset, self.batch_size, m.np_rng, self.device, self.fmt)  # (B, C, H, W)
        self._out = m.model(x, step)
        return _term_names(self._out), _term_values(self._out)[None]  # (1, n_terms)

    def drop(self, positions: list[int], step: int) -> None:
        self.members, self._out = [], None

    def update(self) -> None:
        m = self.members[0]
        _gradient_step(self._out, m.groups, m.optimizers)
        self._out = None

    def sync(self) -> None:
        """The model and optimizers are trained in place: nothing to copy."""


def _joint_interval(saved: list[tuple[list[str], torch.Tensor | None, int]]):
    """``(names, sums (K, n_terms), count)`` continuing K members' restored log intervals when
    they agree (members resumed from checkpoints of one step do), else a new interval."""
    names, _, count = saved[0]
    if count and all(n == names and c == count for n, _, c in saved):
        return names, torch.stack([a for _, a, _ in saved]), count
    return [], None, 0


def _rng_state(member: Member, device: torch.device) -> dict[str, torch.Tensor] | None:
    """The torch generator states a member's checkpoint records: the process's, with the
    member's own generator (if it has one) in place of the training device's."""
    if member.generator is None:
        return None
    key = f"torch_cuda_{device.index or 0}" if device.type == "cuda" else "torch_cpu"
    return {**rng_tensors(), key: member.generator.get_state()}


def _fit(stepper: Stepper, config: TrainConfig, device: torch.device, step: int,
         progress: bool) -> list[BaseException | None]:
    """The training loop, from ``step`` to ``config.steps``, of the runs ``stepper`` steps (one
    model: :class:`LoneStepper`; K stacked seeds: :class:`dislab.studies.stacked.StackedStepper`).

    Per step: ``stepper.forward``, a check that every logged value is finite, ``stepper.update``.
    The loop owns, for every member alike: the progress bar; a row of ``train_log.jsonl`` (means
    over the interval) and TensorBoard scalars every ``log_every`` steps and at the last; the
    interval's sums, continued from the members' checkpoints and saved in each checkpoint; a
    checkpoint every ``checkpoint_every`` steps and at the last, each followed by the root weights
    (a kill between the two is repaired by ``Run.weights_in_force``); wall time.

    A member whose loss or a term is non-finite stops before the update with a
    :class:`NonFiniteLossError` naming the term, the step and its last good checkpoint (which its
    folder keeps); the others go on. Returns one entry per member of ``stepper.members`` at the
    start: None when it reached ``config.steps``, else that error (a lone run's caller raises it).
    """
    from tqdm.auto import tqdm

    runs = list(stepper.members)  # every member, in the order of the result
    rows = list(range(len(runs)))  # rows[j]: the member of row j of the values
    errors: list[BaseException | None] = [None] * len(runs)
    names, acc, n_acc = _joint_interval([m.interval for m in runs])  # acc: (K, n_terms) sums
    last_good = step  # every member starts from its checkpoint of this step
    t0 = time.perf_counter()  # wall time of this session = member.wall_time + (now - t0)
    t_mark, step_mark = t0, step
    desc = runs[0].path.name if len(runs) == 1 else f"{len(runs)} seeds stacked"
    writers: list = []
    logs: list = []
    bar = tqdm(total=config.steps, initial=step, disable=bars.disable(progress), unit="step",
               dynamic_ncols=True, desc=desc, smoothing=0.1)
    try:
        writers = [_tensorboard(m.path, config, step) for m in runs]
        logs = [open(m.path / TRAIN_LOG, "a", encoding="utf-8") for m in runs]
        for m in runs:
            m.model.train()
        while step < config.steps and rows:
            step_names, values = stepper.forward(step)  # values: (K, n_terms)
            finite = torch.isfinite(values).all(dim=1)  # (K,); one sync per step, free on CPU
            if not bool(finite.all()):
                bad = [j for j, ok in enumerate(finite.tolist()) if not ok]
                for j in bad:
                    errors[rows[j]] = NonFiniteLossError(
                        f"{_non_finite(step, step_names, values[j])}; the run keeps its last good "
                        f"checkpoint (step {last_good}). Lower lr, check the data, or resume with "
                        f"another seed")
                keep = [j for j in range(len(rows)) if j not in bad]
                stepper.drop(bad, step)
                rows = [rows[j] for j in keep]
                if not rows:
                    break
                values = values[keep]
                acc = None if acc is None else acc[keep]
            stepper.update()
            step += 1
            if step_names != names:  # a model whose terms change (a schedule's phase): new sums
                names, acc, n_acc = step_names, None, 0
            acc = values if acc is None else acc + values
            n_acc += 1
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                now = time.perf_counter()
                means = (acc / n_acc).tolist()  # (K, n_terms)
                speed = (step - step_mark) * config.batch_size / max(now - t_mark, 1e-9)  # per member
                for j, i in enumerate(rows):
                    row = {"step": step, **dict(zip(names, means[j])), "images_per_s": speed,
                           "wall_time_s": runs[i].wall_time + now - t0}
                    logs[i].write(json.dumps(row) + "\n")
                    logs[i].flush()
                    if writers[i] is not None:
                        for k, v in row.items():
                            if k != "step":
                                writers[i].add_scalar(f"train/{k}", v, step)
                    if j == 0:  # the loss and its main terms; the ELBO repeats the loss, kl_monte_carlo is a flag
                        main = [k for k in names if k not in ("elbo", "kl_monte_carlo")][:4]
                        shown = {k: f"{row[k]:.4g}" for k in main}
                        shown["img/s"] = f"{speed:.0f}"
                        bar.set_postfix(shown, refresh=False)  # a dict keeps this order
                acc, n_acc, t_mark, step_mark = None, 0, now, step
            if step % config.checkpoint_every == 0 or step == config.steps:
                elapsed = time.perf_counter() - t0
                stepper.sync()
                for j, m in enumerate(stepper.members):
                    save_checkpoint(m.path / CHECKPOINT, step=step, model=m.model, optimizers=m.optimizers,
                                    np_rng=m.np_rng, rng=_rng_state(m, device),
                                    extra={"model": m.model.name, "batch_size": config.batch_size,
                                           "wall_time_s": m.wall_time + elapsed, "device": str(device),
                                           **stepper.extra,
                                           "log_interval": log_interval(names, None if acc is None else acc[j],
                                                                        n_acc)})
                    # a kill before this line leaves the root one checkpoint behind:
                    # Run.weights_in_force restores it from the checkpoint before anything reads it
                    save_weights(m.path / WEIGHTS, m.model, {"step": str(step), "model": m.model.name})
                last_good = step
    finally:
        bar.close()
        for f in logs:
            f.close()
        for w in writers:
            if w is not None:
                w.close()
    return errors


def _train_lone(member: Member, dataset, config: TrainConfig, device: torch.device,
                fmt: torch.memory_format, step: int, progress: bool) -> None:
    """:func:`_fit` of one run; its NonFiniteLossError is raised."""
    (error,) = _fit(LoneStepper(member, dataset, config.batch_size, device, fmt), config, device, step, progress)
    if error is not None:
        raise error


def _seeded(device: torch.device):
    """A fork of torch's generators (restored on exit) so that a run seeds its own."""
    devices = [device.index or 0] if device.type == "cuda" else []
    return torch.random.fork_rng(devices=devices)


def _default_out(config: TrainConfig) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{config.model}-{config.dataset}-s{config.seed}-{stamp}"


def _claim_folder(out: Path, overwrite: bool) -> None:
    """Create ``out`` for a new run; an existing run folder is replaced only when asked. A folder
    holding only the temporaries of a kill before config.json was written counts as empty."""
    if out.exists():
        if out.is_dir() and not any(out.iterdir()):
            return
        if out.is_dir() and not (out / CONFIG).exists():
            remove_stale_temporaries(out)
            if not any(out.iterdir()):
                return
        if not overwrite:
            raise RunError(f"{out} already exists; resume it (dislab train --resume {out}, or "
                           f"resume({str(out)!r})), choose another folder (--out / out=), or replace "
                           f"it (--overwrite / overwrite=True)")
        if not (out / CONFIG).is_file():
            raise RunError(f"refusing to overwrite {out}: it is not a dislab run folder ({CONFIG} missing)")
        with run_lock(out):  # never from under a process that trains it
            shutil.rmtree(out)
    out.mkdir(parents=True)


def init_run(config: TrainConfig | Mapping[str, Any], out: str | os.PathLike | None = None, *,
             overwrite: bool = False) -> Path:
    """Create a run folder at step 0 and return its path: ``config.json`` (the train config, the
    model's complete config, the dataset's description), the initial weights built under
    ``torch.manual_seed(config.seed)``, an empty log and a step-0 checkpoint (with the numpy batch
    generator seeded by ``config.seed``). :func:`train` writes the same folder and trains on from
    the state it built, without reading it back; :func:`resume` of a folder made here trains it
    bit for bit as :func:`train` would. Other trainers (stacked seeds) start their folders with it.

    Config errors (unknown model option, dataset that cannot be built) raise before any file is
    written; an existing run folder raises :class:`RunError` unless ``overwrite``. A kill after
    ``config.json`` but before the step-0 checkpoint is repaired by :func:`resume`, which writes
    the same step 0 from ``config.json``.
    """
    config, record, _, out, device = _plan(config, out)
    with _seeded(device):
        model, _, optimizers, _ = _initial_state(config, record["model"], device)  # config errors: no file yet
        _claim_folder(out, overwrite)
        with run_lock(out):  # a resume started meanwhile waits for step 0 (or says who writes it)
            _write_new_run(out, config, record, model, optimizers, device)
    return out


def _plan(config: TrainConfig | Mapping[str, Any], out: str | os.PathLike | None):
    """``(config, record, dataset, out, device)`` of a new run: ``precision="auto"`` decided here,
    once (the run records fp32 or bf16 and keeps it on any machine), the dataset built, and the
    record config.json will hold."""
    from dislab.data import get_dataset
    from dislab.models import MODELS
    from dislab.models.base import config_to_dict, replace_config

    config = config if isinstance(config, TrainConfig) else TrainConfig.from_dict(config)
    out = Path(out) if out is not None else _default_out(config)
    device = select_device(config.device)
    config = config.replace(precision=resolve_precision(config.precision, device))
    dataset = get_dataset(config.dataset, **config.dataset_options)
    cls = MODELS.get(config.model)
    model_config = replace_config(cls.config_class(), **config.model_options,
                                  observation_shape=tuple(dataset.observation_shape),
                                  dataset_size=len(dataset))
    record = {
        "train": config.to_dict(),
        "model": {"name": config.model, "config": config_to_dict(model_config)},
        "dataset": dataset.describe(),
    }
    return config, record, dataset, out, device


def _write_new_run(out: Path, config: TrainConfig, record: dict[str, Any], model, optimizers,
                   device: torch.device) -> None:
    """Write a new run's files into ``out``; call it holding the run's lock. Two processes can both
    find a folder empty before either holds the lock: the second to get it finds the first's
    config.json and stops, instead of writing its step 0 over the first one's run."""
    if (out / CONFIG).exists():
        raise RunError(f"{out}: another process started a run in this folder after this one found it "
                       f"empty ({CONFIG} is there now); nothing was written. Resume that run (dislab "
                       f"train --resume {out}) or choose another folder")
    write_json(out / CONFIG, record, produced_by=PRODUCER)
    (out / TRAIN_LOG).touch()
    _write_step0(out, config, model, optimizers, device)


def _initial_state(config: TrainConfig, model_record: dict[str, Any], device: torch.device):
    """``(model, groups, optimizers, fmt)`` at step 0 (:func:`prepare_model`); call it inside
    :func:`_seeded`. Built under
    ``torch.manual_seed(config.seed)``, so one config.json always gives the same initial weights
    and the same generator state after them."""
    torch.manual_seed(config.seed)  # seeds the CPU and every CUDA generator
    return prepare_model(build_model_from_record(model_record), config, device)


def _write_step0(out: Path, config: TrainConfig, model, optimizers, device: torch.device) -> None:
    """The step-0 checkpoint (torch's generators as :func:`_initial_state` left them, the batch
    generator seeded by ``config.seed``), then the root weights."""
    save_checkpoint(out / CHECKPOINT, step=0, model=model, optimizers=optimizers,
                    np_rng=np.random.default_rng(config.seed),
                    extra={"model": model.name, "wall_time_s": 0.0, "device": str(device)})
    save_weights(out / WEIGHTS, model, {"step": "0", "model": model.name})


def rebuild_step0(run: Run) -> None:
    """Write the step-0 state of a run killed before its first checkpoint, from its config.json:
    bit for bit the step 0 :func:`init_run` would have written. Refuses when the folder holds
    anything a fresh step 0 would overwrite or that says training went further."""
    ckpt_dir = run.path / CHECKPOINT
    found = [FOLDER_PATTERN.fullmatch(p.name) for p in ckpt_dir.iterdir()] if ckpt_dir.is_dir() else []
    later = sorted(m.group(0) for m in found if m and int(m.group(1)) > 0)  # step 0 is rewritten
    if later:
        raise RunError(f"{ckpt_dir / MANIFEST}: missing, but {ckpt_dir} holds {later}; restore "
                       f"latest.json from a copy (it names the checkpoint in force), or retrain the run")
    if (run.path / WEIGHTS).is_file():
        raise RunError(f"{ckpt_dir / MANIFEST}: missing, but {run.path / WEIGHTS} holds weights "
                       f"(step {weights_step(run.path / WEIGHTS)}); resuming would restart at step 0 and "
                       f"overwrite them: restore checkpoint/ from a copy, or train a new run")
    if any(r.get("step", 0) > 0 for r in read_log(run.path / TRAIN_LOG)):
        raise RunError(f"{ckpt_dir / MANIFEST}: missing, but {run.path / TRAIN_LOG} has rows of "
                       f"trained steps; restore checkpoint/ from a copy, or retrain the run")
    config = run.config
    device = select_device(config.device)
    with _seeded(device):
        model, _, optimizers, _ = _initial_state(config, run.record["model"], device)
        (run.path / TRAIN_LOG).touch()
        _write_step0(run.path, config, model, optimizers, device)


def train(config: TrainConfig | Mapping[str, Any], *, out: str | os.PathLike | None = None,
          progress: bool = True, overwrite: bool = False) -> Path:
    """Train a model into a new run folder and return its path.

    ``config`` is a :class:`TrainConfig` or a dict of its fields. ``out`` defaults to
    ``runs/<model>-<dataset>-s<seed>-<time>``; an existing run folder raises :class:`RunError`
    unless ``overwrite``. The folder holds ``config.json``, ``model.safetensors``,
    ``train_log.jsonl`` and ``checkpoint/`` (see docs/training.md).

    The folder is written as :func:`init_run` writes it (step 0 included), then trained from the
    state that built it: nothing is read back. The result equals ``resume(init_run(config))`` bit
    for bit (the same generators: :func:`_initial_state` leaves torch's where the step-0
    checkpoint records them, and the batch generator is seeded by ``config.seed`` in both).

    >>> run_dir = train({"model": "vae", "steps": 2, "batch_size": 4}, out="runs/x")  # doctest: +SKIP
    """
    config, record, dataset, out, device = _plan(config, out)
    with _seeded(device):
        model, groups, optimizers, fmt = _initial_state(config, record["model"], device)
        _claim_folder(out, overwrite)
        with run_lock(out):
            _write_new_run(out, config, record, model, optimizers, device)
            member = Member(out, model, groups, optimizers, np.random.default_rng(config.seed))
            _train_lone(member, dataset, config, device, fmt, 0, progress)
    return out


def resume(run_dir: str | os.PathLike, *, changes: Mapping[str, Any] | None = None,
           progress: bool = True) -> Path:
    """Continue a run from its last checkpoint to ``config.steps`` (or ``changes["steps"]``,
    which may only grow). Only the options in :data:`RESUMABLE` may change.

    Holds the run's lock (:func:`dislab.training.run.run_lock`) throughout: a second resume of the
    same run, from any process, raises :class:`RunError` naming the first. Under it, stale
    temporaries of killed writes are removed, a folder killed before its step-0 checkpoint gets
    that checkpoint, and the root weights are made the checkpoint's (also when there is nothing
    left to train). ``changes`` reach config.json only once the checkpoint has loaded, so a resume
    that fails leaves the run as it was. torch's thread count is set to the one the checkpoint was
    written with for the duration of the loop (CPU results depend on it)."""
    from dislab.data import get_dataset

    run = Run(run_dir)
    with run_lock(run.path):  # before reading config.json: a resume that held it may have changed it
        config = run.config
        changes = dict(changes or {})
        fixed = sorted(set(changes) - set(RESUMABLE))
        if fixed:
            raise ConfigError(f"option(s) {fixed} cannot change when resuming (they define the run); "
                              f"resumable options: {list(RESUMABLE)}")
        if "steps" in changes and changes["steps"] < config.steps:
            raise ConfigError(f"steps={changes['steps']} is below the run's {config.steps}; a resumed "
                              f"run continues to its step count or a larger one")
        if changes:
            config = config.replace(**changes)
        remove_stale_temporaries(run.path)
        if read_manifest(run.path / CHECKPOINT) is None:
            rebuild_step0(run)
        device = select_device(config.device)
        dataset = get_dataset(config.dataset, **config.dataset_options)
        with _seeded(device):
            model, groups, optimizers, fmt = prepare_model(build_model_from_record(run.record["model"]),
                                                           config, device)
            state = load_checkpoint(run.path / CHECKPOINT, model=model, optimizers=optimizers)
            step = int(state["step"])
            where = read_manifest(run.path / CHECKPOINT)[1] / CHECKPOINT_STATE
            interval = restore_log_interval(state.get("log_interval"), where, device)
            run.weights_in_force()  # the root weights are the checkpoint's, even at step >= steps
            if changes:  # the checkpoint loaded: now the changes become the run's
                record = dict(run.record)
                record.pop("dislab", None)
                record["train"] = config.to_dict()
                write_json(run.path / CONFIG, record, produced_by=PRODUCER)
            np_rng = np.random.default_rng()
            np_rng.bit_generator.state = state["numpy_rng"]
            # drop log lines a killed run wrote after its last checkpoint: they will be written
            # again, over the same steps (the interval's sums came with the checkpoint)
            rows = [r for r in read_log(run.path / TRAIN_LOG) if r.get("step", 0) <= step]
            atomic_write_text(run.path / TRAIN_LOG, "".join(json.dumps(r) + "\n" for r in rows))
            with thread_count(state.get("torch_threads"), run.path):
                member = Member(run.path, model, groups, optimizers, np_rng,
                                float(state.get("wall_time_s") or 0.0), interval)
                _train_lone(member, dataset, config, device, fmt, step, progress)
    return run.path


@contextlib.contextmanager
def thread_count(recorded: Any, run_dir: Path):
    """Run the block with torch's intra-op thread count at ``recorded`` (the checkpoint's), then
    restore this process's. On CPU the reduction order of matmuls and convolutions depends on the
    thread count (1 vs 2 threads: weights 1e-3 apart after a few hundred steps), so a resume under
    another count would not continue the run it resumes; a sweep sets the count per worker."""
    now = torch.get_num_threads()
    if isinstance(recorded, bool) or not isinstance(recorded, int) or recorded < 1 or recorded == now:
        yield
        return
    print(f"dislab: {run_dir}: training with {recorded} torch threads, as its checkpoint was written "
          f"(this process had {now}; restored afterwards), so that it continues bit for bit",
          file=sys.stderr)
    torch.set_num_threads(recorded)
    try:
        yield
    finally:
        torch.set_num_threads(now)
