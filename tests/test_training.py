"""Training: run folders, config routing, checkpoints that survive crashes, exact resume, the CLI."""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from dislab import cli
from dislab.errors import ConfigError, RunError
from dislab.models.base import ModelOutput
from dislab.training import (NonFiniteLossError, TrainConfig, apply_overrides, load, open_run,
                             parse_sets, read_config_file, resume, select_device, train)
from dislab.training import checkpoint as ckpt
from dislab.training.fit import _gradient_step

# Tiny but real: the conv64 VAE on 64x64 toy blobs, a few images per batch.
TINY = dict(model="vae", dataset="toy_blobs", batch_size=4, log_every=2, checkpoint_every=3,
            model_options={"n_latents": 3})


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


def weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "model.safetensors"))


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_run_folder_contents_and_load(tmp_path):
    run_dir = train(TrainConfig(**TINY, steps=5), out=tmp_path / "run", progress=False)
    assert sorted(p.name for p in run_dir.iterdir()) == [
        "checkpoint", "config.json", "model.safetensors", "train.lock", "train_log.jsonl"]
    record = json.loads((run_dir / "config.json").read_text())
    assert record["dislab"]["produced_by"] == "dislab.training"
    assert record["model"]["name"] == "vae"
    assert record["model"]["config"]["n_latents"] == 3
    assert record["model"]["config"]["observation_shape"] == [3, 64, 64]  # filled in from the data
    assert record["model"]["config"]["dataset_size"] == 1024
    assert record["dataset"]["factor_sizes"] == [8, 8, 4, 4]
    # checkpoint: manifest + one complete folder, the older ones deleted
    assert sorted(p.name for p in (run_dir / "checkpoint").iterdir()) == ["latest.json", "step-000000005"]
    assert sorted(p.name for p in (run_dir / "checkpoint" / "step-000000005").iterdir()) == [
        "model.safetensors", "optimizer.safetensors", "rng.safetensors", "state.json"]
    assert_same_weights(weights(run_dir), load_file(str(run_dir / "checkpoint/step-000000005/model.safetensors")))
    opt = load_file(str(run_dir / "checkpoint/step-000000005/optimizer.safetensors"))
    assert float(opt["model/0/step"]) == 5.0 and any(k.endswith("exp_avg_sq") for k in opt)
    # log: every log_every steps and the last, each with the terms, speed and time
    log = open_run(run_dir).train_log()
    assert [r["step"] for r in log] == [2, 4, 5]
    assert {"loss", "reconstruction", "kl", "images_per_s", "wall_time_s"} <= set(log[0])
    assert all(np.isfinite(r["loss"]) for r in log)
    # speed is the images of the interval over its wall time (batch 4; the first interval from 0)
    marks = [(0, 0.0)] + [(r["step"], r["wall_time_s"]) for r in log]
    for (s0, w0), (s1, w1), r in zip(marks, marks[1:], log):
        assert r["images_per_s"] == pytest.approx((s1 - s0) * 4 / (w1 - w0), rel=1e-6)
    # load: eval mode, CPU, the saved weights, encode/decode shapes
    model = load(run_dir)
    assert not model.training and next(model.parameters()).device.type == "cpu"
    assert_same_weights({k: v.contiguous() for k, v in model.state_dict().items()}, weights(run_dir))
    x = open_run(run_dir).dataset().images(np.arange(2))
    mu, logvar = model.encode(x)
    assert mu.shape == (2, 3) and model.decode(mu).shape == (2, 3, 64, 64)
    run = open_run(run_dir)
    assert run.step == 5 and run.complete and run.evaluation() is None
    assert run.config == TrainConfig(**TINY, steps=5)


