"""The fast DCI predictor runs scikit-learn's gradient boosting algorithm with exact compiled trees:
its importances and predictions must match GradientBoostingClassifier's on the same data, and
what it cannot match (ties, values closer than scikit-learn's 1e-7) must be detected."""
import warnings

import numpy as np
import pytest

pytest.importorskip("numba")
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402

from dislab.metrics import dci  # noqa: E402
from dislab.metrics._boosting import fit_gradient_boosting, split_candidates  # noqa: E402


def _problem(n_classes, n, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n + 200, 4))
    signal = x[:, 0] + 0.5 * x[:, 1] + 0.5 * rng.standard_normal(n + 200)
    y = np.clip((signal * n_classes / 3 + n_classes / 2).astype(int), 0, n_classes - 1)
    return x[:n], y[:n] + 10, x[n:]  # labels offset: classes need not be 0..K-1


@pytest.mark.parametrize("n_classes,n,seed", [(2, 300, 0), (3, 300, 1), (5, 400, 2)])
def test_matches_sklearn_gradient_boosting(n_classes, n, seed):
    """Splits wherever scikit-learn can, its thresholds on test points (the node's midpoints) and
    its tie-breaking drawn at random: importances within 0.005 (measured 0.0004-0.0042; a wrong
    leaf value (no Newton step, no (K-1)/K) or split criterion moves them by > 0.02), the same
    training predictions, and at least 98 % of the test predictions (measured 98-99.5 %; it was
    96-98 % with the training set's global thresholds)."""
    x, y, x_test = _problem(n_classes, n, seed)
    fit = fit_gradient_boosting(x, y, x_test)
    importance = fit.importance / fit.importance.sum()
    ref = GradientBoostingClassifier(random_state=0).fit(x, y)
    assert np.abs(importance - ref.feature_importances_).max() < 0.005
    assert np.mean(fit.predicted_train == ref.predict(x)) == 1.0
    assert np.mean(fit.predicted_test == ref.predict(x_test)) >= 0.98


