"""Many seeds in one process: the K seeds of one setting trained side by side as one vectorised
model, writing K ordinary run folders.

The K models' parameters are stacked along a new leading axis (``torch.func.stack_module_state``)
and one ``torch.func.vmap`` over ``functional_call`` runs the K forward passes as one batched
computation: K small models become one large batch, the step that keeps an accelerator busy when
one small VAE alone leaves it mostly idle (docs/benchmarks.md "Studies").

Each model is exactly the model it would be alone:

* initial weights: built under ``torch.manual_seed(seed_k)``, as :func:`dislab.training.train` does;
* data: its own ``numpy`` Generator seeded with ``seed_k`` draws its batch indices;
* reparameterisation noise: its own torch Generator, started from the state its lone run would
  have after weight init; before each step ε ``(B, n_latents)`` is drawn from it and handed to
  the model's first draw of that shape through ``model.noise.given`` (:mod:`dislab.models.noise`;
  nothing is patched). Other draws inside ``forward`` come from torch's default generator under
  ``vmap(randomness="different")`` (see :func:`stacked_forward`): those runs are valid, but not
  the same samples as their lone runs;
* gradients: ``∂ Σ_k L_k / ∂ θ_k = ∂ L_k / ∂ θ_k`` because the K models share no parameter, so
  one backward pass of the summed loss gives each model its own gradient (tests prove it against
  lone models in float64), group by group as the trainer does;
* optimizer: Adam is elementwise, so one Adam over the stacked tensors *is* K Adams; slice ``k``
  of its moments is model ``k``'s state.

This module holds only the vectorised step (:func:`stacked_forward`, :func:`stacked_gradients`),
the stacking and unstacking of the members (:class:`StackedStepper`) and their set-up
(:func:`train_stacked`); the loop is the trainer's own (:func:`dislab.training.fit._fit`): log rows,
TensorBoard, checkpoints in the trainer's format (weights, Adam state, the member's generator as
the torch state, its numpy state), so the folders are ordinary runs (``dislab train --resume``
continues any of them alone, a killed stack resumes from its last checkpoints), and a model whose
loss turns non-finite stops (its folder keeps its last good checkpoint) while the others go on.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from dislab.errors import ConfigError, RunError
from dislab.io import atomic_write_text
from dislab.runs.layout import CHECKPOINT, CHECKPOINT_STATE, CONFIG, TRAIN_LOG
from dislab.training import fit
from dislab.training.fit import Member, match_layout
from dislab.training.precision import DTYPES, resolve_precision


# -- the vectorised step (pure; tested against lone models) ---------------------------------------
def stacked_forward(template: torch.nn.Module, params: dict[str, torch.Tensor],
                    buffers: dict[str, torch.Tensor], x: torch.Tensor, eps: torch.Tensor | None,
                    step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """K forward passes as one: ``vmap`` over ``functional_call(template, (params_k, buffers_k), (x_k, step))``.

    Noise: model ``k``'s first reparameterisation draw of shape ``(B, n_latents)`` is ``eps[k]``,
    given through ``template.noise.given`` (:class:`dislab.models.noise.Noise`). Every other draw
    of the forward comes from torch's default generator of the device under
    ``vmap(randomness="different")``, which gives each model different values from that one
    stream: FactorVAE's ``permute_dims`` keys (``torch.rand``), the ladder VAE's ε of every level
    (with two or more levels each is narrower than ``n_latents``, so none of them takes ``eps``),
    and every draw when ``eps`` is None.

    Args:
        template: one model of the architecture (its own parameters are not used).
        params / buffers: ``{name: (K, *shape)}`` stacked tensors.
        x: ``(K, B, C, H, W)`` one batch per model.
        eps: ``(K, B, n_latents)`` noise of each model's first reparameterisation, or None to draw it.
    Returns:
        ``loss (K,)``, ``aux_losses {group: (K,)}``, ``terms {name: (K,)}``.
    """

    def one(p, b, xk, ek):
        with template.noise.given(ek):
            out = functional_call(template, (p, b), (xk, step))
        terms = {k: torch.as_tensor(v).reshape(()) for k, v in out.terms.items()}
        return out.loss.reshape(()), dict(out.aux_losses), terms

    in_dims = (0, 0, 0, None if eps is None else 0)
    return vmap(one, in_dims=in_dims, randomness="different")(params, buffers, x, eps)


def stacked_gradients(loss: torch.Tensor, aux_losses: dict[str, torch.Tensor],
                      group_params: dict[str, list[torch.Tensor]]) -> dict[str, list[torch.Tensor | None]]:
    """Each group's gradients, as the trainer takes them: ``loss`` over group "model", each
    ``aux_losses[g]`` over group ``g``. The losses are summed over the K models first; since the
    models share no parameter, slice ``k`` of a gradient is model ``k``'s own gradient."""
    losses = {"model": loss.sum(), **{g: v.sum() for g, v in aux_losses.items()}}
    unknown = sorted(set(losses) - set(group_params))
    if unknown:
        raise RunError(f"aux losses {unknown} have no optimizer group; groups are {sorted(group_params)}")
    names = list(losses)
    return {g: list(torch.autograd.grad(losses[g], group_params[g], retain_graph=i < len(names) - 1,
                                        allow_unused=True))
            for i, g in enumerate(names)}


