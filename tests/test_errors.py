"""Errors a user causes: every option value checked where it is defined (model configs, datasets),
every file problem (OSError) and every malformed run folder reported by the command line as one
line ``dislab CMD: error: MESSAGE`` with exit status 2, no run folder left behind by a bad value,
no progress bars where no one watches them, and no sweep waiting on idle worker pools.

Conditions are real where the machine allows: a path under a file (ENOTDIR), /dev/full (ENOSPC),
and, when the tests may mount file systems (root with CAP_SYS_ADMIN), a read-only tmpfs (EROFS)
and a full one (ENOSPC). Where a condition is simulated (an os function patched to fail), the
test says so.
"""
from __future__ import annotations

import dataclasses
import errno
import io
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from dislab import cli
from dislab.data import get_dataset
from dislab.errors import ConfigError, RunError
from dislab.models import MODELS
from dislab.training import TrainConfig, open_run, train

TINY = dict(dataset="toy_blobs", dataset_options={"side": 16, "n_pos": 4}, steps=2, batch_size=8,
            log_every=1, checkpoint_every=2, device="cpu", channels_last=False,
            model_options={"encoder": "mlp_small", "decoder": "mlp_small", "n_latents": 3})


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A finished two-step run; tests copy it before breaking it."""
    return train(TrainConfig(model="vae", **TINY), out=tmp_path_factory.mktemp("runs") / "run", progress=False)


def copy_run(run: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(run, tmp_path / "copy"))


def one_line(capsys, command: str) -> str:
    """The command's stderr, asserted to be exactly one ``dislab COMMAND: error:`` line."""
    err = capsys.readouterr().err
    assert err.startswith(f"dislab {command}: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err


def edit_config(run: Path, change) -> None:
    path = run / "config.json"
    record = json.loads(path.read_text())
    path.write_text(json.dumps(change(record)))


# -- B: every option value is checked where it is defined ----------------------------------------
def numeric_fields(cls) -> list[str]:
    """Fields whose value is a number (a default int/float, or None for 'number or null')."""
    out = []
    for f in dataclasses.fields(cls):
        d = f.default
        if isinstance(d, bool):
            continue
        if isinstance(d, (int, float)) or (d is None and re.search(r"\b(int|float)\b", str(f.type))):
            out.append(f.name)
    return out


NUMERIC = [(m, f) for m in MODELS.names() for f in numeric_fields(MODELS.get(m).config_class)]


def test_the_table_covers_every_model_and_its_hyperparameters():
    assert {m for m, _ in NUMERIC} == set(MODELS.names())
    names = {f for _, f in NUMERIC}
    assert {"n_latents", "dataset_size", "beta", "gamma", "c_max", "iteration_threshold", "alpha",
            "lambda_od", "lambda_d", "discriminator_lr", "discriminator_beta2", "n_levels",
            "steps_per_level", "fade_in_steps", "pre_kl_weight", "channels", "hidden"} <= names


@pytest.mark.parametrize("model, field", NUMERIC)
def test_every_numeric_model_option_refuses_a_wrong_type_and_an_out_of_range_value(model, field):
    cls = MODELS.get(model).config_class
    for bad in ("abc", -1, float("nan"), True, [1]):
        with pytest.raises(ConfigError) as info:
            cls(**{field: bad})
        message = str(info.value)
        assert message.startswith(f"{model}: {field} must be "), message
        assert message.endswith(f"got {bad!r}"), message
    cls(**{field: getattr(cls(), field)})  # the default itself passes


@pytest.mark.parametrize("model", MODELS.names())
def test_every_named_choice_is_checked(model):
    cls = MODELS.get(model).config_class
    names = {f.name for f in dataclasses.fields(cls)}
    for field in sorted(names & {"encoder", "decoder", "reconstruction", "prior", "estimator", "objective"}):
        with pytest.raises(ConfigError, match=rf"^{model}: {field} must be one of \[.*\].*, got 'nope'$"):
            cls(**{field: "nope"})
    with pytest.raises(ConfigError, match=rf"^{model}: prior_options must be a table"):
        cls(prior_options=[1])
    with pytest.raises(ConfigError, match=rf"{model}: prior 'mog' has no option\(s\) \['n_comp'\]"):
        cls(prior="mog", prior_options={"n_comp": 3})
    with pytest.raises(ConfigError, match=rf"^{model}: observation_shape must be a list of 3 whole"):
        cls(observation_shape=(64, 64))


def test_values_are_stored_in_their_canonical_type_and_bounds_are_exact():
    from dislab.models.annealed_vae import AnnealedVAEConfig
    from dislab.models.factor_vae import FactorVAEConfig

    cfg = AnnealedVAEConfig(iteration_threshold=1e5, n_latents=4.0)  # TOML/JSON write 1e5
    assert cfg.iteration_threshold == 100_000 and type(cfg.iteration_threshold) is int
    assert type(cfg.n_latents) is int
    with pytest.raises(ConfigError, match="iteration_threshold must be a whole number >= 1, got 2.5"):
        AnnealedVAEConfig(iteration_threshold=2.5)
    FactorVAEConfig(discriminator_beta2=0.0)
    with pytest.raises(ConfigError, match=r"discriminator_beta2 must be a number >= 0 and < 1, got 1.0"):
        FactorVAEConfig(discriminator_beta2=1.0)
    with pytest.raises(ConfigError, match="discriminator_lr must be a number > 0, got 0"):
        FactorVAEConfig(discriminator_lr=0)
    with pytest.raises(ConfigError, match=r"pro_vlae: .*level_sizes \[1, 2\] must be positive and sum to n_latents=6"):
        MODELS.get("pro_vlae").config_class(level_sizes=[1, 2])


@pytest.mark.parametrize("name, options, message", [
    ("toy_blobs", {"side": "abc"}, "toy_blobs: side must be a whole number >= 8, got 'abc'"),
    ("toy_blobs", {"side": 4}, "toy_blobs: side must be a whole number >= 8, got 4"),
    ("toy_blobs", {"n_pos": 2.5}, "toy_blobs: n_pos must be a whole number >= 2, got 2.5"),
    ("dsprites", {"path": 3}, "dsprites: path must be a file or folder path (a string) or null, got 3"),
    ("color_dsprites", {"seed": "x"}, "color_dsprites: seed must be a whole number >= 0, got 'x'"),
    ("noisy_dsprites", {"seed": -1}, "noisy_dsprites: seed must be a whole number >= 0, got -1"),
    ("scream_dsprites", {"background": 3}, "scream_dsprites: background must be a file or folder path"),
    ("shapes3d", {"path": ["a"]}, "shapes3d: path must be a file or folder path"),
    ("mpi3d", {"subset": "tiny"}, "mpi3d: subset must be one of ['toy', 'realistic', 'real', 'complex'], got 'tiny'"),
    ("mpi3d", {"layout": "5x5"}, "mpi3d: layout must be one of ['6x6', '4x4', None], got '5x5'"),
    ("smallnorb", {"camera": 2}, "smallnorb: camera must be one of [0, 1], got 2"),
    ("smallnorb", {"side": "big"}, "smallnorb: side must be a whole number >= 4, got 'big'"),
    ("smallnorb", {"instance": -2}, "smallnorb: instance must be a whole number >= 0 or null, got -2"),
    ("cars3d", {"side": 0}, "cars3d: side must be a whole number >= 4, got 0"),
    ("image_folder", {"channels": 2}, "image_folder: channels must be one of [1, 3], got 2"),
    ("image_folder", {"side": "x"}, "image_folder: side must be a whole number >= 4, got 'x'"),
    ("toy_blobs", {"sid": 16}, "dataset 'toy_blobs' has no option(s) ['sid']; expected some of ['side', 'n_pos']"),
])
def test_dataset_options_are_checked_before_any_file_is_read(name, options, message):
    with pytest.raises(ConfigError) as info:
        get_dataset(name, **options)
    assert str(info.value) == message or str(info.value).startswith(message), str(info.value)


@pytest.mark.parametrize("prior, options, message", [
    ("mog", {"n_components": "abc"}, "mog: n_components must be a whole number >= 1, got 'abc'"),
    ("mog", {"per_dimension": "yes"}, "mog: per_dimension must be true or false, got 'yes'"),
    ("mog", {"init_spread": -1}, "mog: init_spread must be a number >= 0, got -1"),
    ("vamp", {"n_components": 0}, "vamp: n_components must be a whole number >= 1, got 0"),
    ("vamp", {"init_std": "wide"}, "vamp: init_std must be a number >= 0, got 'wide'"),
    ("flow", {"n_layers": 1.5}, "flow: n_layers must be a whole number >= 1, got 1.5"),
])
def test_prior_options_are_checked_when_the_model_is_built(prior, options, message):
    from dislab.models import build_model

    with pytest.raises(ConfigError) as info:
        build_model("vae", encoder="mlp_small", decoder="mlp_small", prior=prior, prior_options=options)
    assert str(info.value) == message


def test_set_beta_abc_exits_2_with_one_line_and_writes_no_run_folder(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "--model", "beta_tcvae", "--dataset", "toy_blobs", "--set", "beta=abc", "--out", str(out)]
    assert cli.main(argv) == 2
    assert "beta_tcvae: beta must be a number >= 0, got 'abc'" in one_line(capsys, "train")
    assert not out.exists()
    with pytest.raises(ConfigError, match="beta_tcvae: beta must be"):  # the Python API: the same check
        train({"model": "beta_tcvae", "model_options": {"beta": "abc"}}, out=out, progress=False)
    assert not out.exists()


def test_a_sweep_with_a_bad_value_stops_before_creating_its_folder(tmp_path, capsys):
    study = tmp_path / "s.toml"
    study.write_text('metrics = ["mig"]\n[base]\nmodel = "factor_vae"\nsteps = 1\nencoder = "mlp_small"\n'
                     'decoder = "mlp_small"\ndataset_options = {side = 16, n_pos = 4}\n'
                     '[grid]\ndiscriminator_layers = [2, 0]\n')
    assert cli.main(["sweep", str(study), "--out", str(tmp_path / "out"), "--workers", "0", "--quiet"]) == 2
    assert "factor_vae: discriminator_layers must be a whole number >= 1, got 0" in one_line(capsys, "sweep")
    assert not (tmp_path / "out").exists()


# -- A: file problems (OSError) are one line naming the file -------------------------------------
def test_os_errors_name_the_file_and_what_to_do():
    msg = cli.user_message(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/data/run/model.safetensors"))
    assert msg == "/data/run/model.safetensors: No space left on device (free some space, then run the command again)"
    msg = cli.user_message(OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/run"))
    assert msg.startswith("/mnt/ro/run: Read-only file system (write to a folder on a writable disk")
    msg = cli.user_message(PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/root/x"))
    assert msg.startswith("/root/x: Permission denied (")
    assert cli.user_message(FileNotFoundError("run.toml: config file not found")) == "run.toml: config file not found"
    assert cli.user_message(TypeError("a bug")) is None  # bugs keep their traceback


def test_an_output_folder_under_a_file_is_one_line(tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    argv = ["train", "--model", "vae", "--set", "steps=1", "--out", str(blocker / "run")]
    assert cli.main(argv) == 2
    assert f"{blocker / 'run'}: Not a directory (a part of this path is a file" in one_line(capsys, "train")
    study = tmp_path / "s.toml"
    study.write_text('[base]\nmodel = "vae"\n[grid]\nseed = [0]\n')
    assert cli.main(["sweep", str(study), "--out", str(blocker / "study")]) == 2
    assert "Not a directory" in one_line(capsys, "sweep")


def test_a_failed_safetensors_write_is_an_os_error_naming_the_file(monkeypatch, tmp_path):
    # simulated: safetensors' own error, with the text it gives on a full tmpfs (the real full disk
    # is test_a_full_disk_while_training_is_one_line, where the machine allows a mount)
    import safetensors.torch
    from safetensors import SafetensorError

    from dislab.io import save_tensors

    def full(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr(safetensors.torch, "save_file", full)
    with pytest.raises(OSError) as info:
        save_tensors({"w": torch.ones(3)}, tmp_path / "w.safetensors")
    assert info.value.errno == errno.ENOSPC and info.value.filename == str(tmp_path / "w.safetensors")


@pytest.mark.parametrize("command", ["evaluate", "report"])
def test_a_full_disk_while_writing_results_is_one_line(trained, tmp_path, capsys, monkeypatch, command):
    # simulated: the final rename of every atomic write raises ENOSPC (a full disk would fail the
    # write itself; the message path is the same OSError)
    d = copy_run(trained, tmp_path)

    class FullDisk:  # dislab.io's view of the os module, with os.replace failing
        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))

    monkeypatch.setattr("dislab.io.os", FullDisk())
    argv = {"evaluate": ["evaluate", str(d), "--metrics", "mig", "--n-train", "100"],
            "report": ["report", str(d), "--n-encode", "64", "--no-gif", "--no-progress"]}[command]
    assert cli.main(argv) == 2
    err = one_line(capsys, command)
    assert "No space left on device (free some space" in err and str(d) in err


def _can_mount(tmp_path: Path) -> bool:
    if os.geteuid() != 0 or not shutil.which("mount"):
        return False
    probe = tmp_path / "probe"
    probe.mkdir()
    ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe)],
                        capture_output=True).returncode == 0
    if ok:
        subprocess.run(["umount", str(probe)], check=True)
    return ok


@pytest.fixture
def tmpfs(tmp_path):
    """mount(options) -> a fresh tmpfs folder with those mount options, unmounted afterwards."""
    if not _can_mount(tmp_path):
        pytest.skip("mounting a tmpfs needs root with CAP_SYS_ADMIN")
    mounted = []

    def mount(options: str) -> Path:
        where = tmp_path / f"fs{len(mounted)}"
        where.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], check=True)
        mounted.append(where)
        return where

    yield mount
    for where in mounted:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_read_only_file_system_is_one_line(tmpfs, tmp_path, capsys):
    ro = tmpfs("ro,size=1m")
    assert cli.main(["train", "--model", "vae", "--set", "steps=1", "--out", str(ro / "run")]) == 2
    assert f"{ro / 'run'}: Read-only file system (write to a folder" in one_line(capsys, "train")
    study = tmp_path / "s.toml"
    study.write_text('[base]\nmodel = "vae"\n[grid]\nseed = [0]\n')
    assert cli.main(["sweep", str(study), "--out", str(ro / "study")]) == 2
    assert "Read-only file system" in one_line(capsys, "sweep")


