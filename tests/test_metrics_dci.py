"""DCI: the entropy formulas by hand, known answers with the reference predictor, fast options."""
import sys

import numpy as np
import pytest

from dislab.errors import ConfigError, DataError
from dislab.metrics import dci
from dislab.metrics.dci import completeness_score, disentanglement_score


def _data(n=300, sizes=(3, 4), noise=0.05, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, sizes, size=(n, len(sizes)))
    codes = f + noise * rng.standard_normal(f.shape)
    return codes, f


def _split(codes, f, k=200):
    return codes[:k], f[:k], codes[k:], f[k:]


def test_entropy_scores_by_hand():
    # code 0 -> factor 0 only (score 1), code 1 split evenly (score 0); weights 1/3, 2/3
    r = np.array([[1.0, 0.0], [1.0, 1.0]])
    d, per_code = disentanglement_score(r)
    assert per_code == pytest.approx([1.0, 0.0], abs=1e-9)
    assert d == pytest.approx(1 / 3, abs=1e-9)
    # factor 0 spread over both codes (0), factor 1 on code 1 only (1); weights 2/3, 1/3
    c, per_factor = completeness_score(r)
    assert per_factor == pytest.approx([0.0, 1.0], abs=1e-9)
    assert c == pytest.approx(1 / 3, abs=1e-9)
    # base K = n_factors: a code spread over 2 of 4 factors has 1 - log 2 / log 4 = 0.5
    assert disentanglement_score(np.array([[1.0, 1.0, 0.0, 0.0]]))[0] == pytest.approx(0.5, abs=1e-9)
    # all-zero importances: uniform weights and uniform rows, as the reference -> 0
    assert disentanglement_score(np.zeros((3, 2)))[0] == pytest.approx(0.0, abs=1e-12)
    assert completeness_score(np.zeros((3, 2)))[0] == pytest.approx(0.0, abs=1e-12)
    # one factor: every code trivially disentangled (no NaN from log base 1)
    assert disentanglement_score(np.array([[0.3], [0.7]]))[0] == 1.0


@pytest.mark.slow
def test_reference_predictor_known_answers():
    """Factors as codes -> D, C, I = 1; a strictly monotone map of each code changes nothing for
    trees; a rotation mixes the factors and lowers D."""
    codes, f = _data(n=200)
    base = dci(*_split(codes, f, 150), progress=False)
    assert base["disentanglement"] > 0.95 and base["completeness"] > 0.95
    assert base["informativeness_train"] == 1.0 and base["informativeness_test"] == 1.0
    imp = np.asarray(base["importance"])
    assert imp.shape == (2, 2) and imp[0, 0] > 0.95 and imp[1, 1] > 0.95
    assert all(isinstance(base[k], float) for k in ("disentanglement", "completeness"))
    warped = np.c_[np.exp(codes[:, 0]), codes[:, 1] ** 3]
    same = dci(*_split(warped, f, 150), progress=False)
    for key in ("disentanglement", "completeness", "informativeness_test"):
        assert same[key] == pytest.approx(base[key], abs=1e-9)
    rot = codes @ np.array([[1.0, 1.0], [-1.0, 1.0]]) / np.sqrt(2)
    mixed = dci(*_split(rot, f, 150), progress=False)
    assert mixed["disentanglement"] < base["disentanglement"] - 0.2


def test_random_and_constant_codes_score_near_zero():
    codes, f = _data()
    noise = np.random.default_rng(1).standard_normal((300, 3))
    r = dci(*_split(noise, f), predictor="lasso", progress=False)
    assert r["informativeness_test"] < 0.15
    zero = dci(*_split(np.zeros((300, 2)), f), progress=False)
    assert zero["disentanglement"] == pytest.approx(0.0, abs=1e-9)
    assert zero["completeness"] == pytest.approx(0.0, abs=1e-9)
    assert not np.isnan([zero[k] for k in ("informativeness_train", "informativeness_test")]).any()


@pytest.mark.parametrize("predictor", ["gbt", "fast"])
def test_a_factor_no_code_predicts_gets_no_importance(predictor):
    """A balanced grid (every combination of A: 2 and B: 3 values, 4 times) with codes that are
    functions of B alone: A's boosted trees decrease the error by exactly 0 (scikit-learn: NaN
    feature_importances_) or by rounding error. A's column is 0, so C is B's completeness alone
    and D is 1 (each code informs B only) -- not NaN, nor 1 for A as a NaN-blind entropy had it."""
    g = np.tile(np.stack(np.meshgrid(np.arange(2), np.arange(3), indexing="ij"), -1).reshape(-1, 2), (4, 1))
    codes = np.c_[np.array([0, 1, 1])[g[:, 1]], np.array([0, 0, 1])[g[:, 1]]].astype(float)
    r = dci(codes, g, codes, g, predictor=predictor, progress=False)
    imp = np.asarray(r["importance"])
    assert imp[:, 0].tolist() == [0.0, 0.0]
    assert imp[:, 1].sum() == pytest.approx(1.0) and imp[:, 1].min() > 0.1  # both codes used for B
    assert r["completeness"] == pytest.approx(completeness_score(imp[:, 1:])[0], abs=1e-12)
    assert r["completeness"] < 0.9
    assert r["disentanglement"] == pytest.approx(1.0, abs=1e-6)
    assert r["informativeness_test_per_factor"] == pytest.approx([0.5, 1.0])