def test_first_rounds_are_exact_when_no_split_ties():
    """One informative feature: round one's tree (splits, Newton leaves) equals scikit-learn's,
    and so do the predictions after 2 and 10 rounds."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((500, 1))
    y = (x[:, 0] + 0.3 * rng.standard_normal(500) > 0).astype(int) + (x[:, 0] > 1)
    for rounds in (1, 2, 10):
        fit = fit_gradient_boosting(x[:400], y[:400], x[400:], n_rounds=rounds)
        ref = GradientBoostingClassifier(n_estimators=rounds, random_state=0).fit(x[:400], y[:400])
        assert (fit.predicted_train == ref.predict(x[:400])).all()
        assert (fit.predicted_test == ref.predict(x[400:])).all()
        assert fit.tied_gain == 0.0 and fit.invalid_gain == 0.0


def test_split_candidates_follow_sklearns_float32_tolerance():
    """Hand-computed: values are cast to float32; neighbours at most 1e-7 apart (float32 sum)
    are never separated; a threshold is a/2 + b/2; a test value <= threshold goes left."""
    # 0 and 5e-8 (< 1e-7 apart) form one run; 1 and 1 + 1.19e-7 (one float32 ulp, and
    # float32(1 + 1e-7) rounds up to it) another; 2 is alone
    x = np.array([[0.0], [5e-8], [1.0], [1.0 + 1.2e-7], [2.0]])
    bins, bins_test, n_bins, cuts, fine = split_candidates(x, np.array([[0.4], [0.6], [1.5], [9.0]]))
    assert n_bins.tolist() == [3]
    assert bins[:, 0].tolist() == [0, 0, 1, 1, 2]
    assert cuts[0].tolist() == [np.float64(np.float32(5e-8)) / 2 + 0.5,
                                np.float64(np.float32(1.0 + 1.2e-7)) / 2 + 1.0]
    assert not fine[0].any()
    assert bins_test[:, 0].tolist() == [0, 1, 1, 2]
    # a chain spanning more than 1e-7 (0, 6e-8, 1.2e-7) can be split inside by a node holding
    # part of it: a "fine" threshold between each of its values
    chain = np.array([[0.0], [6e-8], [1.2e-7], [1.0]])
    _, _, n_bins, cuts, fine = split_candidates(chain, chain)
    assert n_bins.tolist() == [4] and fine[0].tolist() == [True, True, False]


def test_tiny_training_sets_and_rare_classes_keep_their_codes():
    """LightGBM's Dataset pre-filter (min_data_in_leaf 20) used to drop every code below 40
    points (an error) and a code that isolates a 1 % class (importance 0 instead of 1)."""
    rng = np.random.default_rng(0)
    for n in (7, 20, 39):
        f = (np.arange(n) % 2)[:, None]
        codes = np.c_[f + 0.1 * rng.standard_normal((n, 1)), rng.standard_normal((n, 1))]
        fast = dci(codes, f, codes, f, predictor="fast", progress=False)
        ref = dci(codes, f, codes, f, predictor="gbt", progress=False)
        assert np.abs(np.subtract(fast["importance"], ref["importance"])).max() < 0.02
        assert fast["informativeness_train"] == ref["informativeness_train"] == 1.0
    f = np.zeros((1000, 1), int)
    f[:10] = 1
    codes = np.c_[f.astype(float), rng.standard_normal((1000, 1))]
    fast = dci(codes, f, codes, f, predictor="fast", progress=False)
    assert np.asarray(fast["importance"])[:, 0] == pytest.approx([1.0, 0.0], abs=1e-9)
    assert fast["fallback"] == {}


def test_ties_are_found_and_credited_at_random():
    """An exact copy of a code reproduces every split of it: every split is tied, credited to
    either copy (roughly half each, as scikit-learn's random feature order), and the test
    predictions agree with scikit-learn's whatever the seed. (Not always to the point: at
    round 0 the residuals take two values per class, so in nodes of a few rows splits of
    *different* rows can tie too; the grower draws among them, where scikit-learn's choice is
    fixed by the rounding of its sums. 3 of these 200 points move with the seed.)"""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 3, 600)
    x = np.c_[y + 0.3 * rng.standard_normal(600), rng.standard_normal(600)]
    x = np.c_[x, x[:, 0]]  # code 2 = code 0
    fit = fit_gradient_boosting(x[:400], y[:400], x[400:])
    copies = fit.importance[0] + fit.importance[2]
    assert fit.tied_gain + fit.unchecked_gain >= 0.999 * copies  # all but the tiniest splits checked
    assert set(fit.ties) >= {(0, 2)}
    share = fit.importance / fit.importance.sum()
    assert 0.3 < share[0] / (share[0] + share[2]) < 0.7
    # scikit-learn: the copies share the importance too (0.45-0.55 of it over random_states)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = GradientBoostingClassifier(random_state=0).fit(x[:400], y[:400])
    ref = model.feature_importances_
    assert 0.3 < ref[0] / (ref[0] + ref[2]) < 0.7
    expected = model.predict(x[400:])
    for seed in range(4):
        other = fit_gradient_boosting(x[:400], y[:400], x[400:], seed=seed)
        assert np.mean(other.predicted_test == expected) >= 0.98


def test_splits_sklearn_cannot_make_are_never_made():
    """Codes on a 1e-6 scale: their sorted values are chained less than 1e-7 apart, which
    scikit-learn's trees split only in nodes holding part of a chain, where the node's own two
    neighbours are more than 1e-7 apart. The fast trees apply that rule node by node while they
    scan (they once split anywhere and counted the splits scikit-learn could not make, handing
    such factors to "gbt"): none is made, and the fit is scikit-learn's."""
    from sklearn.ensemble import GradientBoostingClassifier

    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 800)
    x = np.c_[1e-6 * (y + 0.3 * rng.standard_normal(800)), rng.standard_normal(800)]
    fit = fit_gradient_boosting(x[:600], y[:600], x[600:])
    assert fit.invalid_gain == 0.0
    for seed in (0, 1):  # scikit-learn's own importances move by ~5e-4 with its random_state
        ref = GradientBoostingClassifier(random_state=seed).fit(x[:600], y[:600])
        np.testing.assert_allclose(fit.importance / fit.importance.sum(), ref.feature_importances_, atol=2e-3)
        assert (fit.predicted_test == ref.predict(x[600:])).all()
        assert (fit.predicted_train == ref.predict(x[:600])).all()
    # (splitting inside the chains, as before, credited the tiny code with 0.97 instead of 0.66)


