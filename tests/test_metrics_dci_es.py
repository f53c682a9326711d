"""DCI-ES (Eastwood et al., ICLR 2023): explicitness by hand on loss-capacity points, the authors'
conventions (andreinicolicioiu/DCI-ES: metrics/explitcitness.py, src/simple_gather.py and the
random-forest probes), and the scores on arrays."""
import numpy as np
import pytest

from dislab.errors import ConfigError
from dislab.metrics import dci_es
from dislab.metrics.dci_es import CAPACITIES, explicitness_from_curve


def test_explicitness_by_hand():
    # capacities 1, 2, 3; losses 0.5, 0.2, 0.3 -> running minimum 0.5, 0.2, 0.2 (the authors keep
    # the lowest loss reached so far); above the lowest: 0.3, 0, 0; trapezoids: 1 * 0.15 + 1 * 0 =
    # 0.15; normaliser ½ (3 - 1) * 1 = 1 -> E = 1 - 0.15 = 0.85
    assert explicitness_from_curve([1, 2, 3], [0.5, 0.2, 0.3], 1.0) == pytest.approx(0.85)
    # the lowest loss at the smallest capacity: E = 1
    assert explicitness_from_curve([1, 4, 8], [0.1, 0.1, 0.3], 0.5) == 1.0
    # a straight drop from the baseline to 0 over the whole range: the normalising triangle, E = 0
    assert explicitness_from_curve([1, 3], [1.0, 0.0], 1.0) == pytest.approx(0.0)
    # stuck at the baseline until the last capacity: area 1 + ½ over a triangle of 1 -> -0.5
    assert explicitness_from_curve([1, 2, 3], [1.0, 1.0, 0.0], 1.0) == pytest.approx(-0.5)
    # the authors' normaliser uses l* = 0, not the lowest loss: with baseline 2/3 (3 classes)
    # E = 1 - (1 * (0.4 - 0.1) / 2 + 0) / (½ * 2 * 2/3) = 1 - 0.15 / (2/3) = 0.775
    assert explicitness_from_curve([1, 2, 3], [0.4, 0.1, 0.1], 2 / 3) == pytest.approx(0.775)
    with pytest.raises(ValueError, match="increasing"):
        explicitness_from_curve([2, 1], [0.1, 0.2], 1.0)


def _codes(rotate, n=500, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.integers(0, (3, 4, 5), size=(n, 3))
    codes = np.c_[f + 0.05 * rng.standard_normal(f.shape), rng.standard_normal((n, 3))]
    if rotate:
        q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((6, 6)))
        codes = codes @ q
    cut = int(0.7 * n)
    return codes[:cut], f[:cut], codes[cut:], f[cut:]


def test_scores_on_arrays():
    caps = (1, 2, 4, 8)
    axis = dci_es(*_codes(False), capacities=caps)
    mixed = dci_es(*_codes(True), capacities=caps)
    # axis-aligned codes are read out by shallow forests; rotated ones need deeper trees
    assert axis["explicitness"] > mixed["explicitness"] + 0.05
    # D from forests that try sqrt(6) random codes per split, as the authors' probes: the noise
    # codes get some importance (measured D 0.52 here, 1.00 from dislab's dci), rotated 0.13
    assert axis["disentanglement"] > mixed["disentanglement"] + 0.3
    assert axis["informativeness_test"] > 0.95
    # size: 3 factors over 6 codes
    assert axis["size"] == 0.5
    # chance baselines 1 - 1/K per classified factor; the curve keeps one test loss per capacity
    assert axis["baseline_loss"] == pytest.approx([2 / 3, 3 / 4, 4 / 5])
    assert np.shape(axis["loss_capacity"]) == (3, 4) and axis["capacities"] == [1, 2, 4, 8]
    for k in range(3):
        assert axis["explicitness_per_factor"][k] == pytest.approx(
            explicitness_from_curve(caps, axis["loss_capacity"][k], axis["baseline_loss"][k]))
    # D, C, I are those of the capacity whose probes are the most informative on the test split
    assert axis["best_capacity"] in caps
    assert np.shape(axis["importance"]) == (6, 3)
    # factors probed by regression: 1 - R², baseline 1
    reg = dci_es(*_codes(False), capacities=caps, regression=(1, 2))
    assert reg["baseline_loss"][1:] == [1.0, 1.0] and reg["explicitness"] > 0.5
    # the authors' capacity grid by default
    assert CAPACITIES == (1, 2, 3, 4, 8, 10, 12, 14, 16, 18, 20, 32)
    with pytest.raises(ConfigError, match="capacities"):
        dci_es(*_codes(False), capacities=(4,))
    with pytest.raises(ConfigError, match="regression"):
        dci_es(*_codes(False), capacities=caps, regression=(7,))


def test_constant_factor_is_skipped_and_seeded():
    tr_c, tr_f, te_c, te_f = _codes(False, n=300)
    tr_f = np.c_[tr_f, np.zeros(len(tr_f), int)]
    te_f = np.c_[te_f, np.zeros(len(te_f), int)]
    r = dci_es(tr_c, tr_f, te_c, te_f, capacities=(1, 3))
    assert r["skipped_factors"] == [3] and r["explicitness_per_factor"][3] == 0.0
    assert r["size"] == 0.5  # 3 varying factors over 6 codes
    again = dci_es(tr_c, tr_f, te_c, te_f, capacities=(1, 3))
    assert again == r
    assert dci_es(tr_c, tr_f, te_c, te_f, capacities=(1, 3), n_jobs=2) == r
