"""The shared plumbing: registries, atomic files, JSON provenance, the CLI's error handling."""
from __future__ import annotations

import json
import os

import numpy as np
import pytest

from dislab import cli, io
from dislab.data import get_dataset
from dislab.errors import ConfigError, DataError
from dislab.registry import Registry


def test_registry_lists_known_names_on_unknown():
    r = Registry("thing", {"a": "os.path:join"})
    assert r.get("a") is os.path.join
    with pytest.raises(ConfigError, match="unknown thing 'b'; expected one of: a"):
        r.get("b")


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    target = tmp_path / "x.json"
    io.write_json(target, {"a": np.float32(1.5), "b": [np.int64(2)], "c": float("nan")}, produced_by="test")
    before = target.read_text()
    data = json.loads(before)
    assert data["a"] == 1.5 and data["b"] == [2] and data["c"] is None
    assert data["dislab"]["produced_by"] == "test" and "dislab_version" in data["dislab"]
    from dislab.machine import describe

    assert data["dislab"]["machine"] == describe() and describe().endswith(")")  # "<cpu> (<units>)"
    with pytest.raises(RuntimeError):
        with io.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_atomic_write_respects_umask(tmp_path):
    old = os.umask(0o022)
    try:
        io.atomic_write_text(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "f.txt").stat().st_mode & 0o777 == 0o644


def test_read_json_names_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="bad.json: not valid JSON"):
        io.read_json(bad)


def test_toy_blobs_contract():
    ds = get_dataset("toy_blobs")
    assert len(ds) == 8 * 8 * 4 * 4
    f = ds.sample_factors(50, np.random.default_rng(0))
    assert f.dtype == np.int64 and f.shape == (50, 4)
    np.testing.assert_array_equal(ds.factors_of(ds.index_of(f)), f)
    x = ds.observations(f)
    assert x.shape == (50, 3, 64, 64) and x.dtype.is_floating_point
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    # the blob's centre of mass moves with the x factor alone
    a = ds.observations([[0, 3, 1, 0]])[0, 0]
    b = ds.observations([[7, 3, 1, 0]])[0, 0]
    cols = np.arange(64)
    assert (a.sum(0).numpy() @ cols) / a.sum() < (b.sum(0).numpy() @ cols) / b.sum()
    # distinct images
    all_imgs = ds.images(np.arange(len(ds))).flatten(1)
    assert len(np.unique(all_imgs.numpy().round(4), axis=0)) == len(ds)


@pytest.mark.parametrize("bad, match", [
    ([[8, 0, 0, 0]], "factor 'x' has index 8"),
    ([[0, 0, 0]], r"shape \(n, 4\)"),
    ([[0, 0, 0, -1]], "factor 'hue' has index -1"),
])
def test_bad_factors_are_named(bad, match):
    with pytest.raises(DataError, match=match):
        get_dataset("toy_blobs").observations(bad)


def test_cli_help_lists_every_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name in cli.COMMANDS:
        assert name in out


def test_cli_prints_clear_error_without_traceback(capsys):
    class Boom:
        @staticmethod
        def add_arguments(p):
            pass

        @staticmethod
        def main(args):
            raise ConfigError("unknown model 'x'; expected one of: vae")

    import sys
    sys.modules["dislab._test_boom"] = Boom
    cli.COMMANDS["boom"] = ("dislab._test_boom", "test")
    try:
        assert cli.main(["boom"]) == 2
    finally:
        del cli.COMMANDS["boom"]
    err = capsys.readouterr().err
    assert "dislab boom: error: unknown model 'x'" in err and "Traceback" not in err


def test_machine_names_the_cpu_and_the_units_that_change_rounding(monkeypatch):
    from dislab import machine

    monkeypatch.setattr(machine, "cpu_flags", lambda: frozenset({"fma", "avx2", "avx512f", "amx_bf16"}))
    monkeypatch.setattr(machine, "cpu_name", lambda: "Some CPU")
    assert machine.describe() == "Some CPU (amx_bf16, avx512f, avx2)"
    monkeypatch.setattr(machine, "cpu_flags", lambda: frozenset({"sse2"}))
    assert machine.describe() == "Some CPU (no avx2)"
