"""``dislab reproduce``: run a named reproduction of a published finding and check its claims.

    dislab reproduce --list
    dislab reproduce chen2018 --budget cpu --out studies/chen2018-cpu     # resumable: rerun to continue
    dislab reproduce duan2020 --budget cpu --out studies/locatello2019-cpu --check-only
    dislab reproduce locatello2019 --out studies/locatello2019-cpu --carry docs/results/locatello2019-cpu.json
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="a reproduction (see --list)")
    parser.add_argument("--list", action="store_true", help="list the reproductions, their budgets and claims")
    parser.add_argument("--budget", default="cpu", help="paper | cpu | tiny (default cpu)")
    parser.add_argument("--out", default=None, help="study folder (default studies/NAME-BUDGET)")
    parser.add_argument("--workers", type=int, default=None, help="runs at a time (as dislab sweep)")
    parser.add_argument("--seeds-per-process", type=int, default=1, metavar="K",
                        help="train K seeds of one setting as one vectorised model (GPU)")
    parser.add_argument("--check-only", action="store_true", help="judge the claims on what the folder holds")
    parser.add_argument("--carry", default=None, metavar="CLAIMS_JSON",
                        help="continue from an earlier claims.json of the same study (its finished runs "
                             "are not trained again; e.g. a summary kept in git)")
    parser.add_argument("--no-report", action="store_true", help="skip each run's report.html")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def main(args: argparse.Namespace) -> int:
    from dislab.errors import ConfigError
    from dislab.reproduce import REPRODUCTIONS, reproduce

    if args.list:
        for name in REPRODUCTIONS.names():
            rep = REPRODUCTIONS.get(name)()
            print(f"{name}: {rep.title}\n  {rep.paper}")
            for b, budget in rep.budgets.items():
                print(f"  budget {b}: {budget.cost or 'a few training steps per run (tests)'}")
            for c in rep.claims():
                print(f"  claim {c.id}: {c.statement} [{c.source}]")
        return 0
    if not args.name:
        raise ConfigError("name a reproduction (dislab reproduce --list shows them)")
    out = args.out or f"studies/{args.name}-{args.budget}"
    result = reproduce(args.name, args.budget, out, workers=args.workers,
                       seeds_per_process=args.seeds_per_process, check_only=args.check_only,
                       report=not args.no_report, progress=not args.quiet, carry=args.carry)
    print(f"{args.name} ({args.budget}): {result['runs']['done']} of {result['runs']['total']} runs done")
    print(result["table"])
    print(f"claims: {Path(out) / 'claims.md'}")
    return 1 if result["runs"]["failed"] else 0

