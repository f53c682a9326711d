"""evaluate / dislab evaluate on tiny real runs: evaluation.json's keys, the factor-less refusal,
per-level metrics of hierarchical models, and the CLI table."""
from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch
from PIL import Image

from dislab import cli
from dislab.errors import ConfigError, DataError
from dislab.runs import evaluate
from dislab.runs.cli_evaluate import parse_options
from dislab.training import TrainConfig, open_run, train

TINY = dict(dataset="toy_blobs", dataset_options={"side": 16, "n_pos": 4}, steps=2, batch_size=8,
            log_every=1, checkpoint_every=2, device="cpu")
FAST = {"dci": {"predictor": "lasso"}}  # the boosted trees are the slow part; tested elsewhere


@pytest.fixture(scope="module")
def blobs_run(tmp_path_factory):
    return train(TrainConfig(model="vae", model_options={"n_latents": 3, "encoder": "mlp_small",
                                                         "decoder": "mlp_small"}, **TINY),
                 out=tmp_path_factory.mktemp("r") / "run", progress=False)


def test_evaluate_writes_evaluation_json(blobs_run):
    t0 = time.perf_counter()
    out = evaluate(blobs_run, metrics=["mig", "dci", "unsupervised"], n_train=200, seed=1,
                   options=FAST, progress=False)
    wall = time.perf_counter() - t0
    data = json.loads((blobs_run / "evaluation.json").read_text())
    assert data["dislab"]["produced_by"] == "dislab.runs.evaluate" and data["dislab"]["dislab_version"]
    assert set(data["metrics"]) == {"mig", "dci", "unsupervised"}
    # MIG by hand: the sampler's points (seed 1), the model's posterior means, the array function
    from dislab.metrics import mig
    from dislab.training import load

    run = open_run(blobs_run)
    dataset, model = run.dataset(), load(blobs_run)
    factors = dataset.sample_factors(200, np.random.default_rng(1))
    with torch.no_grad():
        codes = model.encode(dataset.images(dataset.index_of(factors)))[0].numpy()
    assert data["metrics"]["mig"]["mig"] == pytest.approx(mig(codes, factors)["mig"], abs=1e-6)
    assert {"disentanglement", "completeness", "informativeness_test"} <= set(data["metrics"]["dci"])
    unsup = data["metrics"]["unsupervised"]
    # the model's posterior gives the KL: dislab's active latents are counted on it
    assert unsup["n_active"] == sum(k > 0.1 for k in unsup["mean_kl"]) <= 3
    assert unsup["n_active_units"] <= 3
    # every parameter is recorded: the sampler's and the array function's defaults too
    assert {"seed": 1, "n_train": 200, "n_test": 100, "predictor": "lasso"}.items() <= data["parameters"]["dci"].items()
    assert data["parameters"]["mig"]["n_bins"] == 20
    assert data["parameters"]["mig"]["n_train"] == 200
    assert set(data["time_s"]) == set(data["metrics"]) and 0 < sum(data["time_s"].values()) <= wall
    assert (data["model"], data["dataset"], data["step"], data["representation"]) == ("vae", "toy_blobs", 2, "mean")
    assert out["metrics"]["mig"]["mig"] == pytest.approx(data["metrics"]["mig"]["mig"])
    # a second call adds a metric and keeps the others (same step and representation)
    evaluate(blobs_run, metrics="sap", n_train=200, seed=1, progress=False)
    data = json.loads((blobs_run / "evaluation.json").read_text())
    assert set(data["metrics"]) == {"mig", "dci", "unsupervised", "sap"}
    assert [p.name for p in blobs_run.iterdir() if p.name.startswith(".")] == []  # no temp left


def test_same_seed_same_scores_and_unknown_names(blobs_run):
    a = evaluate(blobs_run, metrics="mig", n_train=150, seed=4, progress=False, write=False)
    b = evaluate(blobs_run, metrics="mig", n_train=150, seed=4, progress=False, write=False)
    assert a["metrics"]["mig"] == b["metrics"]["mig"]
    with pytest.raises(ConfigError, match="unknown metric 'migg'"):
        evaluate(blobs_run, metrics="migg", write=False)
    with pytest.raises(DataError, match="unknown option"):
        evaluate(blobs_run, metrics="mig", n_train=100, options={"mig": {"bins": 3}}, write=False)


