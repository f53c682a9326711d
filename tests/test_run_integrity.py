"""Run folders stay whole whatever is killed when, and whatever is damaged (issue 13, run-folder
integrity): root weights always those of the checkpoint in force, one trainer per run, failed
resumes change nothing, step 0 rebuilt from config.json, log rows over their whole interval,
stale temporaries removed, the thread count of the checkpoint, latest.json confined, damaged
files named."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

import dislab.training.checkpoint as ckpt
import dislab.training.fit as fit
from dislab import cli
from dislab.errors import RunError
from dislab.training import TrainConfig, load, open_run, resume, train

ROOT = Path(__file__).resolve().parents[1]
# The conv64 VAE on toy blobs, 4 images a step; checkpoints (every 3) fall between log rows (every 2).
TINY = dict(model="vae", dataset="toy_blobs", batch_size=4, log_every=2, checkpoint_every=3,
            model_options={"n_latents": 3})


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def weights(path: Path) -> dict[str, torch.Tensor]:
    """Copies: safetensors maps the file, and these tests overwrite files in place."""
    return {k: v.clone() for k, v in load_file(str(path / "model.safetensors" if path.is_dir() else path)).items()}


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def root_step(run_dir: Path) -> str:
    with safe_open(str(run_dir / "model.safetensors"), framework="pt") as f:
        return f.metadata()["step"]


def checkpoint_dir(run_dir: Path) -> Path:
    return run_dir / "checkpoint" / json.loads((run_dir / "checkpoint" / "latest.json").read_text())["folder"]


def interrupt_after(monkeypatch, steps: int, *, per_step: int = 1) -> None:
    """Make training stop as a kill would, after ``steps`` steps (``per_step`` batches a step: the
    stacked trainer draws one per model)."""
    calls = {"n": 0}
    real = fit.sample_batch

    def sample(*args, **kwargs):
        if calls["n"] >= steps * per_step:
            raise KeyboardInterrupt(f"killed after step {steps}")
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(fit, "sample_batch", sample)


def log_values(run_dir: Path) -> list[dict]:
    """The log rows without what depends on the clock."""
    return [{k: v for k, v in r.items() if k not in ("images_per_s", "wall_time_s")}
            for r in open_run(run_dir).train_log()]


def hold_lock(path: Path) -> subprocess.Popen:
    """Another process that holds the lock file ``path`` (the sweeps' flock) until killed."""
    code = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from dislab.studies.locking import RunLock
        lock = RunLock({str(path)!r})
        assert lock.acquire()
        print("held", flush=True)
        time.sleep(120)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


# -- 1. root weights are those of the checkpoint in force --------------------------------------------
def _killed_before_root_write(monkeypatch, out: Path, step: int, **cfg) -> Path:
    real = fit.save_weights

    def save_weights(path, model, metadata):
        if metadata["step"] == str(step):
            raise KeyboardInterrupt("killed between the checkpoint and the root weights")
        return real(path, model, metadata)

    monkeypatch.setattr(fit, "save_weights", save_weights)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**TINY, **cfg), out=out, progress=False)
    monkeypatch.setattr(fit, "save_weights", real)
    return out


def test_a_kill_between_the_last_checkpoint_and_the_root_weights_is_repaired_before_any_read(
        tmp_path, monkeypatch, capsys):
    full = train(TrainConfig(**TINY, steps=6), out=tmp_path / "full", progress=False)
    killed = _killed_before_root_write(monkeypatch, tmp_path / "killed", 6, steps=6)
    assert open_run(killed).step == 6 and root_step(killed) == "3"  # the defect's starting point
    for name in ("load", "resume", "evaluate"):
        shutil.copytree(killed, tmp_path / name)
    # a reader gets the step-6 weights and leaves the root repaired
    model = load(tmp_path / "load")
    assert_same({k: v.contiguous() for k, v in model.state_dict().items()}, weights(full))
    assert root_step(tmp_path / "load") == "6"
    assert_same(weights(tmp_path / "load"), weights(full))
    assert "restored it from" in capsys.readouterr().err
    # resume repairs it although nothing is left to train
    log_before = (tmp_path / "resume" / "train_log.jsonl").read_text()
    resume(tmp_path / "resume", progress=False)
    assert_same(weights(tmp_path / "resume"), weights(full))
    assert (tmp_path / "resume" / "train_log.jsonl").read_text() == log_before
    # what a rerun sweep does with a run at its last step: evaluate it, under the step-6 label
    from dislab.runs import evaluate

    result = evaluate(tmp_path / "evaluate", metrics=["mig"], n_train=64, progress=False)
    assert result["step"] == 6
    assert_same(weights(tmp_path / "evaluate"), weights(full))
    assert result["metrics"]["mig"] == evaluate(full, metrics=["mig"], n_train=64, progress=False,
                                                write=False)["metrics"]["mig"]


