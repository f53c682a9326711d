"""dSprites: the procedural renderer, the original file's reader and the export in its layout."""
from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from dislab.data import dsprites, get_dataset
from dislab.errors import DataError


@pytest.fixture(scope="module")
def ds():
    return get_dataset("dsprites")


def test_grid_order_and_values_match_the_original(ds):
    assert ds.factor_names == ("shape", "scale", "orientation", "posX", "posY")
    assert ds.factor_sizes == (3, 6, 40, 32, 32) and len(ds) == 737_280
    assert ds.observation_shape == (1, 64, 64)
    np.testing.assert_array_equal(ds.strides, [245760, 40960, 1024, 32, 1])
    v = ds.factor_values
    np.testing.assert_allclose(v[1], np.linspace(0.5, 1, 6))
    assert v[2][0] == 0 and v[2][-1] == pytest.approx(2 * np.pi) and len(v[2]) == 40
    # posY varies fastest: consecutive indices move the sprite down by one pixel row
    a, b = ds.images([100, 101])
    np.testing.assert_array_equal(torch.roll(a, 1, dims=1), b)


def test_stamped_images_equal_direct_rasterisation(ds):
    idx = ds.sample_indices(300, 0)
    f = ds.factors_of(idx)
    v = ds.factor_values
    ref = dsprites.rasterize(f[:, 0], v[1][f[:, 1]], v[2][f[:, 2]], 16.5 + f[:, 3], 16.5 + f[:, 4])
    out = ds.images(idx)
    assert out.dtype == torch.float32 and out.shape == (300, 1, 64, 64)
    np.testing.assert_array_equal(out[:, 0].numpy(), ref)


def test_sprite_always_inside_the_frame_and_never_empty(ds):
    # every (shape, scale, orientation) at the four extreme corners
    sh, sc, ori = np.meshgrid(np.arange(3), np.arange(6), np.arange(40), indexing="ij")
    base = np.stack([sh.ravel(), sc.ravel(), ori.ravel()], 1)
    for px, py in [(0, 0), (31, 31), (0, 31), (31, 0)]:
        f = np.concatenate([base, np.tile([px, py], (len(base), 1))], 1)
        x = ds.observations(f)[:, 0]
        assert x.sum((1, 2)).min() > 10
        border = torch.cat([x[:, :3].flatten(1), x[:, -3:].flatten(1),
                            x[:, :, :3].flatten(1), x[:, :, -3:].flatten(1)], 1)
        assert border.sum() == 0


def test_factors_change_the_image_as_described(ds):
    base = np.array([0, 5, 0, 10, 10])
    imgs = ds.observations(np.stack([base, base + [0, 0, 39, 0, 0], base + [0, 0, 10, 0, 0],
                                     base + [1, 0, 0, 0, 0], base + [0, -5, 0, 0, 0]]))
    # orientation 0 and 2π are both in the grid and give the same image; a square at π/2 too
    assert torch.equal(imgs[0], imgs[1])
    assert not torch.equal(imgs[0], imgs[2])  # the grid's step is 2π/39, so index 10 is not 90°
    quarter = dsprites.rasterize([0, 0], [1, 1], [0, np.pi / 2], [32.5, 32.5], [32.5, 32.5])
    np.testing.assert_array_equal(quarter[0], quarter[1])
    assert not torch.equal(imgs[0], imgs[3])
    assert imgs[4].sum() < imgs[0].sum() / 3  # scale 0.5: about a quarter of the area
    # scale 1: the axis-aligned square has half-side 10/√2 = 7.07 px around a pixel centre, so
    # 15×15 pixels; the ellipse (semi-axes 10 and 5 px) covers close to its area π·50
    assert float(ds.observations([[0, 5, 0, 16, 16]]).sum()) == 15 * 15
    assert abs(float(ds.observations([[1, 5, 0, 16, 16]]).sum()) - np.pi * 50) < 0.06 * np.pi * 50


def test_all_pixel_outputs_differ_along_position_and_scale(ds):
    f = np.array([[2, 5, 3, x, 7] for x in range(32)] + [[1, s, 3, 4, 7] for s in range(6)])
    x = ds.observations(f).flatten(1).numpy()
    assert len(np.unique(x, axis=0)) == len(f)


def test_bad_factors_and_indices_are_named(ds):
    with pytest.raises(DataError, match="factor 'posX' has index 32"):
        ds.observations([[0, 0, 0, 32, 0]])
    with pytest.raises(DataError, match=r"shape \(n, 5\)"):
        ds.observations([[0, 0, 0, 1]])
    with pytest.raises(DataError, match="index out of range"):
        ds.images([737_280])


def _subset_factors():
    g = np.meshgrid(np.arange(3), np.arange(2), np.arange(3), np.arange(4), np.arange(4), indexing="ij")
    return np.stack([a.ravel() for a in g], 1)