def test_config_round_trip_and_validation():
    cfg = TrainConfig(model="vae", steps=7, betas=[0.5, 0.9], lr=1, model_options={"n_latents": 4})
    assert cfg.betas == (0.5, 0.9) and isinstance(cfg.lr, float)
    assert TrainConfig.from_dict(json.loads(json.dumps(cfg.to_dict()))) == cfg
    assert TrainConfig(steps=3e4).steps == 30000  # whole numbers written as floats are accepted
    for bad, match in [({"steps": 2.5}, "steps must be a whole number"), ({"lr": -1}, "lr must be"),
                       ({"betas": (0.9,)}, "betas must be two"), ({"device": "gpu"}, "device must be"),
                       ({"model_options": {"dataset_size": 3}}, "filled in from the dataset"),
                       ({"batch_size": 0}, "batch_size must be >= 1")]:
        with pytest.raises(ConfigError, match=match):
            TrainConfig(**bad)
    with pytest.raises(ConfigError, match=r"unknown train option\(s\) \['stepz'\]"):
        TrainConfig.from_dict({"stepz": 3})


def test_set_values_and_routing(tmp_path):
    assert parse_sets(["beta=6", "lr=1e-4", "tensorboard=true", "betas=[0.5, 0.9]", "dataset=dsprites",
                       "x=True"]) == {"beta": 6, "lr": 1e-4, "tensorboard": True, "betas": [0.5, 0.9],
                                      "dataset": "dsprites", "x": True}
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_sets(["steps"])
    cfg = apply_overrides({"model": "vae", "steps": 10, "n_latents": 4, "dataset_options.side": 64,
                           "model_options.prior": "normal"})
    assert (cfg.steps, cfg.model_options, cfg.dataset_options) == (10, {"n_latents": 4, "prior": "normal"},
                                                                  {"side": 64})
    with pytest.raises(ConfigError, match=r"unknown option 'beta'; expected one of: .*steps.*n_latents \(model vae\)"):
        apply_overrides({"model": "vae", "beta": 6})
    with pytest.raises(ConfigError, match="unknown option 'lr' of model 'vae'"):
        apply_overrides({"model_options.lr": 1.0})
    # changing the model drops the previous model's options
    assert apply_overrides({"model": "vae"}, base=cfg).model_options == cfg.model_options
    # a TOML file: top-level keys routed, tables explicit; --set-style keys applied after it
    toml = tmp_path / "run.toml"
    toml.write_text('model = "vae"\nsteps = 12\nseed = 3\nn_latents = 5\n[dataset_options]\nn_pos = 4\n')
    cfg = apply_overrides({**read_config_file(toml), "seed": 4})
    assert (cfg.steps, cfg.seed, cfg.model_options, cfg.dataset_options) == (12, 4, {"n_latents": 5}, {"n_pos": 4})
    toml.write_text("steps = = 3")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(toml)


def test_resume_in_process_matches_uninterrupted(tmp_path):
    full = train(TrainConfig(**TINY, steps=8), out=tmp_path / "full", progress=False)
    part = train(TrainConfig(**TINY, steps=4), out=tmp_path / "part", progress=False)
    with pytest.raises(ConfigError, match="below the run's 4"):
        resume(part, changes={"steps": 2}, progress=False)
    with pytest.raises(ConfigError, match=r"\['lr'\] cannot change"):
        resume(part, changes={"lr": 1.0}, progress=False)
    resume(part, changes={"steps": 8}, progress=False)
    assert_same_weights(weights(full), weights(part))
    assert open_run(part).config.steps == 8 and open_run(part).step == 8


def test_train_equals_init_run_then_resume_without_reading_its_folder_back(tmp_path, monkeypatch):
    from dislab.training import fit, init_run

    fresh = init_run(TrainConfig(**TINY, steps=6), out=tmp_path / "resumed")
    resume(fresh, progress=False)
    # a fresh train builds the dataset and model once and never loads the step-0 checkpoint it wrote
    loads, builds = [], []
    real_load = fit.load_checkpoint
    monkeypatch.setattr(fit, "load_checkpoint", lambda *a, **k: loads.append(a) or real_load(*a, **k))
    import dislab.data as data
    real_get = data.get_dataset
    monkeypatch.setattr(data, "get_dataset", lambda *a, **k: builds.append(a) or real_get(*a, **k))
    direct = train(TrainConfig(**TINY, steps=6), out=tmp_path / "direct", progress=False)
    assert loads == [] and len(builds) == 1
    assert_same_weights(weights(direct), weights(fresh))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("images_per_s", "wall_time_s")} for r in rows]
    assert strip(open_run(direct).train_log()) == strip(open_run(fresh).train_log())
    assert len(open_run(direct).train_log()) == 3


