"""The fast DCI predictor runs scikit-learn's gradient boosting algorithm with LightGBM trees:
its importances and predictions must match GradientBoostingClassifier's on the same data."""
import numpy as np
import pytest

pytest.importorskip("lightgbm")
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402

from dislab.metrics import dci  # noqa: E402
from dislab.metrics._boosting import fit_gradient_boosting  # noqa: E402


def _problem(n_classes, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + 200, 4))
    signal = x[:, 0] + 0.5 * x[:, 1] + 0.5 * rng.standard_normal(n + 200)
    y = np.clip((signal * n_classes / 3 + n_classes / 2).astype(int), 0, n_classes - 1)
    return x[:n], y[:n] + 10, x[n:]  # labels offset: classes need not be 0..K-1


@pytest.mark.parametrize("n_classes,n,seed", [(2, 300, 0), (3, 300, 1), (5, 400, 2)])
def test_matches_sklearn_gradient_boosting(n_classes, n, seed):
    """With a bin per distinct value the trees can split where scikit-learn's do; what is left
    is tie-breaking between equally good splits, which moves scikit-learn's own importances by
    up to ~0.005 between random_states (e.g. 0.0769-0.0809 on one feature of the 3-class case).
    A wrong leaf value (no Newton step, no (K-1)/K) or split criterion moves them by >0.02."""
    x, y, x_test = _problem(n_classes, n, seed)
    gain, pred_train, pred_test = fit_gradient_boosting(x, y, x_test)
    importance = gain / gain.sum()
    ref = GradientBoostingClassifier(random_state=0).fit(x, y)
    assert np.abs(importance - ref.feature_importances_).max() < 0.01
    assert np.mean(pred_train == ref.predict(x)) == 1.0
    assert np.mean(pred_test == ref.predict(x_test)) >= 0.96


def test_first_round_is_exact_when_no_split_ties():
    """One informative feature: round one's tree (splits, Newton leaves) equals scikit-learn's."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 1))
    y = (x[:, 0] + 0.3 * rng.standard_normal(500) > 0).astype(int) + (x[:, 0] > 1)
    _, pred, _ = fit_gradient_boosting(x[:400], y[:400], x[400:], n_rounds=1)
    ref = GradientBoostingClassifier(n_estimators=1, random_state=0).fit(x[:400], y[:400])
    assert (pred == ref.predict(x[:400])).all()
    for rounds in (2, 10):
        _, pred, pred_test = fit_gradient_boosting(x[:400], y[:400], x[400:],
                                                   n_rounds=rounds)
        ref = GradientBoostingClassifier(n_estimators=rounds, random_state=0).fit(x[:400], y[:400])
        assert (pred == ref.predict(x[:400])).all() and (pred_test == ref.predict(x[400:])).all()


def test_constant_features_predict_the_majority_class():
    x = np.zeros((60, 3))
    y = np.r_[np.zeros(40, int), np.ones(15, int), np.full(5, 2)]
    gain, pred, pred_test = fit_gradient_boosting(x, y, np.ones((4, 3)))
    assert gain.tolist() == [0.0, 0.0, 0.0]
    assert (pred == 0).all() and (pred_test == 0).all()
    # a feature on a tiny scale still splits (LightGBM would read |x| < 1e-35 as zero)
    x[:, 1] = 1e-40 * y
    gain, pred, _ = fit_gradient_boosting(x, y, x[:4])
    assert gain[1] > 0 and gain[[0, 2]].tolist() == [0.0, 0.0] and (pred == y).all()


@pytest.mark.slow
def test_dci_lightgbm_agrees_with_gbt_on_mixed_codes():
    """The docs' agreement claim on a small `mixed`-like case (the issue's bar is 0.03; measured
    here 0.004 in C and 0.003 in importance): D, C, I and every importance within 0.015."""
    rng = np.random.default_rng(0)
    sizes = np.array([3, 6, 10])
    f = rng.integers(0, sizes, size=(1500, 3))
    scaled = f / (sizes - 1) * 2 - 1
    mix = np.eye(3) + 0.3 * np.roll(np.eye(3), 1, axis=1)
    noise = rng.standard_normal((1500, 5))
    codes = np.c_[scaled @ mix + 0.1 * noise[:, :3], noise[:, 3:]]
    split = (codes[:1000], f[:1000], codes[1000:], f[1000:])
    fast = dci(*split, predictor="lightgbm", progress=False)
    ref = dci(*split, predictor="gbt", progress=False)
    for key in ("disentanglement", "completeness", "informativeness_test"):
        assert fast[key] == pytest.approx(ref[key], abs=0.015), key
    assert np.abs(np.subtract(fast["importance"], ref["importance"])).max() < 0.015