def test_a_root_weights_file_out_of_step_while_another_process_trains_is_read_not_written(tmp_path, monkeypatch):
    full = train(TrainConfig(**TINY, steps=6), out=tmp_path / "full", progress=False)
    killed = _killed_before_root_write(monkeypatch, tmp_path / "killed", 6, steps=6)
    stale = (killed / "model.safetensors").read_bytes()
    proc = hold_lock(killed / "train.lock")
    try:
        model = load(killed)  # the checkpoint's weights, and the trainer's files left to it
    finally:
        proc.kill()
        proc.wait()
    assert_same({k: v.contiguous() for k, v in model.state_dict().items()}, weights(full))
    assert (killed / "model.safetensors").read_bytes() == stale


def test_stacked_seeds_killed_between_checkpoint_and_root_weights_are_repaired(tmp_path, monkeypatch):
    from dislab.studies.stacked import train_stacked

    configs = [TrainConfig(**TINY, steps=3, seed=s) for s in (0, 1)]
    outs = [tmp_path / "s0", tmp_path / "s1"]
    real = fit.save_weights  # the trainer's loop writes the root weights of stacked runs too

    def save_weights(path, model, metadata):
        if metadata["step"] == "3":
            raise KeyboardInterrupt("killed between the checkpoint and the root weights")
        return real(path, model, metadata)

    monkeypatch.setattr(fit, "save_weights", save_weights)
    with pytest.raises(KeyboardInterrupt):
        train_stacked(configs, outs, progress=False)
    monkeypatch.setattr(fit, "save_weights", real)
    assert open_run(outs[0]).step == 3 and root_step(outs[0]) == "0"
    assert train_stacked(configs, outs, progress=False) == [None, None]  # the rerun: nothing to train
    for out in outs:
        assert root_step(out) == "3"
        assert_same(weights(out), weights(checkpoint_dir(out)))


# -- 2. a sweep never deletes a run folder -----------------------------------------------------------
def test_a_sweep_refuses_a_run_folder_it_cannot_read_and_deletes_nothing(tmp_path):
    from dislab.studies.sweep import sweep

    base = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k not in ("model", "model_options"))
    study = tmp_path / "study.toml"
    study.write_text(f'metrics = ["mig"]\n[base]\n{base}\nsteps = 3\nn_latents = 3\n'
                     '[grid]\nmodel = ["vae"]\nseed = [0, 1]\n[evaluate]\nn_train = 64\n')
    out = tmp_path / "out"
    counts = lambda s: {k: n for k, n in s.counts.items() if n}  # noqa: E731
    assert counts(sweep(study, out, workers=0, progress=False, report=False)) == {"done": 2}
    runs = sorted((out / "runs").iterdir())
    (runs[0] / "checkpoint" / "latest.json").write_text("{not json")
    (runs[1] / "config.json").write_text("")
    before = {}
    for r in runs:
        (r / "notes.txt").write_text("my notes")
        before[r] = {p.relative_to(r): p.read_bytes() for p in r.rglob("*") if p.is_file()}
    again = sweep(study, out, workers=0, progress=False, report=False)
    assert counts(again) == {"failed": 2}
    for r in runs:
        assert {p.relative_to(r): p.read_bytes() for p in r.rglob("*") if p.is_file()} == before[r]
        status = json.loads((out / "status" / f"{r.name}.json").read_text())
        assert status["state"] == "failed" and status["stage"] == "train"
        assert "cannot be resumed" in status["error"] and "does not delete a run folder" in status["error"]
    assert "latest.json" in json.loads((out / "status" / f"{runs[0].name}.json").read_text())["error"]
    assert "config.json" in json.loads((out / "status" / f"{runs[1].name}.json").read_text())["error"]