def test_a_full_disk_while_training_is_one_line(tmpfs, capsys):
    full = tmpfs("size=256k")  # config.json fits; the first checkpoint (~1 MB) does not
    argv = ["train", "--model", "vae", "--dataset", "toy_blobs", "--set", "dataset_options.side=16",
            "--set", "dataset_options.n_pos=4", "--set", "encoder=mlp_small", "--set", "decoder=mlp_small",
            "--set", "steps=2", "--set", "device=cpu", "--out", str(full / "run"), "--no-progress"]
    assert cli.main(argv) == 2
    err = one_line(capsys, "train")
    assert re.search(rf"{re.escape(str(full / 'run'))}/\S+\.safetensors: No space left on device", err), err


# -- A: a config.json of the wrong shape -----------------------------------------------------------
@pytest.mark.parametrize("argv", [["evaluate", "RUN", "--metrics", "mig"], ["report", "RUN"],
                                  ["train", "--resume", "RUN"]])
def test_an_empty_config_json_is_one_line_naming_the_file_and_key(trained, tmp_path, capsys, argv):
    d = copy_run(trained, tmp_path)
    (d / "config.json").write_text("{}")
    assert cli.main([str(d) if a == "RUN" else a for a in argv]) == 2
    err = one_line(capsys, argv[0])
    assert f"{d / 'config.json'}: no 'train' block" in err


