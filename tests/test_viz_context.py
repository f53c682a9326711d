"""The report's reading of the scores: MIG per factor, DCI importance on inactive latents, reference
ranges; hand-built matrices with known answers."""
from __future__ import annotations

import numpy as np
import pytest

from dislab.viz.context import importance_on_inactive, mig_breakdown, reference_sentences, summary_sentences

H = [1.0, 2.0, 2.0, 3.0]  # factor entropies (nats)
# (n_codes = 4, n_factors = 4): f0 in z0 alone; f1 shared by z1 and z2; f2 spread thin; f3 absent
MI = np.array([[0.90, 0.00, 0.15, 0.0],
               [0.00, 0.80, 0.15, 0.0],
               [0.00, 0.70, 0.15, 0.0],
               [0.00, 0.00, 0.15, 0.1]])


def test_mig_breakdown_verdicts_and_gaps():
    rows = mig_breakdown(MI, H, ["shape", "x", "y", "scale"])
    assert [r.verdict for r in rows] == ["one latent (z0)", "shared by z1 and z2", "spread over 4 latents",
                                         "not captured"]
    assert rows[0].gap == pytest.approx(0.9)
    assert rows[1].best == 1 and rows[1].second == 2 and rows[1].gap == pytest.approx((0.8 - 0.7) / 2)
    assert rows[2].best_share == pytest.approx(0.075) and rows[2].gap == pytest.approx(0.0)
    # the gaps are MIG's per-factor terms: their mean is MIG
    assert np.mean([r.gap for r in rows]) == pytest.approx((0.9 + 0.05 + 0.0 + 0.1 / 3) / 4)


def test_importance_on_inactive_latents():
    imp = np.array([[0.5, 0.0], [0.0, 0.3], [0.1, 0.1]])
    assert importance_on_inactive(imp, np.array([True, True, False])) == pytest.approx(0.2)
    assert importance_on_inactive(np.zeros((3, 2)), np.array([True, False, False])) == 0.0


def test_sentences_name_the_factors_and_the_reference():
    evaluation = {"metrics": {"mig": {"mig": 0.246, "mutual_info": MI.tolist(), "factor_entropy": H},
                              "dci": {"disentanglement": 0.3, "importance": [[0.1, 0], [0, 0.1], [0.4, 0.4], [0, 0]]}}}
    ref = {"label": "dislab's cpu-budget β-TCVAE runs", "source": "docs/results.md",
           "scores": {"mig.mig": [0.1, 0.2], "dci.disentanglement": [0.2, 0.4]}}
    text = " ".join(summary_sentences(evaluation, np.array([True, True, False, False]),
                                      ["shape", "x", "y", "scale"], ref))
    assert "Held by one latent: shape." in text
    assert "x (z1 0.40, z2 0.35 of its entropy)" in text
    assert "y (4 latents)" in text and "Not captured by any latent: scale." in text
    assert "80 % of DCI's importance" in text
    assert "mig.mig = 0.246 is above the range 0.100–0.200" in text
    assert "dci.disentanglement = 0.300 is within" in text
    assert reference_sentences({"mig": {"mig": 0.05}}, ref) == [
        "mig.mig = 0.050 is below the range 0.100–0.200 of dislab's cpu-budget β-TCVAE runs (docs/results.md)."]


def test_the_dsprites_reference_is_the_one_docs_results_reports():
    """The report's reference ranges are measured figures: each bound is in docs/results.md."""
    from pathlib import Path

    from dislab.reproduce.reference import reference_for

    ref = reference_for("dsprites")
    text = (Path(__file__).resolve().parents[1] / "docs" / "results.md").read_text(encoding="utf-8")
    assert "dislab reproduce chen2018 --budget cpu" in ref["source"] and "dislab reproduce chen2018" in text
    for lo, hi in ref["scores"].values():
        assert f"{lo:.3f}" in text and f"{hi:.3f}" in text
    assert reference_for("shapes3d") is None  # nothing measured there: no comparison


def test_information_bound_by_hand():
    """½(log(Var μ + E σ²) − E log σ²): a latent whose mean tracks the input (σ fixed) carries
    ½ log(1 + Var μ / σ²); one whose mean is a constant offset carries nothing, however large its
    KL to the prior; a varying σ only raises the bound (Jensen)."""
    from dislab.metrics.active import information_bound, mean_kl_per_latent

    x = np.linspace(-1.0, 1.0, 201)
    mu = np.c_[2.0 * x, np.full_like(x, 3.5), 2.0 * x]
    logvar = np.c_[np.full_like(x, np.log(0.25)), np.full_like(x, np.log(0.01)), np.log(0.25) + 0.5 * x]
    bound = information_bound(mu, logvar)
    assert bound[0] == pytest.approx(0.5 * np.log(1 + 4 * x.var() / 0.25))
    assert bound[1] == 0.0 and mean_kl_per_latent(None, mu, logvar)[1] > 7  # KL 8.3 nats, no information
    assert bound[2] > bound[0]


def test_the_report_says_when_the_kl_is_not_information():
    from dislab.viz.context import uninformative_kl

    active = np.array([True, True, True, False])
    collapsed = uninformative_kl(np.array([7.9, 4.6, 3.4, 0.0]), np.array([0.03, 0.01, 0.01, 0.0]), active)
    assert collapsed == pytest.approx((15.9, 0.05))
    assert uninformative_kl(np.array([2.4, 2.2, 2.1, 0.0]), np.array([2.3, 2.1, 1.9, 0.0]), active) is None
    assert uninformative_kl(np.array([0.3, 0.2, 0.2, 0.0]), np.zeros(4), active) is None  # too little KL
    evaluation = {"metrics": {"mig": {"mig": 0.004}}}
    text = " ".join(summary_sentences(evaluation, active, None, kl=np.array([7.9, 4.6, 3.4, 0.0]),
                                      information=np.array([0.03, 0.01, 0.01, 0.0])))
    assert "The 3 latents the KL chart marks active pay 15.9 nats of KL" in text
    assert "at most 0.05 nats about the input" in text and "collapsed" in text
