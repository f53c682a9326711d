"""Run a study: plan what is left, ship it to an executor, count what came back.

    from dislab.studies import sweep
    summary = sweep("study.toml", "studies/demo", executor="local", workers=2)

Planning reads the study folder, not a memory of earlier sweeps: a run is skipped when its files
say it is complete, resumed when it has a checkpoint, and left alone when another process holds its
lock. Runs whose last attempt failed are skipped unless ``retry_failed`` (a deterministic failure
would fail again), and reported.
"""
from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Collection

from dislab import progress as bars
from dislab.errors import ConfigError
from dislab.studies.folder import StudyFolder
from dislab.studies.runner import BUSY, DONE, FAILED, SKIPPED, missing_stages
from dislab.studies.study import RunSpec, Study, load_study
from dislab.studies.tasks import Task

EXECUTORS = ("local", "ray")


@dataclass
class SweepSummary:
    folder: Path
    total: int
    counts: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)   # run -> error
    busy: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def line(self) -> str:
        parts = [f"{self.counts.get(k, 0)} {k}" for k in (DONE, SKIPPED, FAILED, BUSY)
                 if self.counts.get(k)]
        return (f"{self.folder}: {self.total} runs: " + (", ".join(parts) or "nothing to do")
                + f" ({self.seconds:.0f} s)")


def plan(study: Study, folder: StudyFolder, *, seeds_per_process: int = 1, retry_failed: bool = False,
         report: bool = True, skip: Collection[str] = ()) -> tuple[list[Task], dict[str, str], int]:
    """Tasks for the runs not yet complete; also the earlier failures skipped and the number of
    complete runs (with those named in ``skip``). With ``seeds_per_process`` K > 1, runs that
    differ only in ``seed`` go K to a task."""
    todo: list[RunSpec] = []
    skipped_failures: dict[str, str] = {}
    complete = 0
    for run in study.runs:
        if run.name in skip or not missing_stages(folder, run, study.metrics, report):
            complete += 1
            continue
        status = folder.status(run.name)
        if status and status.get("state") == FAILED and not retry_failed:
            skipped_failures[run.name] = str(status.get("error"))
            continue
        todo.append(run)
    metrics = study.metrics
    options = {"evaluate": dict(study.evaluate), "report": dict(study.report)}
    tasks: list[Task] = []
    if seeds_per_process <= 1:
        tasks = [Task(str(folder.path), (r.to_dict(),), metrics, report, options=options) for r in todo]
    else:
        by_setting: dict[str, list[RunSpec]] = {}
        for r in todo:
            key = _without_seed(r.config)
            by_setting.setdefault(key, []).append(r)
        for runs in by_setting.values():
            for i in range(0, len(runs), seeds_per_process):
                chunk = runs[i:i + seeds_per_process]
                tasks.append(Task(str(folder.path), tuple(r.to_dict() for r in chunk), metrics, report,
                                  stacked=len(chunk) > 1, options=options))
    return tasks, skipped_failures, complete


def _without_seed(config: dict) -> str:
    import json

    return json.dumps({k: v for k, v in config.items() if k != "seed"}, sort_keys=True)


