"""DCI: each fast predictor side by side with the reference "gbt" on dSprites-like cases.

Factors have dSprites' sizes (3, 6, 40, 32, 32) and are drawn uniformly; codes are made from the
factors with noise and mixing (cases below); 10,000 train / 5,000 test points by default (the
published protocol). Prints one markdown table: seconds, D, C, I (test) and |difference| to "gbt"
for every case and predictor, then the largest differences per predictor.

    .venv/bin/python benchmarks/dci_predictors.py                  # full run (gbt takes minutes)
    .venv/bin/python benchmarks/dci_predictors.py --n-train 2000 --n-test 1000 --cases noisy
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np

from dislab.metrics.dci import dci

FACTOR_SIZES = (3, 6, 40, 32, 32)


def make_case(name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Factors (n, 5) int and codes (n, 10) float for one named case."""
    sizes = np.asarray(FACTOR_SIZES)
    factors = rng.integers(0, sizes, size=(n, len(sizes)))
    scaled = factors / (sizes - 1) * 2 - 1  # each factor in [-1, 1]
    noise = rng.standard_normal((n, 10))
    if name == "noisy":  # one code per factor + noise, 5 pure-noise codes
        codes = np.c_[scaled + 0.1 * noise[:, :5], noise[:, 5:]]
    elif name == "mixed":  # each code mostly one factor, 30% of its neighbour
        mix = np.eye(5) + 0.3 * np.roll(np.eye(5), 1, axis=1)
        codes = np.c_[scaled @ mix + 0.1 * noise[:, :5], noise[:, 5:]]
    elif name == "rotated":  # a random rotation of the "noisy" codes: entangled
        q, _ = np.linalg.qr(np.random.default_rng(1).standard_normal((10, 10)))
        codes = np.c_[scaled + 0.1 * noise[:, :5], noise[:, 5:]] @ q
    elif name == "partial":  # 3 factors encoded through monotone nonlinearities, 2 missing
        codes = np.c_[np.tanh(2 * scaled[:, :3]) + 0.2 * noise[:, :3], np.exp(scaled[:, :1]),
                      noise[:, 4:]]
    else:
        raise ValueError(f"unknown case {name!r}")
    return codes, factors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-train", type=int, default=10_000)
    parser.add_argument("--n-test", type=int, default=5_000)
    parser.add_argument("--cases", default="noisy,mixed,rotated,partial")
    parser.add_argument("--predictors", default="gbt,fast,hist_gbt,random_forest,lasso")
    parser.add_argument("--n-jobs", type=int, default=1, help="factors fitted in parallel")
    parser.add_argument("--json", help="also write the raw results here")
    parser.add_argument("--from-json", nargs="+", metavar="FILE",
                        help="only print the table of rows saved by earlier --json runs (e.g. the "
                             "slow gbt rows run as separate processes)")
    args = parser.parse_args()

    rows = []
    if args.from_json:
        for path in args.from_json:
            with open(path) as fh:
                rows.extend(json.load(fh))
        print_table(rows)
        return
    for case in args.cases.split(","):
        rng = np.random.default_rng(0)
        codes, factors = make_case(case, args.n_train + args.n_test, rng)
        split = args.n_train
        for predictor in args.predictors.split(","):
            start = time.perf_counter()
            r = dci(codes[:split], factors[:split], codes[split:], factors[split:],
                    predictor=predictor, seed=0, n_jobs=args.n_jobs, progress=False)
            seconds = time.perf_counter() - start
            rows.append({"case": case, "predictor": predictor, "seconds": seconds,
                         "D": r["disentanglement"], "C": r["completeness"],
                         "I": r["informativeness_test"], "n_train": args.n_train,
                         "n_test": args.n_test, "n_jobs": args.n_jobs})
            print(json.dumps(rows[-1]), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    # every row carries the sizes it was run with (rows of older --json files: unknown)
    settings = sorted({(r.get("n_train", "?"), r.get("n_test", "?"), r.get("n_jobs", "?"))
                       for r in rows}, key=str)
    print("\n" + "; ".join(f"n_train={a} n_test={b} n_jobs={c}" for a, b, c in settings) + "\n")
    print("| case | predictor | seconds | D | C | I (test) | ΔD | ΔC | ΔI |")  # Δ = |x - gbt|
    print("|---|---|---|---|---|---|---|---|---|")
    worst: dict[str, list[float]] = {}
    for row in rows:
        ref = next((r for r in rows if r["case"] == row["case"] and r["predictor"] == "gbt"), None)
        diffs = ["", "", ""]
        if ref is not None and row["predictor"] != "gbt":
            d = [abs(row[k] - ref[k]) for k in ("D", "C", "I")]
            diffs = [f"{v:.4f}" for v in d]
            w = worst.setdefault(row["predictor"], [0.0, 0.0, 0.0, 0.0])
            w[:3] = [max(a, b) for a, b in zip(w[:3], d)]
            w[3] = max(w[3], ref["seconds"] / row["seconds"])
        print(f"| {row['case']} | {row['predictor']} | {row['seconds']:.1f} | {row['D']:.4f} | "
              f"{row['C']:.4f} | {row['I']:.4f} | " + " | ".join(diffs) + " |")
    if worst:
        print("\n| predictor | max ΔD | max ΔC | max ΔI | best speed-up vs gbt |")
        print("|---|---|---|---|---|")
        for name, (d, c, i, speed) in worst.items():
            print(f"| {name} | {d:.4f} | {c:.4f} | {i:.4f} | {speed:.0f}x |")


if __name__ == "__main__":
    main()
