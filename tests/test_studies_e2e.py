"""A small study end to end: 2 models × 2 β × 3 seeds of tiny runs on toy_blobs, with the local
executor (killed mid-way, then resumed), with Ray (a local instance with 2 CPUs), and with stacked
seeds; then its UDR scores, table and figures."""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dislab.runs import evaluate
from dislab.studies.locking import RunLock
from test_studies import TINY, study_file

pytestmark = pytest.mark.slow

GRID = 'model = ["beta_vae", "beta_tcvae"]\nbeta = [1.0, 4.0]\nseed = [0, 1, 2]'
STEPS = 12
BASE = {**TINY, "steps": STEPS, "checkpoint_every": 2}


def _steps(run_dir: Path) -> int | None:
    manifest = run_dir / "checkpoint" / "latest.json"
    try:
        return int(json.loads(manifest.read_text())["step"])
    except (OSError, ValueError, KeyError):
        return None


def _states(out: Path) -> dict[str, str]:
    return {p.stem: json.loads(p.read_text())["state"] for p in (out / "status").glob("*.json")}


def test_local_study_killed_resumed_then_udr_table_and_figures(tmp_path):
    from dislab.cli import main
    from dislab.studies.sweep import sweep

    study = study_file(tmp_path, GRID, base=BASE)
    out = tmp_path / "study"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "dislab.cli", "sweep", str(study), "--out", str(out),
                             "--workers", "2", "--quiet"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    caught: dict[str, tuple[int, int]] = {}  # run -> (checkpoint step, inode of config.json)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            for run_dir in (out / "runs").glob("*") if (out / "runs").is_dir() else []:
                s = _steps(run_dir)
                if s is not None and 0 < s < STEPS:
                    caught[run_dir.name] = (s, (run_dir / "config.json").stat().st_ino)
            if caught:
                os.kill(proc.pid, signal.SIGKILL)  # the sweep process only: its workers must notice
                break
            time.sleep(0.01)
        proc.wait(timeout=30)
        assert caught, f"the sweep ended before a run was caught mid-training: {proc.stderr.read()[-2000:]}"
        # the orphaned workers exit and the kernel frees their locks
        for lock in (out / "locks").glob("*.lock"):
            held = RunLock(lock)
            assert held.acquire(timeout=15), f"{lock.name} still held by {held.holder()}"
            held.release()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # any worker left behind
        except ProcessLookupError:
            pass
    done_before = {n for n, s in _states(out).items() if s == "done"}
    assert len(done_before) < 12

    summary = sweep(study, out, workers=2, progress=False)
    assert summary.failed == {} and summary.busy == []
    assert summary.counts.get("done", 0) + summary.counts.get("skipped", 0) == 12
    assert summary.counts.get("skipped", 0) >= len(done_before)
    assert set(_states(out).values()) == {"done"}
    for name, (step, inode) in caught.items():
        run_dir = out / "runs" / name
        # resumed in place from its checkpoint, not restarted: same folder, every step logged once
        assert (run_dir / "config.json").stat().st_ino == inode
        assert [r["step"] for r in map(json.loads, (run_dir / "train_log.jsonl").read_text().splitlines())] == \
            list(range(1, STEPS + 1))
        assert _steps(run_dir) == STEPS
    for run_dir in (out / "runs").iterdir():
        ev = json.loads((run_dir / "evaluation.json").read_text())
        assert ev["step"] == STEPS  # the evaluation is of the final weights, also of a resumed run
        again = evaluate(run_dir, metrics="mig", progress=False, write=False,
                         **{k: v for k, v in ev["parameters"]["mig"].items() if k in ("n_train", "seed")})
        assert again["metrics"]["mig"]["mig"] == ev["metrics"]["mig"]["mig"]
        assert (run_dir / "report.html").is_file()

    # UDR: every run against the other seeds of its setting, the same numbers as by hand
    assert main(["udr", str(out), "--quiet"]) == 0
    udr_json = json.loads((out / "udr.json").read_text())
    assert len(udr_json["groups"]) == 4 and all(len(g["runs"]) == 3 for g in udr_json["groups"].values())
    group, entry = next(iter(udr_json["groups"].items()))
    from dislab.metrics.udr import udr
    from dislab.studies.study_udr import encode_group

    codes, kls, _ = encode_group([out / "runs" / n for n in entry["runs"]], 100, 0)
    by_hand = udr(codes, kls, method="lasso", kl_threshold=0.0)["udr"]
    assert np.allclose(entry["lasso"]["udr"], by_hand)
    for name, value in zip(entry["runs"], by_hand):
        block = json.loads((out / "runs" / name / "evaluation.json").read_text())["metrics"]["udr"]
        assert block["udr_lasso"] == pytest.approx(value) and 0.0 <= block["udr_spearman"] <= 1.0
        assert block["group"] == group
    assert any(v > 0 for g in udr_json["groups"].values() for v in g["spearman"]["udr"])

    # the table and the figures
    assert main(["results", str(out)]) == 0
    header, *lines = (out / "results.csv").read_text().splitlines()
    cols = header.split(",")
    assert len(lines) == 12 and {"model", "beta", "seed", "mig.mig", "udr.udr_lasso", "udr.udr_spearman"} <= set(cols)
    con = sqlite3.connect(out / "results.sqlite")
    try:
        got = con.execute('select model, count(*), avg("udr.udr_lasso") from runs group by model order by model').fetchall()
    finally:
        con.close()
    assert [(m, n) for m, n, _ in got] == [("beta_tcvae", 6), ("beta_vae", 6)]
    for model, _, mean in got:  # the table's mean is the mean of the runs' own records
        own = [json.loads((d / "evaluation.json").read_text())["metrics"]["udr"]["udr_lasso"]
               for d in (out / "runs").iterdir() if d.name.startswith(model + "-")]
        assert mean == pytest.approx(np.mean(own))
    figures = {p.name for p in (out / "figures").glob("*.png")}
    assert {"scores_mig.mig.png", "scores_udr.udr_lasso.png", "rank_correlation.png", "udr_vs_mig.mig.png"} <= figures
    page = (out / "index.html").read_text()
    assert page.count('/report.html"') == 12 and "figures/rank_correlation.png" in page


