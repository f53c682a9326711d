"""``dislab udr studies/NAME``: UDR (Spearman and Lasso) of every run against the other runs of its
group, into each run's evaluation.json, the study's udr.json and the study table."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study_dir", help="a study folder written by `dislab sweep`")
    parser.add_argument("--n-points", type=int, default=None,
                        help="points encoded by every run of a group (default: the study's [udr] n_points, 1000)")
    parser.add_argument("--seed", type=int, default=None, help="which points (default: the study's [udr] seed)")
    parser.add_argument("--device", default="cpu", help="where the models encode (cpu, cuda, ...)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from dislab.studies.aggregate import write_table
    from dislab.studies.study_udr import study_udr

    result = study_udr(args.study_dir, n_points=args.n_points, seed=args.seed, device=args.device,
                       progress=not args.quiet)
    scored = 0
    for group, entry in result["groups"].items():
        if "note" in entry:
            print(f"{group}: {entry['note']}")
            continue
        scored += len(entry["runs"])
        for m in result["methods"]:
            values = ", ".join(f"{v:.3f}" for v in entry[m]["udr"])
            print(f"{group}: UDR_{m[0].upper()} {values}")
    for note in result["notes"]:
        print(f"note: {note}")
    table = write_table(args.study_dir)
    print(f"{scored} runs scored; wrote {args.study_dir}/udr.json and updated {table}")
    return 0
