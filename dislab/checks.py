"""Checks of option values, shared by the model configs, the datasets and the priors.

Every option a user can give (``--set``, a study file, a keyword of the Python API) is checked where
it is defined: a model's ``<Name>Config.__post_init__``, a dataset's or a prior's constructor. They
all go through these functions, so a wrong value reads the same everywhere and fails before any
file is written, instead of as a TypeError deep inside the first training step::

    ConfigError: beta_tcvae: beta must be a number >= 0, got 'abc'

Each function returns the value in its canonical type (a whole float such as ``3e4`` from a TOML or
JSON file becomes the int ``30000``), so a caller can store what it gets back.
"""
from __future__ import annotations

import math
import numbers
import os
from typing import Any, Iterable, Mapping

from dislab.errors import ConfigError


def fail(who: str, name: str, value: Any, expected: str) -> ConfigError:
    """The one message shape: ``WHO: NAME must be EXPECTED, got VALUE``."""
    return ConfigError(f"{who}: {name} must be {expected}, got {value!r}")


def _bounds(minimum, maximum, above, below) -> str:
    parts = []
    if minimum is not None:
        parts.append(f">= {minimum}")
    if above is not None:
        parts.append(f"> {above}")
    if maximum is not None:
        parts.append(f"<= {maximum}")
    if below is not None:
        parts.append(f"< {below}")
    return " and ".join(parts)


def _in_bounds(v, minimum, maximum, above, below) -> bool:
    return ((minimum is None or v >= minimum) and (maximum is None or v <= maximum)
            and (above is None or v > above) and (below is None or v < below))


def number(who: str, name: str, value: Any, *, minimum: float | None = None, maximum: float | None = None,
           above: float | None = None, below: float | None = None, optional: bool = False):
    """A finite real number (int or float, not a bool) within the given bounds; None if
    ``optional``. Returned unchanged, so ``6`` stays ``6`` in a saved config."""
    if optional and value is None:
        return None
    expected = "a number" + (f" {_bounds(minimum, maximum, above, below)}" if
                             _bounds(minimum, maximum, above, below) else "")
    if optional:
        expected += " or null"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(who, name, value, expected)
    if not _in_bounds(value, minimum, maximum, above, below):
        raise fail(who, name, value, expected)
    return value


def whole(who: str, name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None,
          optional: bool = False) -> int | None:
    """A whole number within bounds, as an int (``3e4`` and ``30000.0`` are accepted: TOML and JSON
    files write them); None if ``optional``."""
    if optional and value is None:
        return None
    expected = "a whole number" + (f" {_bounds(minimum, maximum, None, None)}"
                                   if _bounds(minimum, maximum, None, None) else "")
    if optional:
        expected += " or null"
    if (isinstance(value, bool) or not isinstance(value, (numbers.Integral, float))
            or (isinstance(value, float) and not (math.isfinite(value) and value == int(value)))):
        raise fail(who, name, value, expected)
    value = int(value)
    if not _in_bounds(value, minimum, maximum, None, None):
        raise fail(who, name, value, expected)
    return value


def choice(who: str, name: str, value: Any, choices: Iterable[Any]) -> Any:
    """One of ``choices`` (compared with ``==``; a bool never stands for 0 or 1)."""
    choices = list(choices)
    if isinstance(value, bool) and not any(isinstance(c, bool) for c in choices):
        raise fail(who, name, value, f"one of {choices}")
    try:
        ok = value in choices
    except TypeError:  # an unhashable or odd value
        ok = False
    if not ok:
        raise fail(who, name, value, f"one of {choices}")
    return value


def flag(who: str, name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise fail(who, name, value, "true or false")
    return value


def mapping(who: str, name: str, value: Any) -> dict:
    """A table / JSON object with string keys, returned as a plain dict."""
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise fail(who, name, value, "a table of option names to values (a JSON object)")
    return dict(value)


def wholes(who: str, name: str, value: Any, *, minimum: int | None = 1, length: int | None = None) -> tuple[int, ...]:
    """A list of whole numbers (each within bounds; ``length`` of them if given), as a tuple."""
    expected = (f"a list of {length} whole numbers" if length is not None else "a list of whole numbers")
    if minimum is not None:
        expected += f" >= {minimum}"
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise fail(who, name, value, expected)
    items = list(value)
    if length is not None and len(items) != length:
        raise fail(who, name, value, expected)
    try:
        return tuple(whole(who, name, v, minimum=minimum) for v in items)
    except ConfigError:
        raise fail(who, name, value, expected) from None


def path(who: str, name: str, value: Any, *, optional: bool = True):
    """A file or folder name (a string or ``os.PathLike``); None if ``optional``. Whether it
    exists is the caller's business (a missing file is a :class:`~dislab.errors.DataError`)."""
    if optional and value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or (isinstance(value, str) and not value):
        raise fail(who, name, value, "a file or folder path (a string)" + (" or null" if optional else ""))
    return value


def keyword_options(who: str, fn, options: Mapping[str, Any]) -> None:
    """Every key of ``options`` is a keyword-only parameter of ``fn`` (a class: of its
    ``__init__``), so an unknown key is refused by name instead of as a TypeError; the message
    lists the known ones. A function taking ``**kwargs`` accepts anything."""
    import inspect

    target = fn.__init__ if isinstance(fn, type) else fn
    params = inspect.signature(target).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    known = [k for k, p in params.items() if p.kind is p.KEYWORD_ONLY]
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ConfigError(f"{who} has no option(s) {unknown}; expected some of {known}")