def test_stacked_seeds_through_a_sweep(tmp_path):
    """--seeds-per-process 3: one task trains the three seeds side by side; each run is then
    evaluated and reported like any other."""
    from dislab.studies.sweep import sweep

    study = study_file(tmp_path, 'model = ["beta_vae"]\nseed = [0, 1, 2]', base={**TINY, "beta": 4.0})
    out = tmp_path / "study"
    s = sweep(study, out, workers=0, seeds_per_process=3, progress=False)
    assert s.counts == {"skipped": 0, "failed": 0, "done": 3}
    for run_dir in (out / "runs").iterdir():
        state = json.loads((run_dir / "checkpoint" / json.loads(
            (run_dir / "checkpoint" / "latest.json").read_text())["folder"] / "state.json").read_text())
        assert state["stacked"] == 3 and state["step"] == TINY["steps"]
        assert "mig" in json.loads((run_dir / "evaluation.json").read_text())["metrics"]
    again = sweep(study, out, workers=0, seeds_per_process=3, progress=False)
    assert again.counts.get("skipped") == 3 and not again.counts.get("done")


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray", reason="the ray executor needs the optional extra dislab[ray]")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False,
             object_store_memory=80 * 1024 * 1024,
             runtime_env={"env_vars": {"OMP_NUM_THREADS": "1",
                                       "PYTHONPATH": str(Path(__file__).resolve().parents[1])}})
    yield ray
    ray.shutdown()


def test_ray_executor_runs_the_study_and_records_failures(tmp_path, ray_session):
    from dislab.studies.sweep import sweep

    study = study_file(tmp_path, GRID, base=BASE)
    out = tmp_path / "study"
    s = sweep(study, out, executor="ray", progress=False)
    assert s.counts.get("done") == 12 and not s.failed
    assert set(_states(out).values()) == {"done"}
    for run_dir in (out / "runs").iterdir():
        assert _steps(run_dir) == STEPS and (run_dir / "report.html").is_file()
        assert "mig" in json.loads((run_dir / "evaluation.json").read_text())["metrics"]

    # a run that raises in its Ray task is recorded with its error; the other one finishes
    bad_base = {k: v for k, v in TINY.items() if k != "dataset_options"}
    bad = study_file(tmp_path, 'model = ["vae"]\nseed = [0]\n"dataset_options.side" = [16, 4]', base=bad_base)
    s = sweep(bad, tmp_path / "bad", executor="ray", progress=False, report=False)
    assert s.counts.get("done") == 1 and len(s.failed) == 1
    assert "side must be a whole number >= 8" in next(iter(s.failed.values()))
