"""The ``ray`` executor: the same tasks as Ray tasks, on this machine or a Ray cluster.

``ray.init()`` starts a local Ray instance (every core, or workers × CPUs per run) unless an
``address`` (``ray://head:10001`` or ``auto``) names a cluster; when Ray is already initialised in
this process (a notebook, a test session) that session is used and left running. Each task asks
for ``cpus_per_run`` CPUs and ``gpus_per_run`` GPUs, so Ray places it where those are free and the
run trains with that many threads.

On a cluster, the study folder must be on storage every node sees (NFS, a shared volume) and
dislab installed on every node: tasks write their run folders, locks and status records straight
into it, as local workers do. A task that raises, or whose worker dies, is recorded as failed with
Ray's message by the driver; the other tasks go on. Ray is the optional extra ``dislab[ray]``.
"""
from __future__ import annotations

from typing import Callable

from dislab.errors import ConfigError
from dislab.studies.tasks import Task, run_task

# The object store only carries small dicts; Ray's minimum is ~75 MB.
OBJECT_STORE_BYTES = 80 * 1024 * 1024


def _ray():
    try:
        import ray
    except ImportError as e:
        raise ConfigError("executor 'ray' (--executor ray) needs Ray: pip install 'dislab[ray]'") from e
    return ray


def run_ray(tasks: list[Task], *, address: str | None, workers: int | None, cpus_per_run: float,
            gpus_per_run: float, on_result: Callable[[Task, list[dict]], None],
            on_crash: Callable[[Task, str], list[dict] | None]) -> None:
    """Run ``tasks`` as Ray tasks, at most ``workers`` at once (None: as many as Ray places)."""
    ray = _ray()
    started = False
    if not ray.is_initialized():
        kwargs = dict(include_dashboard=False, log_to_driver=False, configure_logging=False)
        if address:
            ray.init(address=address, **kwargs)
        else:  # every core unless told how many runs at a time
            n = None if workers is None else max(1, int(workers * max(cpus_per_run, 1)))
            ray.init(num_cpus=n, object_store_memory=OBJECT_STORE_BYTES, **kwargs)
        started = True
    threads = max(1, int(cpus_per_run))
    remote = ray.remote(_ray_task).options(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=0)
    limit = workers if workers and workers > 0 else len(tasks)
    queue = list(tasks)
    in_flight: dict = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < limit:
                task = queue.pop(0)
                in_flight[remote.remote(task, threads)] = task
            ready, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in ready:
                task = in_flight.pop(ref)
                try:
                    results = ray.get(ref)
                except Exception as e:  # noqa: BLE001 - RayTaskError, WorkerCrashedError, ...
                    message = f"{type(e).__name__}: {str(e).strip().splitlines()[-1] if str(e).strip() else e}"
                    results = on_crash(task, message)
                    if results is None:
                        queue.append(task)
                        continue
                on_result(task, results)
    finally:
        if started:
            ray.shutdown()


def _ray_task(task: Task, threads: int) -> list[dict]:
    return run_task(task, threads=threads)
