"""InfoMEC (Hsu et al., NeurIPS 2023): values by hand on tiny discrete inputs, the authors'
conventions (kylehkhsu/latent_quantization, disentangle/metrics/infomec.py) re-derived here with
scikit-learn's own building blocks, and the documented values where the reference divides 0 by 0.
"""
import warnings

import numpy as np
import pytest

from dislab.errors import DataError
from dislab.metrics import infomec
from dislab.metrics.infomec import active_latents, normalized_mutual_info

# 2 binary factors, every combination 25 times: each factor has entropy log 2 and they are
# independent
GRID = np.repeat(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), 25, axis=0)


def test_discrete_values_by_hand():
    f0, f1 = GRID[:, 0], GRID[:, 1]
    # z0 = f0, z1 = f1, z2 = f0 again: NMI = I(z; v) / H(v) is 1 on the factor copied, 0 else
    r = infomec(np.c_[f0, f1, f0].astype(float), GRID, discrete=True)
    np.testing.assert_allclose(r["nmi"], [[1, 0], [0, 1], [1, 0]], atol=1e-12)
    # InfoM: every latent informs about one factor -> (1 - 1/2) / (1 - 1/2) = 1
    assert r["infom"] == pytest.approx(1.0)
    # InfoC: factor 0 split over two latents (max/sum 1/2), factor 1 in one (1):
    # (mean(1/2, 1) - 1/3) / (1 - 1/3) = 0.625
    assert r["infoc"] == pytest.approx(0.625)
    assert r["active"] == [True, True, True] and r["n_active"] == 3
    # the latents determine the factors: the logistic regressions reach ~0 cross-entropy
    assert r["infoe"] > 0.99

    # one latent holding both factors (z = 2 f0 + f1): NMI 1 for each -> InfoM 0; one active
    # latent -> InfoC 1 (the reference: 0/0)
    both = infomec((2 * f0 + f1)[:, None].astype(float), GRID, discrete=True)
    np.testing.assert_allclose(both["nmi"], [[1, 1]], atol=1e-12)
    assert both["infom"] == pytest.approx(0.0, abs=1e-12) and both["infoc"] == 1.0

    # half the information: a 4-class factor seen through z = v // 2 -> I = log 2, H = log 4
    v = np.repeat(np.arange(4), 10)[:, None]
    half = normalized_mutual_info((v // 2).astype(float), v, discrete=True)
    assert half[0, 0] == pytest.approx(0.5)


def test_documented_values_where_the_reference_divides_zero_by_zero():
    f0 = GRID[:, 0]
    grid = np.repeat(np.array([[0, 0], [0, 1], [1, 0], [1, 1]]), 20, axis=0)
    noise = np.tile([0.0, 1.0], 40)  # half 0, half 1 within every factor combination: NMI 0
    r = infomec(np.c_[grid[:, 0], noise].astype(float), grid, discrete=True)
    np.testing.assert_allclose(r["nmi"], [[1, 0], [0, 0]], atol=1e-12)
    # the uninformative active latent counts 1/K = 1/2 (adds 0): InfoM = (mean(1, 1/2) - 1/2) / (1/2)
    assert r["infom"] == pytest.approx(0.5)
    # factor 1 has NMI 0 on every latent: counts 1/L (adds 0); factor 0 in one latent:
    # InfoC = (mean(1, 1/2) - 1/2) / (1/2) = 0.5
    assert r["infoc"] == pytest.approx(0.5)
    # one varying factor: InfoM = 1 (each latent informs about at most one factor)
    assert infomec(np.c_[f0, GRID[:, 1]].astype(float), GRID[:, :1], discrete=True)["infom"] == 1.0
    # a constant factor is skipped (its entropy is 0)
    skip = infomec(np.c_[f0, GRID[:, 1]].astype(float), np.c_[GRID, np.zeros(100, int)], discrete=True)
    assert skip["skipped_factors"] == [2] and np.asarray(skip["nmi"])[:, 2].tolist() == [0.0, 0.0]
    # no active latent (every code constant): 0, not NaN
    flat = infomec(np.ones((100, 3)), GRID)
    assert (flat["infom"], flat["infoc"], flat["n_active"]) == (0.0, 0.0, 0)
    assert np.isfinite(flat["infoe"]) and abs(flat["infoe"]) < 1e-6
    with pytest.raises(DataError, match="constant"):
        infomec(np.ones((10, 2)), np.zeros((10, 1), int))


def _reference_recipe(codes, factors, seed):
    """The authors' recipe, re-derived from their paper and code with scikit-learn's building
    blocks (LabelEncoder, StandardScaler, mutual_info_classif per latent and factor, plug-in
    entropies, range pruning at 1/20 of the largest range, unpenalised balanced multinomial
    logistic regression and log_loss on the training points)."""
    from sklearn.feature_selection import mutual_info_classif
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import log_loss, mutual_info_score
    from sklearn.preprocessing import LabelEncoder, StandardScaler

    sources = np.stack([LabelEncoder().fit_transform(factors[:, i]) for i in range(factors.shape[1])], 1)
    latents = StandardScaler().fit_transform(codes)
    nmi = np.empty((sources.shape[1], latents.shape[1]))  # sources x latents, as the authors
    for i in range(sources.shape[1]):
        for j in range(latents.shape[1]):
            nmi[i, j] = mutual_info_classif(latents[:, j:j + 1], sources[:, i], discrete_features=False,
                                            n_neighbors=10, random_state=seed)[0]
        nmi[i] /= mutual_info_score(sources[:, i], sources[:, i])
    ranges = codes.max(0) - codes.min(0)
    active = ranges > ranges.max() / 20
    p = nmi[:, active]
    k, l = p.shape
    infom = (np.mean(p.max(0) / p.sum(0)) - 1 / k) / (1 - 1 / k)
    infoc = (np.mean(p.max(1) / p.sum(1)) - 1 / l) / (1 - 1 / l)

    def ce(x, y):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m = LogisticRegression(C=np.inf, class_weight="balanced", max_iter=100, tol=1e-4).fit(x, y)
        return log_loss(y, m.predict_proba(x))

    infoe = np.mean([(ce(np.zeros_like(latents), s) - ce(latents, s)) / ce(np.zeros_like(latents), s)
                     for s in sources.T])
    return nmi.T, active, infom, infoe, infoc


@pytest.mark.slow
def test_continuous_latents_follow_the_authors_recipe():
    rng = np.random.default_rng(0)
    f = rng.integers(0, (3, 5), size=(600, 2))
    codes = np.c_[f[:, 0] + 0.3 * rng.standard_normal(600), np.tanh(f[:, 1] - 2) + 0.2 * f[:, 0],
                  rng.standard_normal(600), 0.01 * rng.standard_normal(600)]  # the last one pruned
    nmi, active, infom, infoe, infoc = _reference_recipe(codes, f, seed=3)
    r = infomec(codes, f, seed=3)
    np.testing.assert_allclose(r["nmi"], nmi, atol=1e-12)
    assert r["active"] == active.tolist() == [True, True, True, False]
    assert r["infom"] == pytest.approx(infom, abs=1e-12)
    assert r["infoc"] == pytest.approx(infoc, abs=1e-12)
    assert r["infoe"] == pytest.approx(infoe, abs=1e-9)
    # seeded: the same seed gives the same numbers; the seed only moves the estimator's 1e-10
    # jitter, so another seed changes NMI by rounding only on these untied values
    assert infomec(codes, f, seed=3)["nmi"] == r["nmi"]
    assert np.abs(np.subtract(infomec(codes, f, seed=4)["nmi"], r["nmi"])).max() < 1e-6
    assert active_latents(codes).tolist() == [True, True, True, False]