@pytest.mark.parametrize("change, message", [
    (lambda r: {**r, "model": "vae"}, "'model' is 'vae', not an object"),
    (lambda r: {**r, "model": {"name": 3, "config": {}}}, "model.name is 3, not a model name"),
    (lambda r: {**r, "train": {**r["train"], "steps": "many"}}, "train: steps must be a whole number, got 'many'"),
    (lambda r: {**r, "model": {**r["model"], "config": {**r["model"]["config"], "n_latents": "3"}}},
     "model: vae: n_latents must be a whole number >= 1, got '3'"),
    (lambda r: {**r, "model": {**r["model"], "name": "vea"}}, "model: unknown model 'vea'"),
])
def test_wrong_types_in_config_json_name_the_file_and_key(trained, tmp_path, capsys, change, message):
    d = copy_run(trained, tmp_path)
    edit_config(d, change)
    with pytest.raises(RunError) as info:
        open_run(d).config
    assert str(info.value).startswith(f"{d / 'config.json'}: {message}"), str(info.value)
    assert cli.main(["evaluate", str(d), "--metrics", "mig"]) == 2
    assert message in one_line(capsys, "evaluate")


def test_weights_that_do_not_fit_an_edited_config_are_one_line(trained, tmp_path, capsys):
    d = copy_run(trained, tmp_path)

    def fewer_latents(r):
        r["model"]["config"]["n_latents"] = 2
        return r

    edit_config(d, fewer_latents)
    with pytest.raises(RunError, match=rf"^{re.escape(str(d / 'model.safetensors'))}: the weights do not fit "
                                       r"the model that config.json describes \(\d+ tensor\(s\) differ; "
                                       r"\S+ is \[3, \d+\] in the file, \[2, \d+\] in the model\)"):
        open_run(d).model()
    assert cli.main(["evaluate", str(d), "--metrics", "mig"]) == 2
    assert "config.json and the weights disagree" in one_line(capsys, "evaluate")
    assert cli.main(["train", "--resume", str(d), "--set", "steps=4"]) == 2  # found by the checkpoint loader
    assert "config.json and the weights disagree" in one_line(capsys, "train")