def test_overwrite_refused_unless_asked(tmp_path):
    out = train(TrainConfig(**TINY, steps=1), out=tmp_path / "run", progress=False)
    before = weights(out)
    with pytest.raises(RunError, match="already exists; resume it"):
        train(TrainConfig(**TINY, steps=1), out=out, progress=False)
    assert_same_weights(before, weights(out))
    train(TrainConfig(**TINY, steps=1, seed=1), out=out, progress=False, overwrite=True)
    assert open_run(out).config.seed == 1
    other = tmp_path / "not_a_run"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(RunError, match="not a dislab run folder"):
        train(TrainConfig(**TINY, steps=1), out=other, progress=False, overwrite=True)
    assert (other / "notes.txt").read_text() == "mine"


def test_a_run_started_in_the_folder_meanwhile_is_not_overwritten(tmp_path, monkeypatch):
    """Two trainings both find ``out`` empty; the first trains and releases the lock before the
    second gets it. The second must stop with a clear error and leave the first's run as it is."""
    import dislab.training.fit as fit

    other = train(TrainConfig(**TINY, steps=2, seed=7), out=tmp_path / "other", progress=False)
    real_claim = fit._claim_folder

    def claim_then_lose_the_race(folder, overwrite):
        real_claim(folder, overwrite)
        shutil.copytree(other, folder, dirs_exist_ok=True)  # the other process's whole run, meanwhile

    monkeypatch.setattr(fit, "_claim_folder", claim_then_lose_the_race)
    for start in (lambda out: train(TrainConfig(**TINY, steps=2, seed=0), out=out, progress=False),
                  lambda out: fit.init_run(TrainConfig(**TINY, steps=2, seed=0), out)):
        out = tmp_path / f"run{start.__code__.co_firstlineno}"
        with pytest.raises(RunError, match="another process started a run in this folder"):
            start(out)
        assert open_run(out).config.seed == 7 and open_run(out).step == 2
        assert_same_weights(weights(out), weights(other))


def test_crash_during_checkpoint_keeps_previous(tmp_path, monkeypatch):
    """A failure while writing step 6's checkpoint (files, then between folder rename and
    manifest) leaves step 3's checkpoint in force; resuming ends where an unbroken run ends."""
    full = train(TrainConfig(**TINY, steps=9), out=tmp_path / "full", progress=False)
    real_write_json = ckpt.write_json
    for where in ("state.json", "latest.json"):
        def crashing(path, payload, *, produced_by, where=where):
            if Path(path).name == where and payload["step"] == 6:
                raise KeyboardInterrupt("killed while saving")
            return real_write_json(path, payload, produced_by=produced_by)

        monkeypatch.setattr(ckpt, "write_json", crashing)
        out = tmp_path / f"crash_{where}"
        with pytest.raises(KeyboardInterrupt):
            train(TrainConfig(**TINY, steps=9), out=out, progress=False)
        monkeypatch.setattr(ckpt, "write_json", real_write_json)
        assert ckpt.latest_step(out / "checkpoint") == 3
        assert open_run(out).step == 3
        resume(out, progress=False)
        assert_same_weights(weights(full), weights(out))
        assert sorted(p.name for p in (out / "checkpoint").iterdir()) == ["latest.json", "step-000000009"]
        assert [r["step"] for r in open_run(out).train_log()] == [2, 4, 6, 8, 9]


