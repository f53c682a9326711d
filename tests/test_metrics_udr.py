"""UDR (Duan et al. 2020): hand-computed pairwise scores, invariances, KL masking, known answers."""
from __future__ import annotations

import numpy as np
import pytest

from dislab.metrics import udr
from dislab.metrics.udr import relative_strength


def rng(seed=0):
    return np.random.default_rng(seed)


def grid(*sizes) -> np.ndarray:
    """All combinations of ``range(s)`` per column, ``(prod sizes, len(sizes))``: the columns (and
    their ranks) are exactly uncorrelated, so identical models score exactly 1, not 1 - O(1/sqrt n)."""
    return np.stack(np.meshgrid(*[np.arange(s, dtype=float) for s in sizes], indexing="ij"), -1).reshape(-1, len(sizes))


def test_relative_strength_hand_computed():
    r = np.array([[0.9, 0.1], [0.2, 0.6], [0.0, 0.3]])
    # columns: 0.81/1.1, 0.36/1.0 -> mean 0.568182; rows: 0.81/1.0, 0.36/0.8, 0.09/0.3 -> mean 0.57
    cols = (0.81 / 1.1 + 0.36 / 1.0) / 2
    rows = (0.81 / 1.0 + 0.36 / 0.8 + 0.09 / 0.3) / 3
    assert relative_strength(r) == pytest.approx(0.5 * (cols + rows), abs=1e-12)
    # a permutation matrix scores 1; a row that matches nothing counts as 0 in its mean
    assert relative_strength(np.array([[0, 1.0], [1.0, 0]])) == pytest.approx(1.0)
    assert relative_strength(np.array([[1.0, 0], [0, 0]])) == pytest.approx(0.5)
    assert relative_strength(np.zeros((0, 3))) == 0.0
    with pytest.raises(ValueError, match="non-negative"):
        relative_strength(np.array([[-1.0]]))


def test_identical_up_to_permutation_sign_and_monotone_rescaling_scores_one():
    z = grid(5, 6, 7, 8) - 3.0
    other = np.exp(-z[:, [3, 1, 0, 2]])  # permuted, monotone (decreasing) transform
    out = udr([z, other, np.tanh(z[:, [1, 0, 3, 2]])], [np.ones(4)] * 3)
    assert out["udr"] == pytest.approx([1.0, 1.0, 1.0], abs=1e-12)
    # with random (not exactly uncorrelated) codes the sample correlations ~ 1/sqrt(n) lower it
    z = rng().normal(size=(20_000, 4))
    assert udr([z, z[:, ::-1]], [np.ones(4)] * 2)["udr"][0] == pytest.approx(1.0, abs=0.03)


def test_spearman_udr_invariant_to_permuting_and_rescaling_codes():
    g = rng(1)
    base = g.normal(size=(1500, 5))
    models = [base @ (np.eye(5) + 0.4 * g.normal(size=(5, 5))) + 0.2 * g.normal(size=(1500, 5))
              for _ in range(4)]
    kls = [g.uniform(0.1, 2, 5) for _ in range(4)]
    ref = udr(models, kls)
    perm = g.permutation(5)
    changed = [models[0][:, perm] ** 3 * 7.0 + 2.0] + models[1:]  # x**3 is monotone
    out = udr(changed, [kls[0][perm]] + kls[1:])
    np.testing.assert_allclose(out["udr"], ref["udr"], atol=1e-12)
    np.testing.assert_allclose(out["pairwise"], ref["pairwise"], atol=1e-12)


