"""One lock per run, so two sweeps over the same study folder never train the same run twice.

The lock is an advisory ``fcntl.flock`` on ``<study>/locks/<run>.lock``, held by the process that
works on the run for as long as it works on it. We chose ``flock`` over an ``O_CREAT | O_EXCL``
lock file because the kernel releases it when the holder dies (a kill, an out-of-memory, a lost
Ray worker): there is no stale lock to detect, and no race between two processes that both decide a
lock is stale and both take it over. The file also records the holder's pid, host and start time,
for people (``cat`` it to see who is training what); it is never removed, as removing a locked file
would let a third process lock a fresh inode under the same name.

On Linux, ``flock`` on NFS is emulated with POSIX byte-range locks, which NFSv4 servers honour, so
the lock also holds between machines of a Ray cluster that share the study folder.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Iterator

# Lock files this process holds, by real path, with the thread that took each. flock conflicts
# between two descriptors of one process, so code that may run under a lock its caller already
# took (training.resume inside a sweep worker) asks here instead of locking a second time.
_HELD: dict[str, int] = {}
_HELD_GUARD = threading.Lock()


def held_by_this_thread(path: str | os.PathLike) -> bool:
    """Whether this thread holds the lock on ``path`` through some :class:`RunLock`."""
    with _HELD_GUARD:
        return _HELD.get(os.path.realpath(path)) == threading.get_ident()


class RunLock:
    """A non-blocking exclusive lock on one run.

    >>> lock = RunLock(path)           # doctest: +SKIP
    >>> if lock.acquire(): ...; lock.release()
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock; ``False`` if someone else still holds it after ``timeout`` seconds
        (0: do not wait)."""
        deadline = time.monotonic() + timeout
        while not self._try_acquire():
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        return True

    def _try_acquire(self) -> bool:
        if self._fd is not None:
            raise RuntimeError(f"{self.path}: lock already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return False
            raise
        # Who holds it, for people; written in place (the inode must stay the locked one).
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname(),
                           "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
        os.ftruncate(fd, 0)
        os.pwrite(fd, (info + "\n").encode(), 0)
        self._fd = fd
        with _HELD_GUARD:
            _HELD[os.path.realpath(self.path)] = threading.get_ident()
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with _HELD_GUARD:
            _HELD.pop(os.path.realpath(self.path), None)
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)  # nobody holds it now
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def holder(self) -> dict | None:
        """The holder recorded in the file (pid, host, since), or None when free or unreadable."""
        try:
            text = self.path.read_text().strip()
            return json.loads(text) if text else None
        except (OSError, ValueError):
            return None

    def __enter__(self) -> "RunLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


@contextlib.contextmanager
def run_lock(path: str | os.PathLike) -> Iterator[bool]:
    """``with run_lock(p) as got:`` — ``got`` says whether this process holds the lock."""
    lock = RunLock(path)
    got = lock.acquire()
    try:
        yield got
    finally:
        if got:
            lock.release()
