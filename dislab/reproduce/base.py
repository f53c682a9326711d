"""What a reproduction is: a study in the sweep grammar at several budgets, the claims it tests,
and the figures that show them. Subclasses live one per file (``chen2018.py`` = key
``"chen2018"`` = class ``Chen2018``) and are listed in :data:`dislab.reproduce.REPRODUCTIONS`."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

from dislab.errors import ConfigError
from dislab.reproduce.claims import Budget, Claim, Row

# The cpu budget's recipe, shared by every reproduction: the demo's (docs/benchmarks.md "Demo
# recipe"): batch 256, Adam lr 1e-3, fp32. Not bf16: over seeds 0-2 of this recipe (1,000 steps,
# docs/benchmarks.md "Precision"), bf16's MIG was below fp32's at every seed (0.033 vs 0.088 mean).
CPU_BASE = {"dataset": "dsprites", "batch_size": 256, "lr": 1e-3, "precision": "fp32",
            "log_every": 50, "checkpoint_every": 500}
# The tiny budget: every stage end to end in seconds, for tests (numbers mean nothing).
TINY_BASE = {"dataset": "dsprites", "steps": 2, "batch_size": 8, "log_every": 1, "checkpoint_every": 2,
             "device": "cpu"}
TINY_EVALUATE = {"n_train": 200}


class Reproduction:
    """One published finding set. Subclasses set the class attributes and may add figures."""

    name = "reproduction"
    title = ""
    paper = ""  # full citation
    metrics: tuple[str, ...] = ("mig", "dci")
    udr = False  # run dislab udr over the study before the claims
    #: the study's axes at the paper's budget; a budget's ``grid`` replaces entries of it
    chain: list[dict[str, Any]] = []
    budgets: dict[str, Budget] = {}
    udr_options: dict[str, Any] = {}

    def claims(self) -> list[Claim]:
        raise NotImplementedError

    def budget(self, name: str) -> Budget:
        if name not in self.budgets:
            raise ConfigError(f"{self.name}: unknown budget {name!r}; expected one of {sorted(self.budgets)}")
        return self.budgets[name]

    def study(self, budget: str) -> dict[str, Any]:
        """The study's tables (the grammar of docs/studies.md) at ``budget``."""
        b = self.budget(budget)
        chain = []
        for alt in copy.deepcopy(self.chain):
            kept = b.grid.get(alt["model"])
            if kept is None and b.grid:
                continue  # a budget that names its models runs only those
            if isinstance(kept, dict):
                alt.update(kept)
            chain.append(alt)
        data: dict[str, Any] = {"name": f"{self.name}-{budget}", "seeds": b.seeds,
                                "metrics": list(self.metrics), "base": dict(b.base), "chain": chain}
        if b.evaluate:
            data["evaluate"] = dict(b.evaluate)
        if self.udr:
            data["udr"] = dict(self.udr_options)
        return data

    def figures(self, rows: Sequence[Row], out: Path) -> list[Path]:
        """PNG figures of the claims, written under ``out``; none by default."""
        return []


def save_figure(fig, path: Path) -> Path:
    """Write a matplotlib figure as PNG atomically (temporary file, then rename) and close it."""
    import matplotlib.pyplot as plt

    from dislab.io import atomic_path

    fig.tight_layout()
    with atomic_path(path) as tmp:  # creates the folder
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)
    return path
