"""The fast DCI predictor against the reference on the hard inputs of tests/test_metrics_dci_battery.py
(docs/metrics.md, "The fast predictor: measured limits"), as a markdown table.

    .venv/bin/python benchmarks/dci_battery.py            # ~5 min quiet (the "gbt" judge dominates)
    .venv/bin/python benchmarks/dci_battery.py rotated grid_unencoded_factor     # only these cases

Judge: ``predictor="gbt"`` over the case's ``random_state``s (its D, C and I are a distribution where
scikit-learn breaks ties at random). Column "outside": how far the fast value lies outside the
judge's range, the largest over D, C and I (the test asserts <= 0.02).
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_metrics_dci_battery import CASES, KEYS, _case  # noqa: E402

from dislab.metrics import dci  # noqa: E402


def _range(values) -> str:
    low, high = min(values), max(values)
    return f"{low:.3f}" if round(low, 3) == round(high, 3) else f"{low:.3f}–{high:.3f}"


def _small(value: float) -> str:
    """Three decimals, 0 below half of the last one (float noise such as 4e-16)."""
    return "0" if value < 5e-4 else f"{value:.3f}"


def main() -> None:
    print("| input | n train | gbt seeds | fell back (factors) | tie_spread | D gbt / fast | C gbt / fast "
          "| I gbt / fast | outside |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name in sys.argv[1:] or CASES:
        split, seeds = _case(name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            judge = [dci(*split, predictor="gbt", seed=s, progress=False) for s in seeds]
        fast = dci(*split, predictor="fast", progress=False)
        cells, outside = [], 0.0
        for key in KEYS:
            values = [r[key] for r in judge]
            outside = max(outside, min(values) - fast[key], fast[key] - max(values), 0.0)
            cells.append(f"{_range(values)} / {fast[key]:.3f}")
        fell = ", ".join(sorted(fast["fallback"], key=int)) or "—"
        print(f"| {name} | {len(split[0]):,} | {len(seeds)} | {fell} | {_small(fast['tie_spread'])} | "
              f"{' | '.join(cells)} | {_small(outside)} |")


if __name__ == "__main__":
    main()
