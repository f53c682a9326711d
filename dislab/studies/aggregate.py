"""One table of a study: every run's settings, config and scores.

Columns: ``run``, ``group``, ``state`` (done / failed / running / interrupted / pending), ``step``,
``error``, then
each swept key, then the run config (``model``, ``dataset``, ``seed``, ``steps``, ...,
``model_options.KEY``, ``dataset_options.KEY``), then every scalar score of evaluation.json as
``METRIC.KEY`` (``mig.mig``, ``dci.disentanglement``, ``udr.udr_lasso``, ...), then the training
summary of the run's log (``train.elbo``: mean ELBO of the last ``TRAIN_LAST`` log rows, nats per
image; ``train.wall_s``: its training wall time) and where it ran (``trained_on``, from its
config.json, and ``evaluated_on``, from evaluation.json: :func:`dislab.machine.describe`; empty for
files written before dislab recorded it). Lists and matrices stay in the run folders.

Written as ``results.csv`` (spreadsheets, pandas) and ``results.sqlite`` (table ``runs``, one typed
column per field), both atomically. SQLite rather than Parquet: it is in Python's standard library,
so the table needs no extra dependency, and it answers SQL queries directly
(``sqlite3 results.sqlite "select model, avg(\\"mig.mig\\") from runs group by model"``).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any

from dislab.io import atomic_path, atomic_write_text, read_json
from dislab.runs.layout import EVALUATION
from dislab.studies.folder import StudyFolder

TABLE_CSV = "results.csv"
TABLE_SQLITE = "results.sqlite"
FIXED_COLUMNS = ("run", "group", "state", "step", "error")
TRAIN_COLUMNS = ("train.elbo", "train.wall_s", "trained_on", "evaluated_on")
TRAIN_LAST = 5  # log rows averaged for train.elbo


def _flat(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = ("x".join(str(v) for v in value) if all(isinstance(v, (int, float, str)) for v in value)
                       else json.dumps(value))
    else:
        out[prefix] = value


def _scores(evaluation: dict[str, Any]) -> dict[str, Any]:
    """Scalar numbers of every metric block, as ``METRIC.KEY``."""
    blocks = evaluation.get("metrics") if isinstance(evaluation.get("metrics"), dict) else {}
    out: dict[str, Any] = {}
    for name, body in blocks.items():
        if not isinstance(body, dict):
            continue
        for key, v in body.items():
            if isinstance(v, bool) or not isinstance(v, (int, float)) and v is not None:
                continue
            out[f"{name}.{key}"] = v
    return out


def _machine(payload: dict[str, Any]) -> str | None:
    """The machine named in a dislab JSON payload's provenance block, or None."""
    block = payload.get("dislab")
    return block.get("machine") if isinstance(block, dict) else None


def _training_summary(run_dir: Path) -> dict[str, Any]:
    """``train.elbo``, ``train.wall_s`` (from train_log.jsonl) and ``trained_on`` of a run folder."""
    from dislab.runs.layout import CONFIG, TRAIN_LOG
    from dislab.training.run import read_log

    log = [r for r in read_log(run_dir / TRAIN_LOG) if isinstance(r, dict) and "elbo" in r]
    elbos = [float(r["elbo"]) for r in log[-TRAIN_LAST:] if isinstance(r.get("elbo"), (int, float))]
    return {"train.elbo": sum(elbos) / len(elbos) if elbos else None,
            "train.wall_s": log[-1].get("wall_time_s") if log else None,
            "trained_on": _machine(_read(run_dir / CONFIG)) if (run_dir / CONFIG).is_file() else None}


def _read(path: Path) -> dict[str, Any]:
    """A JSON file's payload, or {} where it is corrupt."""
    try:
        return read_json(path)
    except ValueError:
        return {}


