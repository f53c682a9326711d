"""What the scores say about this model: the per-factor breakdown behind MIG, where DCI puts its
importance, and how the headline scores compare with reference figures.

A reader sees traversals that clearly separate x, y and scale while MIG reads 0.05; this module
reconciles the two in words. Everything is computed from evaluation.json's matrices (MIG's mutual
information ``(n_codes, n_factors)`` in nats with the factor entropies; DCI's importance
``(n_codes, n_factors)``) and the report's per-latent activity, so it says nothing the numbers do
not hold.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

# A factor is "captured" when its best latent holds at least this share of its entropy, ...
CAPTURED = 0.2
# ... and held "by one latent" when the runner-up holds less than half of the best's share.
ONE_LATENT = 0.5
# A factor whose best latent is below CAPTURED but which latents hold together (each >= SPREAD,
# summing to >= CAPTURED) is "spread over" them: entangled, not absent.
SPREAD = 0.05
# The active latents' KL is "mostly not information" when, over them, the information bound
# (dislab.metrics.active.information_bound) sums to less than this share of the KL, and the KL
# to at least KL_SPENT nats (a model whose few active latents barely pay anything is not news).
INFORMATION_SHARE = 0.25
KL_SPENT = 1.0


@dataclass(frozen=True)
class FactorRow:
    """One factor of the MIG breakdown: the two latents with the most normalised mutual
    information I(z_j; v_k) / H(v_k) (in [0, 1]), their shares, and MIG's gap between them."""

    factor: str
    best: int
    best_share: float
    second: int
    second_share: float
    gap: float
    verdict: str


def mig_breakdown(mutual_info: np.ndarray, factor_entropy: Sequence[float],
                  factor_names: Sequence[str] | None = None) -> list[FactorRow]:
    """Per factor (column of ``mutual_info`` ``(n_codes, n_factors)``, nats): best and second latent,
    their shares of H(v_k), the gap (= MIG's per-factor term) and a verdict: ``"one latent"``,
    ``"shared by z_a and z_b"``, ``"spread over n latents"`` (none holds :data:`CAPTURED`, together
    they do) or ``"not captured"``."""
    mi = np.asarray(mutual_info, dtype=float)
    h = np.asarray(factor_entropy, dtype=float)
    names = list(factor_names) if factor_names is not None and len(factor_names) == mi.shape[1] else \
        [f"factor {k}" for k in range(mi.shape[1])]
    rows = []
    for k in range(mi.shape[1]):
        share = mi[:, k] / h[k] if h[k] > 0 else np.zeros(mi.shape[0])
        order = np.argsort(-share, kind="stable")
        b = int(order[0])
        s = int(order[1]) if len(order) > 1 else b
        sb, ss = float(share[b]), float(share[s]) if len(order) > 1 else 0.0
        spread = int((share >= SPREAD).sum())
        if sb < CAPTURED and share.sum() >= CAPTURED and spread >= 2:
            verdict = f"spread over {spread} latents"
        elif sb < CAPTURED:
            verdict = "not captured"
        elif ss < ONE_LATENT * sb:
            verdict = f"one latent (z{b})"
        else:
            verdict = f"shared by z{b} and z{s}"
        rows.append(FactorRow(names[k], b, sb, s, ss, sb - ss, verdict))
    return rows


def importance_on_inactive(importance: np.ndarray, active: np.ndarray) -> float:
    """Share of DCI's total importance (``(n_codes, n_factors)``) that sits on inactive latents."""
    imp = np.asarray(importance, dtype=float)
    total = imp.sum()
    if total <= 0 or len(active) != imp.shape[0]:
        return 0.0
    return float(imp[~np.asarray(active, dtype=bool)].sum() / total)


def uninformative_kl(kl: np.ndarray, information: np.ndarray, active: np.ndarray) -> tuple[float, float] | None:
    """``(KL, information bound)`` summed over the active latents, nats, when the KL is at least
    KL_SPENT and the information below INFORMATION_SHARE of it (the KL is paid by an offset of the
    posterior means shared by every input and narrowed variances, not by encoding); else None."""
    on = np.asarray(active, dtype=bool)
    spent = float(np.asarray(kl, dtype=float)[on].sum())
    carried = float(np.asarray(information, dtype=float)[on].sum())
    if spent >= KL_SPENT and carried < INFORMATION_SHARE * spent:
        return spent, carried
    return None


