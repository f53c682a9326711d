"""report.html and the `traverse` / `report` commands: contents, offline-ness, bad input, and the page
opened in a real headless Chromium (screenshot and image loading checked)."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

from dislab import cli
from dislab.io import write_json

pytestmark = pytest.mark.slow

# kl_threshold 0: after a few steps no latent clears the usual 0.1 nats; every picture is drawn anyway
REPORT_KW = dict(n_encode=64, steps=4, n_frames=4, n_gif_inputs=2, kl_threshold=0.0, progress=False)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A tiny β-TCVAE trained a few steps on toy_blobs, evaluated with MIG and DCI."""
    from dislab.runs import evaluate
    from dislab.training import TrainConfig, train

    out = tmp_path_factory.mktemp("report") / "run"
    train(TrainConfig(model="beta_tcvae", dataset="toy_blobs", dataset_options={"n_pos": 4},
                      model_options={"n_latents": 3}, steps=6, batch_size=8, lr=1e-3, log_every=2,
                      checkpoint_every=100, seed=0), out=out, progress=False)
    # DCI's linear variant: the boosted trees take tens of seconds on a loaded 2-core machine
    evaluate(out, metrics="mig,dci", n_train=120, options={"dci": {"predictor": "lasso"}}, progress=False)
    return out


@pytest.fixture(scope="module")
def report(run_dir) -> Path:
    from dislab.viz.report import write_report

    return write_report(run_dir, **REPORT_KW)


def _copy(run_dir: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "copy"
    shutil.copytree(run_dir, dst, ignore=shutil.ignore_patterns("report.html", "figures"))
    return dst


def _imgs(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]*)"', page)


def test_report_is_complete_and_offline(run_dir, report):
    assert report == run_dir / "report.html"
    page = report.read_text(encoding="utf-8")
    for sid in ("scores", "training", "reconstructions", "traversals", "samples", "kl", "factors", "config"):
        assert f'<section id="{sid}">' in page
    # the score table: every scalar of evaluation.json, with its meaning and range
    evaluation = json.loads((run_dir / "evaluation.json").read_text())
    mig = evaluation["metrics"]["mig"]["mig"]
    table = re.search(r'<table class="scores">.*?</table>', page, re.S).group(0)
    assert re.search(r"<td>mig</td><td>mig</td><td class=\"num\">" + re.escape(f"{mig:.4g}"), table)
    assert "Mutual Information Gap" in table and "0 to 1" in table and "completeness" in table
    # both factor × latent pictures, and nothing loaded from anywhere
    assert "mutual_information.png" in page and "dci_importance.png" in page
    srcs = _imgs(page)
    assert len(srcs) >= 9 and all(s.startswith(("data:image/png;base64,", "data:image/gif;base64,")) for s in srcs)
    assert "<script" not in page.lower() and not re.search(r'(src|href)="(https?:)?//', page)
    assert "default-src 'none'; img-src data:" in page
    assert "No evaluation yet" not in page
    figs = sorted(p.name for p in (run_dir / "figures").iterdir())
    assert {"traversals.png", "traversals.gif", "dci_importance.png", "training_curves.png",
            "latent_vs_factor.png"} <= set(figs)


def test_report_without_evaluation_says_so_and_shows_the_rest(run_dir, tmp_path):
    from dislab.viz.report import write_report

    d = _copy(run_dir, tmp_path)
    (d / "evaluation.json").unlink()
    page = write_report(d, **{**REPORT_KW, "gif": False}).read_text()
    assert "No evaluation yet" in page and f"dislab evaluate {d}" in page
    assert '<table class="scores">' not in page
    assert 'id="traversals"' in page and 'id="training"' in page and len(_imgs(page)) >= 5


def test_report_without_weights_shows_config_and_log(run_dir, tmp_path, capsys):
    d = _copy(run_dir, tmp_path)
    (d / "model.safetensors").unlink()
    shutil.rmtree(d / "checkpoint")  # with a checkpoint, a reader restores the weights from it
    assert cli.main(["report", str(d), "--no-progress", "--n-encode", "32"]) == 0
    err = capsys.readouterr().err
    assert "has no weights yet" in err
    page = (d / "report.html").read_text()
    assert "No pictures of the model" in page and "model.safetensors missing" in page
    assert "training_curves.png" in page and 'id="config"' in page and "traversals.png" not in page


def test_report_shows_diagnostics_and_levels(run_dir, tmp_path, monkeypatch):
    from dislab.models.beta_tcvae import BetaTCVAE
    from dislab.viz.report import write_report

    d = _copy(run_dir, tmp_path)
    write_json(d / "diagnostics.json", {"orthogonality": {"mean": 0.8125}, "pca_alignment": [0.5, 0.25]},
               produced_by="test")
    monkeypatch.setattr(BetaTCVAE, "latent_levels", (1, 2), raising=False)
    page = write_report(d, **{**REPORT_KW, "gif": False}).read_text()
    diag = re.search(r'<section id="diagnostics">.*?</section>', page, re.S).group(0)
    assert "orthogonality.mean" in diag and "0.8125" in diag and "[0.5, 0.25]" in diag
    assert "Level 0 (lowest): latents z0–z0" in page and "Level 1: latents z1–z2" in page
    assert "traversals_level1.png" in page