# -- 3. one trainer per run ----------------------------------------------------------------------------
def test_a_resume_while_another_process_holds_the_run_is_refused(tmp_path, capsys):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    log = (run / "train_log.jsonl").read_text()
    proc = hold_lock(run / "train.lock")
    try:
        with pytest.raises(RunError, match=rf"run is being trained by another process \(pid {proc.pid}\b"):
            resume(run, changes={"steps": 6}, progress=False)
        assert cli.main(["train", "--resume", str(run), "--set", "steps=6", "--no-progress"]) == 2
        with pytest.raises(RunError, match=rf"being trained by another process \(pid {proc.pid}\b"):
            train(TrainConfig(**TINY, steps=3, seed=1), out=run, progress=False, overwrite=True)
    finally:
        proc.kill()
        proc.wait()
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"pid {proc.pid}" in err[0]
    assert open_run(run).config.steps == 3 and open_run(run).step == 3
    assert (run / "train_log.jsonl").read_text() == log
    resume(run, changes={"steps": 6}, progress=False)  # the lock died with its holder
    assert open_run(run).step == 6


def test_a_study_run_shares_the_sweeps_lock_without_locking_itself_out(tmp_path):
    from dislab.studies.folder import StudyFolder
    from dislab.studies.locking import RunLock

    folder = StudyFolder(tmp_path / "study")
    (tmp_path / "study").mkdir()
    folder.study_json.write_text("{}")
    run = train(TrainConfig(**TINY, steps=3), out=folder.run_dir("r"), progress=False)
    assert not (run / "train.lock").exists()  # the study's locks/r.lock is the run's lock
    proc = hold_lock(folder.lock_path("r"))  # another sweep works on the run
    try:
        with pytest.raises(RunError, match=rf"being trained by another process \(pid {proc.pid}\b"):
            resume(run, changes={"steps": 6}, progress=False)
    finally:
        proc.kill()
        proc.wait()
    lock = RunLock(folder.lock_path("r"))  # this thread holds it, as a sweep worker does
    assert lock.acquire()
    try:
        resume(run, changes={"steps": 6}, progress=False)
    finally:
        lock.release()
    assert open_run(run).step == 6


# -- 4. a failed resume writes nothing -----------------------------------------------------------------
def test_a_resume_that_fails_leaves_config_and_log_as_they_were(tmp_path):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    (checkpoint_dir(run) / "optimizer.safetensors").write_bytes(b"\0" * 5)
    before = {p: (run / p).read_bytes() for p in ("config.json", "train_log.jsonl", "model.safetensors")}
    with pytest.raises(RunError, match=r"optimizer\.safetensors: not a readable safetensors file"):
        resume(run, changes={"steps": 6}, progress=False)
    assert {p: (run / p).read_bytes() for p in before} == before
    assert open_run(run).config.steps == 3


# -- 5. a kill before the step-0 checkpoint -------------------------------------------------------------
def test_a_run_killed_before_its_first_checkpoint_resumes_to_the_uninterrupted_run(tmp_path, monkeypatch):
    full = train(TrainConfig(**TINY, steps=6), out=tmp_path / "full", progress=False)
    out = tmp_path / "killed"
    real = fit.save_checkpoint

    def save_checkpoint(*args, step, **kwargs):
        if step == 0:
            raise KeyboardInterrupt("killed before the step-0 checkpoint")
        return real(*args, step=step, **kwargs)

    monkeypatch.setattr(fit, "save_checkpoint", save_checkpoint)
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**TINY, steps=6), out=out, progress=False)
    monkeypatch.setattr(fit, "save_checkpoint", real)
    assert not (out / "checkpoint").exists() and not (out / "model.safetensors").exists()
    with pytest.raises(RunError, match="already exists; resume it"):
        train(TrainConfig(**TINY, steps=6), out=out, progress=False)
    resume(out, progress=False)
    assert_same(weights(out), weights(full))
    assert log_values(out) == log_values(full)


