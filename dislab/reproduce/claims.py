"""Claims of published papers, checked in code on a study's results table.

A :class:`Claim` names what a paper found, where (paper, section, figure or table), the published
value or direction, and a ``check`` that reads the table of a study (the rows of
:func:`dislab.studies.aggregate.rows`: one dict per run with its settings, config and
``METRIC.KEY`` scores) and returns an :class:`Outcome`: PASS or FAIL with the measured numbers, or
INCONCLUSIVE when the table lacks what the claim needs (too few finished runs or seeds). A check
never looks at anything but the table, so it can be tested on planted rows.
"""
from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"

Row = Mapping[str, Any]


@dataclass(frozen=True)
class Outcome:
    """The verdict of one claim: ``status`` (PASS / FAIL / INCONCLUSIVE), the numbers it rests on
    (``measured``: JSON-ready) and one sentence saying what was compared."""

    status: str
    measured: dict[str, Any]
    detail: str


@dataclass(frozen=True)
class Claim:
    """One published finding: ``id`` (short, unique within its reproduction), ``statement`` (what
    the paper found, in our words), ``source`` (paper, section and figure/table), ``published``
    (the value or direction the paper reports) and ``check(rows) -> Outcome``."""

    id: str
    statement: str
    source: str
    published: str
    check: Callable[[Sequence[Row]], Outcome]


@dataclass(frozen=True)
class ClaimResult:
    claim: Claim
    outcome: Outcome

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.claim.id, "statement": self.claim.statement, "source": self.claim.source,
                "published": self.claim.published, "status": self.outcome.status,
                "measured": self.outcome.measured, "detail": self.outcome.detail}


def check_claims(claims: Iterable[Claim], rows: Sequence[Row]) -> list[ClaimResult]:
    """Every claim against the finished runs of ``rows`` (state ``done`` with the score present)."""
    done = [r for r in rows if r.get("state") == "done"]
    return [ClaimResult(c, c.check(done)) for c in claims]


# -- helpers the checks share -------------------------------------------------------------------
def values(rows: Sequence[Row], score: str, **where: Any) -> list[float]:
    """Finite values of column ``score`` in the rows whose columns equal ``where`` (numbers compared
    as floats, so a beta of 4 matches 4.0)."""
    out = []
    for r in rows:
        if all(_same(r.get(k), v) for k, v in where.items()):
            v = r.get(score)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                out.append(float(v))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def mean_sd(xs: Sequence[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(xs), "sd": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs)}


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN when either side is constant."""
    from scipy.stats import spearmanr

    if len(x) < 3 or len(set(x)) < 2 or len(set(y)) < 2:
        return float("nan")
    return float(spearmanr(x, y).statistic)


def variance_share(groups: Mapping[Any, Sequence[float]]) -> dict[str, float]:
    """One-way decomposition of the scores' spread by group (here: by model).

    ``eta2`` = SS_between / SS_total, the share of the total variance explained by the group
    (in [0, 1]); ``between_sd`` the standard deviation of the group means; ``within_sd`` the pooled
    standard deviation inside the groups (seeds and hyperparameters of one model)."""
    allv = [v for g in groups.values() for v in g]
    grand = statistics.fmean(allv)
    ss_total = sum((v - grand) ** 2 for v in allv)
    ss_between = sum(len(g) * (statistics.fmean(g) - grand) ** 2 for g in groups.values())
    ss_within = ss_total - ss_between
    dof_within = max(len(allv) - len(groups), 1)
    means = [statistics.fmean(g) for g in groups.values()]
    return {"eta2": ss_between / ss_total if ss_total > 0 else float("nan"),
            "between_sd": statistics.stdev(means) if len(means) > 1 else 0.0,
            "within_sd": math.sqrt(max(ss_within, 0.0) / dof_within), "n_runs": len(allv),
            "n_groups": len(groups)}


def format_table(results: Sequence[ClaimResult]) -> str:
    """The claims as a Markdown table: status, claim, measured, published, source."""
    lines = ["| status | claim | measured | published | source |", "|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| **{r.outcome.status}** | {r.claim.statement} | {r.outcome.detail} | "
                     f"{r.claim.published} | {r.claim.source} |")
    return "\n".join(lines)


@dataclass(frozen=True)
class Budget:
    """How much of a reproduction to run: the study's ``[base]`` settings, the seeds, the grid
    values kept, evaluation options and what it costs (``cost``, said in words, measured)."""

    name: str
    base: dict[str, Any]
    seeds: int
    grid: dict[str, Any] = field(default_factory=dict)
    evaluate: dict[str, Any] = field(default_factory=dict)
    cost: str = ""
