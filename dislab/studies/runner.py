"""What happens to one run of a study, in whichever process runs it: lock, train (or resume),
evaluate, report, record.

:func:`run_one` and :func:`run_group` are the units of work every executor ships (a pool worker, a
Ray task, or this process). They never raise for a failing run: the error is recorded in
``status/<run>.json`` and returned, so one bad run cannot stop a study.

A run is *complete* when its training reached ``steps``, its ``evaluation.json`` holds every metric
the study asks for and its ``report.html`` exists; each stage is redone only when its output is
missing, so a rerun of a study continues exactly where it stopped.
"""
from __future__ import annotations

import contextlib
import math
import time
import traceback
from pathlib import Path
from typing import Any, Iterator, Sequence

from dislab.runs.layout import CHECKPOINT, CONFIG, EVALUATION, REPORT
from dislab.studies.folder import StudyFolder
from dislab.studies.locking import RunLock
from dislab.studies.study import RunSpec

# Result states returned to the executor (and counted by `dislab sweep`).
DONE, FAILED, BUSY, SKIPPED = "done", "failed", "busy", "skipped"


@contextlib.contextmanager
def _output_to(path: Path | None) -> Iterator[None]:
    """Send this run's prints and progress bars to its log file (workers share one terminal)."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", buffering=1) as f, \
            contextlib.redirect_stdout(f), contextlib.redirect_stderr(f):
        yield


# -- what is there -------------------------------------------------------------------------------
def training_step(run_dir: Path) -> tuple[int, int] | None:
    """(last checkpoint step, configured steps) of a run folder, or None if training never started."""
    from dislab.errors import DislabError
    from dislab.training import open_run

    if not (run_dir / CONFIG).is_file():
        return None
    try:
        run = open_run(run_dir)
        return run.step, run.config.steps
    except (DislabError, ValueError, KeyError):
        return None


def evaluated_metrics(run_dir: Path) -> set[str]:
    """Names of the metric blocks in a run's evaluation.json that were computed at the run's
    current step (``dislab evaluate`` drops the others when it next writes)."""
    from dislab.io import read_json

    p = run_dir / EVALUATION
    st = training_step(run_dir)
    if not p.is_file() or st is None:
        return set()
    try:
        data = read_json(p)
    except ValueError:
        return set()
    if data.get("step") != st[0] or not isinstance(data.get("metrics"), dict):
        return set()
    return {k for k, v in data["metrics"].items() if isinstance(v, dict)} - {"udr"}


def missing_stages(folder: StudyFolder, run: RunSpec, metrics: Sequence[str] | None,
                   report: bool = True) -> list[str]:
    """Stages still to do for ``run``: a subset of ["train", "evaluate", "report"], in order."""
    run_dir = folder.run_dir(run.name)
    todo = []
    st = training_step(run_dir)
    if st is None or st[0] < st[1]:
        todo.append("train")
    done = evaluated_metrics(run_dir)
    if "train" in todo or (metrics is None and not done) or (metrics is not None and not set(metrics) <= done):
        todo.append("evaluate")
    if report and (todo or not (run_dir / REPORT).is_file()):
        todo.append("report")
    return todo


# -- the stages ----------------------------------------------------------------------------------
def _train(run: RunSpec, run_dir: Path) -> None:
    """Train a new run, or resume a started one (which also rebuilds the step 0 of a run killed
    before its first checkpoint). A folder that cannot be resumed (config.json or latest.json
    unreadable, files but no config.json) is never deleted: it may hold weights, an evaluation, a
    report or the user's own files. The run fails with a message saying so, and stays failed
    (the sweep skips it) until the folder is repaired or moved away."""
    from dislab.errors import DislabError, RunError
    from dislab.training import open_run, resume, train
    from dislab.training.checkpoint import latest_step
    from dislab.training.run import remove_stale_temporaries

    keep = ("the sweep does not delete a run folder, which may hold weights, an evaluation or your "
            "files: repair it or move it away, then rerun with --retry-failed")
    if not (run_dir / CONFIG).is_file():
        if run_dir.is_dir():
            remove_stale_temporaries(run_dir)  # a kill while config.json was being written
            if any(run_dir.iterdir()):
                raise RunError(f"{run_dir}: holds files but no {CONFIG}, so it cannot be resumed; {keep}")
        train(run.train_config(), out=run_dir, progress=True)
    else:
        try:
            opened = open_run(run_dir)
            _ = opened.config, opened.model_name, latest_step(run_dir / CHECKPOINT)
        except (DislabError, ValueError, KeyError, TypeError) as e:
            raise RunError(f"{run_dir}: cannot be resumed ({e}); {keep}") from None
        resume(run_dir, progress=True)
    check_finite_log(run_dir)


def check_finite_log(run_dir: Path) -> None:
    """Raise if the run's log shows a non-finite loss (a trainer that did not stop on one)."""
    from dislab.training import NonFiniteLossError, open_run

    for row in open_run(run_dir).train_log():
        loss = row.get("loss")
        if loss is None or (isinstance(loss, float) and not math.isfinite(loss)):
            raise NonFiniteLossError(f"non-finite loss ({loss}) at step {row.get('step')}")


def _evaluate(run_dir: Path, metrics: Sequence[str] | None, options: dict[str, Any]) -> None:
    from dislab.runs import evaluate

    if metrics is None:
        evaluate(run_dir, progress=False, **options)
    else:
        missing = [m for m in metrics if m not in evaluated_metrics(run_dir)]
        if missing:
            evaluate(run_dir, metrics=missing, progress=False, **options)


