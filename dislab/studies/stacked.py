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
  have after weight init; the first ``reparameterize`` of each forward takes its noise from it.
  Models that draw more randomness inside ``forward`` (FactorVAE's dimension permutation) draw
  it from a shared stream under ``vmap(randomness="different")``: their runs are valid, but not
  the same samples as their lone runs;
* gradients: ``∂ Σ_k L_k / ∂ θ_k = ∂ L_k / ∂ θ_k`` because the K models share no parameter, so
  one backward pass of the summed loss gives each model its own gradient (tests prove it against
  lone models in float64), group by group as the trainer does;
* optimizer: Adam is elementwise, so one Adam over the stacked tensors *is* K Adams; slice ``k``
  of its moments is model ``k``'s state.

Every ``checkpoint_every`` steps each model is unstacked into its own run folder's checkpoint, in
the trainer's format (weights, Adam state, its generator as the torch state, its numpy state), so
the folders are ordinary runs: ``dislab train --resume`` continues any of them alone, and a killed
stack resumes from its last checkpoints. A model whose loss turns non-finite stops (its folder
keeps its last good checkpoint, like a lone run) and the others go on.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.func import functional_call, stack_module_state, vmap

from dislab import progress as bars
from dislab.errors import ConfigError, RunError
from dislab.io import atomic_write_text
from dislab.runs.layout import CHECKPOINT, CHECKPOINT_STATE, CONFIG, TRAIN_LOG, WEIGHTS
from dislab.training.fit import match_layout
from dislab.training.precision import DTYPES, resolve_precision


# -- the vectorised step (pure; tested against lone models) ---------------------------------------
def stacked_forward(template: torch.nn.Module, params: dict[str, torch.Tensor],
                    buffers: dict[str, torch.Tensor], x: torch.Tensor, eps: torch.Tensor | None,
                    step: int) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """K forward passes as one.

    Args:
        template: one model of the architecture (its own parameters are not used).
        params / buffers: ``{name: (K, *shape)}`` stacked tensors.
        x: ``(K, B, C, H, W)`` one batch per model.
        eps: ``(K, B, n_latents)`` noise of each model's first reparameterisation, or None to draw it.
    Returns:
        ``loss (K,)``, ``aux_losses {group: (K,)}``, ``terms {name: (K,)}``.
    """

    def one(p, b, xk, ek):
        used = [ek is None]

        def reparameterize(mu, logvar):
            if not used[0] and ek.shape == mu.shape:
                used[0] = True
                noise = ek
            else:
                noise = torch.randn_like(mu)
            return mu + torch.exp(0.5 * logvar) * noise

        template.reparameterize = reparameterize  # shadows the staticmethod for this call
        try:
            out = functional_call(template, (p, b), (xk, step))
        finally:
            del template.reparameterize
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


class _Member:
    """One model of the stack: its run folder, module, optimizers and generators."""

    def __init__(self, out: Path, config, device: torch.device):
        from dislab.training.checkpoint import load_checkpoint, read_manifest
        from dislab.training.fit import build_optimizers, restore_log_interval
        from dislab.training.run import Run, build_model_from_record, read_log

        run = Run(out)
        self.path, self.config = run.path, config
        self.model = build_model_from_record(run.record["model"]).to(device)
        # the template's network precision is what functional_call runs for every stacked model
        self.model.network_dtype = DTYPES[resolve_precision(config.precision, device)]
        self.groups, self.optimizers = build_optimizers(self.model, config)
        state = load_checkpoint(run.path / CHECKPOINT, model=self.model, optimizers=self.optimizers)
        self.interval = restore_log_interval(state.get("log_interval"),
                                             read_manifest(run.path / CHECKPOINT)[1] / CHECKPOINT_STATE, device)
        run.weights_in_force()  # root weights = the checkpoint (a kill between the two writes)
        # load_checkpoint restored torch's generators to this run's: keep them as its own
        self.generator = torch.Generator(device=device)
        self.generator.set_state(torch.cuda.get_rng_state(device.index or 0) if device.type == "cuda"
                                 else torch.get_rng_state())
        self.np_rng = np.random.default_rng()
        self.np_rng.bit_generator.state = state["numpy_rng"]
        self.step = int(state["step"])
        self.wall_time = float(state.get("wall_time_s") or 0.0)
        self.threads = state.get("torch_threads")  # the count its checkpoint was written with
        rows = [r for r in read_log(run.path / TRAIN_LOG) if r.get("step", 0) <= self.step]
        atomic_write_text(run.path / TRAIN_LOG, "".join(json.dumps(r) + "\n" for r in rows))


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
    checkpoint, root weights made the checkpoint's.
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
        members: list[_Member | None] = []
        for i, (c, out) in enumerate(zip(configs, outs)):
            try:
                if not (out / CONFIG).is_file():
                    init_run(c, out)  # the trainer's own start: same seeding, same step-0 checkpoint
                held.enter_context(run_lock(out))
                remove_stale_temporaries(out)
                if read_manifest(out / CHECKPOINT) is None:
                    rebuild_step0(Run(out))  # killed before its step-0 checkpoint
                members.append(_Member(out, c, dev))
            except DislabError as e:  # this folder only: the other seeds go on
                errors[i] = e
                members.append(None)
        by_step: dict[int, list[int]] = {}
        for i, m in enumerate(members):
            if m is not None and m.step < m.config.steps:
                by_step.setdefault(m.step, []).append(i)
        for start, idx in sorted(by_step.items()):
            # as resume does: the thread count of the checkpoint (CPU reductions depend on it)
            with thread_count(members[idx[0]].threads, members[idx[0]].path):
                done = _fit_stacked([members[i] for i in idx], dataset, dev, start, progress)
            for i, err in zip(idx, done):
                errors[i] = err
    return errors


def _fit_stacked(members: list[_Member], dataset, device: torch.device, step: int,
                 progress: bool) -> list[BaseException | None]:
    """The trainer's loop (dislab.training.fit) for K models at once, from ``step``."""
    from tqdm.auto import tqdm

    from dislab.training import NonFiniteLossError
    from dislab.training.checkpoint import latest_step
    from dislab.training.fit import log_interval, sample_batch

    config = members[0].config
    template = members[0].model
    names = [n for n, _ in template.named_parameters()]
    by_id = {id(p): n for n, p in template.named_parameters()}
    group_names = {g: [by_id[id(p)] for p in ps] for g, ps in members[0].groups.items()}
    alive = list(range(len(members)))
    errors: list[BaseException | None] = [None] * len(members)

    def restack() -> tuple[dict, dict, dict[str, torch.optim.Optimizer]]:
        mods = [members[i].model for i in alive]
        params, buffers = stack_module_state(mods)
        opts = {}
        for g, gnames in group_names.items():
            proto = members[alive[0]].optimizers[g]
            hyper = {k: v for k, v in proto.param_groups[0].items() if k != "params"}
            opt = torch.optim.Adam([params[n] for n in gnames], **hyper)
            for j, n in enumerate(gnames):
                per = [members[i].optimizers[g].state.get(members[i].groups[g][j], {}) for i in alive]
                if per[0]:
                    opt.state[params[n]] = {k: (torch.stack([s[k] for s in per]) if per[0][k].dim() else
                                                per[0][k].clone()) for k in per[0]}
            opts[g] = opt
        return params, buffers, opts

    def unstack(params, buffers, opts) -> None:
        """Copy the stack back into each member's module and optimizers (for checkpoints)."""
        with torch.no_grad():
            for j, i in enumerate(alive):
                m = members[i]
                for n, p in m.model.named_parameters():
                    p.copy_(params[n][j])
                for n, b in m.model.named_buffers():
                    if n in buffers:
                        b.copy_(buffers[n][j])
                for g, gnames in group_names.items():
                    for q, n in zip(m.groups[g], gnames):
                        st = opts[g].state.get(params[n])
                        if st:
                            m.optimizers[g].state[q] = {
                                k: (v[j].clone() if v.dim() else v.clone()) for k, v in st.items()}

    def checkpoint(at: int, params, buffers, opts, wall: float) -> None:
        from dislab.training.checkpoint import save_checkpoint, save_weights

        unstack(params, buffers, opts)
        for j, i in enumerate(alive):
            m = members[i]
            # the checkpoint stores "the torch generator" of a run: this model's own
            if device.type == "cuda":
                torch.cuda.set_rng_state(m.generator.get_state(), device.index or 0)
            else:
                torch.set_rng_state(m.generator.get_state())
            interval = log_interval(term_names or [], None if acc is None else acc[j], n_acc)
            save_checkpoint(m.path / CHECKPOINT, step=at, model=m.model, optimizers=m.optimizers,
                            np_rng=m.np_rng, extra={"model": m.model.name, "batch_size": config.batch_size,
                                                    "wall_time_s": m.wall_time + wall, "device": str(device),
                                                    "stacked": len(alive), "log_interval": interval})
            # a kill before this line: Run.weights_in_force restores the root from the checkpoint
            save_weights(m.path / WEIGHTS, m.model, {"step": str(at), "model": m.model.name})

    params, buffers, opts = restack()
    group_params = {g: [params[n] for n in gn] for g, gn in group_names.items()}
    n_latents = int(getattr(template.config, "n_latents", 0))
    dtype = next(iter(params.values())).dtype
    logs = {i: open(members[i].path / TRAIN_LOG, "a", encoding="utf-8") for i in alive}
    # the log interval each checkpoint was taken in (equal for runs at one step; else start anew)
    saved = [members[i].interval for i in alive]
    term_names: list[str] | None = saved[0][0] or None
    acc: torch.Tensor | None = None  # (K, n_terms) sums over the log interval
    n_acc = saved[0][2]  # steps summed in acc
    if n_acc and all(names == saved[0][0] and n == n_acc for names, _, n in saved):
        acc = torch.stack([a for _, a, _ in saved])
    else:
        term_names, n_acc = None, 0
    t0 = time.perf_counter()
    t_mark, step_mark = t0, step
    bar = tqdm(total=config.steps, initial=step, disable=bars.disable(progress), unit="step", dynamic_ncols=True,
               desc=f"{len(alive)} seeds stacked")
    template.train()
    try:
        while step < config.steps and alive:
            xs, eps = [], []
            for i in alive:
                m = members[i]
                xs.append(sample_batch(dataset, config.batch_size, m.np_rng, device,
                                       torch.contiguous_format))  # (B, C, H, W)
                if n_latents:
                    eps.append(torch.randn((config.batch_size, n_latents), generator=m.generator,
                                           device=device, dtype=dtype))
            x = torch.stack(xs).to(device=device, dtype=dtype)  # (K, B, C, H, W)
            e = torch.stack(eps) if eps else None  # (K, B, n_latents)
            loss, aux, terms = stacked_forward(template, params, buffers, x, e, step)
            values = torch.stack([loss.detach(), *(v.detach() for v in terms.values()),
                                  *(v.detach() for v in aux.values())], dim=1).float()  # (K, n_terms)
            if term_names is None:
                term_names = ["loss", *terms, *(f"{k}_loss" for k in aux)]
            finite = torch.isfinite(values).all(dim=1).tolist()
            if not all(finite):
                bad = [j for j, ok in enumerate(finite) if not ok]
                for j in bad:
                    i = alive[j]
                    last = latest_step(members[i].path / CHECKPOINT)
                    bad_terms = [f"{n} ({v})" for n, v in zip(term_names, values[j].tolist()) if not np.isfinite(v)]
                    errors[i] = NonFiniteLossError(
                        f"non-finite {', '.join(bad_terms)} at step {step}; stopped before updating the "
                        f"weights; the run keeps its last good checkpoint (step {last})")
                keep = [j for j, ok in enumerate(finite) if ok]
                # drop them before the update (a lone run stops before it too), then go on
                unstack(params, buffers, opts)
                for j in bad:
                    logs.pop(alive[j]).close()
                alive = [alive[j] for j in keep]
                if not alive:
                    break
                params, buffers, opts = restack()
                group_params = {g: [params[n] for n in gn] for g, gn in group_names.items()}
                acc = acc[keep] if acc is not None else None
                # the survivors' batches and noise of this step were drawn: redo it from them
                loss, aux, terms = stacked_forward(template, params, buffers, x[keep],
                                                   e[keep] if e is not None else None, step)
                values = values[keep]
            grads = stacked_gradients(loss, aux, group_params)
            for g, ps in group_params.items():
                if g not in grads:
                    continue
                for p, gr in zip(ps, grads[g]):
                    p.grad = match_layout(gr, p)
                opts[g].step()
                opts[g].zero_grad(set_to_none=True)
            step += 1
            acc = values if acc is None else acc + values
            n_acc += 1
            bar.update(1)
            if step % config.log_every == 0 or step == config.steps:
                now = time.perf_counter()
                means = (acc / n_acc).tolist()
                for j, i in enumerate(alive):
                    row = {"step": step, **dict(zip(term_names, means[j])),
                           "images_per_s": (step - step_mark) * config.batch_size / max(now - t_mark, 1e-9),
                           "wall_time_s": members[i].wall_time + now - t0}
                    logs[i].write(json.dumps(row) + "\n")
                    logs[i].flush()
                acc, n_acc, t_mark, step_mark = None, 0, now, step
            if step % config.checkpoint_every == 0 or step == config.steps:
                checkpoint(step, params, buffers, opts, time.perf_counter() - t0)
    finally:
        bar.close()
        for f in logs.values():
            f.close()
    return errors