def test_non_finite_loss_stops_with_step_and_term(tmp_path, monkeypatch):
    from dislab.models.vae import VAE

    forward = VAE.forward

    def poisoned(self, x, step=0):
        out = forward(self, x, step)
        if step == 4:  # the 5th update: a NaN in the KL term
            out.terms["kl"] = out.terms["kl"] * float("nan")
            out.loss = out.loss + out.terms["kl"]
        return out

    monkeypatch.setattr(VAE, "forward", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"non-finite kl \(nan\) at step 4.*checkpoint \(step 3\)"):
        train(TrainConfig(**TINY, steps=8), out=tmp_path / "run", progress=False)
    run = open_run(tmp_path / "run")
    assert run.step == 3
    assert_same_weights(weights(run.path), load_file(str(run.path / "checkpoint/step-000000003/model.safetensors")))
    assert all(torch.isfinite(v).all() for v in weights(run.path).values())


def test_gradient_step_keeps_each_loss_in_its_group():
    """FactorVAE-style: the aux loss reads the model's parameters but must only move its own."""
    a = torch.nn.Parameter(torch.tensor([1.0, 2.0]))
    b = torch.nn.Parameter(torch.tensor([3.0]))
    groups = {"model": [a], "discriminator": [b]}
    opts = {k: torch.optim.SGD(v, lr=1.0) for k, v in groups.items()}
    loss = (a * b).sum()  # d/da = b = 3
    aux = (a.sum() * b * b).sum()  # d/db = 2 a.sum() b = 18; d/da would leak 9 into a
    _gradient_step(ModelOutput(loss=loss, aux_losses={"discriminator": aux}), groups, opts)
    assert torch.equal(a.detach(), torch.tensor([-2.0, -1.0]))
    assert torch.equal(b.detach(), torch.tensor([3.0 - 18.0]))


def test_two_optimizer_groups_train_and_resume_exactly(tmp_path):
    """FactorVAE: its discriminator gets its own Adam with the model's options (β 0.5, 0.9), both
    optimizers' states are checkpointed, and a resumed run matches an unbroken one."""
    cfg = dict(TINY, model="factor_vae", model_options={"n_latents": 3, "discriminator_hidden": 8})
    full = train(TrainConfig(**cfg, steps=6), out=tmp_path / "full", progress=False)
    part = train(TrainConfig(**cfg, steps=3), out=tmp_path / "part", progress=False)
    state = json.loads((part / "checkpoint/step-000000003/state.json").read_text())
    assert state["optimizers"]["discriminator"]["param_groups"][0]["betas"] == [0.5, 0.9]
    assert state["optimizers"]["model"]["param_groups"][0]["betas"] == [0.9, 0.999]
    resume(part, changes={"steps": 6}, progress=False)
    assert_same_weights(weights(full), weights(part))
    assert "discriminator_loss" in open_run(full).train_log()[-1]


@pytest.mark.slow
def test_trains_on_every_dataset_that_needs_no_file(tmp_path):
    from dislab.data import DATASETS, get_dataset
    from dislab.errors import DataError

    trained = []
    for name in DATASETS.names():
        try:
            get_dataset(name)
        except DataError:  # needs a downloaded file (cars3d, mpi3d, ...): tested by the data suite
            continue
        run_dir = train(TrainConfig(**{**TINY, "dataset": name}, steps=2), out=tmp_path / name, progress=False)
        model, ds = load(run_dir), open_run(run_dir).dataset()
        assert tuple(model.config.observation_shape) == tuple(ds.observation_shape)
        assert model.config.dataset_size == len(ds)
        assert open_run(run_dir).train_log()[-1]["step"] == 2
        trained.append(name)
    assert {"toy_blobs", "dsprites"} <= set(trained)


def test_device_selection():
    assert select_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert select_device("auto").type in ("cpu", "mps")
        with pytest.raises(ConfigError, match="CUDA is not available"):
            select_device("cuda")


@pytest.mark.parametrize("model, options", [("vae", {"encoder": "mlp_small", "decoder": "mlp_small"}),
                                            ("ladder_vae", {})])
