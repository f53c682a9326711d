"""What machine this is, for the record: the CPU's name and the vector units that change float
rounding and speed (AVX2, AVX-512, AMX-BF16). Every JSON file's provenance block carries
:func:`describe`, so a run, an evaluation or a study summary says where it was computed (the
project's machines are not all one CPU, and the same seed trains differently on two kinds).
No torch here: :mod:`dislab.io` imports it."""
from __future__ import annotations

import functools
import platform
import sys

# the flags that matter here, widest first: AMX tiles, AVX-512 with bf16, AVX-512, AVX2
_UNITS = ("amx_bf16", "avx512_bf16", "avx512f", "avx2")


def _cpuinfo(key: str) -> str | None:
    """The value of the first ``key`` line of /proc/cpuinfo (Linux), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@functools.lru_cache(maxsize=None)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags as Linux reports them (/proc/cpuinfo); empty elsewhere."""
    return frozenset((_cpuinfo("flags") or "").split())


@functools.lru_cache(maxsize=None)
def cpu_name() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else platform.processor()), or "unknown"."""
    return _cpuinfo("model name") or platform.processor() or platform.machine() or "unknown"


def describe() -> str:
    """One line: ``"<cpu name> (<units>)"``, e.g. ``"AMD EPYC (avx2)"`` or ``"Intel Xeon ...
    (amx_bf16, avx512_bf16, avx512f, avx2)"``; units absent from the CPU are left out."""
    units = [u for u in _UNITS if u in cpu_flags()]
    return f"{cpu_name()} ({', '.join(units) or 'no avx2'})"
