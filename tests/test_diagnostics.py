"""Diagnostics on constructed decoders with known answers, plus `dislab diagnose` on a run folder."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dislab.diagnostics import (decoder_jacobian, ima_contrast, jacobian_orthogonality, local_pca_alignment,
                                polarisation, signed_permutation_distance)

D, d = 30, 4


def _orthonormal(rng, n, k):
    q, _ = np.linalg.qr(rng.normal(size=(n, k)))
    return q  # (n, k) orthonormal columns


def _rotation(theta, k=d, i=0, j=1):
    r = np.eye(k)
    r[[i, i, j, j], [i, j, i, j]] = [np.cos(theta), -np.sin(theta), np.sin(theta), np.cos(theta)]
    return r


def test_orthogonal_linear_decoder_gives_zero_contrast_and_zero_permutation_distance():
    rng = np.random.default_rng(0)
    scales = np.array([3.0, 2.0, 1.0, 0.5])  # distinct, so the singular vectors are unique
    W = _orthonormal(rng, D, d) * scales  # orthogonal columns
    # through the autodiff path: the Jacobian of z -> W z is W
    J = decoder_jacobian(lambda z: z @ torch.as_tensor(W.T), torch.zeros(3, d, dtype=torch.float64))
    np.testing.assert_allclose(J.numpy(), np.broadcast_to(W, (3, D, d)), atol=1e-12)
    m = jacobian_orthogonality(J.numpy())
    np.testing.assert_allclose(m["ima_contrast"], 0.0, atol=1e-10)
    np.testing.assert_allclose(m["distance"], 0.0, atol=1e-7)
    np.testing.assert_allclose(m["angle_deg"], 0.0, atol=1e-4)
    # permuting and flipping the latent axes keeps both at zero
    Wp = W[:, [2, 0, 3, 1]] * np.array([1, -1, 1, -1])
    mp = jacobian_orthogonality(Wp)
    assert mp["ima_contrast"][0] == pytest.approx(0.0, abs=1e-10) and mp["distance"][0] == pytest.approx(0.0, abs=1e-7)


def test_rotated_and_sheared_decoder_is_not_orthogonal():
    rng = np.random.default_rng(1)
    U = _orthonormal(rng, D, d) * np.array([3.0, 2.0, 1.0, 0.5])
    shear = np.eye(d)
    shear[0, 1] = 0.8
    W = U @ _rotation(0.5) @ shear
    m = jacobian_orthogonality(W)
    assert m["ima_contrast"][0] > 0.05 and m["distance"][0] > 0.05
    # a pure rotation of the axes keeps the columns orthogonal only when the scales are equal;
    # with equal scales the contrast is 0 (IMA ignores rotations inside an isotropic map)
    iso = _orthonormal(rng, D, d) @ _rotation(0.5)
    assert ima_contrast(iso)[0] == pytest.approx(0.0, abs=1e-10)


def test_contrast_matches_its_formula_and_hadamard():
    rng = np.random.default_rng(2)
    J = rng.normal(size=(20, D, d))
    got = ima_contrast(J)
    for Ji, g in zip(J, got):
        brute = 0.5 * (np.sum(np.log(np.sum(Ji ** 2, axis=0))) - np.log(np.linalg.det(Ji.T @ Ji)))
        assert g == pytest.approx(brute, rel=1e-9)
    assert np.all(got >= 0)
    # invariant to column scaling and permutation
    np.testing.assert_allclose(ima_contrast(J[:, :, [3, 1, 0, 2]] * np.array([2, 0.1, 5, 1])), got, rtol=1e-8)
    # a zero column (a passive latent) makes it infinite: callers restrict to active latents
    Jz = J[0].copy()
    Jz[:, 1] = 0
    assert ima_contrast(Jz)[0] == np.inf


def test_signed_permutation_distance_against_brute_force():
    from itertools import permutations, product

    rng = np.random.default_rng(3)
    V, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    best = min(np.linalg.norm(V - np.eye(3)[list(p)].T * np.array(s))
               for p in permutations(range(3)) for s in product([-1, 1], repeat=3))
    got = signed_permutation_distance(V)["distance"][0]
    assert got == pytest.approx(best / np.sqrt(6), rel=1e-9)
    # a 45° rotation in a plane: each matched cosine is 1/sqrt(2) there
    r = signed_permutation_distance(_rotation(np.pi / 4, 2))
    assert r["angle_deg"][0] == pytest.approx(45.0)


def test_polarisation_splits_active_from_passive():
    rng = np.random.default_rng(4)
    logvar = np.concatenate([rng.normal(-6, 0.3, size=(100, 3)), rng.normal(0, 0.02, size=(100, 2))], axis=1)
    p = polarisation(logvar)
    assert p["low_variance"] == [True, True, True, False, False] and p["n_polarised"] == 3
    assert p["polarised_fraction"] == 1.0
    half = polarisation(np.full((10, 2), np.log(0.4)))
    assert half["polarised_fraction"] == 0.0 and half["n_polarised"] == 2


def test_local_pca_alignment_finds_the_principal_directions():
    rng = np.random.default_rng(5)
    U = _orthonormal(rng, D, 2)
    # factors with exactly uncorrelated sample coordinates of distinct variances: unique directions
    f = rng.normal(size=(200, 2))
    f = (f - f.mean(0)) @ np.linalg.inv(np.linalg.cholesky(np.cov((f - f.mean(0)).T)).T) * np.array([3.0, 1.0])
    data = f @ U.T
    aligned = U[:, ::-1] * np.array([0.3, -2.0])  # axes = principal directions (permuted, scaled, flipped)
    r = local_pca_alignment(aligned, [data])
    assert r["axis_alignment"][0] == pytest.approx(1.0, abs=1e-3)
    assert r["subspace_overlap"][0] == pytest.approx(1.0, abs=1e-3)
    rotated = U @ _rotation(np.pi / 4, 2)  # same plane, axes at 45°
    r = local_pca_alignment(rotated, [data])
    assert r["subspace_overlap"][0] == pytest.approx(1.0, abs=1e-3)
    assert r["axis_alignment"][0] == pytest.approx(np.sqrt(0.5), abs=1e-3)
    off = _orthonormal(rng, D, 2)  # a random plane: mostly outside the data's subspace
    assert local_pca_alignment(off, [data])["subspace_overlap"][0] < 0.5


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="non-finite"):
        ima_contrast(np.full((3, 2), np.nan))
    with pytest.raises(ValueError, match="neighbourhood"):
        local_pca_alignment(np.ones((D, 2)), [np.ones((2, D))])


@pytest.mark.slow
def test_diagnose_cli_on_a_run_folder(tmp_path, capsys):
    from dislab import cli
    from dislab.training import TrainConfig, train

    run = train(TrainConfig(model="ladder_vae", dataset="toy_blobs", dataset_options={"side": 16, "n_pos": 4},
                            steps=2, batch_size=8, log_every=1, checkpoint_every=2, device="cpu",
                            model_options={"n_latents": 4, "n_levels": 2, "channels": 8, "hidden": 16}),
                out=tmp_path / "run", progress=False)
    assert cli.main(["diagnose", str(run), "--n-samples", "6", "--n-reference", "64",
                     "--neighbours", "8", "--threshold", "2.0", "--kl-threshold", "0"]) == 0
    out = capsys.readouterr().out
    assert "ima_contrast" in out and "level 1 permutation_distance" in out
    data = json.loads((run / "diagnostics.json").read_text())
    assert data["dislab"]["produced_by"] == "dislab diagnose"
    assert data["polarisation"]["n_polarised"] == 4  # threshold 2: an untrained model's latents all count
    # --kl-threshold 0: every latent whose posterior differs at all from the prior is active
    assert data["activity"]["n_active"] == data["summary"]["n_active"] == 4
    assert len(data["activity"]["mean_kl"]) == 4 and data["activity"]["n_inputs"] == 64
    assert data["summary"]["ima_contrast"] >= 0 and 0 <= data["summary"]["permutation_distance"] <= 1
    assert [lv["latents"] for lv in data["levels"]] == [[0, 1], [2, 3]]