def test_a_run_is_bit_identical_to_one_drawing_noise_with_randn_like(tmp_path, monkeypatch, model, options):
    """The trainer through model.noise gives the weights and log a run gets when every model draws
    its noise as before models had a noise source (torch.randn_like on the global generator, the
    old staticmethod re-created here as the reference), bit for bit."""
    from dislab.models.base import LatentVariableModel

    config = TrainConfig(**{**TINY, "model": model, "model_options": {"n_latents": 3, **options}},
                         dataset_options={"side": 16, "n_pos": 4}, steps=4, channels_last=False)
    new = train(config, out=tmp_path / "new", progress=False)
    old = staticmethod(lambda mu, logvar: mu + torch.exp(0.5 * logvar) * torch.randn_like(mu))
    monkeypatch.setattr(LatentVariableModel, "reparameterize", old)
    ref = train(config, out=tmp_path / "ref", progress=False)
    assert_same_weights(weights(new), weights(ref))
    strip = lambda rows: [{k: v for k, v in r.items() if k not in ("images_per_s", "wall_time_s")} for r in rows]  # noqa: E731
    assert strip(open_run(new).train_log()) == strip(open_run(ref).train_log())


def test_tensorboard_events(tmp_path):
    pytest.importorskip("tensorboard")
    run_dir = train(TrainConfig(**TINY, steps=2, tensorboard=True), out=tmp_path / "tb", progress=False)
    assert any(p.name.startswith("events.out.tfevents") for p in (run_dir / "tensorboard").iterdir())


def test_cli_end_to_end(tmp_path, capsys):
    out = tmp_path / "cli_run"
    toml = tmp_path / "run.toml"
    toml.write_text('dataset = "toy_blobs"\nbatch_size = 4\nlog_every = 2\n[model_options]\nn_latents = 2\n')
    argv = ["train", "--model", "vae", "--config", str(toml), "--set", "steps=3", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    assert f"run folder: {out}" in capsys.readouterr().out
    assert open_run(out).config.model_options == {"n_latents": 2} and open_run(out).step == 3
    assert cli.main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    assert cli.main(["train", "--resume", str(out), "--set", "steps=5", "--no-progress"]) == 0
    assert open_run(out).step == 5 and [r["step"] for r in open_run(out).train_log()] == [2, 3, 4, 5]
    assert cli.main(["train", "--resume", str(out), "--model", "vae"]) == 2
    assert "--model cannot be given" in capsys.readouterr().err
    assert cli.main(["train", "--model", "vae", "--set", "bogus=1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "unknown option 'bogus'" in err and "batch_size" in err
    assert not (tmp_path / "x").exists()
    assert cli.main(["train", "--out", str(tmp_path / "y")]) == 2  # nothing said about what to train
    assert "say what to train" in capsys.readouterr().err


KILL_SCRIPT = textwrap.dedent("""
    import sys
    import torch
    from dislab.training import TrainConfig, train
    torch.set_num_threads(1)
    train(TrainConfig(**{cfg}), out=sys.argv[1], progress=False)
""")


@pytest.mark.slow
def test_killed_process_resumes_to_identical_weights(tmp_path):
    """SIGKILL a training process mid-run (any instant, possibly mid-checkpoint), resume it, and
    compare with an uninterrupted run of the same seed: the weights are bit-identical."""
    cfg = dict(TINY, steps=24, checkpoint_every=2)
    out = tmp_path / "killed"
    script = tmp_path / "train.py"
    script.write_text(KILL_SCRIPT.format(cfg=repr(cfg)))
    proc = subprocess.Popen([sys.executable, str(script), str(out)], stderr=subprocess.PIPE)
    deadline = time.time() + 600  # a loaded machine may take minutes to start the process
    try:
        while time.time() < deadline:  # wait until a few checkpoints exist, then kill mid-run
            if (ckpt.latest_step(out / "checkpoint") or 0) >= 8:
                break
            if proc.poll() is not None:
                pytest.fail(f"training ended before it could be killed: {proc.stderr.read().decode()}")
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    killed_at = open_run(out).step
    assert 8 <= killed_at < 24
    resume(out, progress=False)
    full = train(TrainConfig(**cfg), out=tmp_path / "full", progress=False)
    assert_same_weights(weights(full), weights(out))
    assert [r["step"] for r in open_run(out).train_log()] == list(range(2, 25, 2))
