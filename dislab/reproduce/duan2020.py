"""Duan et al., ICLR 2020, "Unsupervised Model Selection for Variational Disentangled Representation
Learning": UDR, computed from the models alone, ranks models as the supervised metrics do — its
rank correlation with MIG and DCI disentanglement over the models of one study is positive
(Section 5, UDR against the supervised metrics).

It reads the study of :mod:`dislab.reproduce.locatello2019` (the same runs: point both at one
``--out`` and the runs are trained once) with ``dislab udr`` over each setting's seeds."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from dislab.reproduce.claims import FAIL, INCONCLUSIVE, PASS, Claim, Outcome, Row, spearman
from dislab.reproduce.locatello2019 import Locatello2019

SOURCE = "Duan et al. 2020 (ICLR), Sec. 5: rank correlation of UDR with the supervised metrics"


def check_udr_correlation(rows: Sequence[Row], udr: str, score: str) -> Outcome:
    """Spearman's ρ over runs (both values finite) > 0; >= 5 runs needed."""
    pairs = [(float(r[udr]), float(r[score])) for r in rows
             if isinstance(r.get(udr), (int, float)) and isinstance(r.get(score), (int, float))]
    if len(pairs) < 5:
        return Outcome(INCONCLUSIVE, {"n_runs": len(pairs)}, f"{len(pairs)} runs with both {udr} and {score}")
    rho = spearman([a for a, _ in pairs], [b for _, b in pairs])
    measured = {"spearman": rho, "n_runs": len(pairs)}
    if rho != rho:  # NaN: one side constant
        return Outcome(INCONCLUSIVE, measured, f"{udr} or {score} is constant over the {len(pairs)} runs")
    return Outcome(PASS if rho > 0 else FAIL, measured, f"ρ({udr}, {score}) = {rho:.2f} over {len(pairs)} runs")


class Duan2020(Locatello2019):
    name = "duan2020"
    title = "UDR ranks models like the supervised metrics"
    paper = ("S. Duan, L. Matthey, A. Saraiva, N. Watters, C. Burgess, A. Lerchner, I. Higgins. "
             "Unsupervised Model Selection for Variational Disentangled Representation Learning. ICLR 2020.")
    udr = True

    def study(self, budget: str) -> dict:
        data = super().study(budget)
        data["name"] = f"locatello2019-{budget}"  # the same study: runs are shared
        return data

    def claims(self) -> list[Claim]:
        out = []
        for udr, ulabel in (("udr.udr_lasso", "UDR_L"), ("udr.udr_spearman", "UDR_S")):
            for score, label in (("mig.mig", "MIG"), ("dci.disentanglement", "DCI-D")):
                out.append(Claim(f"{udr.split('.')[1]}_vs_{score.split('.')[0]}",
                                 f"{ulabel} ranks the study's models like {label} (positive rank correlation)",
                                 SOURCE, "positive", lambda rows, u=udr, s=score: check_udr_correlation(rows, u, s)))
        return out

    def figures(self, rows: Sequence[Row], out: Path) -> list[Path]:
        return []  # dislab results draws udr_vs_<score>.png for the study
