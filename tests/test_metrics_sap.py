"""SAP: the score matrix by hand, known answers, the reference's effective SVM settings."""
import numpy as np
import pytest

from dislab.errors import DataError
from dislab.metrics import sap
from dislab.metrics.sap import _linear_svc


def _data(n=400, sizes=(3, 4), noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, sizes, size=(n, len(sizes)))
    return f + noise * rng.standard_normal(f.shape), f


def test_continuous_variant_is_the_squared_correlation_gap():
    rng = np.random.default_rng(0)
    y = rng.random((50, 2))
    codes = np.c_[y[:, 0] + 0.1 * rng.standard_normal(50), rng.standard_normal(50),
                  y[:, 1] * 2 - 1]
    r = sap(codes, y, codes, y, continuous=True)
    r2 = np.corrcoef(codes.T, y.T)[:3, 3:] ** 2  # (codes, factors)
    np.testing.assert_allclose(r["score_matrix"], r2, atol=1e-12)
    top = np.sort(r2, axis=0)
    assert r["sap"] == pytest.approx(np.mean(top[-1] - top[-2]), abs=1e-12)
    assert r["sap_per_factor"] == pytest.approx(list(top[-1] - top[-2]), abs=1e-12)


def test_one_code_per_factor_scores_high_random_and_duplicated_codes_low():
    codes, f = _data(sizes=(2, 2))
    good = sap(codes[:300], f[:300], codes[300:], f[300:])
    s = np.asarray(good["score_matrix"])
    assert s[0, 0] == 1.0 and s[1, 1] == 1.0  # each binary factor read off its own code
    assert good["sap"] > 0.4
    dup = np.c_[codes, codes]
    r = sap(dup[:300], f[:300], dup[300:], f[300:])
    assert r["sap"] == pytest.approx(0.0, abs=1e-12)  # two equally good codes: no gap
    noise = np.random.default_rng(1).standard_normal((400, 3))
    assert sap(noise[:300], f[:300], noise[300:], f[300:])["sap"] < 0.1


def test_linear_svc_has_the_reference_era_settings():
    p = _linear_svc(0).get_params()
    assert (p["C"], p["class_weight"], p["dual"], p["loss"], p["max_iter"]) == (
        0.01, "balanced", True, "squared_hinge", 1000)


def test_constant_factor_skipped_and_one_code_refused():
    codes, f = _data(n=100)
    f[:, 0] = 0
    r = sap(codes[:60], f[:60], codes[60:], f[60:])
    assert r["skipped_factors"] == [0] and r["sap_per_factor"][0] == 0.0
    with pytest.raises(DataError, match="at least 2 codes"):
        sap(codes[:60, :1], f[:60], codes[60:, :1], f[60:])


def test_primal_and_dual_solvers_agree_on_easy_data():
    codes, f = _data(sizes=(2, 3))
    a = sap(codes[:300], f[:300], codes[300:], f[300:])
    b = sap(codes[:300], f[:300], codes[300:], f[300:], dual=False)
    assert a["sap"] == pytest.approx(b["sap"], abs=0.02)


def test_threads_change_nothing_and_n_jobs_is_checked():
    from dislab.errors import ConfigError

    codes, f = _data(n=600, sizes=(3, 5, 4))
    codes = np.c_[codes, np.random.default_rng(1).standard_normal((600, 2))]
    one = sap(codes[:400], f[:400], codes[400:], f[400:])
    assert sap(codes[:400], f[:400], codes[400:], f[400:], n_jobs=2) == one
    assert sap(codes[:400], f[:400], codes[400:], f[400:], n_jobs=-1) == one
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ConfigError, match="n_jobs"):
            sap(codes[:400], f[:400], codes[400:], f[400:], n_jobs=bad)
