"""``dislab report``: write a self-contained report.html for a run (see :mod:`dislab.viz.report`).

    dislab report runs/demo            # runs/demo/report.html (+ runs/demo/figures/*.png)
"""
from __future__ import annotations

import argparse
import sys

from dislab.runs.layout import WEIGHTS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder (from dislab train)")
    parser.add_argument("--out", metavar="FILE", help="where to write the page (default RUN/report.html)")
    parser.add_argument("--n-encode", type=int, default=2000,
                        help="inputs encoded for KL, sweeps and latent-vs-factor plots (default 2000)")
    parser.add_argument("--steps", type=int, default=10, help="columns of the traversal grid (default 10)")
    parser.add_argument("--no-gif", action="store_true", help="leave out the animated traversal")
    parser.add_argument("--kl-threshold", type=float, default=None,
                        help="a latent is active above this mean KL in nats (default 0.1, "
                        "dislab.metrics.active.ACTIVE_KL_THRESHOLD)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the drawn inputs (default 0)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    from dislab.training import open_run
    from dislab.viz.report import write_report

    run = open_run(args.run)
    path = write_report(run, out=args.out, n_encode=args.n_encode, steps=args.steps, gif=not args.no_gif,
                        seed=args.seed, kl_threshold=args.kl_threshold,
                        progress=not args.no_progress)
    if not (run.path / WEIGHTS).is_file():
        print(f"note: {run.path} has no weights yet; the report shows the configuration and log only",
              file=sys.stderr)
    if run.evaluation() is None:
        print(f"note: no evaluation.json; run `dislab evaluate {run.path}` to add the scores", file=sys.stderr)
    print(f"report: {path.resolve()}")
    return 0
