"""What a metric is, declared once, beside its code: :class:`MetricSpec` names the metric's sampler
(``fn(dataset, encode, *, seed, **options) -> dict``, the registry's contract), the array function
the sampler passes its remaining options to, and a :class:`Score` for every key of its result
that a reader should understand: its meaning, range and direction.

Each metric module ends with ``SPEC = MetricSpec(...)`` and :data:`dislab.metrics.METRICS` maps the
metric's name to that ``SPEC`` (``"mig" -> "dislab.metrics.mig:SPEC"``). Everything else reads
the declarations: ``dislab evaluate`` (the default suite, which metrics need factors, which run per
level of a hierarchical model, the options and defaults it records), the report (each score's
meaning and range), the studies' tables and figures (which columns are scores to rank models by,
which are counts) and docs/metrics.md (its table of scores is :func:`markdown_table`'s output,
checked by a test). A new metric is its module, one registry line and its test.

A spec is callable as its sampler: ``METRICS.get("mig")(dataset, encode, seed=0)``.
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Callable

#: directions of a score: ``higher`` / ``lower`` is better, ``count`` counts something (latents
#: kept, group sizes) and ``diagnostic`` describes the estimate itself; neither ranks models.
DIRECTIONS = ("higher", "lower", "count", "diagnostic")


@dataclass(frozen=True)
class Score:
    """One key of a metric's result.

    Attributes:
        key: the key in the metric's dict (``"disentanglement"``).
        meaning: one or two sentences a user reads in the report, citing the paper.
        range: the bounds in words, with the better end (``"0 to 1, higher = ..."``).
        direction: one of :data:`DIRECTIONS`.
        alias_of: the key this one repeats; tables leave it out, so one number is one column.
    """

    key: str
    meaning: str
    range: str
    direction: str = "higher"
    alias_of: str | None = None  # the same number under another key (UDR's headline "udr")

    def __post_init__(self):
        if self.direction not in DIRECTIONS:
            raise ValueError(f"score {self.key!r}: direction must be one of {DIRECTIONS}, got {self.direction!r}")

    @property
    def ranks_models(self) -> bool:
        """Whether a study's tables and figures should compare models by it."""
        return self.direction in ("higher", "lower") and self.alias_of is None


@dataclass(frozen=True)
class MetricSpec:
    """A metric's declaration.

    Attributes:
        name: the registry key (= the module's name).
        title: the metric's name and paper, e.g. ``"MIG (Chen et al. 2018)"``.
        sampler: ``fn(dataset, encode, *, seed, **options) -> dict``; None for a metric computed
            over several models of a study (UDR: ``dislab udr``), which ``evaluate`` refuses.
        array: the array function the sampler passes its remaining options to (their names are
            checked and their defaults recorded); None for metrics with their own protocol.
        scores: the declared keys of the result (others are shown by value only).
        needs_factors: False for metrics that run on datasets without ground-truth factors.
        per_level: also computed on each level of a hierarchical model.
        default: in ``evaluate``'s default suite (the expensive ones must be asked for by name).
        options: options ``evaluate`` passes unless told otherwise (a callable returning them,
            for defaults that depend on what is installed).
    """

    name: str
    title: str
    sampler: Callable[..., dict] | None
    array: Callable[..., dict] | None = None
    scores: tuple[Score, ...] = ()
    needs_factors: bool = True
    per_level: bool = False
    default: bool = False
    options: Callable[[], dict[str, Any]] = field(default=dict)

    def __call__(self, dataset, encode, **options) -> dict:
        if self.sampler is None:
            from dislab.errors import ConfigError

            raise ConfigError(f"metric {self.name!r} is computed over several models of a study "
                              f"(dislab udr STUDY), not by evaluating one run")
        return self.sampler(dataset, encode, **options)

    @property
    def __name__(self) -> str:  # messages name a spec as they would its sampler
        return self.name

    def score(self, key: str) -> Score | None:
        for s in self.scores:
            if s.key == key:
                return s
        return None

    def sampler_defaults(self) -> dict[str, Any]:
        """The sampler's keyword-only defaults (sample sizes, batch size, seed)."""
        return _keyword_defaults(self.sampler) if self.sampler is not None else {}

    def array_defaults(self) -> dict[str, Any]:
        """The array function's keyword-only defaults (its options)."""
        return _keyword_defaults(self.array) if self.array is not None else {}


def _keyword_defaults(fn) -> dict[str, Any]:
    return {k: p.default for k, p in inspect.signature(fn).parameters.items()
            if p.kind == p.KEYWORD_ONLY and p.default is not inspect.Parameter.empty}


def all_specs() -> list[MetricSpec]:
    """Every registered metric's spec, in registry order (imports each metric module)."""
    from dislab.metrics import METRICS

    return [METRICS.get(name) for name in METRICS.names(ordered=True)]


def spec_of(block: str) -> MetricSpec | None:
    """The spec of an evaluation.json block (``"mig"``, per level ``"level1/mig"``), or None."""
    from dislab.metrics import METRICS

    name = block.rsplit("/", 1)[-1]
    return METRICS.get(name) if name in METRICS else None


def score_of(block: str, key: str) -> Score | None:
    """The declared :class:`Score` of ``key`` in evaluation block ``block``, or None."""
    spec = spec_of(block)
    return spec.score(key) if spec is not None else None


def markdown_table() -> str:
    """The table of every declared score (docs/metrics.md "Scores" holds this text)."""
    lines = ["| metric | score | range | meaning |", "|---|---|---|---|"]
    for spec in all_specs():
        for s in spec.scores:
            meaning = s.meaning.replace("|", "\\|")
            lines.append(f"| `{spec.name}` | `{s.key}` | {s.range} | {meaning} |")
    return "\n".join(lines) + "\n"


__all__ = ["DIRECTIONS", "Score", "MetricSpec", "all_specs", "spec_of", "score_of", "markdown_table"]
