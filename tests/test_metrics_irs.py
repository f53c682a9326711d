"""IRS: the deviation formula by hand and known answers."""
import numpy as np
import pytest

from dislab.metrics import irs


def test_irs_by_hand_with_the_maximum_quantile():
    # factor g in {0, 1}; code z: group 0 = [0, 2], group 1 = [4, 6]; mean 3, max dev 3
    g = np.array([[0], [0], [1], [1]])
    z = np.array([[0.0], [2.0], [4.0], [6.0]])
    r = irs(z, g, diff_quantile=1.0)
    # within-group max |z - group mean| = 1 in both groups -> 1 - 1/3
    assert r["irs"] == pytest.approx(2 / 3)
    assert r["irs_matrix"][0] == pytest.approx([2 / 3])
    assert r["parents"] == [0] and r["num_active_dims"] == 1


def test_factor_aligned_codes_score_one_noise_low_constant_dropped():
    rng = np.random.default_rng(0)
    f = rng.integers(0, (4, 6), size=(2000, 2))
    codes = np.c_[f.astype(float), np.full(2000, 1.5)]
    r = irs(codes, f)
    assert r["irs"] == pytest.approx(1.0)
    assert r["num_active_dims"] == 2 and r["parents"] == [0, 1, -1]
    assert r["irs_per_code"][2] == 0.0
    noise = rng.standard_normal((2000, 3))
    assert irs(noise, f)["irs"] < 0.3
    assert irs(np.zeros((50, 2)), f[:50])["irs"] == 0.0  # no active code, as the reference
    with pytest.raises(ValueError, match="diff_quantile"):
        irs(codes, f, diff_quantile=0.0)
