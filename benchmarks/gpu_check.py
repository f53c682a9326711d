"""The GPU path in one short run: single-model and stacked-seed throughput on dSprites, and the time
a 300,000-step β-VAE would take. Prints one table; without a CUDA device it says so and exits 0.

What it exercises: ``device=cuda`` with the procedural dSprites stamped on the device
(``DSprites.images_on``: only the batch's template ids and offsets cross the bus), ``precision``
fp32 and bf16 (the networks under bf16 autocast), torch.compile of the model, and K seeds stacked
into one vectorised model (``dislab.studies.stacked.train_stacked``, as ``dislab sweep
--seeds-per-process K`` uses it). Every row trains real run folders (in a temporary directory) and
reads images/s from their train_log.jsonl, skipping the first logged interval (warm-up, compile).

    .venv/bin/python benchmarks/gpu_check.py               # < 5 min on one GPU
    .venv/bin/python benchmarks/gpu_check.py --steps 1000 --stacked 1,8 --no-compile

Targets the design aims at (docs/benchmarks.md "GPU"): a 300,000-step dSprites model in minutes,
K stacked seeds >= 0.8·K× one model's images/s.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path


def _rate(run_dir: Path) -> float:
    """Median images/s of a run's logged intervals after the first."""
    from dislab.training import open_run

    rows = [r["images_per_s"] for r in open_run(run_dir).train_log()][1:]
    return statistics.median(rows) if rows else float("nan")


def single(tmp: Path, steps: int, batch: int, precision: str, compile_: bool) -> dict:
    import torch

    from dislab.training import TrainConfig, train

    cfg = TrainConfig(model="beta_vae", dataset="dsprites", steps=steps, batch_size=batch, device="cuda",
                      precision=precision, log_every=max(1, steps // 10), checkpoint_every=steps)
    out = tmp / f"single-{precision}-{batch}-{int(compile_)}"
    t = time.perf_counter()
    if compile_:
        # torch.compile of the whole model, through the trainer's own loop
        import dislab.training.fit as fit

        original = fit.prepare_model

        def compiled(model, config, device):
            model, groups, opts, fmt = original(model, config, device)
            return torch.compile(model), groups, opts, fmt

        fit.prepare_model = compiled
        try:
            train(cfg, out=out, progress=False)
        finally:
            fit.prepare_model = original
    else:
        train(cfg, out=out, progress=False)
    wall = time.perf_counter() - t
    rate = _rate(out)
    return {"what": f"beta_vae b{batch} {precision}{' compiled' if compile_ else ''}",
            "images_per_s": rate, "per_model": rate, "wall_s": wall,
            "h_300k": 300_000 * batch / rate / 3600}


def stacked(tmp: Path, steps: int, k: int, precision: str) -> dict:
    from dislab.studies.stacked import train_stacked
    from dislab.training import TrainConfig

    cfgs = [TrainConfig(model="beta_vae", dataset="dsprites", steps=steps, batch_size=64, device="cuda",
                        precision=precision, seed=s, log_every=max(1, steps // 10), checkpoint_every=steps)
            for s in range(k)]
    outs = [tmp / f"stacked{k}-{precision}-s{s}" for s in range(k)]
    t = time.perf_counter()
    errors = train_stacked(cfgs, outs, progress=False)
    wall = time.perf_counter() - t
    bad = [e for e in errors if e is not None]
    if bad:
        raise RuntimeError(f"stacked K={k}: {bad[0]}")
    per = _rate(outs[0])
    return {"what": f"beta_vae b64 {precision} K={k} stacked", "images_per_s": per * k, "per_model": per,
            "wall_s": wall, "h_300k": 300_000 * 64 / per / 3600}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=2000, help="steps of each single-model row")
    p.add_argument("--stacked-steps", type=int, default=300)
    p.add_argument("--stacked", default="1,8,32", help="K values of the stacked rows")
    p.add_argument("--no-compile", action="store_true")
    args = p.parse_args()
    import torch

    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here; nothing was run (this script only measures GPUs)")
        return 0
    from dislab.training.precision import has_fast_bf16

    name = torch.cuda.get_device_name(0)
    precisions = ["fp32", "bf16"] if has_fast_bf16("cuda") else ["fp32"]
    print(f"device: {name}; torch {torch.__version__}; precisions: {precisions}", flush=True)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for prec in precisions:
            for batch in (64, 256):
                rows.append(single(tmp, args.steps, batch, prec, False))
                print(rows[-1], flush=True)
        if not args.no_compile:
            rows.append(single(tmp, args.steps, 64, precisions[-1], True))
            print(rows[-1], flush=True)
        for k in (int(s) for s in args.stacked.split(",")):
            rows.append(stacked(tmp, args.stacked_steps, k, precisions[-1]))
            print(rows[-1], flush=True)
    print("\n| run | images/s (all models) | images/s per model | wall s | 300,000 steps of its batch, h |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['what']} | {r['images_per_s']:.0f} | {r['per_model']:.0f} | {r['wall_s']:.0f} | {r['h_300k']:.2f} |")
    ones = [r for r in rows if r["what"].endswith("K=1 stacked")]
    if ones:
        for r in rows:
            if "stacked" in r["what"] and not r["what"].endswith("K=1 stacked"):
                k = int(r["what"].split("K=")[1].split()[0])
                print(f"K={k}: {r['images_per_s'] / ones[0]['images_per_s']:.1f}× one model "
                      f"(target >= {0.8 * k:.1f}×)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