def test_constant_features_predict_the_majority_class():
    x = np.zeros((60, 3))
    y = np.r_[np.zeros(40, int), np.ones(15, int), np.full(5, 2)]
    fit = fit_gradient_boosting(x, y, np.ones((4, 3)))
    assert fit.importance.tolist() == [0.0, 0.0, 0.0]
    assert (fit.predicted_train == 0).all() and (fit.predicted_test == 0).all()
    # a feature on a tiny scale is constant to scikit-learn too (its values are < 1e-7 apart)
    x[:, 1] = 1e-40 * y
    fit = fit_gradient_boosting(x, y, x[:4])
    assert fit.importance.tolist() == [0.0, 0.0, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert GradientBoostingClassifier().fit(x, y).feature_importances_.tolist() == [0.0, 0.0, 0.0]


@pytest.mark.slow
def test_dci_fast_agrees_with_gbt_on_mixed_codes():
    """The docs' agreement claim on a small `mixed`-like case: D, C, I and every importance
    within 0.015 (measured 0.004 in C and 0.003 in importance)."""
    rng = np.random.default_rng(0)
    sizes = np.array([3, 6, 10])
    f = rng.integers(0, sizes, size=(1500, 3))
    scaled = f / (sizes - 1) * 2 - 1
    mix = np.eye(3) + 0.3 * np.roll(np.eye(3), 1, axis=1)
    noise = rng.standard_normal((1500, 5))
    codes = np.c_[scaled @ mix + 0.1 * noise[:, :3], noise[:, 3:]]
    split = (codes[:1000], f[:1000], codes[1000:], f[1000:])
    fast = dci(*split, predictor="fast", progress=False)
    ref = dci(*split, predictor="gbt", progress=False)
    for key in ("disentanglement", "completeness", "informativeness_test"):
        assert fast[key] == pytest.approx(ref[key], abs=0.015), key
    assert np.abs(np.subtract(fast["importance"], ref["importance"])).max() < 0.015
    assert fast["fallback"] == {} and fast["tie_spread"] <= 0.01


def test_trees_do_not_depend_on_the_thread_count():
    """A round's trees grown on 1, 2 or 5 threads are the same trees, ties included: the draws
    among features of equal split quality are keyed by round, tree and node, not by the order
    in which the trees are grown (the three bits of an 8-class factor tie at every level)."""
    rng = np.random.default_rng(0)
    y = rng.integers(0, 8, 800)
    bits = ((y[:, None] >> np.arange(3)) & 1).astype(float)
    x = np.c_[bits, y + 0.5 * rng.standard_normal(800), rng.standard_normal(800)]
    fits = [fit_gradient_boosting(x[:600], y[:600], x[600:], n_rounds=20, seed=3, threads=t) for t in (1, 2, 5)]
    for other in fits[1:]:
        assert np.array_equal(other.importance, fits[0].importance)
        assert np.array_equal(other.predicted_test, fits[0].predicted_test)
        assert other.ties.keys() == fits[0].ties.keys()
    assert fits[0].importance[:3].min() > 0  # the bits were drawn among, not only the first
