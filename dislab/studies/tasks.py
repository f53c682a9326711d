"""A unit of work an executor ships to a process: one run, or the seeds of one setting stacked.

Plain data (the study folder's path, the runs as dicts, the metric names), so it pickles to a
spawned worker or a Ray task without dragging any torch state along.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Task:
    study_dir: str
    runs: tuple[dict, ...]          # RunSpec.to_dict() of each run; several = stacked seeds
    metrics: tuple[str, ...] | None
    report: bool = True
    stacked: bool = False
    options: dict = field(default_factory=dict)  # {"evaluate": {...}, "report": {...}}

    @property
    def names(self) -> list[str]:
        return [r["name"] for r in self.runs]


def run_task(task: Task, *, threads: int | None = None, log: bool = True) -> list[dict[str, Any]]:
    """Do ``task`` in this process; one result dict per run (see :mod:`dislab.studies.runner`)."""
    from dislab.studies.runner import run_group, run_one

    if task.stacked:
        return run_group(task.study_dir, list(task.runs), task.metrics, report=task.report,
                         threads=threads, log=log, options=task.options)
    return [run_one(task.study_dir, task.runs[0], task.metrics, report=task.report,
                    threads=threads, log=log, options=task.options)]
