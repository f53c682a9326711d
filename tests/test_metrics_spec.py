"""Every metric declares itself once (dislab/metrics/spec.py) and every stage reads that
declaration: the registry, evaluate's suites and recorded defaults, the report's meanings, the
studies' score columns and docs/metrics.md's table of scores."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from dislab.errors import ConfigError
from dislab.metrics import METRICS
from dislab.metrics.spec import DIRECTIONS, MetricSpec, Score, all_specs, markdown_table, score_of
from dislab.metrics.suite import (DEFAULT_METRICS, PER_LEVEL_METRICS, UNSUPERVISED_METRICS, parse_metric_names,
                                  sampler_parameters)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"


@pytest.mark.parametrize("name", METRICS.names())
def test_registry_entry_is_its_modules_spec(name):
    """file name = registry key = SPEC.name, and the array function lives in the same module."""
    spec = METRICS.get(name)
    assert isinstance(spec, MetricSpec) and spec.name == name
    module = importlib.import_module(f"dislab.metrics.{name}")
    assert module.SPEC is spec
    for fn in (spec.sampler, spec.array):
        if fn is not None:
            assert fn.__module__ == module.__name__, (name, fn)
    keys = [s.key for s in spec.scores]
    assert keys and len(keys) == len(set(keys)), name
    assert all(s.direction in DIRECTIONS and s.meaning and s.range for s in spec.scores)
    for s in spec.scores:
        assert s.alias_of is None or s.alias_of in keys


def test_suites_come_from_the_declarations():
    assert DEFAULT_METRICS == ("mig", "dci", "sap", "modularity_explicitness", "irs", "unsupervised")
    assert UNSUPERVISED_METRICS == ("unsupervised",) and PER_LEVEL_METRICS == ("mig", "dci")


def test_a_studys_metric_is_refused_for_one_run():
    with pytest.raises(ConfigError, match="computed over the seeds of a study"):
        parse_metric_names("mig,udr")
    with pytest.raises(ConfigError, match="unknown metric 'migg'"):
        parse_metric_names("migg")


def test_recorded_parameters_are_the_samplers_and_array_functions_defaults():
    got = sampler_parameters(METRICS.get("mig"), 200, 3, {})
    assert got == {"seed": 3, "n_train": 200, "batch_size": 64, "n_bins": 20, "continuous_factors": False}
    dci = sampler_parameters(METRICS.get("dci"), None, 0, {"predictor": "lasso"})
    assert (dci["n_train"], dci["n_test"], dci["predictor"]) == (10_000, 5_000, "lasso")


def test_a_spec_is_callable_as_its_sampler():
    from dislab.data import get_dataset

    ds = get_dataset("toy_blobs", side=16, n_pos=4)
    encode = lambda x: x.flatten(1).numpy()[:, :6]  # noqa: E731
    direct = METRICS.get("mig").sampler(ds, encode, seed=1, n_train=300)
    assert METRICS.get("mig")(ds, encode, seed=1, n_train=300) == direct


def test_report_and_studies_read_the_declarations():
    from dislab.studies.figures import not_scores
    from dislab.viz.report import score_info

    assert score_info("dci", "disentanglement") == (score_of("dci", "disentanglement").meaning,
                                                    score_of("dci", "disentanglement").range)
    assert score_info("level1/mig", "mig")[0].startswith("level1 only: Mutual Information Gap")
    assert score_info("dci", "no_such_key") is None
    assert {"irs.num_active_dims", "unsupervised.n_active", "dci.tie_spread", "udr.udr"} <= not_scores()
    assert not {"mig.mig", "dci.disentanglement", "udr.udr_spearman"} & not_scores()


def test_score_validates_its_direction():
    with pytest.raises(ValueError, match="direction must be one of"):
        Score("x", "meaning", "0 to 1", "sideways")


def test_docs_hold_the_declared_table_of_scores():
    """docs/metrics.md's "Scores" table is markdown_table() verbatim: a metric added or a meaning
    changed without its docs fails here (regenerate with
    python -c "from dislab.metrics.spec import markdown_table; print(markdown_table())")."""
    assert markdown_table() in DOCS.read_text(encoding="utf-8")
    assert len(markdown_table().splitlines()) == 2 + sum(len(s.scores) for s in all_specs())