def summary_sentences(evaluation: dict[str, Any], active: np.ndarray | None,
                      factor_names: Sequence[str] | None, reference: dict[str, Any] | None = None,
                      *, kl: np.ndarray | None = None, information: np.ndarray | None = None) -> list[str]:
    """Plain sentences on what this model's MIG and DCI mean (see module doc); with the per-latent
    ``kl`` and ``information`` bound, also whether the active latents' KL is information."""
    from dislab.viz.report import find_matrix, metric_blocks

    out = []
    if active is not None and kl is not None and information is not None:
        found = uninformative_kl(kl, information, active)
        if found:
            spent, carried = found
            out.append(f"The {int(np.sum(active))} latents the KL chart marks active pay {spent:.1f} nats of KL "
                       f"to the prior but carry at most {carried:.2f} nats about the input (a Gaussian bound "
                       "on the information): their posterior means barely vary with the input. The KL is met "
                       "by an offset shared by all inputs and narrowed variances, not by encoding: the "
                       "posterior has collapsed (as when a capacity target is reached before the decoder "
                       "learns to use the code), and every score below measures faint variations of "
                       "nearly constant codes.")
    blocks = metric_blocks(evaluation)
    mig = blocks.get("mig", {})
    mi = find_matrix(evaluation, "mutual_info", prefer="mig")
    if mi is not None and isinstance(mig.get("factor_entropy"), list):
        rows = mig_breakdown(mi[1], mig["factor_entropy"], factor_names)
        one = [r.factor for r in rows if r.verdict.startswith("one")]
        shared = [r for r in rows if r.verdict.startswith("shared")]
        missing = [r.factor for r in rows if r.verdict == "not captured"]
        spread = [r for r in rows if r.verdict.startswith("spread")]
        parts = [f"MIG {mig.get('mig', float('nan')):.3f} is the mean over the {len(rows)} factors of the gap "
                 "between the two latents that know most about each factor."]
        if one:
            parts.append(f"Held by one latent: {', '.join(one)}.")
        if shared:
            parts.append("Shared between two latents (a small gap, so a low MIG even where a traversal "
                         "shows the factor): " + ", ".join(f"{r.factor} (z{r.best} {r.best_share:.2f}, "
                                                          f"z{r.second} {r.second_share:.2f} of its entropy)"
                                                          for r in shared) + ".")
        if spread:
            parts.append("Spread over several latents, none holding much of it (entangled, so MIG counts "
                         "nearly nothing for it): " + ", ".join(f"{r.factor} ({r.verdict[len('spread over '):]})"
                                                              for r in spread) + ".")
        if missing:
            parts.append(f"Not captured by any latent: {', '.join(missing)}.")
        out.append(" ".join(parts))
    imp = find_matrix(evaluation, "importance", prefer="dci")
    if imp is not None and active is not None:
        share = importance_on_inactive(imp[1], active)
        if share >= 0.2:
            out.append(f"{100 * share:.0f} % of DCI's importance sits on latents the KL chart marks inactive: "
                       "their posterior means still vary a little with the input, and boosted trees use "
                       "that. DCI's disentanglement then measures those faint codes as much as the "
                       "latents the traversals show.")
    if reference:
        out.extend(reference_sentences(blocks, reference))
    return out


def reference_sentences(blocks: dict[str, Any], reference: dict[str, Any]) -> list[str]:
    """Each headline score beside the range of a reference set (``{"label", "source", "scores":
    {"mig.mig": [lo, hi], ...}}``): below, within or above it."""
    out = []
    for key, (lo, hi) in reference.get("scores", {}).items():
        block, _, name = key.partition(".")
        v = blocks.get(block, {}).get(name)
        if not isinstance(v, (int, float)):
            continue
        where = "below" if v < lo else "above" if v > hi else "within"
        out.append(f"{key} = {v:.3f} is {where} the range {lo:.3f}–{hi:.3f} of {reference['label']} "
                   f"({reference['source']}).")
    return out
