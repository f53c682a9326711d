"""Training at the machine's limit: fp32 vs bf16 images/s against the CPU's measured matmul peak.

In one process, interleaved (``--rounds`` rounds of ``--steps`` steps, order rotated each round,
two warm-up steps each), for each model and batch size:

* ``bare fp32``: the best bare PyTorch loop (benchmarks/train_throughput.py's conv64 VAE written
  out, channels_last, fused Adam, images indexed from a preloaded tensor);
* ``bare bf16``: the same under ``torch.autocast("cpu", dtype=torch.bfloat16)``, loss in fp32;
* ``dislab fp32`` / ``dislab bf16``: the trainer's hot path (``sample_batch`` + ``training_step``)
  on a model prepared as ``dislab.training.train`` prepares it with ``precision`` fp32 / bf16;
* ``dislab fp32 compiled`` (``--compile``): the same model under ``torch.compile`` (compile time
  excluded, reported apart).

The peak is measured in the same run: the best of ``--rounds`` square matmuls (n = 2048) in fp32
and bf16 on torch's threads. FLOPs per image of a training step are counted once with
``torch.utils.flop_counter.FlopCounterMode`` (forward + backward of the network), so "% of peak" =
images/s × FLOP/image / peak FLOP/s (fp32 steps against the fp32 peak, bf16 against the bf16 peak).
Ratios are what to quote: on a shared machine the absolute figures move with the load.

    .venv/bin/python benchmarks/precision.py                               # ~5 min quiet
    .venv/bin/python benchmarks/precision.py --models beta_vae --batches 256 --rounds 3 --compile
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from train_throughput import BareVAE, DATASET, DislabLoop, PlainLoop, images_per_s  # noqa: E402


def matmul_peak(dtype: torch.dtype, rounds: int, n: int = 2048) -> float:
    """Best FLOP/s of an n × n matmul in ``dtype`` on torch's current threads."""
    a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
    a @ b  # warm-up
    best = 0.0
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(4):
            a @ b
        best = max(best, 4 * 2 * n ** 3 / (time.perf_counter() - t))
    return best


class BareBF16(PlainLoop):
    """The bare loop with the network under bf16 autocast and the loss in fp32."""

    def step(self):
        idx = torch.from_numpy(self.rng.integers(0, len(self.images), self.batch))
        x = self.images[idx].to(memory_format=self.fmt)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = self.loss_fn(self.module, x)
        self.opt.zero_grad(set_to_none=True)
        loss.float().backward()
        self.opt.step()


class BareLoss:
    """BareVAE's loss with its networks' outputs cast to fp32 before the loss terms."""

    def __call__(self, m, x):
        import torch.nn.functional as F

        mu, logvar = m.enc(x).float().chunk(2, dim=1)
        with torch.autocast("cpu", enabled=False):
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = m.dec(z).float()
        with torch.autocast("cpu", enabled=False):
            rec = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / x.shape[0]
            kl = 0.5 * (mu.pow(2) + logvar.exp() - logvar - 1).sum(1).mean()
        return rec + kl


def fused(loop: PlainLoop) -> PlainLoop:
    loop.opt = torch.optim.Adam(loop.module.parameters(), lr=1e-4, fused=True)
    return loop


def flops_per_image(batch: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    m = BareVAE(1, 10)
    x = torch.rand(batch, 1, 64, 64)
    with FlopCounterMode(display=False) as fc:
        m.loss(x).backward()
    return fc.get_total_flops() / batch


def compare(name: str, dataset, images: torch.Tensor, batch: int, rounds: int, steps: int,
            compile_: bool) -> dict:
    torch.manual_seed(0)
    loops = {
        "bare fp32": fused(PlainLoop(BareVAE(1, 10), images, batch, True, lambda m, x: m.loss(x))),
        "bare bf16": fused(BareBF16(BareVAE(1, 10), images, batch, True, BareLoss())),
        "dislab fp32": DislabLoop(name, dataset, batch),
        "dislab bf16": DislabLoop(name, dataset, batch, precision="bf16"),
    }
    compile_s = None
    if compile_:
        loop = DislabLoop(name, dataset, batch)
        loop.model = torch.compile(loop.model)
        t = time.perf_counter()
        images_per_s(loop, 2, batch)
        compile_s = time.perf_counter() - t
        loops["dislab fp32 compiled"] = loop
    for loop in loops.values():
        images_per_s(loop, 2, batch)
    speeds: dict[str, list[float]] = {k: [] for k in loops}
    order = list(loops)
    for r in range(rounds):
        for k in order[r % len(order):] + order[:r % len(order)]:
            speeds[k].append(images_per_s(loops[k], steps, batch))
    return {"model": name, "batch": batch, "compile_s": compile_s,
            **{k: statistics.median(v) for k, v in speeds.items()}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--models", default="beta_vae,beta_tcvae")
    p.add_argument("--batches", default="64,256")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--compile", action="store_true", help="also time torch.compile of the fp32 model")
    args = p.parse_args()

    from dislab.data import get_dataset
    from dislab.training.precision import cpu_flags, has_fast_bf16

    dataset = get_dataset(DATASET)
    images = dataset.images(np.arange(0, len(dataset), 37))  # a preloaded subset for the bare loops
    peak32 = matmul_peak(torch.float32, args.rounds)
    peak16 = matmul_peak(torch.bfloat16, args.rounds)
    fpi = flops_per_image(64)
    kinds = sorted({"amx_bf16", "avx512_bf16", "avx512f", "avx2"} & cpu_flags())
    print(f"CPU features: {', '.join(kinds) or 'unknown'}; fast bf16: {has_fast_bf16('cpu')}; "
          f"torch threads: {torch.get_num_threads()}")
    print(f"matmul peak (n=2048): fp32 {peak32 / 1e9:.0f} GFLOP/s, bf16 {peak16 / 1e9:.0f} GFLOP/s; "
          f"conv64 training step: {fpi / 1e6:.1f} MFLOP/image")
    rows = [compare(m, dataset, images, b, args.rounds, args.steps, args.compile)
            for m in args.models.split(",") for b in (int(s) for s in args.batches.split(","))]
    cols = [c for c in rows[0] if c not in ("model", "batch", "compile_s")]
    print("\nimages/s (median); % of the matmul peak of its precision in brackets")
    print("| model | batch | " + " | ".join(cols) + " | dislab bf16 / fp32 | dislab fp32 / bare fp32 |")
    print("|---|---|" + "---|" * (len(cols) + 2))
    for r in rows:
        cells = []
        for c in cols:
            peak = peak16 if "bf16" in c else peak32
            cells.append(f"{r[c]:.0f} ({100 * r[c] * fpi / peak:.0f} %)")
        print(f"| {r['model']} | {r['batch']} | " + " | ".join(cells) +
              f" | {r['dislab bf16'] / r['dislab fp32']:.2f}× | {r['dislab fp32'] / r['bare fp32']:.2f}× |")
    if args.compile:
        print("\ntorch.compile: first two steps (compile) " +
              ", ".join(f"{r['model']} b{r['batch']} {r['compile_s']:.0f} s" for r in rows))


if __name__ == "__main__":
    main()
