"""How the metrics spread independent fits over the CPU's cores (``n_jobs``).

Two kinds of work, two pools:

* boosted trees and forests (DCI, DCI-ES) fit in processes (joblib), one predictor per process on
  one thread: their Python-level loops hold the GIL;
* the linear models of SAP and explicitness (liblinear releases the GIL while it solves) fit in
  threads of this process: no process start-up, no copies of the codes; 1.8x on 2 cores for SAP's
  50 single-code SVMs (docs/benchmarks.md, "Metrics").

Results never depend on ``n_jobs``: every fit is independent and seeded on its own.
"""
from __future__ import annotations

import os
from typing import Callable, Iterable, TypeVar

from dislab.errors import ConfigError

T = TypeVar("T")
R = TypeVar("R")


def pool_size(n_jobs: int, n_tasks: int) -> int:
    """The pool size for ``n_tasks`` independent fits: ``n_jobs`` (a positive integer), or -1 for one
    per CPU core; never more than the tasks. Anything else raises ConfigError."""
    if isinstance(n_jobs, bool) or not (n_jobs == -1 or (isinstance(n_jobs, int) and n_jobs >= 1)):
        raise ConfigError(f"n_jobs must be a positive integer or -1 (every core); got {n_jobs!r}")
    size = (os.cpu_count() or 1) if n_jobs == -1 else n_jobs
    return max(1, min(size, n_tasks))


def thread_map(fn: Callable[[T], R], items: Iterable[T], n_jobs: int) -> list[R]:
    """``[fn(item) for item in items]``, on up to ``pool_size(n_jobs, len(items))`` threads, in order.
    For fits that release the GIL (liblinear); numpy/BLAS inside each is kept to one thread so the
    threads do not oversubscribe the cores."""
    items = list(items)
    size = pool_size(n_jobs, len(items))
    if size == 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), ThreadPoolExecutor(size) as pool:
        return list(pool.map(fn, items))