def test_a_missing_run_folder_says_it_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "does" / "not" / "exist"
    assert cli.main(["evaluate", str(missing)]) == 2
    assert f"{missing} does not exist" in one_line(capsys, "evaluate")
    (tmp_path / "empty").mkdir()
    assert cli.main(["evaluate", str(tmp_path / "empty")]) == 2
    assert "not a dislab run folder (config.json missing)" in one_line(capsys, "evaluate")


# -- D: smaller slips ------------------------------------------------------------------------------
def test_set_with_a_space_instead_of_equals_suggests_the_fix(capsys):
    assert cli.main(["train", "--model", "vae", "--set", "steps", "5"]) == 2
    err = one_line(capsys, "train")
    assert "--set expects KEY=VALUE; did you mean --set steps=5?" in err
    assert cli.main(["evaluate", "run", "--option", "dci.predictor", "gbt"]) == 2
    assert "did you mean --option dci.predictor=gbt?" in one_line(capsys, "evaluate")


def test_python_api_messages_name_the_keyword_as_well_as_the_flag(trained):
    with pytest.raises(RunError, match=r"already exists.*overwrite=True"):
        train(TrainConfig(model="vae", **TINY), out=trained, progress=False)
    from dislab.studies.sweep import sweep

    with pytest.raises(ConfigError, match=r"^workers \(--workers\) must be >= 0"):
        sweep("unused.toml", "unused", workers=-1)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_training_bars_only_on_a_terminal(tmp_path, monkeypatch):
    log = io.StringIO()  # a log file or a pipe: no bar, so no carriage returns or escapes
    monkeypatch.setattr(sys, "stderr", log)
    train(TrainConfig(model="vae", **TINY), out=tmp_path / "a", progress=True)
    assert "\r" not in log.getvalue() and "\x1b[" not in log.getvalue()
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    train(TrainConfig(model="vae", **TINY), out=tmp_path / "b", progress=True)
    assert "step" in term.getvalue()  # the rule leaves a watched terminal its bar