def test_unrelated_models_score_low_and_entangled_between():
    g = rng(2)
    n, d = 3125, 5
    base = grid(5, 5, 5, 5, 5)
    same = [base[:, g.permutation(d)] + 0.05 * g.normal(size=(n, d)) for _ in range(3)]
    unrelated = [g.normal(size=(n, d)) for _ in range(3)]
    s = udr(same, [np.ones(d)] * 3)["udr"]
    u = udr(unrelated, [np.ones(d)] * 3)["udr"]
    assert min(s) > 0.9  # not 1: the noise reorders points within the ties of the 5-level grid
    # unrelated: every |rho| ~ 1/sqrt(n) noise, max^2 / sum ~ 1/d-ish
    assert max(u) < 0.45
    rot = np.linalg.qr(g.normal(size=(d, d)))[0]
    r = udr([base, base @ rot], [np.ones(d)] * 2)["udr"]
    assert max(u) < r[0] < min(s)


def test_kl_masking_removes_latents_and_hand_value():
    z = rng(3).normal(size=(1000, 3))
    a = z.copy()
    b = z[:, [1, 0, 2]].copy()
    kl_a = np.array([1.0, 1.0, 1.0])
    kl_b = np.array([1.0, 1.0, 0.005])  # b's 3rd latent (a copy of a's 3rd) is inactive
    out = udr([a, b], [kl_a, kl_b])
    assert out["n_active"] == [3, 2]
    # R (3 x 2) ~ [[0, 1], [1, 0], [0, 0]]: columns score 1; rows 1, 1, 0 -> mean 2/3
    assert out["pairwise"][0][1] == pytest.approx(0.5 * (1 + 2 / 3), abs=0.01)
    # a threshold above every KL leaves no active latent: documented score 0
    assert udr([a, b], [kl_a, kl_b], kl_threshold=5.0)["udr"] == [0.0, 0.0]


def test_lasso_variant_and_median_over_models():
    g = rng(4)
    z = grid(10, 12, 14)
    models = [z, z[:, [2, 1, 0]] * 2, g.normal(size=z.shape)]
    out = udr(models, [np.ones(3)] * 3, method="lasso")
    p = np.array(out["pairwise"])
    # orthogonal standardised regressors: Lasso's coefficient is the soft-thresholded correlation
    # 1 - alpha = 0.9 and the others 0, so max^2 / sum = 0.9 (UDR_L's shrinkage, not an error)
    assert p[0, 1] == pytest.approx(0.9, abs=1e-4) and p[0, 2] < 0.6
    # model 0's score: median of column 0 without the diagonal = median(p[1, 0], p[2, 0])
    assert out["udr"][0] == pytest.approx(np.median([p[1, 0], p[2, 0]]))
    assert np.all(np.diag(p) == 0)


def test_constant_active_code_gives_zero_not_nan():
    z = grid(10, 11, 12)
    a = z.copy()
    a[:, 2] = 4.0  # constant but marked active
    out = udr([a, z], [np.ones(3), np.ones(3)])
    assert np.isfinite(out["udr"]).all()
    # a's constant latent matches nothing: rows (a) 1, 1, 0; columns (z) 1, 1, 0
    assert out["udr"][0] == pytest.approx(2 / 3, abs=1e-12)


@pytest.mark.parametrize("bad, match", [
    (lambda z: ([z], [np.ones(2)]), "at least 2 models"),
    (lambda z: ([z, z[:10]], [np.ones(2)] * 2), "mismatched numbers of samples"),
    (lambda z: ([z, np.where(z > 1, np.nan, z)], [np.ones(2)] * 2), "NaN"),
    (lambda z: ([z, z], [np.ones(2), np.ones(3)]), r"shape \(2,\)"),
    (lambda z: ([z, z], [np.ones(2), -np.ones(2)]), ">= 0"),
    (lambda z: ([z, z[:, 0]], [np.ones(2)] * 2), "2-D"),
])
def test_bad_input_raises_clear_errors(bad, match):
    z = rng(6).normal(size=(50, 2))
    codes, kls = bad(z)
    with pytest.raises(ValueError, match=match):
        udr(codes, kls)
    with pytest.raises(ValueError, match="method"):
        udr([z, z], [np.ones(2)] * 2, method="pearson")