def test_export_writes_the_original_layout_and_reads_back(ds, tmp_path):
    out = tmp_path / "d.npz"
    f = _subset_factors()
    n = dsprites.export_npz(out, ds, factors=f, progress=False)
    assert n == len(f)
    with np.load(out, allow_pickle=False) as z:
        assert sorted(z.files) == ["imgs", "latents_classes", "latents_values"]
        assert z["imgs"].dtype == np.uint8 and z["imgs"].shape == (n, 64, 64)
        assert z["latents_classes"].dtype == np.int64 and z["latents_classes"].shape == (n, 6)
        assert z["latents_values"].dtype == np.float64 and z["latents_values"].shape == (n, 6)
        np.testing.assert_array_equal(z["latents_values"][:, 0], 1.0)
        np.testing.assert_array_equal(z["latents_classes"][:, 1:], f)
        np.testing.assert_allclose(z["latents_values"][:, 3], ds.factor_values[2][f[:, 2]])
        imgs = z["imgs"]
    back = get_dataset("dsprites", path=out)
    assert back.factor_sizes == (3, 2, 3, 4, 4) and len(back) == n
    np.testing.assert_array_equal(back.images(np.arange(n))[:, 0].numpy(), imgs)
    np.testing.assert_array_equal(imgs, ds.observations(f)[:, 0].numpy())


def test_file_reader_rejects_bad_files(ds, tmp_path):
    f = _subset_factors()
    good = tmp_path / "good.npz"
    dsprites.export_npz(good, ds, factors=f, progress=False)
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}

    def write(name, **changes):
        p = tmp_path / name
        np.savez(p, **{**arrays, **changes})
        return p

    with pytest.raises(DataError, match="file not found"):
        get_dataset("dsprites", path=tmp_path / "nope.npz")
    (tmp_path / "corrupt.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="corrupt.npz: not a readable .npz"):
        get_dataset("dsprites", path=tmp_path / "corrupt.npz")
    p = tmp_path / "nokey.npz"
    np.savez(p, imgs=arrays["imgs"], latents_values=arrays["latents_values"])
    with pytest.raises(DataError, match="missing field.*latents_classes"):
        get_dataset("dsprites", path=p)
    with pytest.raises(DataError, match=r"'imgs' has dtype float32; expected uint8"):
        get_dataset("dsprites", path=write("f32.npz", imgs=arrays["imgs"].astype(np.float32)))
    with pytest.raises(DataError, match=r"'imgs' has shape \(288, 32, 32\)"):
        get_dataset("dsprites", path=write("small.npz", imgs=arrays["imgs"][:, :32, :32]))
    with pytest.raises(DataError, match="latents_classes.*full-factorial order"):
        get_dataset("dsprites", path=write("order.npz", latents_classes=arrays["latents_classes"][::-1].copy()))
    with pytest.raises(DataError, match="0/1 pixels"):
        get_dataset("dsprites", path=write("gray.npz", imgs=arrays["imgs"] * 255))
    with zipfile.ZipFile(tmp_path / "trunc.npz", "w") as zf:
        for k in ("latents_classes", "latents_values"):
            with zf.open(k + ".npy", "w") as fp:
                np.lib.format.write_array(fp, arrays[k])
        with zf.open("imgs.npy", "w") as fp:
            np.lib.format.write_array_header_1_0(
                fp, {"descr": "|u1", "fortran_order": False, "shape": (288, 64, 64)})
            fp.write(arrays["imgs"][:10].tobytes())
    with pytest.raises(DataError, match="'imgs' is truncated"):
        get_dataset("dsprites", path=tmp_path / "trunc.npz")


def test_data_root_comes_from_the_environment_when_opened(ds, tmp_path, monkeypatch):
    dsprites.export_npz(tmp_path / dsprites.FILE_NAME, ds, factors=_subset_factors(), progress=False)
    monkeypatch.setenv("DISLAB_DATA", str(tmp_path))
    assert len(get_dataset("dsprites", path="env")) == 288
    assert len(get_dataset("dsprites", path=tmp_path)) == 288  # a folder holding the file
    monkeypatch.delenv("DISLAB_DATA")
    with pytest.raises(DataError, match="DISLAB_DATA"):
        get_dataset("dsprites", path="env")


def test_images_on_the_device_equal_the_host_images():
    """The training loop asks ``images_on(index, device)``: procedural dSprites stamps on the
    device itself; on the CPU both paths give the same pixels, and other datasets copy."""
    import torch

    from dislab.data import get_dataset

    idx = np.arange(0, 737_280, 7919)
    ds = get_dataset("dsprites")
    assert torch.equal(ds.images_on(idx, "cpu"), ds.images(idx))
    colour = get_dataset("color_dsprites")
    assert torch.equal(colour.images_on(idx[:5], torch.device("cpu")), colour.images(idx[:5]))