# -- run folders -----------------------------------------------------------------------------------
def _same_setting(configs) -> None:
    first = {k: v for k, v in configs[0].to_dict().items() if k != "seed"}
    for c in configs[1:]:
        other = {k: v for k, v in c.to_dict().items() if k != "seed"}
        if other != first:
            diff = sorted(k for k in set(first) | set(other) if first.get(k) != other.get(k))
            raise ConfigError(f"stacked runs must differ only in seed; these also differ in {diff}")
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"stacked runs need distinct seeds, got {seeds}")


def _open_member(out: Path, config, device: torch.device) -> tuple[Member, int, object]:
    """``(member, step, threads)`` of a started run folder: its model, optimizers and generators
    restored from its checkpoint, its log cut to the checkpoint's step (rows a killed run wrote
    after it are written again), ``threads`` the torch thread count its checkpoint recorded."""
    from dislab.training.checkpoint import load_checkpoint, read_manifest
    from dislab.training.fit import build_optimizers, restore_log_interval
    from dislab.training.run import Run, build_model_from_record, read_log

    run = Run(out)
    model = build_model_from_record(run.record["model"]).to(device)
    # the template's network precision is what functional_call runs for every stacked model
    model.network_dtype = DTYPES[resolve_precision(config.precision, device)]
    groups, optimizers = build_optimizers(model, config)
    state = load_checkpoint(run.path / CHECKPOINT, model=model, optimizers=optimizers)
    interval = restore_log_interval(state.get("log_interval"),
                                    read_manifest(run.path / CHECKPOINT)[1] / CHECKPOINT_STATE, device)
    run.weights_in_force()  # root weights = the checkpoint (a kill between the two writes)
    # load_checkpoint restored torch's generators to this run's: keep them as its own
    generator = torch.Generator(device=device)
    generator.set_state(torch.cuda.get_rng_state(device.index or 0) if device.type == "cuda"
                        else torch.get_rng_state())
    np_rng = np.random.default_rng()
    np_rng.bit_generator.state = state["numpy_rng"]
    step = int(state["step"])
    rows = [r for r in read_log(run.path / TRAIN_LOG) if r.get("step", 0) <= step]
    atomic_write_text(run.path / TRAIN_LOG, "".join(json.dumps(r) + "\n" for r in rows))
    member = Member(run.path, model, groups, optimizers, np_rng, float(state.get("wall_time_s") or 0.0),
                    interval, generator)
    return member, step, state.get("torch_threads")