@pytest.mark.parametrize("predictor", ["fast", "hist_gbt", "random_forest", "lasso"])
def test_fast_predictors_recover_an_axis_aligned_code(predictor):
    codes, f = _data(n=400)
    r = dci(*_split(codes, f, 300), predictor=predictor, progress=False)
    assert r["predictor"] == predictor
    assert r["disentanglement"] > 0.8 and r["completeness"] > 0.8
    assert 0.9 <= r["informativeness_test"] <= 1.0
    if predictor == "lasso":  # informativeness = max(0, 1 - NRMSE), raw errors reported
        assert r["informativeness_test"] == pytest.approx(max(0.0, 1 - r["nrmse_test"]))


def test_numba_missing_gives_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)
    codes, f = _data(n=50)
    with pytest.raises(ConfigError, match=r"pip install numba"):
        dci(*_split(codes, f, 30), predictor="fast")
    # dislab evaluate then falls back to the reference predictor, not to an approximation
    from dislab.metrics.suite import default_options

    assert default_options()["dci"]["predictor"] == "gbt"
    monkeypatch.delitem(sys.modules, "numba")
    assert default_options()["dci"] == {"predictor": "fast", "n_jobs": -1}


def test_former_name_of_the_fast_predictor_is_the_fast_predictor():
    codes, f = _data(n=200)
    old = dci(*_split(codes, f, 150), predictor="lightgbm", progress=False)
    new = dci(*_split(codes, f, 150), predictor="fast", progress=False)
    assert old["predictor"] == "fast"
    assert old["importance"] == new["importance"] and old["disentanglement"] == new["disentanglement"]


def test_unknown_predictor_and_constant_factor():
    codes, f = _data()
    with pytest.raises(ConfigError, match="unknown DCI predictor"):
        dci(*_split(codes, f), predictor="xgb")
    f2 = f.copy()
    f2[:, 1] = 1
    r = dci(*_split(codes, f2), predictor="lasso", progress=False)
    assert r["skipped_factors"] == [1]
    assert np.asarray(r["importance"])[:, 1].tolist() == [0.0, 0.0]
    with pytest.raises(DataError, match="constant"):
        dci(*_split(codes, np.zeros_like(f)), predictor="lasso")


def test_n_jobs_every_core_gives_the_same_scores():
    """n_jobs=-1 (dislab evaluate's setting) fits factors in processes, largest first; the
    scores and their factor order must not change."""
    codes, f = _data(n=300, sizes=(3, 5, 2))
    one = dci(*_split(codes, f), predictor="random_forest", progress=False)
    every = dci(*_split(codes, f), predictor="random_forest", n_jobs=-1, progress=False)
    assert every["importance"] == one["importance"]
    assert every["informativeness_test_per_factor"] == one["informativeness_test_per_factor"]
    with pytest.raises(ConfigError, match="n_jobs"):
        dci(*_split(codes, f), predictor="lasso", n_jobs=0)


def test_features_whose_best_splits_tie_share_the_importance_as_scikit_learns_random_order():
    """Three codes are the three bits of an 8-class factor (a balanced design): each bit's best
    split has exactly the proxy of the others' but a different partition. scikit-learn visits the
    features in a random order and keeps the first of equal proxies, so each bit leads a third of
    the trees and C is ~0 (gbt: 0.0004-0.0044 over three random_states). The fast trees draw among
    the tied features likewise; choosing by index order (the kernel before) gave C up to 0.031
    and shares of 0.24 / 0.32 / 0.45."""
    pytest.importorskip("numba")

    def grid(reps):
        f = np.tile(np.arange(8), reps)[:, None]
        return np.stack([(f[:, 0] >> b) & 1 for b in range(3)], 1).astype(float), f

    x_train, f_train = grid(200)
    order = np.random.default_rng(0).permutation(len(f_train))
    x_train, f_train = x_train[order], f_train[order]
    x_test, f_test = grid(50)
    for seed in (0, 1, 2, 3):
        fast = dci(x_train, f_train, x_test, f_test, predictor="fast", seed=seed, progress=False)
        shares = np.asarray(fast["importance"])[:, 0]
        assert fast["completeness"] < 0.01, (seed, fast["completeness"], shares)
        np.testing.assert_allclose(shares, 1 / 3, atol=0.06)
    gbt = dci(x_train, f_train, x_test, f_test, predictor="gbt", seed=0, progress=False)
    assert abs(gbt["completeness"] - fast["completeness"]) < 0.01
