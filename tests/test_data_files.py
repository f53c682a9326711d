"""File-backed datasets, each on a tiny file the test writes in the published format."""
from __future__ import annotations

import pickle

import h5py
import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from dislab.data import get_dataset
from dislab.data.smallnorb import SPLITS, read_norb_matrix, write_norb_matrix
from dislab.errors import ConfigError, DataError


# -- shapes3d ---------------------------------------------------------------------------------
def _write_shapes3d(path, sizes=(2, 2, 2, 2, 2, 3)):
    from dislab.data.shapes3d import factor_values

    grids = np.meshgrid(*[np.arange(s) for s in sizes], indexing="ij")
    classes = np.stack([g.ravel() for g in grids], 1)
    vals = factor_values()
    labels = np.stack([vals[j][classes[:, j]] for j in range(6)], 1)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(len(classes), 64, 64, 3), dtype=np.uint8)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images, chunks=(1, 64, 64, 3), compression="gzip")
        f.create_dataset("labels", data=labels)
    return classes, labels, images


def test_shapes3d_procedural_grid_and_factor_effects():
    ds = get_dataset("shapes3d")
    assert ds.factor_sizes == (10, 10, 10, 8, 4, 15) and len(ds) == 480_000
    assert ds.observation_shape == (3, 64, 64)
    np.testing.assert_allclose(ds.factor_values[5], np.linspace(-30, 30, 15))
    base = np.array([0, 3, 6, 4, 0, 7])  # red floor, green-ish wall, blue-ish object
    rows = [base]
    for j in range(6):
        r = base.copy()
        r[j] = (r[j] + 1) % ds.factor_sizes[j]
        rows.append(r)
    x = ds.observations(np.stack(rows))
    assert x.dtype == torch.float32 and float(x.min()) >= 0 and float(x.max()) <= 1
    changed = [(x[i + 1] - x[0]).abs().amax(0) > 1e-4 for i in range(6)]  # (H, W) masks
    # floor hue changes the bottom rows only, wall hue the top rows only
    assert changed[0][-2:].all() and not changed[0][:5].any()
    assert changed[1][:5].all() and not changed[1][-2:].any()
    # object hue, scale and shape change only the middle of the image
    for j in (2, 3, 4):
        assert changed[j].any() and not changed[j][:, :8].any() and not changed[j][:, -8:].any()
    # orientation turns the room: the wall's corner moves
    assert changed[5][:5].any()
    # every shape at every orientation and the smallest scale is visible and distinct
    f = np.array([[0, 3, 6, 0, s, o] for s in range(4) for o in range(15)])
    imgs = ds.observations(f).flatten(1)
    assert len(torch.unique(imgs, dim=0)) == len(f)


def test_shapes3d_reads_the_h5_file_lazily(tmp_path):
    classes, labels, images = _write_shapes3d(tmp_path / "3dshapes.h5")
    ds = get_dataset("shapes3d", path=tmp_path)
    assert ds.factor_sizes == (2, 2, 2, 2, 2, 3) and len(ds) == len(classes)
    idx = np.array([40, 3, 3, 95])
    x = ds.images(idx)
    np.testing.assert_array_equal((x * 255).round().byte().permute(0, 2, 3, 1).numpy(), images[idx])
    np.testing.assert_array_equal(ds.factors_of(idx), classes[idx])
    np.testing.assert_allclose(ds.factor_values[3], labels[:, 3][[0, 6]])
    clone = pickle.loads(pickle.dumps(ds))  # an open h5py handle is reopened, not pickled
    np.testing.assert_array_equal(clone.images(idx), x)


def test_shapes3d_bad_files(tmp_path):
    with h5py.File(tmp_path / "a.h5", "w") as f:
        f.create_dataset("images", data=np.zeros((4, 64, 64, 3), np.uint8))
    with pytest.raises(DataError, match="missing field 'labels'"):
        get_dataset("shapes3d", path=tmp_path / "a.h5")
    with h5py.File(tmp_path / "b.h5", "w") as f:
        f.create_dataset("images", data=np.zeros((4, 64, 64), np.uint8))
        f.create_dataset("labels", data=np.zeros((4, 6)))
    with pytest.raises(DataError, match=r"'images' has shape \(4, 64, 64\); expected \(4, 64, 64, 3\)"):
        get_dataset("shapes3d", path=tmp_path / "b.h5")
    (tmp_path / "c.h5").write_bytes(b"garbage")
    with pytest.raises(DataError, match="c.h5: not a readable HDF5"):
        get_dataset("shapes3d", path=tmp_path / "c.h5")


