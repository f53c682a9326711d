"""``dislab demo``: the README's first command. Train β-TCVAE on the built-in dSprites, evaluate it,
write its report.html and print the path.

    dislab demo                      # runs/demo/report.html (a fresh runs/demo-2, -3, ... if taken)
    dislab demo --out runs/mine --force
    dislab demo --steps 20 --dataset toy_blobs --eval-points 200     # seconds, for tests

The recipe was found by measurement (docs/benchmarks.md "Demo recipe"): β-TCVAE with β = 6 (the
middle of the reference grid {1, 2, 4, 6, 8, 10}) on the fully connected networks Chen et al.
(NeurIPS 2018, Sec. 6) used for dSprites (``mlp``: 1200-1200 encoder, 1200-1200-1200 decoder), batch
512, Adam with learning rate 3e-3, fp32, :data:`CPU_STEPS` steps. These networks run ~2.5× the images
per second of the reference study's conv64 on a CPU, and at 3e-3 they leave the mean-image plateau
that holds conv64 for its first few hundred steps at once. On an AMD EPYC (AVX2, 2 quiet cores)
seed 0 ends at MIG 0.212 and DCI-D 0.226 (published evaluation sizes) after ~4 min 40 s of
training; seed 2 at 0.211 / 0.250, while seeds 1, 3 and 4 stayed entangled (MIG 0.050, 0.025, 0.017). The same images
in batches of 256 (1,000 steps, session 7's recipe) disentangled two seeds in three at two threads (0.153 / 0.181
for seed 0 at two threads). Seeds and CPU kinds move the result as much as the recipe does
(docs/benchmarks.md). bf16 is not used: from the same seed it stayed entangled where fp32 did not
(conv64 recipe). Where a GPU is found the same recipe runs :data:`GPU_STEPS` steps.

An existing output folder is never overwritten unless ``--force``: the demo writes to the first
free name ``OUT-2``, ``OUT-3``, ... instead and says so, so ``make demo`` can be run again.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from dislab.errors import ConfigError

MODEL = "beta_tcvae"
DATASET = "dsprites"
# Chen et al.'s dSprites networks (dislab.nn.mlp); the reference study's conv64 is dislab train's default
MODEL_OPTIONS = {"beta": 6.0, "encoder": "mlp", "decoder": "mlp"}
BATCH_SIZE = 512  # measured: 2 of 5 seeds disentangled at 512, 2 of 3 at 256 (docs/benchmarks.md)
LR = 3e-3  # measured: 3e-3 leaves the early mean-image plateau at once (docs/benchmarks.md)
PRECISION = "fp32"  # measured: the bf16 run of this seed stayed entangled (docs/benchmarks.md)
CPU_STEPS = 500  # 256,000 images: 4 min 40 s of training on 2 quiet AVX2 cores (~910 images/s)
GPU_STEPS = 10000  # 5.1 million images; a GPU step of this small network costs a few milliseconds
# Metrics of the report: evaluate's default suite at the published sample sizes.
METRICS = "mig,dci,sap,modularity_explicitness,irs,unsupervised"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", metavar="DIR", default="runs/demo",
                        help="run folder (default runs/demo; if it exists, the first free runs/demo-2, -3, ...)")
    parser.add_argument("--force", action="store_true", help="replace an existing run folder at --out")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"training steps (default {CPU_STEPS:,} on CPU, {GPU_STEPS:,} on a GPU)")
    parser.add_argument("--dataset", default=DATASET, help=f"dataset to learn (default {DATASET})")
    parser.add_argument("--device", default="auto", help="auto (GPU when found), cpu, cuda, cuda:N or mps")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole run (default 0)")
    parser.add_argument("--eval-points", type=int, default=None,
                        help="points per metric (default: the published sizes, 10,000 for most)")
    parser.add_argument("--metrics", default=METRICS, help=f"metrics to compute (default {METRICS})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def free_folder(out: Path) -> Path:
    """``out`` if it does not exist or is an empty folder, else the first free ``out-2``, ``out-3``, ..."""
    if not out.exists() or (out.is_dir() and not any(out.iterdir())):
        return out
    k = 2
    while True:
        candidate = out.with_name(f"{out.name}-{k}")
        if not candidate.exists():
            return candidate
        k += 1


def demo_config(*, steps: int, dataset: str = DATASET, device: str = "auto", seed: int = 0,
                precision: str = PRECISION):
    """The TrainConfig of the demo."""
    from dislab.training import TrainConfig

    return TrainConfig(model=MODEL, dataset=dataset, model_options=dict(MODEL_OPTIONS), steps=steps,
                       batch_size=BATCH_SIZE, lr=LR, seed=seed, device=device, precision=precision,
                       log_every=max(1, min(100, steps // 30)), checkpoint_every=max(1, min(1000, steps)))


def _duration(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


def main(args: argparse.Namespace) -> int:
    from dislab.runs import evaluate
    from dislab.training import select_device, train
    from dislab.viz.report import write_report

    progress = not args.no_progress
    device = select_device(args.device)
    steps = args.steps if args.steps is not None else (CPU_STEPS if device.type == "cpu" else GPU_STEPS)
    if steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {steps}")
    config = demo_config(steps=steps, dataset=args.dataset, device=args.device, seed=args.seed)

    requested = Path(args.out)
    out = requested if args.force else free_folder(requested)
    if out != requested:
        print(f"note: {requested} already exists; writing {out} instead (--force replaces {requested})",
              file=sys.stderr)

    print(f"[1/3] training {MODEL} (beta {MODEL_OPTIONS['beta']:g}, {MODEL_OPTIONS['encoder']} networks, batch "
          f"{BATCH_SIZE}, lr {LR:g}) on {args.dataset} for {steps:,} steps "
          f"on {device} -> {out}", flush=True)
    t0 = time.perf_counter()
    train(config, out=out, progress=progress, overwrite=args.force)
    t1 = time.perf_counter()
    print(f"      trained in {_duration(t1 - t0)}", flush=True)

    print("[2/3] evaluating (MIG, DCI, SAP, modularity, IRS, unsupervised scores)", flush=True)
    result = evaluate(out, metrics=args.metrics, n_train=args.eval_points, device=str(device), progress=progress)
    t2 = time.perf_counter()
    scores = result.get("metrics", {})
    headline = [(name, scores.get(block, {}).get(key)) for name, block, key in
                (("MIG", "mig", "mig"), ("DCI disentanglement", "dci", "disentanglement"),
                 ("DCI completeness", "dci", "completeness"))]
    shown = ", ".join(f"{n} {v:.3f}" for n, v in headline if isinstance(v, (int, float)))
    print(f"      evaluated in {_duration(t2 - t1)}" + (f": {shown}" if shown else ""), flush=True)

    print("[3/3] writing the report", flush=True)
    path = write_report(out, progress=progress)
    t3 = time.perf_counter()
    print(f"      written in {_duration(t3 - t2)}; total {_duration(t3 - t0)}")
    print(f"report: {path.resolve()}")
    print(f"open it in a browser (file://{path.resolve()}); `dislab traverse {out} --out traversals.gif` "
          "draws more traversals")
    return 0
