"""When a progress bar is drawn: one rule for every bar of dislab.

A bar is drawn only when its caller asked for one, no :func:`quiet` block is active, and the stream
it writes to (stderr) is a terminal. A bar written to a file or a pipe is a stream of carriage
returns, and nested bars (training, then an evaluation inside a sweep) add cursor-up escapes, so a
run's log file used to fill with ``\\r`` and ``\\x1b[A``; tqdm's own rule ``disable=None`` (draw
on a TTY only) is used for that.

:func:`quiet` silences the bars of code that asks for them unconditionally: ``dislab sweep
--quiet --workers 0`` trains in its own process, through code that always asks for a bar.
"""
from __future__ import annotations

import contextlib
import threading
from typing import Iterator

_quiet = threading.local()


def disable(progress: bool = True) -> bool | None:
    """tqdm's ``disable`` argument for a caller that asks for a bar (``progress``): True (no bar)
    when not asked or inside :func:`quiet`; else None, tqdm's "only on a terminal"."""
    if not progress or getattr(_quiet, "depth", 0) > 0:
        return True
    return None


@contextlib.contextmanager
def quiet(active: bool = True) -> Iterator[None]:
    """No bars in this thread while the block runs (when ``active``)."""
    if not active:
        yield
        return
    _quiet.depth = getattr(_quiet, "depth", 0) + 1
    try:
        yield
    finally:
        _quiet.depth -= 1
