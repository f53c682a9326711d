"""``dislab diagnose RUN [--n-samples N] [--n-reference M] [--neighbours K] [--kl-threshold K] [--threshold T] [--seed S]``

Measures why the run's model disentangles (or not): polarisation of its latents, orthogonality of
its decoder's Jacobian, alignment with the data's local PCA directions. Writes ``diagnostics.json``
into the run folder and prints a table.
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run", metavar="RUN", help="run folder (written by `dislab train`)")
    parser.add_argument("--n-samples", type=int, default=64, dest="n_samples",
                        help="images at which the decoder's Jacobian is measured (default 64)")
    parser.add_argument("--n-reference", type=int, default=1000, dest="n_reference",
                        help="dataset images searched for neighbours of each sample (default 1000)")
    parser.add_argument("--neighbours", type=int, default=20, dest="n_neighbours",
                        help="nearest neighbours whose PCA is the local linearisation (default 20)")
    parser.add_argument("--kl-threshold", type=float, default=None, dest="kl_threshold",
                        help="a latent is active above this mean KL to the prior in nats, over the "
                        "reference images (default 0.1, the report's and dislab traverse's definition); "
                        "the decoder measures use the active latents")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="polarisation (Rolinek et al.): count the latents whose mean posterior "
                        "variance is below this as n_polarised (default 0.5)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled images (default 0)")
    parser.add_argument("--device", default="cpu", help="device (default cpu)")


def main(args: argparse.Namespace) -> int:
    from dislab.diagnostics.diagnose import DIAGNOSTICS, diagnose_run, format_table

    result = diagnose_run(args.run, n_samples=args.n_samples, n_reference=args.n_reference,
                          n_neighbours=args.n_neighbours, threshold=args.threshold,
                          kl_threshold=args.kl_threshold, seed=args.seed,
                          device=args.device)
    print(format_table(result))
    for note in result.get("notes", []):
        print(f"note: {note}")
    print(f"wrote {args.run}/{DIAGNOSTICS}")
    return 0