def test_cli_bad_input_is_one_clear_line(run_dir, tmp_path, capsys):
    cases = [
        (["report", str(tmp_path / "nowhere")], f"{tmp_path / 'nowhere'} does not exist"),
        (["traverse", str(run_dir), "--latents", "0,5"], "latent index 5 is out of range: this model has 3 latents"),
        (["traverse", str(run_dir), "--latents", "a"], "--latents expects comma-separated"),
        (["traverse", str(run_dir), "--out", str(tmp_path / "t.jpg")], "must end in .png"),
    ]
    d = _copy(run_dir, tmp_path)
    (d / "model.safetensors").unlink()
    shutil.rmtree(d / "checkpoint")  # with a checkpoint, a reader restores the weights from it
    cases.append((["traverse", str(d)], "no weights yet"))
    for argv, message in cases:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and err.count("\n") == 1, err


def test_cli_traverse_png_and_gif(run_dir, tmp_path, capsys):
    from PIL import Image

    png = tmp_path / "t.png"
    assert cli.main(["traverse", str(run_dir), "--latents", "2,0", "--steps", "5", "--out", str(png),
                     "--n-encode", "50", "--no-progress"]) == 0
    assert str(png) in capsys.readouterr().out
    with Image.open(png) as im:
        w, h = im.size
    assert h == 2 + 2 * 66 and w > 2 + 5 * 66  # 2 latents x 5 steps plus a label margin
    gif = tmp_path / "t.gif"
    assert cli.main(["traverse", str(run_dir), "--out", str(gif), "--frames", "6", "--inputs", "2",
                     "--n-encode", "50", "--no-progress"]) == 0
    with Image.open(gif) as im:
        assert im.n_frames == 6 and im.size[0] == 2 + 3 * 66 and im.size[1] > 2 + 2 * 66


# -- a real browser -------------------------------------------------------------------------------
def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def run_chromium(url: str, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    exe = chromium()
    with tempfile.TemporaryDirectory() as profile:
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               "--hide-scrollbars", f"--user-data-dir={profile}", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# Appended to a copy of the page: after the load event, lists images that failed to decode. The page
# itself has no script; its Content-Security-Policy is widened for this inline script only.
CHECKER = """<script>window.addEventListener('load', function () {
  var imgs = Array.prototype.slice.call(document.images);
  var broken = imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); });
  var m = document.createElement('pre'); m.id = 'dislab-check';
  m.textContent = 'CHECK images=' + imgs.length + ' broken=[' +
    broken.map(function (i) { return i.title; }).join('|') + '] scores=' +
    document.querySelectorAll('table.scores tbody tr').length + ' END';
  document.body.appendChild(m);
});</script>"""


def _checked(page: str, path: Path) -> dict:
    page = page.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';", 1)
    path.write_text(page.replace("</body>", CHECKER + "</body>"), encoding="utf-8")
    res = run_chromium(path.as_uri(), "--virtual-time-budget=10000", "--dump-dom")
    m = re.search(r"CHECK images=(\d+) broken=\[([^\]]*)\] scores=(\d+) END", res.stdout)
    assert m, f"checker marker missing from the DOM; chromium said: {res.stderr[-2000:]}"
    return {"images": int(m.group(1)), "broken": [b for b in m.group(2).split("|") if b], "scores": int(m.group(3))}


@pytest.mark.browser
def test_report_renders_in_headless_chromium(run_dir, report, tmp_path):
    if chromium() is None:
        pytest.skip("no Chromium found: install Debian's chromium (`make browser`, needs root and the "
                    "Debian mirror) to open the report in a real browser")
    from PIL import Image

    path = report
    page = path.read_text(encoding="utf-8")
    # every image decodes, and the score table is there
    got = _checked(page, tmp_path / "checked.html")
    assert got["images"] == len(_imgs(page)) >= 9 and got["broken"] == []
    n_scores = sum(1 for v in json.loads((run_dir / "evaluation.json").read_text())["metrics"].values()
                   for x in v.values() if isinstance(x, (int, float)) and not isinstance(x, bool))
    assert got["scores"] == n_scores > 0
    # the checker can fail: a corrupt image and one from the network (blocked by the page's policy)
    bad = page.replace("</body>", '<img src="data:image/png;base64,AAAA" title="corrupt">'
                                  '<img src="http://127.0.0.1:9/x.png" title="remote"></body>')
    got = _checked(bad, tmp_path / "bad.html")
    assert sorted(got["broken"]) == ["corrupt", "remote"]
    # the screenshot of the page as a user opens it: not blank, text and pictures drawn
    shot = tmp_path / "shot.png"
    res = run_chromium(path.as_uri(), "--window-size=1280,1800", f"--screenshot={shot}")
    assert shot.is_file(), res.stderr[-2000:]
    rgb = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert rgb.shape[:2] == (1800, 1280)
    ink = (rgb.sum(axis=2) < 300)  # dark pixels: text, plots, black image backgrounds
    assert ink.mean() > 0.01 and ink[:150].mean() > 0.002  # the title block is drawn
    assert len(np.unique(rgb.reshape(-1, 3)[::7], axis=0)) > 200  # pictures, not only text
