"""Studies: the study file (grammar, validation, naming), locks, failures, the table and figures,
and the stacked-seeds trainer (gradients against lone models, runs against lone runs).

End-to-end sweeps (both executors, a killed and resumed study) are in test_studies_e2e.py.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from dislab.errors import ConfigError
from dislab.studies.grid import expand
from dislab.studies.locking import RunLock
from dislab.studies.study import load_study, parse_study

# Tiny runs: 16×16 blobs, the small MLP pair, three latents.
TINY = {
    "dataset": "toy_blobs",
    "dataset_options": {"side": 16, "n_pos": 4},
    "encoder": "mlp_small",
    "decoder": "mlp_small",
    "n_latents": 3,
    "steps": 4,
    "batch_size": 8,
    "log_every": 1,
    "checkpoint_every": 2,
    "channels_last": False,
    "lr": 1e-3,
    "device": "cpu",
}


@pytest.fixture(autouse=True)
def _one_thread():
    # two contended OpenMP threads on a loaded 2-core machine run many times slower than one
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text))
    return path


# -- the grammar -----------------------------------------------------------------------------------
def test_grid_is_a_product_in_file_order():
    s = expand({"model": ["a", "b"], "seed": [0, 1, 2]})
    assert s == [{"model": m, "seed": k} for m in "ab" for k in (0, 1, 2)]


def test_zip_pairs_positions_and_crosses_the_grid():
    s = expand({"model": ["a", "b"]}, zip={"beta": [1, 4], "lr": [0.1, 0.2]})
    assert s == [{"model": "a", "beta": 1, "lr": 0.1}, {"model": "a", "beta": 4, "lr": 0.2},
                 {"model": "b", "beta": 1, "lr": 0.1}, {"model": "b", "beta": 4, "lr": 0.2}]
    with pytest.raises(ConfigError, match="equal lengths"):
        expand(zip={"beta": [1, 4], "lr": [0.1]})


def test_chain_concatenates_alternatives_each_a_small_grid():
    chain = [{"model": "beta_vae", "beta": [1, 2]}, {"model": "factor_vae", "gamma": [10]}]
    s = expand({"seed": [0, 1]}, chain=chain)
    assert s == [{"seed": 0, "model": "beta_vae", "beta": 1}, {"seed": 0, "model": "beta_vae", "beta": 2},
                 {"seed": 0, "model": "factor_vae", "gamma": 10},
                 {"seed": 1, "model": "beta_vae", "beta": 1}, {"seed": 1, "model": "beta_vae", "beta": 2},
                 {"seed": 1, "model": "factor_vae", "gamma": 10}]
    named = expand(chain={"b": {"model": "x", "zip": {"p": [1, 2], "q": [3, 4]}}})
    assert named == [{"model": "x", "p": 1, "q": 3}, {"model": "x", "p": 2, "q": 4}]


def test_a_key_on_two_axes_is_refused():
    with pytest.raises(ConfigError, match=r"more than one axis"):
        expand({"beta": [1, 2]}, zip={"beta": [3], "lr": [1]})


def test_the_issue_example_works_as_written(tmp_path):
    p = write(tmp_path / "s.toml", """
        [base]
        dataset = "dsprites"
        steps = 10
        [grid]
        model = ["beta_vae", "beta_tcvae"]
        seed = [0, 1, 2]
    """)
    study = load_study(p)
    assert len(study.runs) == 6
    assert [r.config["model"] for r in study.runs] == ["beta_vae"] * 3 + ["beta_tcvae"] * 3
    assert all(r.config["dataset"] == "dsprites" and r.config["steps"] == 10 for r in study.runs)
    # default UDR groups: all seeds of one setting
    groups = study.groups()
    assert sorted(groups) == ["beta_tcvae", "beta_vae"]
    assert [r.config["seed"] for r in groups["beta_vae"]] == [0, 1, 2]
    names = [r.name for r in study.runs]
    assert len(set(names)) == 6 and names[0].startswith("beta_vae-seed0-")


def test_names_are_stable_readable_and_follow_the_whole_config(tmp_path):
    data = {"base": dict(TINY), "grid": {"model": ["beta_vae"], "beta": [1.0, 4.0], "seed": [0, 1]}}
    a = parse_study(data)
    b = parse_study(json.loads(json.dumps(data)))
    assert [r.name for r in a.runs] == [r.name for r in b.runs]
    assert a.runs[0].name.startswith("beta_vae-beta1-seed0-")
    assert a.runs[0].config["model_options"]["beta"] == 1.0
    changed = parse_study({**data, "base": {**TINY, "steps": 5}})
    assert not {r.name for r in a.runs} & {r.name for r in changed.runs}
    # model hyperparameters may be written plainly or as model_options.KEY: same run, same name
    explicit = parse_study({"base": dict(TINY), "grid": {"model": ["beta_vae"], "model_options.beta": [1.0, 4.0],
                                                         "seed": [0, 1]}})
    assert [r.config for r in explicit.runs] == [r.config for r in a.runs]


def test_seeds_key_and_udr_group_by(tmp_path):
    p = write(tmp_path / "s.toml", """
        seeds = 2
        [base]
        dataset = "toy_blobs"
        [grid]
        model = ["beta_vae", "beta_tcvae"]
        beta = [1.0, 4.0]
        [udr]
        group_by = ["model"]
    """)
    study = load_study(p)
    assert len(study.runs) == 8
    assert {g: len(r) for g, r in study.groups().items()} == {"beta_vae": 4, "beta_tcvae": 4}


def test_yaml_study_matches_toml(tmp_path):
    pytest.importorskip("yaml")
    t = write(tmp_path / "s.toml", """
        [base]
        dataset = "toy_blobs"
        [grid]
        model = ["vae", "beta_vae"]
        seed = [0, 1]
    """)
    y = write(tmp_path / "s.yaml", """
        base: {dataset: toy_blobs}
        grid: {model: [vae, beta_vae], seed: [0, 1]}
    """)
    assert [r.name for r in load_study(t).runs] == [r.name for r in load_study(y).runs]


@pytest.mark.parametrize("text, match", [
    ('[base]\nstep = 3\n[grid]\nseed = [0]', r"unknown option 'step'.*steps"),
    ('[grid]\nmodel = ["beta_vea"]', r"unknown model 'beta_vea'.*beta_vae"),
    ('[base]\ndataset = "dsprite"', r"unknown dataset 'dsprite'.*dsprites"),
    ('metrics = ["mig", "migg"]\n[grid]\nseed = [0]', r"unknown metric\(s\) \['migg'\].*mig"),
    ('[grid]\nmodel = ["beta_vae"]\nbeta = ["high"]', r"beta_vae: beta must be a number >= 0, got 'high'"),
    ('[grid]\nmodel = ["beta_vae"]\ngamma = [1.0]', r"unknown option 'gamma'"),
    ('[base]\nprior = "gauss"', r"vae: prior must be one of \[.*'normal'.*\], got 'gauss'"),
    ('[base]\ndataset_options = {sid = 16}', r"dataset 'toy_blobs' has no option\(s\) \['sid'\].*side"),
    ('[grid]\nseed = [0, 1]\n[udr]\ngroup_by = ["beta"]', r"group_by names key\(s\) \['beta'\]"),
    ('[grids]\nseed = [0]', r"unknown top-level key\(s\) \['grids'\]"),
    ('[base]\nseed = 0\n[grid]\nseed = [1]', r"both in \[base\] and swept"),
    ('[grid]\nseed = [0, 0]', r"give the same run"),
])
def test_bad_study_files_name_the_key_and_the_allowed_values(tmp_path, text, match):
    p = write(tmp_path / "bad.toml", text)
    with pytest.raises(ConfigError, match=match):
        load_study(p)


def test_sweep_refuses_a_bad_study_before_creating_anything(tmp_path):
    from dislab.cli import main

    p = write(tmp_path / "bad.toml", '[grid]\nmodel = ["nope"]\n')
    assert main(["sweep", str(p), "--out", str(tmp_path / "out"), "--quiet"]) == 2
    assert not (tmp_path / "out").exists()


def test_dry_run_lists_the_runs_and_writes_nothing(tmp_path, capsys):
    from dislab.cli import main

    p = study_file(tmp_path, 'model = ["vae", "beta_vae"]\nseed = [0, 1]')
    assert main(["sweep", str(p), "--out", str(tmp_path / "out"), "--dry-run"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("study: 4 runs in 2 UDR group(s)")
    assert sum("to do: train, evaluate, report" in line for line in lines) == 4
    assert not (tmp_path / "out").exists()


# -- locks -----------------------------------------------------------------------------------------
def test_one_lock_per_run_released_when_its_holder_dies(tmp_path):
    path = tmp_path / "locks" / "r.lock"
    a, b = RunLock(path), RunLock(path)
    assert a.acquire()
    assert not b.acquire()
    assert a.holder()["pid"] == os.getpid()
    a.release()
    assert b.acquire()
    b.release()
    # a process that takes the lock and is killed: the kernel frees the lock, no stale file to clean
    code = ("import sys,time; sys.path.insert(0, %r); from dislab.studies.locking import RunLock; "
            "l=RunLock(%r); assert l.acquire(); print('held', flush=True); time.sleep(60)"
            % (str(Path(__file__).resolve().parents[1]), str(path)))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        assert not a.acquire()
        assert a.holder()["pid"] == proc.pid
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert a.acquire(timeout=5)
    a.release()


def test_a_running_record_whose_process_is_gone_reads_interrupted():
    import socket

    from dislab.studies.aggregate import _state

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # reaped: its pid names no process
    here = socket.gethostname()
    assert _state({"state": "running", "pid": gone.pid, "host": here}) == "interrupted"
    assert _state({"state": "running", "pid": os.getpid(), "host": here}) == "running"
    assert _state({"state": "running", "pid": gone.pid, "host": here + "-other"}) == "running"
    assert _state({}) == "pending" and _state({"state": "failed"}) == "failed"


# -- failures, table, figures (in this process) --------------------------------------------------
def toml_value(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k} = {toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v)  # numbers, strings, true/false and lists read the same in TOML


def study_file(tmp_path: Path, grid: str, extra: str = "", base: dict | None = None) -> Path:
    """A study of tiny runs over ``grid`` (TOML lines), with cheap evaluation, report and UDR."""
    lines = "\n".join(f"{k} = {toml_value(v)}" for k, v in (base or TINY).items())
    return write(tmp_path / "study.toml", f'metrics = ["mig"]\n{extra}\n[base]\n{lines}\n[grid]\n{grid}\n'
                 '[evaluate]\nn_train = 100\n[report]\nn_encode = 64\ngif = false\n'
                 '[udr]\nn_points = 100\nkl_threshold = 0.0\n')


@pytest.mark.slow
def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    from dislab.studies.sweep import sweep

    # side = 4 passes the study check (a known option) but the dataset refuses it when training starts
    base = {k: v for k, v in TINY.items() if k != "dataset_options"}
    p = study_file(tmp_path, 'model = ["vae"]\nseed = [0]\n"dataset_options.side" = [16, 4]', base=base)
    s = sweep(p, tmp_path / "out", workers=0, progress=False, report=False)
    assert s.counts["done"] == 1 and s.counts["failed"] == 1
    (bad,) = s.failed
    status = json.loads((tmp_path / "out" / "status" / f"{bad}.json").read_text())
    assert status["state"] == "failed" and status["stage"] == "train"
    assert "side must be a whole number >= 8, got 4" in status["error"] and "ConfigError" in status["traceback"]
    # a rerun skips the failure (it would fail again) unless asked
    again = sweep(p, tmp_path / "out", workers=0, progress=False, report=False)
    assert again.counts["skipped"] == 1 and again.counts["failed"] == 1 and "done" not in again.counts
    from dislab.studies.aggregate import results

    out = results(tmp_path / "out", figures=False)
    assert out["states"] == {"done": 1, "failed": 1}
    page = out["page"].read_text()
    assert "side must be a whole number &gt;= 8" in page


@pytest.mark.slow
def test_a_run_locked_by_another_sweep_is_left_to_it(tmp_path):
    from dislab.studies.folder import StudyFolder
    from dislab.studies.study import load_study
    from dislab.studies.sweep import sweep

    p = study_file(tmp_path, 'model = ["vae"]\nseed = [0, 1]')
    held_run = load_study(p).runs[1].name
    other = RunLock(StudyFolder(tmp_path / "out").lock_path(held_run))  # "another sweep" holds it
    assert other.acquire()
    try:
        s = sweep(p, tmp_path / "out", workers=0, progress=False, report=False)
    finally:
        other.release()
    assert s.busy == [held_run] and s.counts["done"] == 1
    assert not (tmp_path / "out" / "runs" / held_run).exists()
    again = sweep(p, tmp_path / "out", workers=0, progress=False, report=False)
    assert again.counts["done"] == 1 and again.counts["skipped"] == 1


# -- stacked seeds -----------------------------------------------------------------------------------
def _lone_models(config_dicts, dtype):
    from dislab.data import get_dataset
    from dislab.models import MODELS
    from dislab.models.base import replace_config
    from dislab.training import TrainConfig

    models = []
    for c in config_dicts:
        cfg = TrainConfig.from_dict(c)
        ds = get_dataset(cfg.dataset, **cfg.dataset_options)
        cls = MODELS.get(cfg.model)
        mc = replace_config(cls.config_class(), **cfg.model_options, observation_shape=ds.observation_shape,
                            dataset_size=len(ds))
        torch.manual_seed(cfg.seed)
        models.append(cls(mc).to(dtype))
    return models, ds


@pytest.mark.parametrize("model, options", [("beta_vae", {"beta": 4.0}), ("beta_tcvae", {"beta": 6.0}),
                                            ("dip_vae_ii", {})])
def test_stacked_models_get_exactly_their_lone_gradients(model, options):
    """K = 3 models, each with its own batch and noise: the gradient of the stacked step equals, model
    by model, the gradient of the lone model on the same batch and noise (float64: to 1e-10)."""
    from torch.func import stack_module_state

    from dislab.studies.stacked import stacked_forward, stacked_gradients

    from dislab.training.config import apply_overrides

    cfgs = [apply_overrides({**TINY, "model": model, **options, "seed": s}).to_dict() for s in (0, 1, 2)]
    models, ds = _lone_models(cfgs, torch.float64)
    rng = np.random.default_rng(0)
    x = torch.stack([ds.images(ds.sample_indices(8, rng)) for _ in models]).double()  # (K, B, C, H, W)
    eps = torch.randn(3, 8, 3, dtype=torch.float64)  # (K, B, n_latents)

    params, buffers = stack_module_state(models)
    loss, aux, terms = stacked_forward(models[0], params, buffers, x, eps, step=5)
    groups = {g: [params[n] for n, p in models[0].named_parameters() if any(p is q for q in ps)]
              for g, ps in models[0].optimizer_groups().items()}
    grads = stacked_gradients(loss, aux, groups)

    for k, m in enumerate(models):
        with m.noise.given(eps[k]):
            out = m(x[k], 5)
        assert torch.allclose(loss[k], out.loss, rtol=1e-12, atol=1e-12)
        names = [n for n, _ in m.named_parameters()]
        lone = torch.autograd.grad(out.loss, list(m.parameters()))
        stacked = dict(zip([n for n, p in models[0].named_parameters() if any(p is q for q in
                                                                          models[0].optimizer_groups()["model"])],
                           grads["model"]))
        for n, g in zip(names, lone):
            assert torch.allclose(stacked[n][k], g, rtol=1e-10, atol=1e-12), (model, k, n)
        assert float(terms["kl"][k]) == pytest.approx(float(out.terms["kl"]), rel=1e-12)


def _member_1_turns_nan_at_step_2(real):
    """``stacked_forward`` whose second of three members gets a NaN loss at step 2."""

    def poisoned(template, params, buffers, x, eps, step):
        loss, aux, terms = real(template, params, buffers, x, eps, step)
        if step == 2 and loss.shape[0] == 3:
            loss = loss + torch.tensor([0.0, float("nan"), 0.0])
        return loss, aux, terms

    return poisoned


@pytest.mark.slow
def test_stacked_runs_are_ordinary_runs_equal_to_lone_runs(tmp_path):
    """Three seeds trained stacked give the run folders three lone trainings give (to float32
    rounding), which resume and load like any run; a model whose loss turns non-finite stops alone.

    Tolerance: one Adam step moves every weight by about lr = 1e-3, so another batch, noise or
    initialisation shows as differences of ~1e-3; float32 rounding of the batched kernels stays
    below 1e-4 (measured: max 4e-5 after 4 steps)."""
    import dislab.studies.stacked as stacked
    from dislab.training import open_run, resume, train
    from dislab.training.config import apply_overrides

    cfgs = [apply_overrides({**TINY, "model": "beta_vae", "beta": 4.0, "seed": s}) for s in (0, 1, 2)]
    errors = stacked.train_stacked(cfgs, [tmp_path / f"s{k}" for k in range(3)], progress=False)
    assert errors == [None, None, None]
    for k, c in enumerate(cfgs):
        train(c, out=tmp_path / f"lone{k}", progress=False)
        a, b = open_run(tmp_path / f"s{k}"), open_run(tmp_path / f"lone{k}")
        assert a.step == b.step == 4 and a.complete
        for (n, pa), (_, pb) in zip(a.model().named_parameters(), b.model().named_parameters()):
            assert torch.allclose(pa, pb, rtol=0, atol=1e-4), (k, n)
        la, lb = a.train_log(), b.train_log()
        assert [r["step"] for r in la] == [1, 2, 3, 4]
        assert la[-1]["loss"] == pytest.approx(lb[-1]["loss"], rel=1e-4)
    # an ordinary run: the trainer resumes it alone, to more steps, like a lone run
    resume(tmp_path / "s0", changes={"steps": 6}, progress=False)
    resume(tmp_path / "lone0", changes={"steps": 6}, progress=False)
    for pa, pb in zip(open_run(tmp_path / "s0").model().parameters(), open_run(tmp_path / "lone0").model().parameters()):
        assert torch.allclose(pa, pb, rtol=0, atol=1e-4)

    # model 1's loss turns NaN at step 3: it stops there (checkpoint 2 kept), the others finish
    real = stacked.stacked_forward
    stacked.stacked_forward = _member_1_turns_nan_at_step_2(real)
    try:
        errors = stacked.train_stacked(cfgs, [tmp_path / f"p{k}" for k in range(3)], progress=False)
    finally:
        stacked.stacked_forward = real
    assert errors[0] is None and errors[2] is None
    assert "non-finite loss" in str(errors[1]) and "step 2" in str(errors[1])
    assert open_run(tmp_path / "p1").step == 2 and open_run(tmp_path / "p0").step == 4
    for pa, pb in zip(open_run(tmp_path / "p2").model().parameters(), open_run(tmp_path / "lone2").model().parameters()):
        assert torch.allclose(pa, pb, rtol=0, atol=1e-4)


@pytest.mark.parametrize("model", ["beta_vae", "factor_vae", "ladder_vae"])
def test_a_stacked_step_replaces_no_attribute_of_any_model(model):
    """The stacked forward hands each model its noise through ``model.noise.given``: during the
    step (seen from inside the forward) and after it, the model's class and instance attributes
    are the ones it had before (the trainer used to shadow ``reparameterize`` on the template)."""
    from torch.func import stack_module_state

    from dislab.models.base import LatentVariableModel
    from dislab.studies.stacked import stacked_forward
    from dislab.training.config import apply_overrides

    options = {} if model != "ladder_vae" else {"encoder": "hierarchical", "decoder": "hierarchical"}
    cfgs = [apply_overrides({**TINY, "model": model, **options, "seed": s}).to_dict() for s in (0, 1)]
    models, ds = _lone_models(cfgs, torch.float32)
    template = models[0]
    x = torch.stack([ds.images(ds.sample_indices(8, np.random.default_rng(k))) for k in range(2)])
    eps = torch.randn(2, 8, 3)  # (K, B, n_latents)
    cls_attrs = {c: dict(vars(c)) for c in type(template).__mro__}
    inst_attrs = dict(vars(template))
    seen = []

    def look(module, args):
        seen.append(({c: dict(vars(c)) for c in type(template).__mro__} == cls_attrs,
                     dict(vars(template)) == inst_attrs))

    hook = template.encoder.register_forward_pre_hook(look)
    try:
        stacked_forward(template, *stack_module_state(models), x, eps, step=1)
    finally:
        hook.remove()
    assert seen and all(same_cls and same_inst for same_cls, same_inst in seen)
    assert type(template).reparameterize is LatentVariableModel.reparameterize
    assert dict(vars(template)) == inst_attrs and "reparameterize" not in vars(template)


def test_stacked_runs_write_tensorboard_events_per_run(tmp_path):
    pytest.importorskip("tensorboard")
    from dislab.studies.stacked import train_stacked
    from dislab.training.config import apply_overrides

    cfgs = [apply_overrides({**TINY, "model": "beta_vae", "tensorboard": True, "seed": s}) for s in (0, 1)]
    outs = [tmp_path / "s0", tmp_path / "s1"]
    assert train_stacked(cfgs, outs, progress=False) == [None, None]
    for out in outs:
        assert any(p.name.startswith("events.out.tfevents") for p in (out / "tensorboard").iterdir())


def test_a_stacked_member_that_turns_non_finite_stops_and_the_others_train_on(tmp_path, monkeypatch):
    """Seed 1's loss is NaN at step 2: it stops with the trainer's message, keeping its step-2
    checkpoint and its rows up to step 2; seeds 0 and 2 finish with the weights and log rows they
    get in a stack without the failure (to float32 rounding: after the drop their step runs as a
    stack of 2, not 3)."""
    import dislab.studies.stacked as stacked
    from dislab.training import NonFiniteLossError, open_run
    from dislab.training.config import apply_overrides

    cfgs = [apply_overrides({**TINY, "model": "beta_vae", "seed": s}) for s in (0, 1, 2)]
    assert stacked.train_stacked(cfgs, [tmp_path / f"ok{k}" for k in range(3)], progress=False) == [None] * 3
    monkeypatch.setattr(stacked, "stacked_forward", _member_1_turns_nan_at_step_2(stacked.stacked_forward))
    errors = stacked.train_stacked(cfgs, [tmp_path / f"p{k}" for k in range(3)], progress=False)
    assert errors[0] is None and errors[2] is None and isinstance(errors[1], NonFiniteLossError)
    assert str(errors[1]).startswith("non-finite loss (nan) at step 2; stopped before updating the weights; "
                                     "the run keeps its last good checkpoint (step 2)")
    bad = open_run(tmp_path / "p1")
    assert bad.step == 2 and [r["step"] for r in bad.train_log()] == [1, 2]
    for k in (0, 2):
        a, b = open_run(tmp_path / f"p{k}"), open_run(tmp_path / f"ok{k}")
        assert a.step == b.step == 4 and a.complete
        for (n, pa), (_, pb) in zip(a.model().named_parameters(), b.model().named_parameters()):
            assert torch.allclose(pa, pb, rtol=0, atol=1e-6), (k, n)
        assert [r["loss"] for r in a.train_log()] == pytest.approx([r["loss"] for r in b.train_log()], rel=1e-6)


def test_stacked_refuses_runs_that_differ_in_more_than_seed(tmp_path):
    from dislab.studies.stacked import train_stacked
    from dislab.training.config import apply_overrides

    a = apply_overrides({**TINY, "model": "beta_vae", "beta": 1.0, "seed": 0})
    b = apply_overrides({**TINY, "model": "beta_vae", "beta": 4.0, "seed": 1})
    with pytest.raises(ConfigError, match=r"differ only in seed.*model_options"):
        train_stacked([a, b], [tmp_path / "a", tmp_path / "b"], progress=False)
