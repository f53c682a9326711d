"""The ``local`` executor: a pool of worker processes on this machine, N at a time.

Workers are started with the ``spawn`` method (a fresh interpreter: no copied torch state, no
fork-after-threads deadlocks, the same on Linux and macOS) and each sets
``torch.set_num_threads(max(1, cores // N))`` so N runs share the cores instead of fighting over
them. A worker watches its parent: when the sweep process dies (killed, Ctrl-C), the worker exits
too, its run locks are released by the kernel, and a rerun resumes from the last checkpoints.

A worker that dies (out of memory, a segfault) breaks the pool; the tasks it held are resubmitted
to a fresh pool, and a run that was in progress in two such crashes is recorded as failed.
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.util
import os
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from dislab.studies.tasks import Task, run_task

CRASHES_BEFORE_FAILED = 2


def default_threads(workers: int) -> int:
    """Each worker's share of the cores."""
    return max(1, (os.cpu_count() or 1) // max(1, workers))


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)  # orphaned: the sweep is gone, stop training (the lock goes with us)
        time.sleep(0.5)


def _stop_joblib_workers() -> None:
    """Shut down joblib's reusable loky pool if this process started one (DCI fits its factors on
    one). Its workers idle for 300 s before they exit, and they are non-daemonic children, so a
    pool worker's exit (``multiprocessing.util._exit_function`` joins every child; atexit hooks,
    which would stop loky, do not run in a multiprocessing child) waited for them: a sweep with
    DCI and ``--workers >= 1`` hung ~300 s after its last run (measured: 328 s against 24 s with
    ``--workers 0``). The pool is looked up, never created here."""
    import sys

    module = sys.modules.get("joblib.externals.loky.reusable_executor")
    executor = getattr(module, "_executor", None)  # loky keeps its one reusable pool here
    if executor is not None:
        executor.shutdown(wait=True, kill_workers=True)


def _init_worker(threads: int, parent: int) -> None:
    import torch

    torch.set_num_threads(threads)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # Finalizers with an exit priority run before _exit_function joins the children.
    multiprocessing.util.Finalize(None, _stop_joblib_workers, exitpriority=10)


def run_local(tasks: list[Task], *, workers: int, threads: int | None,
              on_result: Callable[[Task, list[dict]], None],
              on_crash: Callable[[Task, str], list[dict] | None]) -> None:
    """Run ``tasks`` on ``workers`` processes (0: in this process, one after the other).

    ``on_result(task, results)`` is called as each task finishes; ``on_crash(task, message)`` when
    the worker running it died — it returns results to record (the task is given up) or None to
    resubmit it.
    """
    if workers <= 0:  # in this process, with its own thread setting unless told
        for task in tasks:
            on_result(task, run_task(task, threads=threads, log=False))
        return
    threads = threads or default_threads(workers)
    pending = list(tasks)
    ctx = multiprocessing.get_context("spawn")
    while pending:
        pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                                   initargs=(threads, os.getpid()))
        futures: dict[Future, Task] = {}
        broken: list[Task] = []
        try:
            for task in pending:
                futures[pool.submit(run_task, task, threads=threads)] = task
            pending = []
            remaining = set(futures)
            while remaining:
                done, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for fut in done:
                    task = futures[fut]
                    try:
                        results = fut.result()
                    except BrokenProcessPool:
                        broken.append(task)
                        continue
                    except Exception as e:  # noqa: BLE001 - e.g. a result that cannot be sent back
                        results = on_crash(task, f"{type(e).__name__}: {e}")
                        if results is None:
                            broken.append(task)
                            continue
                    on_result(task, results)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        for task in broken:
            results = on_crash(task, "the worker process died (killed, out of memory, or crashed)")
            if results is None:
                pending.append(task)
            else:
                on_result(task, results)