def test_sweep_quiet_with_workers_0_shows_no_training_bar(tmp_path, monkeypatch):
    from dislab.studies.sweep import sweep

    study = tmp_path / "s.toml"
    base = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k not in ("model_options", "dataset_options"))
    study.write_text(f'metrics = ["mig"]\n[base]\n{base}\nencoder = "mlp_small"\ndecoder = "mlp_small"\n'
                     'n_latents = 3\ndataset_options = {side = 16, n_pos = 4}\n[grid]\nseed = [0]\n'
                     '[evaluate]\nn_train = 100\n')
    term = _Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    s = sweep(study, tmp_path / "out", workers=0, report=False, progress=False)
    assert s.counts.get("done") == 1, s
    assert "step" not in term.getvalue() and "\r" not in term.getvalue(), term.getvalue()


# -- C: no sweep waits on an idle worker pool --------------------------------------------------------
@pytest.mark.slow
def test_a_sweep_with_dci_and_a_worker_pool_ends_with_its_last_run(tmp_path):
    from dislab.studies.sweep import sweep

    study = tmp_path / "s.toml"
    base = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items() if k not in ("model_options", "dataset_options"))
    study.write_text(f'metrics = ["dci"]\n[base]\n{base}\nencoder = "mlp_small"\ndecoder = "mlp_small"\n'
                     'n_latents = 3\ndataset_options = {side = 16, n_pos = 4}\n[grid]\nseed = [0, 1]\n'
                     # two joblib (loky) processes for DCI's factors, as n_jobs=-1 gives on 2+ cores
                     '[evaluate]\nn_train = 100\n[evaluate.options.dci]\nn_jobs = 2\n')
    s = sweep(study, tmp_path / "out", workers=1, report=False, progress=False)
    returned = time.time()
    assert s.counts.get("done") == 2, s
    # from the last run's "done" record to the sweep's return: the idle pool's wait (loky's 300 s
    # timeout before the fix), whatever the machine's load made of the runs themselves; the table
    # and figures written in between took 73 s on a 2-core machine loaded 5x
    last_done = max(json.loads(p.read_text())["time"] for p in (tmp_path / "out" / "status").glob("*.json"))
    waited = returned - last_done
    assert waited < 200, f"the sweep returned {waited:.0f} s after its last run; its pool waited on idle DCI workers (~300 s)"
    for log in (tmp_path / "out" / "logs").glob("*.log"):  # bars only on a terminal, not in log files
        text = log.read_text()
        assert "\r" not in text and "\x1b[" not in text, log