def test_a_run_with_weights_but_no_checkpoint_is_not_restarted(tmp_path):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    shutil.rmtree(run / "checkpoint")  # e.g. deleted to save space
    before = (run / "model.safetensors").read_bytes()
    with pytest.raises(RunError, match=r"latest\.json: missing, but .*model\.safetensors holds weights \(step 3\)"):
        resume(run, changes={"steps": 6}, progress=False)
    assert (run / "model.safetensors").read_bytes() == before
    assert_same({k: v.contiguous() for k, v in load(run).state_dict().items()}, weights(run))  # still readable


# -- 6. log rows after a resume --------------------------------------------------------------------------
def test_rows_written_again_after_a_resume_average_their_whole_interval(tmp_path, monkeypatch):
    full = train(TrainConfig(**TINY, steps=8), out=tmp_path / "full", progress=False)
    interrupt_after(monkeypatch, 5)  # checkpoint 3 in force, rows 2 and 4 written
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**TINY, steps=8), out=tmp_path / "killed", progress=False)
    monkeypatch.undo()
    assert open_run(tmp_path / "killed").step == 3
    resume(tmp_path / "killed", progress=False)
    assert [r["step"] for r in log_values(tmp_path / "killed")] == [2, 4, 6, 8]
    assert log_values(tmp_path / "killed") == log_values(full)  # every loss and term, exactly


def test_stacked_rows_written_again_after_a_resume_average_their_whole_interval(tmp_path, monkeypatch):
    from dislab.studies.stacked import train_stacked

    configs = [TrainConfig(**TINY, steps=8, seed=s) for s in (0, 1)]
    full = [tmp_path / "f0", tmp_path / "f1"]
    killed = [tmp_path / "k0", tmp_path / "k1"]
    assert train_stacked(configs, full, progress=False) == [None, None]
    interrupt_after(monkeypatch, 5, per_step=2)
    with pytest.raises(KeyboardInterrupt):
        train_stacked(configs, killed, progress=False)
    monkeypatch.undo()
    assert open_run(killed[0]).step == 3
    assert train_stacked(configs, killed, progress=False) == [None, None]
    for f, k in zip(full, killed):
        assert [r["step"] for r in log_values(k)] == [2, 4, 6, 8]
        assert log_values(k) == log_values(f)


# -- 7. stale temporaries --------------------------------------------------------------------------------
def test_temporaries_of_killed_writes_are_removed_when_a_run_is_resumed(tmp_path):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    stale = [run / ".model.safetensors.k2_9ab3x.tmp", run / ".train_log.jsonl.a1b2c3d4.tmp",
             run / ".config.json.zzzzzzzz.tmp", run / "checkpoint" / ".latest.json.q1w2e3r4.tmp"]
    for p in stale:
        p.write_bytes(b"half a write")
    (run / "checkpoint" / ".tmp-step-000000006-4242").mkdir()
    (run / "checkpoint" / ".tmp-step-000000006-4242" / "model.safetensors").write_bytes(b"x")
    mine = [run / ".my-notes.tmp", run / "model.safetensors.tmp", run / "figures.tmp"]
    for p in mine:
        p.write_text("mine")
    resume(run, changes={"steps": 4}, progress=False)
    assert not any(p.exists() for p in stale)
    assert not (run / "checkpoint" / ".tmp-step-000000006-4242").exists()
    assert all(p.read_text() == "mine" for p in mine)


# -- 8. the thread count -----------------------------------------------------------------------------------
def test_a_resume_under_another_thread_count_continues_bit_for_bit(tmp_path, monkeypatch, capsys):
    torch.set_num_threads(2)
    full = train(TrainConfig(**TINY, steps=6), out=tmp_path / "full", progress=False)
    interrupt_after(monkeypatch, 2)  # the step-0 checkpoint in force: all 6 steps are resumed
    with pytest.raises(KeyboardInterrupt):
        train(TrainConfig(**TINY, steps=6), out=tmp_path / "killed", progress=False)
    monkeypatch.undo()
    assert json.loads((checkpoint_dir(tmp_path / "killed") / "state.json").read_text())["torch_threads"] == 2
    torch.set_num_threads(1)  # e.g. a sweep worker's --cpus-per-run
    resume(tmp_path / "killed", progress=False)
    assert torch.get_num_threads() == 1
    assert "training with 2 torch threads" in capsys.readouterr().err
    assert_same(weights(tmp_path / "killed"), weights(full))


