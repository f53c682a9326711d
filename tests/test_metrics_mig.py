"""MIG and MIG-sup: hand-computed values, the reference's discretisation convention, known answers."""
import numpy as np
import pytest

from dislab.errors import DataError
from dislab.metrics import mig, mig_sup
from dislab.metrics.mig import discrete_entropy, discrete_mutual_info, histogram_discretize


def _factors(n, sizes, seed=0):
    return np.random.default_rng(seed).integers(0, sizes, size=(n, len(sizes)))


def test_histogram_discretize_matches_numpy_histogram_digitize():
    rng = np.random.default_rng(0)
    x = np.c_[rng.standard_normal(500), rng.exponential(size=500), np.round(rng.random(500), 1)]
    for dtype in (np.float64, np.float32):
        xd = x.astype(dtype)
        got = histogram_discretize(xd, 20)
        for j in range(3):
            edges = np.histogram(xd[:, j], 20)[1]
            np.testing.assert_array_equal(got[:, j], np.digitize(xd[:, j], edges[:-1]) - 1)


def test_histogram_discretize_edges_go_to_the_upper_bin_and_max_to_the_last():
    x = np.array([[0.0], [0.5], [1.0], [1.5], [2.0]])  # edges 0, 0.5, 1, 1.5, 2 with 4 bins
    assert histogram_discretize(x, 4)[:, 0].tolist() == [0, 1, 2, 3, 3]
    # a constant column spans [v - 0.5, v + 0.5]: every value lands in the middle bin
    assert histogram_discretize(np.full((4, 1), 3.0), 20)[:, 0].tolist() == [10, 10, 10, 10]


def test_mutual_info_hand_computed():
    f = np.array([[0], [0], [1], [1]])
    c = np.array([[0], [0], [0], [1]])
    # joint (c, f): (0,0)=2, (0,1)=1, (1,1)=1; p(c)=(3/4, 1/4), p(f)=(1/2, 1/2)
    expected = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    assert discrete_mutual_info(c, f)[0, 0] == pytest.approx(expected, abs=1e-12)
    assert discrete_entropy(f)[0] == pytest.approx(np.log(2))
    assert discrete_mutual_info(np.zeros((4, 1), int), f)[0, 0] == 0.0  # one label: exactly 0


def test_mig_hand_computed():
    f = np.array([[0], [0], [1], [1]])
    codes = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    # code 1 = f: MI = log 2; code 0 as in test_mutual_info_hand_computed
    mi0 = 0.5 * np.log(4 / 3) + 0.25 * np.log(2 / 3) + 0.25 * np.log(2)
    r = mig(codes, f, n_bins=2)
    assert r["mig"] == pytest.approx((np.log(2) - mi0) / np.log(2), abs=1e-12)
    assert np.asarray(r["mutual_info"]).shape == (2, 1)


def test_factors_as_codes_reach_the_ceiling_and_random_codes_score_zero():
    f = _factors(5000, (3, 6, 10, 8))
    assert mig(f.astype(float), f)["mig"] > 0.95
    noise = np.random.default_rng(1).standard_normal((5000, 6))
    assert mig(noise, f)["mig"] < 0.02
    assert mig(np.zeros((5000, 3)), f)["mig"] == 0.0


def test_duplicated_latent_has_no_gap():
    f = _factors(3000, (5, 5))
    codes = f + 0.1 * np.random.default_rng(2).standard_normal(f.shape)
    good = mig(codes, f)
    dup = mig(np.c_[codes, codes[:, :1]], f)
    assert good["mig_per_factor"][0] > 0.8
    assert dup["mig_per_factor"][0] == pytest.approx(0.0, abs=1e-12)
    assert dup["mig_per_factor"][1] == pytest.approx(good["mig_per_factor"][1])


def test_permuted_and_affinely_rescaled_codes_give_the_same_mig_rotation_lowers_it():
    rng = np.random.default_rng(3)
    f = _factors(4000, (4, 6, 8))
    codes = (f - f.mean(0)) / f.std(0) + 0.2 * rng.standard_normal(f.shape)
    base = mig(codes, f)["mig"]
    perm = codes[:, [2, 0, 1]]
    assert mig(perm, f)["mig"] == pytest.approx(base, abs=1e-12)
    # equal-width bins move with an affine map (a nonlinear monotone map changes the bins)
    assert mig(3.0 * codes + 7.0, f)["mig"] == pytest.approx(base, abs=1e-9)
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    assert mig(codes @ q, f)["mig"] < base - 0.2


def test_mig_sup_penalises_a_code_that_encodes_two_factors():
    f = _factors(4000, (4, 4))
    one_code_two_factors = np.c_[f[:, 0] * 4 + f[:, 1], np.random.default_rng(4).random(4000)]
    r = mig(one_code_two_factors.astype(float), f)
    assert r["mig"] > 0.5  # MIG does not see it
    assert r["mig_sup"] < 0.1  # MIG-sup does
    assert mig_sup(one_code_two_factors.astype(float), f)["mig_sup"] == pytest.approx(r["mig_sup"])
    clean = mig_sup(f.astype(float), f)
    assert clean["mig_sup"] > 0.95


def test_continuous_factors_are_binned_like_codes():
    rng = np.random.default_rng(5)
    values = rng.random((3000, 2))
    r = mig(values.copy(), values, continuous_factors=True)
    assert r["mig"] > 0.95
    with pytest.raises(DataError, match="integer class indices"):
        mig(values, values)


def test_constant_factor_is_skipped_and_documented():
    f = _factors(1000, (4, 4))
    f[:, 1] = 2
    r = mig(f.astype(float), f)
    assert r["skipped_factors"] == [1]
    assert r["mig_per_factor"][1] == 0.0
    assert r["mig"] == pytest.approx(r["mig_per_factor"][0])
    with pytest.raises(DataError, match="constant"):
        mig(np.random.default_rng(0).random((10, 2)), np.zeros((10, 2), int))


def test_single_code_is_refused():
    with pytest.raises(DataError, match="at least 2 codes"):
        mig(np.random.default_rng(0).random((10, 1)), _factors(10, (3,)))