def test_factorless_run_gets_unsupervised_only(tmp_path, capsys):
    folder = tmp_path / "images"
    folder.mkdir()
    g = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(g.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    run = train(TrainConfig(model="vae", dataset="image_folder",
                            dataset_options={"path": str(folder), "side": 16},
                            model_options={"n_latents": 2, "encoder": "mlp_small", "decoder": "mlp_small"},
                            **{k: v for k, v in TINY.items() if k not in ("dataset", "dataset_options")}),
                out=tmp_path / "run", progress=False)
    with pytest.raises(DataError, match="no ground-truth factors, which mig, dci need"):
        evaluate(run, metrics="mig,dci,unsupervised", n_train=50)
    out = evaluate(run, n_train=50, progress=False)
    assert list(out["metrics"]) == ["unsupervised"]
    assert "no ground-truth factors" in out["notes"][0] and "skipped mig" in out["notes"][0]
    # the command says why on stderr and prints the table
    assert cli.main(["evaluate", str(run), "--n-train", "50"]) == 0
    captured = capsys.readouterr()
    assert "unsupervised metrics only" in captured.err and "gaussian_total_correlation" in captured.out
    assert cli.main(["evaluate", str(run), "--metrics", "mig"]) == 2
    assert "no ground-truth factors" in capsys.readouterr().err


@pytest.mark.slow
def test_hierarchical_model_gets_per_level_mig_and_dci(tmp_path, capsys):
    run = train(TrainConfig(model="ladder_vae", model_options={"n_latents": 4, "n_levels": 2,
                                                               "channels": 8, "hidden": 16}, **TINY),
                out=tmp_path / "run", progress=False)
    assert cli.main(["evaluate", str(run), "--metrics", "mig,dci,unsupervised", "--n-train", "120",
                     "--option", "dci.predictor=lasso"]) == 0
    data = json.loads((run / "evaluation.json").read_text())
    assert set(data["metrics"]) == {"mig", "dci", "unsupervised", "level0/mig", "level0/dci",
                                    "level1/mig", "level1/dci"}
    levels = [len(data["metrics"][f"level{i}/dci"]["importance"]) for i in range(2)]
    assert sum(levels) == len(data["metrics"]["dci"]["importance"]) == 4
    assert "level1/mig  mig" in capsys.readouterr().out


def test_parse_options():
    assert parse_options(["dci.predictor=gbt", "mig.n_bins=30"]) == {"dci": {"predictor": "gbt"},
                                                                    "mig": {"n_bins": 30}}
    with pytest.raises(ConfigError, match="METRIC.KEY=VALUE"):
        parse_options(["predictor=gbt"])


def test_merge_keeps_blocks_of_the_same_step_only(blobs_run):
    from dislab.io import write_json

    path = blobs_run / "evaluation.json"
    write_json(path, {"step": 1, "representation": "mean", "metrics": {"stale": {"x": 1.0}}}, produced_by="test")
    evaluate(blobs_run, metrics="mig", n_train=100, progress=False)
    assert set(json.loads(path.read_text())["metrics"]) == {"mig"}  # other weights: dropped
    # a block written without a step (e.g. by `dislab udr` into a new file) is kept
    write_json(path, {"metrics": {"udr": {"udr": 0.5}}}, produced_by="test")
    evaluate(blobs_run, metrics="mig", n_train=100, progress=False)
    assert set(json.loads(path.read_text())["metrics"]) == {"mig", "udr"}


def test_dislab_evaluate_computes_the_2023_metrics(blobs_run, capsys):
    """dislab evaluate --metrics infomec,dci_es: both blocks written, their options recorded."""
    assert cli.main(["evaluate", str(blobs_run), "--metrics", "infomec,dci_es", "--n-train", "120",
                     "--option", "dci_es.capacities=[1,2]"]) == 0
    printed = capsys.readouterr().out
    assert "infomec" in printed and "dci_es" in printed
    data = json.loads((blobs_run / "evaluation.json").read_text())
    info, es = data["metrics"]["infomec"], data["metrics"]["dci_es"]
    assert all(0.0 <= info[k] <= 1.0 + 1e-9 for k in ("infom", "infoc"))
    assert -1.0 <= es["explicitness"] <= 1.0 and es["capacities"] == [1, 2]
    assert data["parameters"]["infomec"]["n_neighbors"] == 10 and data["parameters"]["infomec"]["n_train"] == 120
    assert data["parameters"]["dci_es"]["n_test"] == 60 and data["parameters"]["dci_es"]["n_jobs"] == -1
