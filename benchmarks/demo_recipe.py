"""The demo's recipe search: MIG and DCI-D against training steps for candidate recipes.

Each recipe is the demo's β-TCVAE on the built-in dSprites with ``--set`` overrides. One run per
recipe is trained in steps and scored after each stage (``resume`` is bit-exact, so the stages
are one uninterrupted run), MIG and DCI (the fast predictor, as ``dislab evaluate`` uses it) at the
published sizes (10,000 points; DCI 10,000 / 5,000). Scores at a given step do not depend on the
machine's load; the wall time does, so quote the times of a quiet machine only.

    .venv/bin/python benchmarks/demo_recipe.py --out runs/recipe --stages 500,1000,1500 \
        --recipe "b256:batch_size=256,lr=1e-3" --recipe "b512:batch_size=512,lr=1e-3"
    .venv/bin/python benchmarks/demo_recipe.py --out runs/recipe --table   # the table of what is done

Rows are appended to OUT/recipes.jsonl; a rerun skips stages already scored.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def parse_recipe(text: str) -> tuple[str, dict]:
    from dislab.training.config import parse_sets

    name, _, sets = text.partition(":")
    return name, parse_sets([s for s in sets.split(",") if s])


def done_rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def run_recipe(out: Path, name: str, sets: dict, stages: list[int], seed: int,
               metrics: str = "mig,dci") -> None:
    from dislab.demo import demo_config
    from dislab.runs import evaluate
    from dislab.training import apply_overrides, init_run, open_run, resume

    log = out / "recipes.jsonl"
    have = {(r["recipe"], r["seed"], r["step"]) for r in done_rows(log)}
    run_dir = out / f"{name}-s{seed}"
    if not run_dir.exists():
        base = demo_config(steps=stages[0], seed=seed, precision="auto")
        config = apply_overrides({**sets, "steps": stages[0]}, base)
        init_run(config, run_dir)
    for steps in stages:
        if (name, seed, steps) in have:
            continue
        run = open_run(run_dir)
        t0 = time.perf_counter()
        resume(run_dir, changes={"steps": max(steps, run.config.steps)}, progress=False)
        t_train = time.perf_counter() - t0
        result = evaluate(run_dir, metrics=metrics if steps != stages[-1] else "mig,dci", progress=False)
        m = result["metrics"]
        dci = m.get("dci", {})
        rows = open_run(run_dir).train_log()
        row = {"recipe": name, "sets": sets, "seed": seed, "step": steps,
               "mig": m["mig"]["mig"], "dci_d": dci.get("disentanglement"),
               "dci_c": dci.get("completeness"), "dci_i": dci.get("informativeness_test"),
               "loss": rows[-1]["loss"] if rows else None,
               "train_wall_s": rows[-1]["wall_time_s"] if rows else None,
               "this_stage_s": t_train, "precision": open_run(run_dir).config.precision}
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def table(out: Path) -> None:
    print("| recipe | seed | step | MIG | DCI D | DCI C | DCI I | loss | train wall s | precision |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    def f(v):
        return "" if v is None else f"{v:.3f}"

    for r in done_rows(out / "recipes.jsonl"):
        print(f"| {r['recipe']} | {r['seed']} | {r['step']} | {f(r['mig'])} | {f(r['dci_d'])} | "
              f"{f(r['dci_c'])} | {f(r['dci_i'])} | {r['loss']:.1f} | {r['train_wall_s']:.0f} | "
              f"{r['precision']} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/recipe"))
    p.add_argument("--recipe", action="append", default=[], help="NAME:key=value,key=value")
    p.add_argument("--stages", default="500,1000,1500,2000")
    p.add_argument("--seeds", default="0")
    p.add_argument("--table", action="store_true")
    p.add_argument("--metrics", default="mig,dci",
                   help="metrics of every stage but the last, which always scores mig,dci (e.g. mig: faster)")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    stages = [int(s) for s in args.stages.split(",")]
    for text in args.recipe:
        name, sets = parse_recipe(text)
        for seed in (int(s) for s in args.seeds.split(",")):
            run_recipe(args.out, name, sets, stages, seed, args.metrics)
    table(args.out)


if __name__ == "__main__":
    main()
