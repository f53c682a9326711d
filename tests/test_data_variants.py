"""color-, noisy- and scream-dSprites: per-image randomness tied to (seed, index), never a factor."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from dislab.data import get_dataset, per_index
from dislab.errors import ConfigError, DataError

VARIANTS = ["color_dsprites", "noisy_dsprites", "scream_dsprites"]


@pytest.fixture(scope="module")
def sprites():
    return get_dataset("dsprites")


@pytest.mark.parametrize("name", VARIANTS)
def test_contract_and_determinism(name, sprites):
    ds = get_dataset(name, seed=3)
    assert ds.factor_names == sprites.factor_names and ds.factor_sizes == sprites.factor_sizes
    assert ds.observation_shape == (3, 64, 64) and len(ds) == 737_280
    idx = np.array([5, 700_000, 123_456, 5])
    x = ds.images(idx)
    assert x.dtype == torch.float32 and x.shape == (4, 3, 64, 64)
    assert 0 <= float(x.min()) and float(x.max()) <= 1
    # the same index gives the same image: within a batch, across batches and instances
    assert torch.equal(x[0], x[3])
    assert torch.equal(ds.images(idx[::-1].copy())[1], x[2])
    assert torch.equal(get_dataset(name, seed=3).images(idx), x)
    # the seed changes the randomness, not the sprite
    y = get_dataset(name, seed=4).images(idx)
    assert not torch.equal(x[1], y[1])


def test_color_is_one_random_colour_per_sprite(sprites):
    ds = get_dataset("color_dsprites", seed=0)
    idx = ds.sample_indices(200, 1)
    x, mask = ds.images(idx), sprites.images(idx)[:, 0] > 0.5
    assert float(x.permute(1, 0, 2, 3)[:, ~mask].abs().max()) == 0  # black background
    colours = torch.stack([x[i][:, mask[i]].mean(1) for i in range(len(idx))])  # (n, 3)
    spread = torch.stack([x[i][:, mask[i]].std(1) for i in range(len(idx))])
    assert float(spread.max()) < 1e-6  # one colour per sprite
    assert float(colours.min()) >= 0.5 and float(colours.max()) < 1
    # U(0.5, 1)³: mean 0.75, and the three channels independent of each other
    assert abs(float(colours.mean()) - 0.75) < 0.02
    assert abs(np.corrcoef(colours.T.numpy())[0, 1]) < 0.2


def test_noise_is_uniform_and_the_sprite_white(sprites):
    ds = get_dataset("noisy_dsprites", seed=0)
    idx = ds.sample_indices(16, 2)
    x, mask = ds.images(idx), sprites.images(idx)[:, 0] > 0.5
    assert float(x.permute(1, 0, 2, 3)[:, mask].min()) == 1.0
    noise = x.permute(1, 0, 2, 3)[:, ~mask]
    assert abs(float(noise.mean()) - 0.5) < 0.01 and abs(float(noise.var()) - 1 / 12) < 0.003
    # no two images share their noise
    assert not torch.equal(x[0, :, :8, :8], x[1, :, :8, :8])


def test_scream_crops_the_background_and_inverts_the_sprite(sprites, tmp_path):
    # a picture whose every pixel says where it is: red = column / 349, green = row / 273
    cols, rows = np.meshgrid(np.arange(350), np.arange(274))
    pic = np.stack([cols * 255 / 349, rows * 255 / 273, np.full(cols.shape, 128)], -1).round().astype(np.uint8)
    Image.fromarray(pic).save(tmp_path / "bg.png")
    ds = get_dataset("scream_dsprites", seed=1, background=tmp_path / "bg.png")
    idx = ds.sample_indices(20, 3)
    x, mask = ds.images(idx), sprites.images(idx)[:, 0] > 0.5
    u = per_index.uniform(1, idx, 5, stream=3)
    x0, y0 = (u[:, 0] * 287).long(), (u[:, 1] * 211).long()
    for i in range(len(idx)):
        crop = torch.from_numpy(pic[y0[i]:y0[i] + 64, x0[i]:x0[i] + 64].astype(np.float32) / 255).permute(2, 0, 1)
        back = (crop + u[i, 2:, None, None]) / 2
        expected = torch.where(mask[i], 1 - back, back)
        torch.testing.assert_close(x[i], expected, atol=1e-6, rtol=0)


def test_scream_default_texture_and_bad_background(tmp_path):
    ds = get_dataset("scream_dsprites")
    assert ds.background.shape == (3, 274, 350)
    assert 0.15 < float(ds.background.std()) and ds.describe()["background"] == "builtin"
    with pytest.raises(DataError, match="background image not found"):
        get_dataset("scream_dsprites", background=tmp_path / "none.png")
    (tmp_path / "x.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="x.png is not a readable image"):
        get_dataset("scream_dsprites", background=tmp_path / "x.png")


def test_bad_options():
    with pytest.raises(ConfigError, match="color_dsprites: seed must be a whole number >= 0, got 0.5"):
        get_dataset("color_dsprites", seed=0.5)
    with pytest.raises(ConfigError, match="no option"):
        get_dataset("noisy_dsprites", colour=1)


def test_per_index_streams_are_uniform_and_independent():
    idx = np.arange(20_000)
    a = per_index.uniform(0, idx, 3, stream=1).numpy()
    b = per_index.uniform(0, idx, 3, stream=2).numpy()
    assert abs(a.mean() - 0.5) < 0.01 and abs(a.var() - 1 / 12) < 0.003
    assert abs(np.corrcoef(a[:, 0], b[:, 0])[0, 1]) < 0.03
    assert abs(np.corrcoef(a[:-1, 0], a[1:, 0])[0, 1]) < 0.03  # neighbouring indices
    big = per_index.uniform(0, np.array([7, 8, 7]), 5000).numpy()
    np.testing.assert_array_equal(big[0], big[2])
    assert abs(np.corrcoef(big[0], big[1])[0, 1]) < 0.05