# -- mpi3d ------------------------------------------------------------------------------------
def test_mpi3d_memory_maps_the_published_layout(tmp_path):
    n = 4 * 4 * 2 * 3 * 3 * 2 * 2  # the 4x4 layout with 2 steps per arm axis
    images = np.random.default_rng(0).integers(0, 256, size=(n, 64, 64, 3), dtype=np.uint8)
    np.savez(tmp_path / "mpi3d_complex.npz", images=images)
    ds = get_dataset("mpi3d", path=tmp_path, subset="complex")
    assert ds.factor_sizes == (4, 4, 2, 3, 3, 2, 2) and len(ds) == n
    assert isinstance(ds._images, np.memmap)
    idx = np.array([n - 1, 0, 77])
    np.testing.assert_array_equal((ds.images(idx) * 255).round().byte().permute(0, 2, 3, 1).numpy(), images[idx])
    # the last factor (vertical_axis) is the fastest
    np.testing.assert_array_equal(ds.factors_of([1]), [[0, 0, 0, 0, 0, 0, 1]])
    clone = pickle.loads(pickle.dumps(ds))  # to a worker process: the path, not the 12 GB array
    assert len(pickle.dumps(ds)) < 10_000
    np.testing.assert_array_equal(clone.images(idx), ds.images(idx))
    np.savez_compressed(tmp_path / "c.npz", images=images)
    np.testing.assert_array_equal(get_dataset("mpi3d", path=tmp_path / "c.npz", layout="4x4").images(idx), ds.images(idx))
    with pytest.raises(DataError, match=r"layout 6x6 expects 648·k² rows \(1,036,800"):
        get_dataset("mpi3d", path=tmp_path / "c.npz")
    np.savez(tmp_path / "k.npz", pictures=images)
    with pytest.raises(DataError, match=r"missing field\(s\) \['images'\]"):
        get_dataset("mpi3d", path=tmp_path / "k.npz", layout="4x4")


# -- smallnorb --------------------------------------------------------------------------------
def _write_norb(folder, side=96):
    """2 categories, 2 elevations, 2 azimuths (stored 0 and 2), 2 lightings; instances 1 per split."""
    rng = np.random.default_rng(0)
    written = {}
    for split, inst in zip(SPLITS, (4, 0)):
        g = np.meshgrid(np.arange(2), np.arange(2), np.arange(2), np.arange(2), indexing="ij")
        cat, ele, azi, light = (a.ravel() for a in g)
        order = rng.permutation(len(cat))  # files need not be sorted
        cat, ele, azi, light = cat[order], ele[order], azi[order], light[order]
        dat = rng.integers(0, 256, size=(len(cat), 2, side, side), dtype=np.uint8)
        info = np.stack([np.full_like(cat, inst), ele, 2 * azi, light], 1).astype(np.int32)
        base = folder / f"smallnorb-{split}"
        write_norb_matrix(f"{base}-dat.mat", dat)
        write_norb_matrix(f"{base}-cat.mat", cat.astype(np.int32))
        write_norb_matrix(f"{base}-info.mat", info)
        written[split] = (dat, cat, info)
    return written


def test_smallnorb_reads_the_norb_format(tmp_path):
    written = _write_norb(tmp_path)
    dat, cat, info = written[SPLITS[0]]
    np.testing.assert_array_equal(read_norb_matrix(tmp_path / f"smallnorb-{SPLITS[0]}-dat.mat"), dat)
    assert read_norb_matrix(tmp_path / f"smallnorb-{SPLITS[0]}-cat.mat").shape == (16,)
    ds = get_dataset("smallnorb", path=tmp_path, instance=1)  # instance 4: the training split
    assert ds.factor_sizes == (2, 2, 2, 2) and ds.observation_shape == (1, 64, 64)
    np.testing.assert_allclose(ds.factor_values[2], [0, 20])
    # the image at factors (category, elevation, azimuth/2, lighting) is the file's, camera 0, resized
    f = np.array([[1, 0, 1, 1]])
    row = np.flatnonzero((cat == 1) & (info[:, 1] == 0) & (info[:, 2] == 2) & (info[:, 3] == 1))[0]
    want = np.asarray(Image.fromarray(dat[row, 0]).resize((64, 64), Image.LANCZOS))
    np.testing.assert_array_equal((ds.observations(f)[0, 0] * 255).round().byte().numpy(), want)
    # instance=None draws one of the two instances per call, seeded
    rnd = get_dataset("smallnorb", path=tmp_path, seed=0)
    both = torch.stack([rnd.observations(np.repeat(f, 40, 0))[:, 0]]).flatten(2)[0]
    assert len(torch.unique(both, dim=0)) == 2
    assert rnd.describe()["instances_per_combination"] == 2


