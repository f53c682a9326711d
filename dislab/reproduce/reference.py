"""Reference figures a report puts a run's scores beside: per dataset, the range of headline scores
that dislab's own reproduction runs reached, with the command and budget that produced them
(docs/results.md). Only measured figures are listed; a dataset without any gets no comparison."""
from __future__ import annotations

from typing import Any

# dataset -> {"label", "source", "scores": {"METRIC.KEY": [low, high]}}
REFERENCE: dict[str, dict[str, Any]] = {
    # docs/results.md, "Chen et al. 2018 at the cpu budget": the lowest and highest of 3 seeds
    "dsprites": {
        "label": "dislab's β-TCVAE (β 6) on dSprites at the cpu budget (conv64 networks, 1,000 steps of 256, 3 seeds)",
        "source": "docs/results.md; dislab reproduce chen2018 --budget cpu",
        "scores": {"mig.mig": [0.053, 0.145], "dci.disentanglement": [0.057, 0.132]},
    },
}


def reference_for(dataset: str) -> dict[str, Any] | None:
    return REFERENCE.get(dataset)
