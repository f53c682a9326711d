"""``dislab datasets``: list, show (factor summary and PNG grid), export."""
from __future__ import annotations

import numpy as np
from PIL import Image

from dislab import cli
from dislab.data import get_dataset
from dislab.data.cli import LABEL_WIDTH, PAD, factor_grid


def test_list_names_every_dataset(capsys):
    assert cli.main(["datasets", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("dsprites", "color_dsprites", "noisy_dsprites", "scream_dsprites", "shapes3d",
                 "mpi3d", "smallnorb", "cars3d", "image_folder", "toy_blobs"):
        assert name in out
    assert "737,280" in out and "480,000" in out


def test_factor_grid_varies_one_factor_per_row():
    ds = get_dataset("dsprites")
    imgs, f = factor_grid(ds, cols=8, seed=1)
    assert imgs.shape == (5, 8, 1, 64, 64) and f.shape == (5, 8, 5)
    base = ds.sample_factors(1, 1)[0]
    for j, size in enumerate(ds.factor_sizes):
        k = min(size, 8)
        row = f[j, :k]
        others = np.delete(row, j, axis=1)
        np.testing.assert_array_equal(others, np.tile(np.delete(base, j), (k, 1)))
        assert row[0, j] == 0 and row[-1, j] == size - 1 and np.all(np.diff(row[:, j]) > 0)
        np.testing.assert_array_equal(imgs[j, :k].numpy(), ds.observations(row).numpy())
        assert (f[j, k:] == -1).all() and float(imgs[j, k:].abs().sum()) == 0
    # posY row: the sprite only moves down, by 31/7 ≈ 4.4 rows per step, never sideways
    ys = [np.nonzero(imgs[4, k, 0].sum(1).numpy())[0].min() for k in range(8)]
    xs = [np.nonzero(imgs[4, k, 0].sum(0).numpy())[0].min() for k in range(8)]
    assert np.all(np.diff(ys) > 0) and len(set(xs)) == 1


def test_show_writes_the_grid_png(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert cli.main(["datasets", "show", "toy_blobs", "--out", str(out), "--cols", "5", "--zoom", "1"]) == 0
    text = capsys.readouterr().out
    assert "x                     8" in text and "n_images     1024" in text and "[3, 64, 64]" in text
    im = np.asarray(Image.open(out))
    assert im.shape == (4 * (64 + PAD) + PAD, LABEL_WIDTH + 5 * (64 + PAD) + PAD, 3)
    imgs, _ = factor_grid(get_dataset("toy_blobs"), cols=5, seed=0)
    for r, k in [(0, 0), (1, 4), (2, 3), (3, 3)]:
        y0, x0 = PAD + r * (64 + PAD), LABEL_WIDTH + PAD + k * (64 + PAD)
        want = (imgs[r, k].permute(1, 2, 0).numpy() * 255).round()
        np.testing.assert_allclose(im[y0:y0 + 64, x0:x0 + 64], want, atol=0.51)
    # size has only 4 values: the fifth cell of that row stays white
    y0, x0 = PAD + 2 * (64 + PAD), LABEL_WIDTH + PAD + 4 * (64 + PAD)
    assert (im[y0:y0 + 64, x0:x0 + 64] == 255).all()


def test_show_with_options_and_errors(tmp_path, capsys):
    assert cli.main(["datasets", "show", "color_dsprites", "--set", "seed=3"]) == 0
    assert "seed         3" in capsys.readouterr().out
    assert cli.main(["datasets", "show", "dsprites", "--set", "path=" + str(tmp_path / "x.npz")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert cli.main(["datasets", "show", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    assert cli.main(["datasets", "show", "dsprites", "--set", "novalue"]) == 2
    assert "KEY=VALUE" in capsys.readouterr().err


def test_export_command_writes_the_original_fields(tmp_path):
    from dislab.data import dsprites

    # export all of a small grid: restrict the procedural set through the file reader's path
    small = tmp_path / "small.npz"
    g = np.meshgrid(*[np.arange(s) for s in (3, 1, 2, 2, 2)], indexing="ij")
    dsprites.export_npz(small, factors=np.stack([a.ravel() for a in g], 1), progress=False)
    out = tmp_path / "out.npz"
    assert cli.main(["datasets", "export", "dsprites", str(out), "--set", f"path={small}"]) == 0
    with np.load(out, allow_pickle=False) as z, np.load(small, allow_pickle=False) as s:
        assert sorted(z.files) == ["imgs", "latents_classes", "latents_values"]
        for k in z.files:
            np.testing.assert_array_equal(z[k], s[k])
