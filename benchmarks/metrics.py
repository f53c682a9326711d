"""Speed of the metrics on arrays of the published sizes (docs/benchmarks.md, "## Metrics").

    .venv/bin/python benchmarks/metrics.py [--repeats 3] [--predictor fast] [--n-jobs -1] [--skip-suite] [--with-2023]

Prints one table: median and min seconds of

* MIG on 10,000 x 10 codes (target < 0.5 s);
* the supervised array suite for one model as ``dislab evaluate`` runs it — MIG, DCI with the fast
  predictor, SAP, modularity/explicitness (these three on every core), IRS — on 10,000 train /
  5,000 test points (target < 30 s);
* UDR of 10 models x 10,000 points x 10 codes, Spearman and Lasso (target < 10 s);
* with ``--with-2023``: InfoMEC on 10,000 points and DCI-ES on 10,000 / 5,000 (its 12 x 5 random
  forests on every core), opt-in metrics without a target.

Data: dSprites-sized factors (3, 6, 40, 32, 32) and 10 codes, each a noisy monotone function of one
factor mixed a little with the others (a plausible trained model), seeded. Encoding time is not
included: these are the array metrics.
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SIZES = (3, 6, 40, 32, 32)


def make_codes(n: int, seed: int, n_codes: int = 10):
    g = np.random.default_rng(seed)
    factors = np.stack([g.integers(0, s, n) for s in SIZES], 1)
    f = factors / (np.array(SIZES) - 1)  # (n, 5) in [0, 1]
    mix = np.zeros((len(SIZES), n_codes))
    mix[np.arange(len(SIZES)), np.arange(len(SIZES))] = 1.0
    mix += 0.15 * g.normal(size=mix.shape)
    codes = np.tanh(2 * f @ mix) + 0.1 * g.normal(size=(n, n_codes))
    return codes, factors


def timed(fn, repeats: int):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--predictor", default="fast", help="DCI predictor (default fast, as dislab evaluate)")
    parser.add_argument("--n-jobs", type=int, default=-1,
                        help="n_jobs of DCI, SAP and explicitness (default -1, every core, as dislab evaluate)")
    parser.add_argument("--skip-suite", action="store_true", help="skip the supervised suite")
    parser.add_argument("--with-2023", action="store_true", dest="with_2023",
                        help="also time InfoMEC and DCI-ES (slow: minutes)")
    args = parser.parse_args()

    from dislab.metrics.dci import dci
    from dislab.metrics.irs import irs
    from dislab.metrics.mig import mig
    from dislab.metrics.modularity_explicitness import modularity_explicitness
    from dislab.metrics.sap import sap
    from dislab.metrics.udr import udr

    c_tr, f_tr = make_codes(10_000, 0)
    c_te, f_te = make_codes(5_000, 1)
    rows = []

    med, mn = timed(lambda: mig(c_tr, f_tr), args.repeats)
    rows.append(("MIG, 10,000 x 10 codes", med, mn, 0.5))

    if not args.skip_suite:
        parts = {}

        def suite():
            for name, fn in (
                ("mig", lambda: mig(c_tr, f_tr)),
                ("dci", lambda: dci(c_tr, f_tr, c_te, f_te, predictor=args.predictor,
                                    n_jobs=args.n_jobs, progress=False)),
                ("sap", lambda: sap(c_tr, f_tr, c_te, f_te, n_jobs=args.n_jobs)),
                ("modularity_explicitness", lambda: modularity_explicitness(c_tr, f_tr, c_te, f_te,
                                                                            n_jobs=args.n_jobs)),
                ("irs", lambda: irs(c_tr, f_tr)),
            ):
                t = time.perf_counter()
                fn()
                parts.setdefault(name, []).append(time.perf_counter() - t)

        med, mn = timed(suite, max(1, args.repeats // 3))
        rows.append((f"supervised suite (DCI predictor={args.predictor}), 10,000 / 5,000", med, mn, 30.0))
        for name, ts in parts.items():
            rows.append((f"  of which {name}", statistics.median(ts), min(ts), None))

    if args.with_2023:
        from dislab.metrics.dci_es import dci_es
        from dislab.metrics.infomec import infomec

        med, mn = timed(lambda: infomec(c_tr, f_tr), 1)
        rows.append(("InfoMEC, 10,000 x 10 codes (continuous)", med, mn, None))
        med, mn = timed(lambda: dci_es(c_tr, f_tr, c_te, f_te, n_jobs=args.n_jobs), 1)
        rows.append(("DCI-ES, 10,000 / 5,000, 12 capacities x 5 factors", med, mn, None))

    g = np.random.default_rng(2)
    base = g.normal(size=(10_000, 10))
    models = [np.tanh(base[:, g.permutation(10)] @ (np.eye(10) + 0.3 * g.normal(size=(10, 10))))
              + 0.1 * g.normal(size=(10_000, 10)) for _ in range(10)]
    kls = [g.uniform(0, 2, 10) for _ in range(10)]
    for method in ("spearman", "lasso"):
        med, mn = timed(lambda: udr(models, kls, method=method), args.repeats)
        rows.append((f"UDR ({method}), 10 models x 10,000 x 10", med, mn, 10.0))

    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'median s':>9}  {'min s':>8}  {'target s':>8}")
    for what, med, mn, target in rows:
        t = f"{target:>8.1f}" if target is not None else f"{'':>8}"
        print(f"{what:<{width}}  {med:>9.3f}  {mn:>8.3f}  {t}")


if __name__ == "__main__":
    main()