class StackedStepper:
    """K members of one setting stepped as one vectorised model: the stepper
    :func:`dislab.training.fit._fit` trains them with.

    The members' parameters and buffers are stacked to ``{name: (K, *shape)}``, and one Adam per
    optimizer group runs over the stacked tensors (Adam is elementwise: slice ``k`` of its moments
    is member ``k``'s, which :meth:`sync` copies back). Per step each member draws its batch
    ``(B, C, H, W)`` with its numpy Generator and its ε ``(B, n_latents)`` with its torch
    Generator; :func:`stacked_forward` runs the K forwards, :func:`stacked_gradients` the K backwards.

    ``channels_last`` is not applied here (the members' weights and batches stay contiguous): the
    stack's batch is ``(K, B, C, H, W)`` and its convolution weights ``(K, O, C, kh, kw)``, 5-D
    tensors that torch's 4-D channels_last format does not describe, and vmap's batching rule for
    a convolution with batched weights folds K into the channels: one grouped convolution
    (``groups=K``) over a ``(B, K·C, H, W)`` input that it copies into NCHW whatever the batch's
    layout (seen with a dispatch-mode probe, torch 2.13 CPU). Only the folded weights could stay
    NHWC (``stack_module_state`` keeps channels_last members' strides); whether that mixed layout
    pays was never measured, so the stack keeps today's contiguous layout. A member resumed alone
    (``dislab train --resume``) trains channels_last again, as its config says; the two layouts
    differ only in float rounding.
    """

    def __init__(self, members: list[Member], dataset, batch_size: int, device: torch.device):
        self.members = list(members)
        self.dataset, self.batch_size, self.device = dataset, batch_size, device
        self.template = members[0].model
        by_id = {id(p): n for n, p in self.template.named_parameters()}
        self.group_names = {g: [by_id[id(p)] for p in ps] for g, ps in members[0].groups.items()}
        self.n_latents = int(getattr(self.template.config, "n_latents", 0))
        self._batch: tuple[torch.Tensor, torch.Tensor | None] | None = None  # (x, eps) of this step
        self._losses: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None  # for update()
        self._stack()

    @property
    def extra(self) -> dict[str, int]:
        return {"stacked": len(self.members)}

    def _stack(self) -> None:
        """Stack the members' modules and Adam states (each member's are the truth between steps)."""
        self.params, self.buffers = stack_module_state([m.model for m in self.members])
        self.opts = {}
        for g, gnames in self.group_names.items():
            proto = self.members[0].optimizers[g]
            hyper = {k: v for k, v in proto.param_groups[0].items() if k != "params"}
            opt = torch.optim.Adam([self.params[n] for n in gnames], **hyper)
            for j, n in enumerate(gnames):
                per = [m.optimizers[g].state.get(m.groups[g][j], {}) for m in self.members]
                if per[0]:
                    opt.state[self.params[n]] = {k: (torch.stack([s[k] for s in per]) if per[0][k].dim() else
                                                     per[0][k].clone()) for k in per[0]}
            self.opts[g] = opt
        self.group_params = {g: [self.params[n] for n in gn] for g, gn in self.group_names.items()}
        self.dtype = next(iter(self.params.values())).dtype

    def sync(self) -> None:
        """Before a checkpoint: copy the stack back into each member's module and optimizers, and
        restart the stream vmap draws the members' other randomness from (torch's default
        generator, see :func:`stacked_forward`) where a resume of the stack restarts it: at the
        last member's generator, which its ``load_checkpoint`` leaves in torch's default generator
        when :func:`train_stacked` opens the folders. So a resumed stack continues bit for bit,
        FactorVAE's permutations included."""
        self._unstack()
        state = self.members[-1].generator.get_state()
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(state, self.device.index or 0)
        else:
            torch.set_rng_state(state)

    def _unstack(self) -> None:
        """Copy the stack back into each member's module and optimizers."""
        with torch.no_grad():
            for j, m in enumerate(self.members):
                for n, p in m.model.named_parameters():
                    p.copy_(self.params[n][j])
                for n, b in m.model.named_buffers():
                    if n in self.buffers:
                        b.copy_(self.buffers[n][j])
                for g, gnames in self.group_names.items():
                    for q, n in zip(m.groups[g], gnames):
                        st = self.opts[g].state.get(self.params[n])
                        if st:
                            m.optimizers[g].state[q] = {
                                k: (v[j].clone() if v.dim() else v.clone()) for k, v in st.items()}

    def forward(self, step: int) -> tuple[list[str], torch.Tensor]:
        xs, eps = [], []
        for m in self.members:
            # fit.sample_batch looked up at each call: the trainer's one batch sampler
            xs.append(fit.sample_batch(self.dataset, self.batch_size, m.np_rng, self.device,
                                       torch.contiguous_format))  # (B, C, H, W)
            if self.n_latents:
                eps.append(torch.randn((self.batch_size, self.n_latents), generator=m.generator,
                                       device=self.device, dtype=self.dtype))
        x = torch.stack(xs).to(device=self.device, dtype=self.dtype)  # (K, B, C, H, W)
        self._batch = (x, torch.stack(eps) if eps else None)  # eps: (K, B, n_latents)
        return self._forward(step)

    def _forward(self, step: int) -> tuple[list[str], torch.Tensor]:
        x, e = self._batch
        loss, aux, terms = stacked_forward(self.template, self.params, self.buffers, x, e, step)
        self._losses = (loss, aux)
        values = torch.stack([loss.detach(), *(v.detach() for v in terms.values()),
                              *(v.detach() for v in aux.values())], dim=1).float()  # (K, n_terms)
        return ["loss", *terms, *(f"{k}_loss" for k in aux)], values

    def drop(self, positions: list[int], step: int) -> None:
        """The members at ``positions`` stop before this step's update: the others are restacked
        and their forward redone from the batches and noise they drew for this step."""
        self.sync()
        keep = [j for j in range(len(self.members)) if j not in positions]
        self.members = [self.members[j] for j in keep]
        if not self.members:
            self._batch = self._losses = None
            return
        self._stack()
        x, e = self._batch
        self._batch = (x[keep], None if e is None else e[keep])
        self._forward(step)

    def update(self) -> None:
        loss, aux = self._losses
        grads = stacked_gradients(loss, aux, self.group_params)
        for g, ps in self.group_params.items():
            if g not in grads:
                continue
            for p, gr in zip(ps, grads[g]):
                p.grad = match_layout(gr, p)
            self.opts[g].step()
            self.opts[g].zero_grad(set_to_none=True)
        self._losses = None


