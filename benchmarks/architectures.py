"""Training-step speed of β-TCVAE per encoder/decoder and network precision, side by side.

For each architecture (``--archs``, registry names of dislab.nn used as both encoder and decoder)
and precision (``--precisions``): the trainer's own hot path (``sample_batch`` + ``training_step``
on a model made by ``prepare_model``, as ``dislab train`` makes it), β-TCVAE β 6 on the built-in
dSprites. Two warm-up steps each, then ``--rounds`` rounds of 5 steps, the order of the variants
rotated every round; the table gives the median images/s and every round's figure. Measure on a
quiet machine only (docs/benchmarks.md "bf16 against fp32 over seeds").

    .venv/bin/python benchmarks/architectures.py --archs conv64,burgess64,mlp --precisions fp32,bf16
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch


def main() -> None:
    from dislab.data import get_dataset
    from dislab.models import build_model
    from dislab.training import TrainConfig
    from dislab.training.fit import prepare_model, sample_batch, training_step

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--archs", default="conv64,burgess64,mlp")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()

    ds = get_dataset("dsprites")
    dev = torch.device("cpu")
    variants = []
    for arch in args.archs.split(","):
        for prec in args.precisions.split(","):
            torch.manual_seed(0)
            cfg = TrainConfig(model="beta_tcvae", dataset="dsprites", model_options={"beta": 6.0},
                              batch_size=args.batch, lr=1e-3, precision=prec, steps=10)
            model = build_model("beta_tcvae", beta=6.0, encoder=arch, decoder=arch,
                                observation_shape=tuple(ds.observation_shape), dataset_size=len(ds))
            model, groups, optimizers, fmt = prepare_model(model, cfg, dev)
            variants.append({"name": f"{arch} / {prec}", "model": model, "groups": groups,
                             "optimizers": optimizers, "fmt": fmt, "rng": np.random.default_rng(0), "rates": []})

    def steps(v, n):
        for _ in range(n):
            x = sample_batch(ds, args.batch, v["rng"], dev, v["fmt"])
            training_step(v["model"], x, 0, v["groups"], v["optimizers"])

    for v in variants:
        steps(v, 2)
    for r in range(args.rounds):
        k = r % len(variants)
        for v in variants[k:] + variants[:k]:
            t0 = time.perf_counter()
            steps(v, 5)
            v["rates"].append(5 * args.batch / (time.perf_counter() - t0))
    print(f"torch threads: {torch.get_num_threads()}; batch {args.batch}")
    print("| architecture / precision | median images/s | rounds |")
    print("|---|---|---|")
    for v in variants:
        print(f"| {v['name']} | {statistics.median(v['rates']):.0f} | {', '.join(f'{x:.0f}' for x in v['rates'])} |")


if __name__ == "__main__":
    main()