def test_a_stacked_resume_under_another_thread_count_continues_bit_for_bit(tmp_path, monkeypatch, capsys):
    from dislab.studies.stacked import train_stacked

    torch.set_num_threads(2)
    configs = [TrainConfig(**TINY, steps=6, seed=s) for s in (0, 1)]
    full = [tmp_path / "f0", tmp_path / "f1"]
    killed = [tmp_path / "k0", tmp_path / "k1"]
    assert train_stacked(configs, full, progress=False) == [None, None]
    interrupt_after(monkeypatch, 4, per_step=2)  # killed at step 2, after its step-0 checkpoint
    with pytest.raises(KeyboardInterrupt):
        train_stacked(configs, killed, progress=False)
    monkeypatch.undo()
    torch.set_num_threads(1)
    assert train_stacked(configs, killed, progress=False) == [None, None]
    assert torch.get_num_threads() == 1
    assert "training with 2 torch threads" in capsys.readouterr().err
    for f, k in zip(full, killed):
        assert_same(weights(k), weights(f))


# -- 9. latest.json stays inside checkpoint/ ---------------------------------------------------------------
@pytest.mark.parametrize("folder", ["../../elsewhere/step-000000003", "ABSOLUTE", "step-000000003/../x",
                                    "step-3", "model.safetensors"])
def test_latest_json_may_only_name_a_checkpoint_folder_of_its_own(tmp_path, folder):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    elsewhere = tmp_path / "elsewhere" / "step-000000003"
    shutil.copytree(checkpoint_dir(run), elsewhere)
    folder = str(elsewhere) if folder == "ABSOLUTE" else folder
    (run / "checkpoint" / "latest.json").write_text(json.dumps({"step": 3, "folder": folder}))
    (run / "model.safetensors").unlink()  # so that a reader has to go to the checkpoint
    for action in (lambda: resume(run, changes={"steps": 4}, progress=False), lambda: load(run)):
        with pytest.raises(RunError, match=r"checkpoint/latest\.json: expected .*step-<N"):
            action()
    assert open_run(run).config.steps == 3


# -- 10. damaged files are named ---------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"\x08\x00\x00\x00\x00\x00\x00\x00{", b"garbage" * 20])
def test_a_damaged_root_weights_file_is_restored_from_the_checkpoint(tmp_path, content):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    good = weights(run)
    (run / "model.safetensors").write_bytes(content)
    assert_same({k: v.contiguous() for k, v in load(run).state_dict().items()}, good)
    assert_same(weights(run), good)


def test_damaged_checkpoint_files_raise_one_line_naming_the_file(tmp_path, capsys):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    step_dir = checkpoint_dir(run)
    saved = {p.name: p.read_bytes() for p in step_dir.iterdir()}
    cases = [("model.safetensors", saved["model.safetensors"][:20]),
             ("rng.safetensors", b""),
             ("state.json", b""),
             ("state.json", b'{"step": 3}')]
    for name, content in cases:
        (step_dir / name).write_bytes(content)
        with pytest.raises(RunError) as e:
            resume(run, changes={"steps": 4}, progress=False)
        message = str(e.value)
        assert message.startswith(str(step_dir / name)) and "\n" not in message
        assert "retrain" in message
        assert cli.main(["train", "--resume", str(run), "--no-progress"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and str(step_dir / name) in err[0]
        (step_dir / name).write_bytes(saved[name])
    # the root weights out of step and the checkpoint's damaged: a reader refuses, naming it
    (step_dir / "model.safetensors").write_bytes(b"")
    (run / "model.safetensors").write_bytes(b"")
    with pytest.raises(RunError, match=rf"^{step_dir / 'model.safetensors'}: not a readable safetensors file"):
        load(run)
    (run / "checkpoint" / "latest.json").write_text("{")
    with pytest.raises(RunError, match=r"latest\.json: not valid JSON"):
        open_run(run).step


def test_damaged_root_weights_without_a_checkpoint_are_named(tmp_path):
    run = train(TrainConfig(**TINY, steps=3), out=tmp_path / "run", progress=False)
    shutil.rmtree(run / "checkpoint")
    (run / "model.safetensors").write_bytes(b"\x01")
    with pytest.raises(RunError, match=r"model\.safetensors: not a readable safetensors file \(.*\); there is "
                                       r"no checkpoint/ to restore it from"):
        load(run)
