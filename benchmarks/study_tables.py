"""The markdown tables of docs/results.md from a study folder: one row per run, then mean ± sd per
setting (MIG, DCI, the ELBO of the last logged steps, training wall time).

    .venv/bin/python benchmarks/study_tables.py studies/chen2018-cpu [--last 5]

Reads the study's results.csv (written by ``dislab reproduce`` / ``dislab study``) and each run's
train_log.jsonl: ELBO = mean of the last ``--last`` log rows (nats per image), train wall s = the
last row's ``wall_time_s``.
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
from pathlib import Path

SCORES = (("MIG", "mig.mig"), ("DCI-D", "dci.disentanglement"), ("DCI-C", "dci.completeness"),
          ("DCI-I (test)", "dci.informativeness_test"))


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path)
    parser.add_argument("--last", type=int, default=5, help="log rows averaged for the ELBO (default 5)")
    args = parser.parse_args()
    rows = [r for r in csv.DictReader(open(args.study / "results.csv", encoding="utf-8"))
            if r.get("state") == "done"]
    runs = []
    for r in rows:
        log = [json.loads(line) for line in open(args.study / "runs" / r["run"] / "train_log.jsonl")
               if line.strip()]
        elbo = statistics.mean(row["elbo"] for row in log[-args.last:])
        beta = r.get("model_options.beta") or ""
        runs.append({**r, "beta": beta, "elbo": elbo, "wall": log[-1]["wall_time_s"]})
    print("| run | model | β | seed | " + " | ".join(n for n, _ in SCORES)
          + f" | ELBO (last {args.last} rows) | train wall s |")
    print("|---|---|---|---|" + "---|" * len(SCORES) + "---|---|")
    for r in runs:
        scores = " | ".join(f"{_float(r[k]):.3f}" for _, k in SCORES)
        print(f"| {r['run']} | {r['model']} | {r['beta']} | {r['seed']} | {scores} | {r['elbo']:.2f} | "
              f"{r['wall']:.0f} |")
    print()
    print("| model | β | n | " + " | ".join(f"{n} mean ± sd" for n, _ in SCORES[:3]) + " | ELBO mean |")
    print("|---|---|---|" + "---|" * 3 + "---|")
    settings: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        settings.setdefault((r["model"], r["beta"]), []).append(r)
    for (model, beta), group in settings.items():
        cells = []
        for _, key in SCORES[:3]:
            values = [_float(r[key]) for r in group]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {sd:.3f}")
        print(f"| {model} | {beta} | {len(group)} | {' | '.join(cells)} | "
              f"{statistics.mean(r['elbo'] for r in group):.2f} |")


if __name__ == "__main__":
    main()