def sweep(study: str | os.PathLike | Study, out: str | os.PathLike, *, executor: str = "local",
          workers: int | None = None, address: str | None = None, seeds_per_process: int = 1,
          retry_failed: bool = False, report: bool = True, cpus_per_run: float | None = None,
          gpus_per_run: float = 0.0, progress: bool = True, skip: Collection[str] = ()) -> SweepSummary:
    """Train, evaluate and report every run of ``study`` into the folder ``out`` (see module doc).
    ``skip``: names of runs finished elsewhere (a reproduction carried from its summary): not
    trained here, counted as skipped."""
    from tqdm.auto import tqdm

    if executor not in EXECUTORS:
        raise ConfigError(f"unknown executor {executor!r}; expected one of {list(EXECUTORS)}")
    if seeds_per_process < 1:
        raise ConfigError(f"seeds_per_process (--seeds-per-process) must be >= 1, got {seeds_per_process}")
    if workers is not None and workers < 0:
        raise ConfigError(f"workers (--workers) must be >= 0, got {workers}")
    source = None
    if not isinstance(study, Study):
        source = Path(study)
        study = load_study(source)  # every key and value checked before anything starts
    folder = StudyFolder(out)
    study = folder.write_study(study)
    if source is not None:
        shutil.copyfile(source, folder.path / f"study{source.suffix.lower()}")
    t_start = time.time()
    tasks, old_failures, complete = plan(study, folder, seeds_per_process=seeds_per_process,
                                         retry_failed=retry_failed, report=report, skip=skip)
    summary = SweepSummary(folder=folder.path, total=len(study.runs))
    summary.counts[SKIPPED] = complete
    for name, err in old_failures.items():
        summary.failed[name] = err
    summary.counts[FAILED] = len(old_failures)
    crashes: dict[str, int] = {}
    attempts: dict[tuple, int] = {}
    n_todo = sum(len(t.runs) for t in tasks)
    bar = tqdm(total=n_todo, desc=f"sweep {folder.path.name}", unit="run",
               disable=bars.disable(progress and bool(n_todo)))

    def on_result(task: Task, results: list[dict[str, Any]]) -> None:
        for r in results:
            state = r.get("state", FAILED)
            summary.counts[state] = summary.counts.get(state, 0) + 1
            if state == FAILED:
                summary.failed[r["run"]] = str(r.get("error"))
                bar.write(f"failed: {r['run']} ({r.get('stage')}): {r.get('error')}")
            elif state == BUSY:
                summary.busy.append(r["run"])
            bar.update(1)
        bar.set_postfix({k: v for k, v in summary.counts.items() if v}, refresh=False)

    def on_crash(task: Task, message: str) -> list[dict[str, Any]] | None:
        """A worker died under ``task``: resubmit, unless one of its runs was in progress in
        CRASHES_BEFORE_FAILED crashes (then record the task's unfinished runs as failed)."""
        from dislab.studies.local import CRASHES_BEFORE_FAILED

        started = [n for n in task.names if _running_since(folder, n, t_start)]
        for n in started:
            crashes[n] = crashes.get(n, 0) + 1
        key = tuple(task.names)
        attempts[key] = attempts.get(key, 0) + 1
        if executor == "local" and attempts[key] <= CRASHES_BEFORE_FAILED and all(
                crashes[n] < CRASHES_BEFORE_FAILED for n in started):
            return None  # resubmit
        out = []
        for n in task.names:
            st = folder.status(n) or {}
            if st.get("state") == DONE and st.get("time", 0) >= t_start:
                out.append({"run": n, "state": DONE})
            else:
                out.append(folder.record_failure(n, message, stage=st.get("stages", ["?"])[0]
                                                 if st.get("state") == "running" else "start"))
        return out

    try:
        if executor == "local":
            from dislab.studies.local import run_local

            n_workers = default_workers() if workers is None else workers
            threads = int(cpus_per_run) if cpus_per_run else None
            # workers=0 trains here, through code that asks for its bars; quiet keeps --quiet's word
            with bars.quiet(not progress):
                run_local(tasks, workers=n_workers, threads=threads, on_result=on_result, on_crash=on_crash)
        else:
            from dislab.studies.ray_executor import run_ray

            run_ray(tasks, address=address, workers=workers, cpus_per_run=cpus_per_run or 1.0,
                    gpus_per_run=gpus_per_run, on_result=on_result, on_crash=on_crash)
    finally:
        bar.close()
    summary.seconds = time.time() - t_start
    return summary


def _running_since(folder: StudyFolder, name: str, since: float) -> bool:
    st = folder.status(name)
    return bool(st) and st.get("state") == "running" and float(st.get("time", 0)) >= since


def default_workers() -> int:
    """One worker per two cores (a conv64 run gains ~1.7× from its second thread), at least 1;
    one when a GPU is present (the runs share it)."""
    import torch

    if torch.cuda.is_available():
        return 1
    return max(1, (os.cpu_count() or 1) // 2)
