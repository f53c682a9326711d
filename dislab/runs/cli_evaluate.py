"""``dislab evaluate RUN [--metrics mig,dci,...] [--n-train N] [--seed S] [--option dci.predictor=gbt]``

Computes the metrics of a run folder, writes ``evaluation.json`` into it and prints a table of the
scalar scores. A run whose dataset has no factors gets the unsupervised metrics only, with a
message saying why.
"""
from __future__ import annotations

import argparse
import json
import sys

from dislab.runs.layout import EVALUATION


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from dislab.metrics.spec import all_specs

    default = [s.name for s in all_specs() if s.default]
    more = [s.name for s in all_specs() if s.sampler is not None and not s.default]
    parser.add_argument("run", metavar="RUN", help="run folder (written by `dislab train`)")
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated metric names (default: {','.join(default)}; also {', '.join(more)})")
    parser.add_argument("--n-train", type=int, default=None, dest="n_train",
                        help="points per metric instead of the published 10,000 (test sets get half)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampled points (default 0)")
    parser.add_argument("--option", action="append", default=[], metavar="METRIC.KEY=VALUE",
                        help="an option of one metric, e.g. dci.predictor=gbt (the reference "
                        "predictor); VALUE is read as JSON when it parses, else as a string")
    parser.add_argument("--sample", action="store_true",
                        help="use sampled codes instead of posterior means")
    parser.add_argument("--device", default="cpu", help="device that encodes (default cpu)")


def parse_options(items: list[str]) -> dict[str, dict]:
    """``["dci.predictor=gbt", "mig.n_bins=30"]`` -> ``{"dci": {"predictor": "gbt"}, "mig": {...}}``."""
    from dislab.errors import ConfigError

    out: dict[str, dict] = {}
    for item in items:
        key, eq, raw = item.partition("=")
        metric, dot, option = key.partition(".")
        if not (eq and dot and metric and option):
            raise ConfigError(f"--option {item!r}: expected METRIC.KEY=VALUE, e.g. dci.predictor=gbt")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out.setdefault(metric.strip(), {})[option.strip()] = value
    return out


def _scalars(prefix: str, value, rows: list[tuple[str, str]]) -> None:
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, (int, float)):
        if isinstance(value, float) and value != 0 and abs(value) < 1e-3:
            rows.append((prefix, f"{value:.3e}"))
        else:
            rows.append((prefix, f"{value:.4f}" if isinstance(value, float) else str(value)))
    elif isinstance(value, dict):
        for k, v in value.items():
            _scalars(f"{prefix}.{k}" if prefix else k, v, rows)


def format_table(result: dict, names: list[str] | None = None) -> str:
    """Scalar scores of ``result["metrics"]`` as a two-column text table with seconds per metric."""
    rows: list[tuple[str, str]] = []
    for name, scores in result["metrics"].items():
        if names is not None and name not in names:
            continue
        before = len(rows)
        _scalars("", scores, rows)
        rows[before:] = [(f"{name}  {k}", v) for k, v in rows[before:]]
        if name in result.get("time_s", {}):
            rows.append((f"{name}  (seconds)", f"{result['time_s'][name]:.1f}"))
    width = max((len(k) for k, _ in rows), default=10)
    return "\n".join(f"{k:<{width}}  {v:>10}" for k, v in rows)


def main(args: argparse.Namespace) -> int:
    from dislab.runs import evaluate

    result = evaluate(args.run, metrics=args.metrics, n_train=args.n_train, seed=args.seed,
                      options=parse_options(args.option), mode="sample" if args.sample else "mean",
                      device=args.device)
    for note in result["notes"]:
        print(f"dislab evaluate: {note}", file=sys.stderr)
    print(format_table(result, result["computed"]))
    earlier = [k for k in result["metrics"] if k not in result["computed"]]
    path = f"{args.run.rstrip('/')}/{EVALUATION}"
    print(f"wrote {path}" + (f" (it also keeps earlier results: {', '.join(earlier)})" if earlier else ""))
    return 0