def rows(folder: str | os.PathLike) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """The study's rows, with the ordered column names and which of them are scores."""
    from dislab.studies.runner import training_step

    sf = StudyFolder(folder)
    study = sf.read_study()
    out: list[dict[str, Any]] = []
    score_cols: list[str] = []
    config_cols: list[str] = []
    for run in study.runs:
        run_dir = sf.run_dir(run.name)
        status = sf.status(run.name) or {}
        st = training_step(run_dir)
        row: dict[str, Any] = {"run": run.name, "group": run.group,
                               "state": _state(status),
                               "step": None if st is None else st[0],
                               "error": status.get("error") if status.get("state") == "failed" else None}
        row.update({k: v for k, v in run.settings.items()})
        cfg: dict[str, Any] = {}
        _flat("", run.config, cfg)
        for k in cfg:
            if k not in config_cols:
                config_cols.append(k)
        row.update({k: v for k, v in cfg.items() if k not in row})
        ev_path = run_dir / EVALUATION
        evaluated_on = None
        if ev_path.is_file():
            evaluation = _read(ev_path)  # read once: its scores and where they were computed
            sc = _scores(evaluation)
            for k in sc:
                if k not in score_cols:
                    score_cols.append(k)
            row.update(sc)
            evaluated_on = _machine(evaluation)
        row.update(_training_summary(run_dir), evaluated_on=evaluated_on)
        out.append(row)
    swept = [k for k in study.swept]
    columns = list(FIXED_COLUMNS) + swept + [c for c in config_cols if c not in swept] + \
        sorted(score_cols, key=lambda c: (c.startswith("udr."), c)) + list(TRAIN_COLUMNS)
    return out, columns, [c for c in columns if c in score_cols]


def _state(status: dict[str, Any]) -> str:
    """A run's state from its status record; "running" whose process is gone reads "interrupted"."""
    state = status.get("state", "pending")
    if state == "running" and status.get("host") == socket.gethostname():
        try:
            os.kill(int(status.get("pid", -1)), 0)
        except ProcessLookupError:
            return "interrupted"
        except (PermissionError, ValueError, OverflowError):
            pass
    return state


def _sql_type(values: list[Any]) -> str:
    vals = [v for v in values if v is not None]
    if vals and all(isinstance(v, int) and not isinstance(v, bool) for v in vals):
        return "INTEGER"
    if vals and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        return "REAL"
    return "TEXT"


def _sql_value(v: Any) -> Any:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (int, float, str)) or v is None:
        return v
    return str(v)


def write_table(folder: str | os.PathLike) -> Path:
    """Write results.csv and results.sqlite of the study in ``folder``; returns the CSV's path."""
    sf = StudyFolder(folder)
    table, columns, _ = rows(folder)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in table:
        writer.writerow({c: ("" if r.get(c) is None else r.get(c)) for c in columns})
    atomic_write_text(sf.path / TABLE_CSV, buf.getvalue())
    types = {c: _sql_type([r.get(c) for r in table]) for c in columns}
    with atomic_path(sf.path / TABLE_SQLITE) as tmp:
        con = sqlite3.connect(tmp)
        try:
            cols = ", ".join(f'"{c}" {types[c]}' for c in columns)
            con.execute(f"CREATE TABLE runs ({cols})")
            marks = ", ".join("?" for _ in columns)
            con.executemany(f"INSERT INTO runs VALUES ({marks})",
                            [[_sql_value(r.get(c)) for c in columns] for r in table])
            con.commit()
        finally:
            con.close()
    return sf.path / TABLE_CSV


def results(folder: str | os.PathLike, *, figures: bool = True) -> dict[str, Any]:
    """Table, figures and report page of a study (what ``dislab results`` writes)."""
    from dislab.studies import figures as figs
    from dislab.studies.page import write_page

    sf = StudyFolder(folder)
    study = sf.read_study()
    csv_path = write_table(folder)
    table, columns, scores = rows(folder)
    paths = figs.draw(table, scores, list(study.swept), sf.path / "figures") if figures else []
    page = write_page(sf.path, study.name, table, columns, scores, list(study.swept), paths)
    states: dict[str, int] = {}
    for r in table:
        states[r["state"]] = states.get(r["state"], 0) + 1
    return {"n_runs": len(table), "states": states, "csv": csv_path, "sqlite": sf.path / TABLE_SQLITE,
            "figures": paths, "page": page}
