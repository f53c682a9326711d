"""Pictures: each checked for size and for content that must hold (a constant row for an ignored
latent, Hinton mass on the diagonal, reconstructions' top rows equal to the inputs, ...)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from dislab.data import get_dataset
from dislab.errors import ConfigError, DataError
from dislab.models import build_model
from dislab.viz import curves, factors, grid, heatmaps, kl, reconstructions, samples, traversals
from dislab.viz.kl import LatentActivity


@pytest.fixture(scope="module")
def model():
    """An untrained conv64 VAE, 4 latents, RGB 64×64, whose decoder ignores latent 2."""
    torch.manual_seed(0)
    m = build_model("vae", n_latents=4, observation_shape=(3, 64, 64)).eval()
    first = m.decoder.net[0]  # Linear(n_latents, 256): column j carries latent j
    with torch.no_grad():
        first.weight[:, 2] = 0.0
        # larger weights on the used latents so that their traversals visibly change the image
        first.weight[:, [0, 1, 3]] *= 20.0
    return m


@pytest.fixture(scope="module")
def blobs():
    ds = get_dataset("toy_blobs")
    f, x = ds.sample(32, rng=0)
    return ds, f, x


def cell(picture, r, c, h=64, w=64, pad=2):
    y, x = grid.cell_origin(r, c, h, w, pad)
    return picture[y:y + h, x:x + w].astype(int)


# -- grid plumbing ------------------------------------------------------------------------------
def test_to_uint8_and_grid_layout():
    imgs = torch.zeros(2, 1, 4, 5)
    imgs[1] = 1.0
    u = grid.to_uint8(imgs)
    assert u.shape == (2, 4, 5, 3) and u.dtype == np.uint8
    assert u[0].max() == 0 and u[1].min() == 255
    g = grid.image_grid(u.reshape(1, 2, 4, 5, 3), pad=2)
    assert g.shape == (2 + 1 * 6, 2 + 2 * 7, 3)
    np.testing.assert_array_equal(g[2:6, 9:14], 255)  # cell (0, 1)
    np.testing.assert_array_equal(g[2:6, 2:7], 0)  # cell (0, 0)
    with pytest.raises(DataError, match=r"\(n, 1 or 3, H, W\)"):
        grid.to_uint8(torch.zeros(2, 2, 4, 4))


# -- traversals ---------------------------------------------------------------------------------
def test_ignored_latent_gives_a_constant_row(model, blobs):
    _, _, x = blobs
    mu, _ = kl.encode_images(model, x[:1])
    values = traversals.sweep_values(4, 6, mode="fixed", limit=3.0)
    pic = traversals.traversal_grid(model, mu, values=values, labels=False)
    assert pic.shape == (2 + 4 * 66, 2 + 6 * 66, 3) and pic.dtype == np.uint8
    # rows are latents 0..3 (no activity given: index order); latent 2 is ignored by the decoder
    row2 = [cell(pic, 2, s) for s in range(6)]
    for c in row2[1:]:
        np.testing.assert_array_equal(c, row2[0])
    for r in (0, 1, 3):  # a used latent changes the picture along its row
        assert np.abs(cell(pic, r, 0) - cell(pic, r, 5)).max() > 10
    # traverse() agrees with the grid: the swept latent set to each value, the others held
    imgs = traversals.traverse(model, mu[0], [2, 0], values[[2, 0]])
    assert imgs.shape == (2, 6, 3, 64, 64)
    assert torch.equal(imgs[0, 0], imgs[0, -1]) and not torch.allclose(imgs[1, 0], imgs[1, -1])


def test_grid_rows_sorted_by_kl_with_inactive_dimmed_and_labelled(model, blobs):
    _, _, x = blobs
    mu, _ = kl.encode_images(model, x[:1])
    act = LatentActivity(np.array([0.5, 0.01, 0.0, 2.0]), "kl", 0.1)
    assert list(act.order) == [3, 0, 1, 2] and list(act.active) == [True, False, False, True]
    plain = traversals.traversal_grid(model, mu, steps=5, activity=act, labels=False)
    ref = traversals.traversal_grid(model, mu, steps=5, labels=False)  # index order, nothing dimmed
    # row r of the sorted grid is latent order[r]; inactive rows are blended 60% toward white
    for r, j in enumerate([3, 0, 1, 2]):
        got, want = cell(plain, r, 0), cell(ref, j, 0)
        if j in (3, 0):
            np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_allclose(got, np.round(want * 0.4 + 255 * 0.6), atol=1)
            assert got.min() >= 150
    labelled = traversals.traversal_grid(model, mu, steps=5, activity=act)
    assert labelled.shape[0] == plain.shape[0] and labelled.shape[1] > plain.shape[1] + 40
    margin = labelled[:, : labelled.shape[1] - plain.shape[1]]
    assert (margin < 128).any()  # label text drawn
    # the user's order is kept when sort=False; a latent out of range is a clear error
    kept = traversals.traversal_grid(model, mu, latents=[1, 3], steps=5, activity=act, sort=False, labels=False)
    np.testing.assert_array_equal(cell(kept, 1, 0), cell(ref, 3, 0))
    with pytest.raises(ConfigError, match="latent index 7 is out of range: this model has 4 latents"):
        traversals.traversal_grid(model, mu, latents=[0, 7])


def test_sweep_values():
    v = traversals.sweep_values(3, 5, mode="fixed", limit=2.0)
    np.testing.assert_allclose(v, np.tile([-2, -1, 0, 1, 2], (3, 1)))
    mu = np.random.default_rng(0).normal(size=(500, 3)) * [1.0, 0.1, 3.0] + [0.0, 5.0, 0.0]
    q = traversals.sweep_values(3, 4, mode="quantile", mu=mu, quantile=0.1)
    np.testing.assert_allclose(q[1], np.quantile(mu[:, 1], [0.1, 0.3666667, 0.6333333, 0.9]), rtol=1e-5)
    assert (np.diff(q, axis=1) > 0).all() and 4.5 < q[1].mean() < 5.5
    with pytest.raises(ConfigError, match="at least 2 steps"):
        traversals.sweep_values(3, 1)
    with pytest.raises(ConfigError, match="needs the posterior means"):
        traversals.sweep_values(3, 4, mode="quantile")
    with pytest.raises(ConfigError, match="unknown traversal mode"):
        traversals.sweep_values(3, 4, mode="bogus")


def test_cycle_is_a_seamless_triangle_wave():
    c = traversals.cycle(0.5, -2.0, 2.0, 16)
    assert c[0] == pytest.approx(0.5)
    assert c.max() == pytest.approx(2.0, abs=0.5) and c.min() == pytest.approx(-2.0, abs=0.5)
    steps = np.abs(np.diff(np.r_[c, c[0]]))
    assert steps.max() <= 2 * 4.0 / 16 + 1e-5  # no jump, including the wrap-around to frame 0
    assert (traversals.cycle(9.0, -1.0, 1.0, 8) <= 1.0).all()  # out-of-range start is clipped


def test_traversal_frames_and_gif(model, blobs, tmp_path):
    _, _, x = blobs
    mu, _ = kl.encode_images(model, x[:3])
    mu = np.clip(mu, -1.9, 1.9)
    frames = traversals.traversal_frames(model, mu, n_frames=6, labels=False)
    assert len(frames) == 6 and frames[0].shape == (2 + 3 * 66, 2 + 4 * 66, 3)
    # frame 0 decodes every input's own code in every column (each cycle starts at the code)
    for i in range(3):
        for c in range(1, 4):
            np.testing.assert_array_equal(cell(frames[0], i, c), cell(frames[0], i, 0))
    # the ignored latent's column never changes; a used one does
    assert all(np.array_equal(cell(f, 0, 2), cell(frames[0], 0, 2)) for f in frames)
    assert any(not np.array_equal(cell(f, 0, 0), cell(frames[0], 0, 0)) for f in frames)
    path = tmp_path / "t.gif"
    grid.save_picture(frames, path, fps=5)
    from PIL import Image

    with Image.open(path) as im:
        assert im.n_frames == 6 and im.info["loop"] == 0 and im.info["duration"] == 200
        assert im.size == (frames[0].shape[1], frames[0].shape[0])
    with pytest.raises(DataError, match="unsupported picture format"):
        grid.save_picture(frames[0], tmp_path / "t.jpg")


def test_latent_levels():
    class Flat:
        class config:
            n_latents = 5

    class Hier(Flat):
        latent_levels = (2, 3)

    assert [list(b) for b in traversals.latent_levels(Flat())] == [[0, 1, 2, 3, 4]]
    assert [list(b) for b in traversals.latent_levels(Hier())] == [[0, 1], [2, 3, 4]]
    Hier.latent_levels = (2, 2)
    with pytest.raises(ConfigError, match="sum to n_latents = 5"):
        traversals.latent_levels(Hier())


# -- reconstructions, samples, KL ---------------------------------------------------------------
def test_reconstruction_grid_puts_inputs_over_outputs(model, blobs):
    _, _, x = blobs
    pic = reconstructions.reconstruction_grid(model, x[:5], ncol=3)
    assert pic.shape == (2 + 4 * 66, 2 + 3 * 66, 3)
    inputs = grid.to_uint8(x[:5])
    outputs = grid.to_uint8(reconstructions.reconstruct(model, x[:5]))
    np.testing.assert_array_equal(cell(pic, 0, 1), inputs[1])
    np.testing.assert_array_equal(cell(pic, 1, 1), outputs[1])
    np.testing.assert_array_equal(cell(pic, 2, 1), inputs[4])
    np.testing.assert_array_equal(cell(pic, 3, 2), 255)  # blank filler after the 5th input


def test_samples_grid_is_seeded(model):
    a = samples.samples_grid(model, 6, ncol=3, seed=1)
    assert a.shape == (2 + 2 * 66, 2 + 3 * 66, 3)
    np.testing.assert_array_equal(a, samples.samples_grid(model, 6, ncol=3, seed=1))
    assert not np.array_equal(a, samples.samples_grid(model, 6, ncol=3, seed=2))


def test_latent_activity_is_the_mean_closed_form_kl(model):
    mu = np.array([[0.0, 1.0, 0.0, 2.0], [0.0, -1.0, 0.0, 0.0]], dtype=np.float32)
    logvar = np.array([[0.0, 0.0, np.log(0.5), 0.0], [0.0, 0.0, np.log(0.5), 0.0]], dtype=np.float32)
    act = kl.latent_activity(model, mu, logvar)
    # KL(N(m, s²) || N(0, 1)) = ½ (m² + s² − log s² − 1)
    want = [0.0, 0.5, 0.5 * (0.5 - np.log(0.5) - 1), 0.5 * (4 + 0) / 2]
    np.testing.assert_allclose(act.values, want, atol=1e-6)
    assert act.kind == "kl" and list(act.active) == [False, True, False, True]
    fig = kl.kl_bar_chart(act)
    heights = [p.get_height() for p in fig.axes[0].patches]
    np.testing.assert_allclose(heights, want, atol=1e-6)
    assert grid.figure_to_array(fig).shape[2] == 3


def test_activity_of_other_priors_is_their_monte_carlo_kl(model):
    """Priors without a closed-form per-latent KL are measured against their marginals by Monte
    Carlo (here a standard normal in disguise: the estimate must match the closed form); a
    prior without marginals against N(0, 1), as the reference measures every model."""
    from dislab.priors.base import Prior

    class Disguised(Prior):
        analytic_kl, factorised = False, False

        def marginal_log_prob(self, z):
            return -0.5 * (np.log(2 * np.pi) + z ** 2)

    class Opaque(Prior):
        factorised = False

    class M:
        def __init__(self, prior):
            self.prior = prior

        def parameters(self):
            return iter(())

    rng = np.random.default_rng(0)
    mu = rng.standard_normal((2000, 2)).astype(np.float32) * np.array([0.1, 1.5], np.float32)
    logvar = np.full_like(mu, np.log(0.9))
    exact = 0.5 * (mu.astype(np.float64) ** 2 + 0.9 - np.log(0.9) - 1).mean(axis=0)  # ~0.008, ~1.13
    act = kl.latent_activity(M(Disguised(2)), mu, logvar)
    np.testing.assert_allclose(act.values, exact, atol=0.01)
    assert act.threshold == 0.1 and act.n_inputs == 2000 and list(act.active) == [False, True]
    np.testing.assert_allclose(kl.latent_activity(M(Opaque(2)), mu, logvar).values, exact, atol=1e-6)


# -- charts -------------------------------------------------------------------------------------
def test_training_curves_panels_and_log_scale():
    log = [{"step": s, "loss": 5000.0 / s + 10, "kl": np.sin(s) - 0.5, "elbo": -100.0 - s,
            "images_per_s": 300.0, "wall_time_s": float(s), "kl_monte_carlo": 0.0} for s in range(1, 200, 10)]
    assert curves.curve_keys(log) == ["loss", "kl", "elbo"]
    fig = curves.training_curves(log)
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["loss (log scale)", "kl", "elbo"]
    np.testing.assert_allclose(axes[0].lines[0].get_xdata(), [r["step"] for r in log])
    with pytest.raises(DataError, match="empty"):
        curves.training_curves([])


def _cell_mass(fig, matrix_shape):
    """White-pixel count in each (factor, latent) cell of a Hinton diagram: (n_factors, n_latents)."""
    rgb = grid.figure_to_array(fig).astype(int)
    height = rgb.shape[0]
    ax = fig.axes[0]
    n_f, n_z = matrix_shape
    white = (rgb > 240).all(axis=2)
    mass = np.zeros((n_f, n_z))
    for k in range(n_f):
        for j in range(n_z):
            (x0, y0), (x1, y1) = ax.transData.transform([(j - 0.48, k - 0.48), (j + 0.48, k + 0.48)])
            rows = slice(int(height - max(y0, y1)), int(height - min(y0, y1)))
            mass[k, j] = white[rows, int(min(x0, x1)):int(max(x0, x1))].sum()
    return mass


def test_hinton_of_identity_has_its_mass_on_the_diagonal():
    fig = heatmaps.hinton_diagram(np.eye(4), ["a", "b", "c", "d"])
    mass = _cell_mass(fig, (4, 4))
    diag = np.diag(mass)
    off = mass[~np.eye(4, dtype=bool)]
    assert (diag > 500).all() and off.max() == 0
    # orientation: importance is (n_latents, n_factors); latent 4 explains factor 0
    r = np.zeros((5, 3))
    r[4, 0], r[1, 2], r[0, 1] = 1.0, 0.25, 0.25
    mass = _cell_mass(heatmaps.hinton_diagram(r), (3, 5))
    assert np.unravel_index(mass.argmax(), mass.shape) == (0, 4)
    assert mass[2, 1] == pytest.approx(mass[0, 4] / 4, rel=0.15)  # area ∝ importance
    ax = heatmaps.hinton_diagram(r, ["shape", "scale", "x"]).axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shape", "scale", "x"]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["z0", "z1", "z2", "z3", "z4"]
    with pytest.raises(DataError, match="non-negative"):
        heatmaps.hinton_diagram(-np.eye(2))


def test_mi_heatmap_draws_factors_as_rows():
    mi = np.arange(6, dtype=float).reshape(3, 2)  # (n_latents, n_factors)
    fig = heatmaps.mi_heatmap(mi, ["shape", "x"])
    ax = fig.axes[0]
    np.testing.assert_array_equal(ax.images[0].get_array(), mi.T)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["shape", "x"]
    fig = heatmaps.mi_heatmap(mi, ["shape", "x"], factor_entropy=[4.0, 5.0])
    np.testing.assert_allclose(fig.axes[0].images[0].get_array(), mi.T / [[4.0], [5.0]])
    with pytest.raises(DataError, match="2 factor names"):
        heatmaps.mi_heatmap(np.ones((3, 4)), ["a", "b"])


def test_latent_factor_plot_against_brute_force():
    rng = np.random.default_rng(0)
    f = rng.integers(0, 4, size=(400, 2))
    mu = np.c_[f[:, 0] * 1.0 + rng.normal(size=400) * 0.1, rng.normal(size=400)]
    mean, lo, hi = factors.factor_response(mu, f, 4, 0, 0)
    for v in range(4):
        sel = mu[f[:, 0] == v, 0]
        assert mean[v] == pytest.approx(sel.mean()) and lo[v] <= mean[v] <= hi[v]
    fig = factors.latent_factor_plot(mu, f, ["a", "b"], factor_values=[np.linspace(0, 1, 4), np.arange(4)])
    assert len(fig.axes) == 4
    np.testing.assert_allclose(fig.axes[0].lines[0].get_ydata(), mean)
    # categorical factor values become tick labels at the class indices
    fig = factors.latent_factor_plot(mu, f, ["shape", "b"], latents=[1],
                                     factor_values=[np.array(["sq", "el", "he", "tr"]), None])
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["sq", "el", "he", "tr"]
    np.testing.assert_allclose(fig.axes[0].lines[0].get_xdata(), np.arange(4))
    with pytest.raises(DataError, match="same n"):
        factors.latent_factor_plot(mu[:10], f, ["a", "b"])


# -- a model trained through the training API ----------------------------------------------------
@pytest.mark.slow
def test_pictures_of_a_trained_run(tmp_path):
    from dislab.training import TrainConfig, open_run, train

    run_dir = train(TrainConfig(model="beta_tcvae", dataset="toy_blobs", dataset_options={"n_pos": 4},
                                model_options={"n_latents": 3}, steps=6, batch_size=8, lr=1e-3, log_every=2,
                                checkpoint_every=100, seed=0), out=tmp_path / "run", progress=False)
    run = open_run(run_dir)
    m, ds = run.model(), run.dataset()
    idx, x, mu, logvar = kl.encode_sample(m, ds, 40, seed=0)
    assert x.shape == (40, 3, 64, 64) and mu.shape == logvar.shape == (40, 3)
    act = kl.latent_activity(m, mu, logvar)
    pic = traversals.traversal_grid(m, mu[0], steps=4, activity=act,
                                    values=traversals.sweep_values(3, 4, mode="quantile", mu=mu))
    assert pic.shape[0] == 2 + 3 * 66 and pic.std() > 1
    fig = curves.training_curves(run.train_log())
    assert "loss" in fig.axes[0].get_title() and len(fig.axes[0].lines[0].get_xdata()) == 3
    assert samples.samples_grid(m, 4).shape == (68, 2 + 4 * 66, 3)