def train_stacked(configs: Sequence, outs: Sequence[str | Path], *, progress: bool = True,
                  device: str | None = None) -> list[BaseException | None]:
    """Train (or resume) K runs that differ only in seed as one vectorised model.

    ``configs``: TrainConfigs; ``outs``: their run folders (new, or started ones to resume).
    Returns one entry per run: None when it reached its steps, else the error that stopped it
    (e.g. :class:`dislab.training.NonFiniteLossError`, or a :class:`RunError` for a folder that
    another process trains or that cannot be resumed; such a folder is left as it is). Errors of
    the whole stack raise.

    Each folder is opened as :func:`dislab.training.resume` opens one: under the run's lock, stale
    temporaries removed, step 0 rebuilt from config.json for a run killed before its first
    checkpoint, root weights made the checkpoint's. Runs at the same step are trained together by
    the trainer's loop (:func:`dislab.training.fit._fit` with a :class:`StackedStepper`), under the
    thread count their checkpoints recorded. ``tensorboard`` writes each run's events into its own
    folder; ``channels_last`` is not applied to the stack (see :class:`StackedStepper`).
    """
    import contextlib

    from dislab.data import get_dataset
    from dislab.errors import DislabError
    from dislab.training import TrainConfig, init_run, select_device
    from dislab.training.checkpoint import read_manifest
    from dislab.training.fit import rebuild_step0, thread_count
    from dislab.training.run import Run, remove_stale_temporaries, run_lock

    configs = [c if isinstance(c, TrainConfig) else TrainConfig.from_dict(c) for c in configs]
    outs = [Path(o) for o in outs]
    if len(configs) != len(outs) or not configs:
        raise ConfigError(f"train_stacked needs one run folder per config, got {len(configs)} and {len(outs)}")
    _same_setting(configs)
    dev = select_device(device or configs[0].device)
    dataset = get_dataset(configs[0].dataset, **configs[0].dataset_options)
    errors: list[BaseException | None] = [None] * len(configs)
    devices = [dev.index or 0] if dev.type == "cuda" else []
    with torch.random.fork_rng(devices=devices), contextlib.ExitStack() as held:
        opened: list[tuple[Member, int, object] | None] = []
        for i, (c, out) in enumerate(zip(configs, outs)):
            try:
                if not (out / CONFIG).is_file():
                    init_run(c, out)  # the trainer's own start: same seeding, same step-0 checkpoint
                held.enter_context(run_lock(out))
                remove_stale_temporaries(out)
                if read_manifest(out / CHECKPOINT) is None:
                    rebuild_step0(Run(out))  # killed before its step-0 checkpoint
                opened.append(_open_member(out, c, dev))
            except DislabError as e:  # this folder only: the other seeds go on
                errors[i] = e
                opened.append(None)
        by_step: dict[int, list[int]] = {}
        for i, o in enumerate(opened):
            if o is not None and o[1] < configs[i].steps:
                by_step.setdefault(o[1], []).append(i)
        for start, idx in sorted(by_step.items()):
            # as resume does: the thread count of the checkpoint (CPU reductions depend on it)
            first, _, threads = opened[idx[0]]
            with thread_count(threads, first.path):
                stepper = StackedStepper([opened[i][0] for i in idx], dataset, configs[0].batch_size, dev)
                done = fit._fit(stepper, configs[idx[0]], dev, start, progress)
            for i, err in zip(idx, done):
                errors[i] = err
    return errors
