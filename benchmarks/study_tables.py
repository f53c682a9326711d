"""The markdown tables of docs/results.md: one row per run, then mean ± sd per setting (MIG, DCI,
the ELBO of the last logged steps, training wall time, where it trained).

    .venv/bin/python benchmarks/study_tables.py studies/chen2018-cpu
    .venv/bin/python benchmarks/study_tables.py docs/results/locatello2019-cpu.json   # a kept summary

Reads the rows of the study in a folder (dislab.studies.aggregate.rows: scores, ``train.elbo`` =
mean ELBO of the last 5 log rows in nats per image, ``train.wall_s``, ``trained_on``), or those a
reproduction's claims.json keeps (``dislab reproduce``; what ``--carry`` continues from). Only
finished runs are listed.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

SCORES = (("MIG", "mig.mig"), ("DCI-D", "dci.disentanglement"), ("DCI-C", "dci.completeness"),
          ("DCI-I (test)", "dci.informativeness_test"))


def _float(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _cell(value, fmt: str) -> str:
    v = _float(value)
    return "" if v is None else format(v, fmt)


def load_rows(source: Path) -> list[dict]:
    """Finished runs' rows of a study folder or of a claims.json."""
    if source.is_dir():
        from dislab.studies.aggregate import rows

        found = rows(source)[0]
    else:
        found = json.loads(source.read_text(encoding="utf-8")).get("rows") or []
    return [r for r in found if r.get("state") == "done"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study", type=Path, help="a study folder or a claims.json")
    args = parser.parse_args()
    runs = [{**r, "beta": r.get("model_options.beta") or ""} for r in load_rows(args.study)]
    print("| run | model | β | seed | " + " | ".join(n for n, _ in SCORES)
          + " | ELBO (last 5 rows) | train wall s | trained on |")
    print("|---|---|---|---|" + "---|" * len(SCORES) + "---|---|---|")
    for r in runs:
        scores = " | ".join(_cell(r.get(k), ".3f") for _, k in SCORES)
        print(f"| {r['run']} | {r['model']} | {r['beta']} | {r['seed']} | {scores} | "
              f"{_cell(r.get('train.elbo'), '.2f')} | {_cell(r.get('train.wall_s'), '.0f')} | "
              f"{r.get('trained_on') or ''} |")
    print()
    print("| model | β | n | " + " | ".join(f"{n} mean ± sd" for n, _ in SCORES[:3]) + " | ELBO mean |")
    print("|---|---|---|" + "---|" * 3 + "---|")
    settings: dict[tuple[str, str], list[dict]] = {}
    for r in runs:
        settings.setdefault((r["model"], r["beta"]), []).append(r)
    for (model, beta), group in settings.items():
        cells = []
        for _, key in SCORES[:3]:
            values = [v for r in group if (v := _float(r.get(key))) is not None]
            sd = statistics.stdev(values) if len(values) > 1 else 0.0
            cells.append(f"{statistics.mean(values):.3f} ± {sd:.3f}" if values else "")
        elbos = [v for r in group if (v := _float(r.get("train.elbo"))) is not None]
        elbo = f"{statistics.mean(elbos):.2f}" if elbos else ""
        print(f"| {model} | {beta} | {len(group)} | {' | '.join(cells)} | {elbo} |")


if __name__ == "__main__":
    main()
