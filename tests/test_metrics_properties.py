"""Properties every array metric shares, driven by ONE table (add a row for a new metric).

Each row wraps a metric as ``fn(codes, factors) -> dict`` (train/test metrics get the first half of
the points as training split and the second half as test split) and names the keys that must be
plain floats within ``bounds``. ``order_tol`` is the tolerance of invariance to the order of the
codes (None where it does not hold exactly: tree ensembles break ties by feature order).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dislab.metrics import dci, dci_es, infomec, irs, mig, mig_sup, modularity_explicitness, sap
from dislab.metrics._validate import check_factors, check_same_length
from dislab.metrics.udr import udr
from dislab.metrics.unsupervised import unsupervised_metrics


def _udr_against_factors(method):
    """UDR of the codes and of a second "model" whose codes are the factors (all latents active)."""
    def run(codes, factors):
        f = check_factors(factors)
        out = udr([codes, f], [np.ones(np.shape(codes)[-1]), np.ones(f.shape[1])], method=method)
        return {"udr": out["udr"][0], "udr_other": out["udr"][1]}
    return run


def _codes_only(codes, factors):
    """Unsupervised scores ignore the factors; they are checked afterwards only so that the row
    fits the shared bad-input table (the codes are validated by the metric itself)."""
    out = unsupervised_metrics(codes)
    check_same_length([np.asarray(codes), check_factors(factors)], ["codes", "factors"])
    return out


def _split(fn, **kw):
    def run(codes, factors):
        h = len(codes) // 2
        return fn(codes[:h], factors[:h], codes[h:], factors[h:], **kw)
    return run


@dataclass(frozen=True)
class Row:
    name: str
    fn: Callable[[np.ndarray, np.ndarray], dict]
    keys: tuple[str, ...]
    bounds: tuple[float, float] = (0.0, 1.0)
    order_tol: float | None = 1e-12
    split: bool = False  # needs a varying factor in its training half
    min_codes: int = 1
    max_examples: int = 25


TABLE = [
    Row("mig", lambda c, f: mig(c, f), ("mig", "mig_sup"), min_codes=2),
    Row("mig_continuous", lambda c, f: mig(c, f.astype(float) / 3, continuous_factors=True),
        ("mig",), min_codes=2),
    Row("mig_sup", lambda c, f: mig_sup(c, f), ("mig_sup",)),
    Row("irs", lambda c, f: irs(c, f), ("irs",), bounds=(-1.0, 1.0)),
    Row("sap", _split(sap), ("sap",), split=True, min_codes=2, max_examples=10),
    Row("sap_continuous", _split(sap, continuous=True), ("sap",), split=True, min_codes=2),
    Row("modularity_explicitness", _split(modularity_explicitness),
        ("modularity", "explicitness_train", "explicitness_test"), order_tol=1e-6, split=True,
        max_examples=15),
    Row("dci_gbt", _split(dci, progress=False),
        ("disentanglement", "completeness", "informativeness_train", "informativeness_test"),
        order_tol=None, split=True, max_examples=4),
    Row("dci_lasso", _split(dci, predictor="lasso", progress=False),
        ("disentanglement", "completeness", "informativeness_train", "informativeness_test"),
        order_tol=None, split=True),
    Row("infomec", lambda c, f: infomec(c, f), ("infom", "infoc"), max_examples=10),
    Row("infomec_infoe", lambda c, f: infomec(c, f), ("infoe",), bounds=(-1.0, 1.0), order_tol=1e-4,
        max_examples=10),
    Row("infomec_discrete", lambda c, f: infomec(np.round(c) if np.asarray(c).dtype.kind == "f" else c, f,
                                                 discrete=True), ("infom", "infoc"), max_examples=10),
    Row("dci_es", _split(dci_es, capacities=(1, 2)), ("disentanglement", "completeness",
        "informativeness_test"), order_tol=None, split=True, max_examples=4),
    Row("dci_es_explicitness", _split(dci_es, capacities=(1, 2)), ("explicitness",), bounds=(-1.0, 1.0),
        order_tol=None, split=True, max_examples=4),
    Row("udr_spearman", _udr_against_factors("spearman"), ("udr", "udr_other")),
    Row("udr_lasso", _udr_against_factors("lasso"), ("udr", "udr_other"), bounds=(0.0, 2.0),
        order_tol=1e-6),
    Row("gaussian_total_correlation", _codes_only, ("gaussian_total_correlation",),
        bounds=(0.0, float("inf"))),
    Row("gaussian_wasserstein_correlation", _codes_only, ("gaussian_wasserstein_correlation_norm",),
        bounds=(0.0, 2.0), order_tol=1e-9),
    Row("mutual_info_between_codes", _codes_only, ("mutual_info_score",), bounds=(0.0, np.log(20))),
]
IDS = [row.name for row in TABLE]


@st.composite
def codes_and_factors(draw):
    n = draw(st.integers(12, 30)) * 2
    n_codes = draw(st.integers(1, 4))
    n_factors = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    factors = rng.integers(0, draw(st.integers(2, 4)), size=(n, n_factors))
    style = draw(st.sampled_from(["noise", "aligned", "constant_code", "rounded", "float32"]))
    codes = rng.standard_normal((n, n_codes)) * draw(st.sampled_from([1e-3, 1.0, 1e3]))
    if style == "aligned":
        m = min(n_codes, n_factors)
        codes[:, :m] += factors[:, :m]
    elif style == "constant_code":
        codes[:, 0] = 2.5
    elif style == "rounded":  # many ties and values on bin edges
        codes = np.round(codes)
    elif style == "float32":
        codes = codes.astype(np.float32)
    return codes, factors


def _usable(row, codes, factors):
    h = len(codes) // 2
    part = factors[:h] if row.split else factors
    return codes.shape[1] >= row.min_codes and (part != part[:1]).any()


@pytest.mark.parametrize("row", TABLE, ids=IDS)
def test_bounded_plain_floats_and_invariant_to_code_order(row):
    @settings(max_examples=row.max_examples, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
    @given(codes_and_factors())
    def check(data):
        codes, factors = data
        assume(_usable(row, codes, factors))
        out = row.fn(codes, factors)
        lo, hi = row.bounds
        for key in row.keys:
            value = out[key]
            assert type(value) is float, (key, type(value))
            assert lo - 1e-9 <= value <= hi + 1e-9, (key, value)
        if row.order_tol is not None and codes.shape[1] > 1:
            flipped = row.fn(codes[:, ::-1].copy(), factors)
            for key in row.keys:
                assert flipped[key] == pytest.approx(out[key], abs=row.order_tol), key

    check()


def _good(row):
    rng = np.random.default_rng(0)
    factors = np.tile(np.arange(3), 10)[:, None].repeat(2, axis=1)
    return rng.standard_normal((30, 3)), factors


@pytest.mark.parametrize("row", TABLE, ids=IDS)
@pytest.mark.parametrize("bad, match", [
    ("nan", "NaN"), ("inf", "infinite"), ("length", "mismatched"), ("empty", "empty"),
    ("ndim", "2-D"), ("codes_dtype", "real numbers"), ("factors_dtype", "integer class indices"),
])
def test_bad_input_raises_a_clear_value_error(row, bad, match):
    codes, factors = _good(row)
    if bad == "nan":
        codes[3, 1] = np.nan
    elif bad == "inf":
        codes[0, 0] = np.inf
    elif bad == "length":
        codes = codes[:-4] if not row.split else codes
        factors = factors if not row.split else factors[:-3]
    elif bad == "empty":
        codes, factors = codes[:0], factors[:0]
    elif bad == "ndim":
        codes = codes[:, 0]
    elif bad == "codes_dtype":
        codes = codes.astype(str)
    elif bad == "factors_dtype":
        if row.name in ("mig_continuous", "irs", "sap_continuous"):
            pytest.skip("takes real-valued factors")
        factors = factors + 0.5
    with pytest.raises(ValueError, match=match):
        row.fn(codes, factors)