def _report(run_dir: Path, options: dict[str, Any]) -> None:
    from dislab.viz.report import write_report

    write_report(run_dir, progress=False, **options)


def finish_run(folder: StudyFolder, run: RunSpec, metrics: Sequence[str] | None, stages: Sequence[str],
               t0: float, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Evaluate and report a trained run (the stages after training), recording the outcome."""
    run_dir = folder.run_dir(run.name)
    stage = "evaluate"
    try:
        if "evaluate" in stages:
            _evaluate(run_dir, metrics, (options or {}).get("evaluate", {}))
        stage = "report"
        if "report" in stages:
            _report(run_dir, (options or {}).get("report", {}))
    except Exception as e:  # noqa: BLE001 - a failing run is recorded, the study goes on
        return folder.record_failure(run, e, stage=stage)
    seconds = time.time() - t0
    folder.set_status(run.name, DONE, stages=list(stages), seconds=seconds)
    return {"run": run.name, "state": DONE, "stages": list(stages), "seconds": seconds}


# -- the units of work ---------------------------------------------------------------------------
def set_threads(threads: int | None) -> None:
    if threads:
        import torch

        torch.set_num_threads(max(1, int(threads)))


def run_one(study_dir: str, run: dict, metrics: Sequence[str] | None, *, report: bool = True,
            threads: int | None = None, log: bool = True, options: dict | None = None) -> dict[str, Any]:
    """Lock, then train/resume, evaluate and report one run. Returns ``{"run", "state", ...}``
    with state ``done``, ``failed``, ``busy`` (another process holds its lock) or ``skipped``
    (nothing to do)."""
    set_threads(threads)
    folder = StudyFolder(study_dir)
    spec = RunSpec.from_dict(run)
    lock = RunLock(folder.lock_path(spec.name))
    if not lock.acquire():
        return {"run": spec.name, "state": BUSY, "holder": lock.holder()}
    try:
        stages = missing_stages(folder, spec, metrics, report)
        if not stages:
            return {"run": spec.name, "state": SKIPPED}
        t0 = time.time()
        folder.set_status(spec.name, "running", stages=stages)
        with _output_to(folder.log_path(spec.name) if log else None):
            if "train" in stages:
                try:
                    _train(spec, folder.run_dir(spec.name))
                except Exception as e:  # noqa: BLE001
                    return folder.record_failure(spec, e, stage="train")
            return finish_run(folder, spec, metrics, stages, t0, options)
    finally:
        lock.release()


def run_group(study_dir: str, runs: list[dict], metrics: Sequence[str] | None, *, report: bool = True,
              threads: int | None = None, log: bool = True, options: dict | None = None) -> list[dict[str, Any]]:
    """Train the seeds of one setting side by side as one vectorised model
    (:mod:`dislab.studies.stacked`), then evaluate and report each run. Runs whose lock another
    process holds, or that are complete, are left out; runs whose training checkpoints stand at
    different steps are stacked by step."""
    set_threads(threads)
    folder = StudyFolder(study_dir)
    specs = [RunSpec.from_dict(r) for r in runs]
    locks: dict[str, RunLock] = {}
    results: list[dict[str, Any]] = []
    try:
        todo: list[tuple[RunSpec, list[str]]] = []
        for spec in specs:
            lock = RunLock(folder.lock_path(spec.name))
            if not lock.acquire():
                results.append({"run": spec.name, "state": BUSY, "holder": lock.holder()})
                continue
            locks[spec.name] = lock
            stages = missing_stages(folder, spec, metrics, report)
            if not stages:
                results.append({"run": spec.name, "state": SKIPPED})
            else:
                todo.append((spec, stages))
        if not todo:
            return results
        t0 = time.time()
        for spec, stages in todo:
            folder.set_status(spec.name, "running", stages=stages, stacked=len(todo))
        to_train = [spec for spec, stages in todo if "train" in stages]
        failed: dict[str, dict] = {}
        if to_train:
            log_path = folder.log_path(to_train[0].name) if log else None
            with _output_to(log_path):
                failed = _train_stacked(folder, to_train)
        for spec, stages in todo:
            if spec.name in failed:
                results.append(failed[spec.name])
                continue
            with _output_to(folder.log_path(spec.name) if log else None):
                results.append(finish_run(folder, spec, metrics, stages, t0, options))
        return results
    finally:
        for lock in locks.values():
            lock.release()


def _train_stacked(folder: StudyFolder, specs: list[RunSpec]) -> dict[str, dict]:
    """Train ``specs`` (same setting, different seeds) together; returns the failures by name."""
    from dislab.studies.stacked import train_stacked

    dirs = [folder.run_dir(s.name) for s in specs]
    failures: dict[str, dict] = {}
    try:
        errors = train_stacked([s.train_config() for s in specs], dirs, progress=True)
    except Exception as e:  # noqa: BLE001 - the whole stack failed (e.g. a model vmap cannot run)
        tb = traceback.format_exc()
        return {s.name: folder.record_failure(s, e, stage="train", tb=tb) for s in specs}
    for spec, err in zip(specs, errors):
        if err is not None:
            failures[spec.name] = folder.record_failure(spec, err, stage="train")
            continue
        try:
            check_finite_log(folder.run_dir(spec.name))
        except Exception as e:  # noqa: BLE001
            failures[spec.name] = folder.record_failure(spec, e, stage="train")
    return failures

