"""K seeds trained one after the other vs side by side as one vectorised model (``--seeds-per-process``).

For each K, times a full training step (sample K batches, forward, backward, Adam) of

* ``lone``: K models, each its own step (what K separate runs do), and
* ``stacked``: one ``vmap`` step over the K stacked models (dislab.studies.stacked),

interleaved round by round so that a noisy machine slows both alike, and prints medians::

    .venv/bin/python benchmarks/stacked_seeds.py                     # conv64 on 64×64 blobs, batch 64
    .venv/bin/python benchmarks/stacked_seeds.py --k 1 4 16 --net mlp_small --side 16

``--device auto`` (default) picks cuda > mps > cpu, so the same command measures a GPU.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def build(k: int, args, device):
    from dislab.data import get_dataset
    from dislab.training.config import apply_overrides
    from dislab.training.fit import build_optimizers
    from dislab.models import MODELS
    from dislab.models.base import replace_config

    ds = get_dataset("toy_blobs", side=args.side)
    models, opts = [], []
    for seed in range(k):
        cfg = apply_overrides({"model": args.model, "encoder": args.net, "decoder": args.net,
                               "batch_size": args.batch, "seed": seed})
        cls = MODELS.get(cfg.model)
        mc = replace_config(cls.config_class(), **cfg.model_options, observation_shape=ds.observation_shape,
                            dataset_size=len(ds))
        torch.manual_seed(seed)
        m = cls(mc).to(device)
        models.append(m)
        opts.append(build_optimizers(m, cfg))
    return ds, models, opts, cfg


def lone_step(ds, models, opts, rngs, step, batch, device):
    from dislab.training.fit import sample_batch, training_step

    for m, (groups, optimizers), rng in zip(models, opts, rngs):
        x = sample_batch(ds, batch, rng, device, torch.contiguous_format)
        training_step(m, x, step, groups, optimizers)


class Stack:
    def __init__(self, models, opts):
        from torch.func import stack_module_state

        self.template = models[0]
        self.params, self.buffers = stack_module_state(models)
        by_id = {id(p): n for n, p in models[0].named_parameters()}
        groups, optimizers = opts[0]
        self.group_params = {g: [self.params[by_id[id(p)]] for p in ps] for g, ps in groups.items()}
        self.opts = {g: torch.optim.Adam(ps, **{k: v for k, v in optimizers[g].param_groups[0].items()
                                                 if k != "params"})
                     for g, ps in self.group_params.items()}

    def step(self, ds, rngs, step, batch, device, n_latents, gens):
        from dislab.studies.stacked import match_layout, stacked_forward, stacked_gradients
        from dislab.training.fit import sample_batch

        x = torch.stack([sample_batch(ds, batch, r, device, torch.contiguous_format) for r in rngs])
        eps = torch.stack([torch.randn(batch, n_latents, generator=g, device=device) for g in gens])
        loss, aux, _ = stacked_forward(self.template, self.params, self.buffers, x, eps, step)
        grads = stacked_gradients(loss, aux, self.group_params)
        for g, ps in self.group_params.items():
            for p, gr in zip(ps, grads[g]):
                p.grad = match_layout(gr, p)
            self.opts[g].step()


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def main() -> None:
    from dislab.training import select_device

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--model", default="beta_vae")
    ap.add_argument("--net", default="conv64", help="encoder/decoder key (conv64, mlp_small, ...)")
    ap.add_argument("--side", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=5, help="timed steps per round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}, model {args.model}, "
          f"net {args.net}, {args.side}x{args.side}, batch {args.batch}, {args.steps} steps x {args.rounds} rounds\n")
    print("| K | lone: K runs, ms/step | stacked, ms/step | speed-up | stacked, images/s (all K) |")
    print("|---|---|---|---|---|")
    for k in args.k:
        ds, models, opts, cfg = build(k, args, device)
        stack = Stack(models, opts)
        n_latents = models[0].config.n_latents
        rngs_a = [np.random.default_rng(s) for s in range(k)]
        rngs_b = [np.random.default_rng(s) for s in range(k)]
        gens = [torch.Generator(device=device).manual_seed(s) for s in range(k)]
        lone_step(ds, models, opts, rngs_a, 0, args.batch, device)  # warm-up (allocations, kernels)
        stack.step(ds, rngs_b, 0, args.batch, device, n_latents, gens)
        sync(device)
        t_lone, t_stack = [], []
        for r in range(args.rounds):
            for which in ("lone", "stacked") if r % 2 == 0 else ("stacked", "lone"):
                t0 = time.perf_counter()
                for s in range(args.steps):
                    if which == "lone":
                        lone_step(ds, models, opts, rngs_a, s, args.batch, device)
                    else:
                        stack.step(ds, rngs_b, s, args.batch, device, n_latents, gens)
                sync(device)
                (t_lone if which == "lone" else t_stack).append((time.perf_counter() - t0) / args.steps)
        a, b = statistics.median(t_lone), statistics.median(t_stack)
        print(f"| {k} | {1e3 * a:.1f} | {1e3 * b:.1f} | {a / b:.2f}x | {k * args.batch / b:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
