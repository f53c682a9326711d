"""``dislab sweep STUDY.toml --out studies/NAME``: train, evaluate and report every run of a study.

Rerun the same command to continue: complete runs are skipped, interrupted ones resume from their
last checkpoint, and runs another ``dislab sweep`` is working on are left to it (one lock per run).
"""
from __future__ import annotations

import argparse
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("study", help="study file (.toml, or .yaml with PyYAML); see docs/studies.md")
    parser.add_argument("--out", required=True, help="study folder (created; reused to resume)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: a pool of worker processes (default); ray: Ray tasks")
    parser.add_argument("--workers", type=int, default=None,
                        help="runs at a time (local: worker processes, default cores // 2, 0 = in this "
                             "process; ray: tasks in flight, default as many as Ray places)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster address (ray://HOST:10001 or auto); default: a local Ray instance")
    parser.add_argument("--seeds-per-process", type=int, default=1, metavar="K",
                        help="train K seeds of one setting side by side as one vectorised model")
    parser.add_argument("--cpus-per-run", type=float, default=None,
                        help="threads of each run (local: default cores // workers; ray: CPUs asked, default 1)")
    parser.add_argument("--gpus-per-run", type=float, default=0.0, help="GPUs each Ray task asks for")
    parser.add_argument("--retry-failed", action="store_true", help="run again the runs whose last attempt failed")
    parser.add_argument("--no-report", action="store_true", help="skip each run's report.html")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the study and list its runs and what each still needs; write nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def main(args: argparse.Namespace) -> int:
    from dislab.errors import ConfigError
    from dislab.studies.sweep import sweep

    if args.address and args.executor != "ray":
        raise ConfigError("--address names a Ray cluster; use it with --executor ray")
    if args.gpus_per_run and args.executor != "ray":
        raise ConfigError("--gpus-per-run is a Ray resource request; use it with --executor ray")
    if args.dry_run:
        return _dry_run(args)
    summary = sweep(args.study, args.out, executor=args.executor, workers=args.workers,
                    address=args.address, seeds_per_process=args.seeds_per_process,
                    retry_failed=args.retry_failed, report=not args.no_report,
                    cpus_per_run=args.cpus_per_run, gpus_per_run=args.gpus_per_run,
                    progress=not args.quiet)
    print(summary.line())
    for name, err in summary.failed.items():
        print(f"  failed {name}: {err}  (details: {summary.folder}/status/{name}.json)", file=sys.stderr)
    if summary.busy:
        print(f"  {len(summary.busy)} run(s) are being trained by another process: {', '.join(summary.busy)}",
              file=sys.stderr)
    print(f"next: dislab udr {summary.folder} && dislab results {summary.folder}")
    return 1 if summary.failed else 0


def _dry_run(args: argparse.Namespace) -> int:
    from dislab.studies.folder import StudyFolder
    from dislab.studies.runner import missing_stages
    from dislab.studies.study import load_study

    study = load_study(args.study)  # every key and value checked
    folder = StudyFolder(args.out)
    groups = study.groups()
    print(f"{study.name}: {len(study.runs)} runs in {len(groups)} UDR group(s); swept: {', '.join(study.swept)}")
    for run in study.runs:
        todo = missing_stages(folder, run, study.metrics, not args.no_report)
        status = folder.status(run.name) or {}
        state = "complete" if not todo else (
            f"failed earlier ({status.get('error')})" if status.get("state") == "failed" else "to do: " + ", ".join(todo))
        print(f"  {run.name}  [{run.group}]  {state}")
    return 0
