"""``dislab results studies/NAME``: the study table (CSV + SQLite), its figures and its report page."""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study_dir", help="a study folder written by `dislab sweep`")
    parser.add_argument("--no-figures", action="store_true", help="only the table")


def main(args: argparse.Namespace) -> int:
    from dislab.studies.aggregate import results

    out = results(args.study_dir, figures=not args.no_figures)
    print(f"{out['n_runs']} runs ({', '.join(f'{v} {k}' for k, v in out['states'].items())})")
    print(f"table:   {out['csv']}  {out['sqlite']}")
    if out["figures"]:
        print(f"figures: {len(out['figures'])} in {out['figures'][0].parent}")
    print(f"page:    {out['page']}")
    return 0
