"""Modularity and explicitness: Ridgeway & Mozer's formula by hand and known answers."""
import numpy as np
import pytest

from dislab.metrics import modularity_explicitness
from dislab.metrics.modularity_explicitness import modularity_from_mutual_info


def test_modularity_formula_by_hand():
    mi = np.array([[1.0, 0.0], [0.0, 2.0], [2.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    # theta = max m^2; delta = (sum m^2 - theta) / (theta (K - 1)); [2, 1]: 1 - 1/4
    expected = [1.0, 1.0, 0.75, 0.0, 0.0]  # a code without information scores 0
    assert modularity_from_mutual_info(mi) == pytest.approx(expected)
    # three factors: [2, 1, 1] -> 1 - (1 + 1) / (4 * 2)
    assert modularity_from_mutual_info(np.array([[2.0, 1.0, 1.0]]))[0] == pytest.approx(0.75)
    assert modularity_from_mutual_info(np.array([[0.3], [0.0]])).tolist() == [1.0, 0.0]


def test_factors_as_codes_are_modular_and_explicit_noise_is_not():
    rng = np.random.default_rng(0)
    f = rng.integers(0, (3, 5), size=(600, 2))
    codes = f + 0.05 * rng.standard_normal(f.shape)
    r = modularity_explicitness(codes[:400], f[:400], codes[400:], f[400:])
    assert r["modularity"] > 0.95
    assert r["explicitness_test"] > 0.9 and r["explicitness_train"] > 0.9
    noise = rng.standard_normal((600, 3))
    r0 = modularity_explicitness(noise[:400], f[:400], noise[400:], f[400:])
    assert abs(r0["explicitness_test"] - 0.5) < 0.1  # chance AUC
    assert r0["modularity"] < r["modularity"]
    entangled = np.c_[f[:, 0] * 5 + f[:, 1], rng.standard_normal(600)].astype(float)
    r1 = modularity_explicitness(entangled[:400], f[:400], entangled[400:], f[400:])
    assert r1["modularity_per_code"][0] < 0.6  # one code carries both factors


def test_constant_code_and_factor_give_documented_values():
    rng = np.random.default_rng(1)
    f = rng.integers(0, 3, size=(200, 2))
    codes = np.c_[f[:, 0] + 0.1 * rng.standard_normal(200), np.full(200, 4.0)]
    f[:, 1] = 2
    r = modularity_explicitness(codes[:150], f[:150], codes[150:], f[150:])
    assert r["skipped_factors"] == [1]
    assert r["modularity_per_code"][1] == 0.0  # constant code: no information
    assert np.isfinite([r["explicitness_train"], r["explicitness_test"]]).all()


def test_explicitness_classifier_options():
    rng = np.random.default_rng(2)
    f = rng.integers(0, 3, size=(300, 1))
    codes = np.c_[f[:, 0] + 0.5 * rng.standard_normal(300), rng.standard_normal(300)]
    a = modularity_explicitness(codes[:200], f[:200], codes[200:], f[200:])
    b = modularity_explicitness(codes[:200], f[:200], codes[200:], f[200:],
                                classifier="lbfgs_multinomial")
    assert a["modularity"] == b["modularity"]
    assert 0.7 < a["explicitness_test"] <= 1 and 0.7 < b["explicitness_test"] <= 1
    with pytest.raises(ValueError, match="unknown explicitness classifier"):
        modularity_explicitness(codes, f, codes, f, classifier="svm")


def test_threads_change_nothing_and_n_jobs_is_checked():
    from dislab.errors import ConfigError

    rng = np.random.default_rng(3)
    f = rng.integers(0, (2, 6, 4), size=(700, 3))
    codes = np.c_[f + 0.3 * rng.standard_normal(f.shape), rng.standard_normal((700, 2))]
    split = (codes[:500], f[:500], codes[500:], f[500:])
    one = modularity_explicitness(*split)
    assert modularity_explicitness(*split, n_jobs=2) == one
    assert modularity_explicitness(*split, n_jobs=-1) == one
    with pytest.raises(ConfigError, match="n_jobs"):
        modularity_explicitness(*split, n_jobs=0)