def test_smallnorb_bad_files(tmp_path):
    _write_norb(tmp_path)
    p = tmp_path / f"smallnorb-{SPLITS[1]}-info.mat"
    raw = bytearray(p.read_bytes())
    p.write_bytes(bytes(raw[:-4]))
    with pytest.raises(DataError, match=r"testing-info.mat: holds .* data bytes; the header \(16, 4\)"):
        get_dataset("smallnorb", path=tmp_path)
    raw[:4] = (123).to_bytes(4, "little")
    p.write_bytes(bytes(raw))
    with pytest.raises(DataError, match="unknown NORB magic number 0x7b"):
        get_dataset("smallnorb", path=tmp_path)
    p.unlink()
    with pytest.raises(DataError, match="file not found: .*testing-info.mat"):
        get_dataset("smallnorb", path=tmp_path)


# -- cars3d -----------------------------------------------------------------------------------
def test_cars3d_reads_mat_files_per_model(tmp_path):
    rng = np.random.default_rng(0)
    cars = [rng.integers(0, 256, size=(16, 16, 3, 24, 4), dtype=np.uint8) for _ in range(2)]
    for k, im in enumerate(cars):
        scipy.io.savemat(tmp_path / f"car_{k + 1:03d}_mesh.mat", {"im": im})
    ds = get_dataset("cars3d", path=tmp_path, side=16)
    assert ds.factor_sizes == (4, 24, 2) and len(ds) == 192 and ds.observation_shape == (3, 16, 16)
    f = np.array([[3, 17, 1], [0, 0, 0]])  # (elevation, azimuth, object)
    x = (ds.observations(f) * 255).round().byte().permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(x[0], cars[1][:, :, :, 17, 3])
    np.testing.assert_array_equal(x[1], cars[0][:, :, :, 0, 0])
    assert get_dataset("cars3d", path=tmp_path).observation_shape == (3, 64, 64)
    scipy.io.savemat(tmp_path / "car_003_mesh.mat", {"im": cars[0][:, :, :, :12]})
    with pytest.raises(DataError, match=r"car_003_mesh.mat: 'im' is uint8 \(16, 16, 3, 12, 4\); expected"):
        get_dataset("cars3d", path=tmp_path)
    scipy.io.savemat(tmp_path / "car_003_mesh.mat", {"img": cars[0]})
    with pytest.raises(DataError, match="missing variable 'im'"):
        get_dataset("cars3d", path=tmp_path)
    (tmp_path / "car_003_mesh.mat").write_bytes(b"MATLAB 5.0 but broken")
    with pytest.raises(DataError, match="car_003_mesh.mat: not a readable MATLAB"):
        get_dataset("cars3d", path=tmp_path)


# -- image_folder -----------------------------------------------------------------------------
def test_image_folder_has_no_factors(tmp_path):
    (tmp_path / "sub").mkdir()
    Image.fromarray(np.full((40, 80, 3), 200, np.uint8)).save(tmp_path / "a.png")
    Image.fromarray(np.full((30, 30), 10, np.uint8)).save(tmp_path / "sub" / "b.jpg", quality=100)
    (tmp_path / "notes.txt").write_text("ignored")
    ds = get_dataset("image_folder", path=tmp_path, side=32)
    assert len(ds) == 2 and ds.factor_names == () and ds.observation_shape == (3, 32, 32)
    x = ds.images([0, 1])
    assert x.shape == (2, 3, 32, 32)
    assert abs(float(x[0].mean()) - 200 / 255) < 1e-3 and abs(float(x[1].mean()) - 10 / 255) < 0.02
    assert ds.describe()["n_images"] == 2
    with pytest.raises(DataError, match="no ground-truth factors"):
        ds.sample_factors(3)
    (tmp_path / "c.png").write_bytes(b"broken")
    with pytest.raises(DataError, match="c.png is not a readable image"):
        get_dataset("image_folder", path=tmp_path)
    with pytest.raises(ConfigError, match=r"image_folder: channels must be one of \[1, 3\], got 2"):
        get_dataset("image_folder", path=tmp_path, channels=2)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        get_dataset("image_folder", path=tmp_path / "empty")
