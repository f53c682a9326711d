"""How long does ``dislab demo`` take on this machine? Times its three stages with its own settings.

For 1 and 2 torch threads, each in a fresh process: ``dislab.training.train`` with the demo's
TrainConfig (``dislab.demo.demo_config``) for ``--short`` and ``--short + --steps`` steps.
The difference gives the cost of a step without start-up, checkpoints at the end and the like. Each
step is given as wall seconds and as the process's CPU seconds. On a busy shared machine only the
single-thread CPU time means much: wall time there counts other people's processes, and with two
threads the OpenMP workers spin while they wait. Then, once, the demo's evaluation (its metric
suite at the published sample sizes) and its report, on the run just trained. The table projects
the demo's total as CPU_STEPS × (seconds per step) + evaluation + report.

    .venv/bin/python benchmarks/demo_budget.py                 # ~2 min on an idle 2-core machine
    .venv/bin/python benchmarks/demo_budget.py --steps 200 --threads 1,2
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def child(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from dislab.demo import demo_config
    from dislab.training import train

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for n in (args.short, args.short + args.steps):
            cfg = demo_config(steps=n, device="cpu").replace(log_every=n, checkpoint_every=n)
            c0, t0 = time.process_time(), time.perf_counter()
            run = train(cfg, out=Path(tmp) / f"r{n}", progress=False)
            out[n] = (time.perf_counter() - t0, time.process_time() - c0)
        if args.evaluate:
            from dislab.demo import METRICS
            from dislab.runs import evaluate
            from dislab.viz.report import write_report

            c0, t0 = time.process_time(), time.perf_counter()
            evaluate(run, metrics=METRICS, progress=False)
            out["evaluate"] = (time.perf_counter() - t0, time.process_time() - c0)
            c0, t0 = time.process_time(), time.perf_counter()
            write_report(run, progress=False)
            out["report"] = (time.perf_counter() - t0, time.process_time() - c0)
    a, b = out[args.short], out[args.short + args.steps]
    result = {"threads": args.threads, "wall_per_step": (b[0] - a[0]) / args.steps,
              "cpu_per_step": (b[1] - a[1]) / args.steps,
              "evaluate": out.get("evaluate"), "report": out.get("report")}
    print("RESULT " + json.dumps(result))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=100, help="timed steps (beyond the short run)")
    p.add_argument("--short", type=int, default=5, help="steps of the short run subtracted")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--evaluate", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        args.threads = int(args.threads)
        return child(args)

    from dislab.demo import CPU_STEPS

    threads = [int(t) for t in args.threads.split(",")]
    rows = []
    for i, t in enumerate(threads):
        cmd = [sys.executable, __file__, "--child", "--threads", str(t), "--steps", str(args.steps),
               "--short", str(args.short)] + (["--evaluate"] if i == len(threads) - 1 else [])
        res = subprocess.run(cmd, capture_output=True, text=True, env={"OMP_NUM_THREADS": str(t),
                                                                        **_env()})
        line = next((ln for ln in res.stdout.splitlines() if ln.startswith("RESULT ")), None)
        if line is None:
            sys.exit(f"child failed:\n{res.stderr[-3000:]}")
        rows.append(json.loads(line[7:]))
    extra = next(r for r in rows if r["evaluate"])
    print(f"demo budget: beta_tcvae on dsprites, batch 64; {args.steps} timed steps; CPU_STEPS = {CPU_STEPS}")
    print("| threads | wall s/step | CPU s/step | images/s (wall) | CPU_STEPS × wall s/step |")
    print("|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['threads']} | {r['wall_per_step']:.3f} | {r['cpu_per_step']:.3f} | "
              f"{64 / r['wall_per_step']:.0f} | {CPU_STEPS * r['wall_per_step']:.0f} s |")
    print(f"evaluation (demo metrics, published sizes): wall {extra['evaluate'][0]:.0f} s, "
          f"CPU {extra['evaluate'][1]:.0f} s")
    print(f"report: wall {extra['report'][0]:.0f} s, CPU {extra['report'][1]:.0f} s")


def _env():
    import os

    return {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}


if __name__ == "__main__":
    main()
