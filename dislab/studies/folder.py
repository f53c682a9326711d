"""The study folder: where every run, lock, status record and result of a study lives.

Layout (docs/studies.md)::

    study.json          the resolved study: every run's name, settings, config and UDR group
    study.toml|yaml     the study file as given (for the record)
    runs/<run>/         ordinary run folders (training, evaluation.json, report.html)
    locks/<run>.lock    one advisory lock per run (dislab.studies.locking)
    status/<run>.json   state of the run's last attempt: "running", "done" or "failed" + error
    logs/<run>.log      what the run printed (worker processes)
    udr.json            UDR of every run against its group (`dislab udr`)
    results.csv         one row per run: settings, config, scores (`dislab results`)
    results.sqlite      the same table, queryable (`runs` table)
    figures/            study figures (PNG)
    index.html          study report page linking every run's report.html
"""
from __future__ import annotations

import os
import socket
import time
import traceback
from pathlib import Path
from typing import Any

from dislab.errors import RunError
from dislab.io import read_json, write_json
from dislab.runs.layout import STUDY_JSON, STUDY_LOCKS, STUDY_LOGS, STUDY_RUNS, STUDY_STATUS
from dislab.studies.study import RunSpec, Study

PRODUCER = "dislab.studies"


class StudyFolder:
    """Paths and small records of one study folder."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    # -- paths -------------------------------------------------------------------------------
    @property
    def study_json(self) -> Path:
        return self.path / STUDY_JSON

    def run_dir(self, name: str) -> Path:
        return self.path / STUDY_RUNS / name

    def lock_path(self, name: str) -> Path:
        return self.path / STUDY_LOCKS / f"{name}.lock"

    def status_path(self, name: str) -> Path:
        return self.path / STUDY_STATUS / f"{name}.json"

    def log_path(self, name: str) -> Path:
        return self.path / STUDY_LOGS / f"{name}.log"

    # -- the study ---------------------------------------------------------------------------
    def write_study(self, study: Study) -> Study:
        """Record ``study`` in study.json. Runs already recorded by an earlier, different study in
        this folder are kept (after the new ones), so its results stay in the table."""
        merged = study
        if self.study_json.is_file():
            old = self.read_study()
            names = {r.name for r in study.runs}
            kept = tuple(r for r in old.runs if r.name not in names)
            if kept:
                merged = Study(name=study.name, runs=study.runs + kept, swept=tuple(dict.fromkeys(
                    study.swept + old.swept)), metrics=study.metrics, udr=study.udr, source=study.source)
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(self.study_json, merged.to_dict(), produced_by=PRODUCER)
        return merged

    def read_study(self) -> Study:
        if not self.study_json.is_file():
            raise RunError(f"{self.path}: not a study folder ({STUDY_JSON} missing); "
                           "run `dislab sweep STUDY.toml --out FOLDER` first")
        data = read_json(self.study_json)
        data.pop("dislab", None)
        return Study.from_dict(data)

    # -- status records ----------------------------------------------------------------------
    def status(self, name: str) -> dict[str, Any] | None:
        p = self.status_path(name)
        if not p.is_file():
            return None
        try:
            return read_json(p)
        except ValueError:
            return None

    def set_status(self, name: str, state: str, **fields: Any) -> None:
        write_json(self.status_path(name), {
            "run": name, "state": state, "pid": os.getpid(), "host": socket.gethostname(),
            "time": time.time(), **fields,
        }, produced_by=PRODUCER)

    def record_failure(self, run: RunSpec | str, error: BaseException | str, *, stage: str,
                       tb: str | None = None) -> dict[str, Any]:
        name = run.name if isinstance(run, RunSpec) else run
        message = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if tb is None and isinstance(error, BaseException):
            tb = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        self.set_status(name, "failed", stage=stage, error=message, traceback=tb)
        return {"run": name, "state": "failed", "stage": stage, "error": message}
