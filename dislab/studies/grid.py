"""The sweep grammar of a study file: product, zip and chain of value lists.

The same three combinators as the field's reference sweeps (disentanglement_lib
``utils/hyperparams.py``: ``sweep``, ``product``, ``zipit``, ``chain``), written as TOML tables:

* ``[grid]``: every key maps to a list of values; the settings are their Cartesian product (the first
  key varies slowest). A scalar is a list of one value.
* ``[zip]``: lists of equal length, taken position by position — one axis of ``n`` settings.
* ``[chain]``: alternatives, as an array of tables (``[[chain]]``) or named sub-tables
  (``[chain.beta_vae]``); each alternative is itself a small grid (scalars fixed, lists swept, and an
  optional ``zip`` sub-table), and the chain is the concatenation of their settings — the way to give
  each model its own hyperparameters.

The three axes are crossed: settings = grid × zip × chain. A key may appear on one axis only.
A value that is itself a list (rare: a shape) is written as a list of one list, ``[[1, 64, 64]]``.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Mapping

from dislab.errors import ConfigError

Setting = dict[str, Any]


def _values(key: str, value: Any, where: str) -> list:
    if isinstance(value, (list, tuple)):
        if not value:
            raise ConfigError(f"{where}: {key!r} has an empty list of values; give at least one value")
        return list(value)
    if isinstance(value, Mapping):
        raise ConfigError(f"{where}: {key!r} is a table; expected a value or a list of values "
                          "(write nested options as dotted keys, e.g. \"model.beta\" = [1, 4])")
    return [value]


def product(axes: Iterable[list[Setting]], where: str = "study") -> list[Setting]:
    """Cartesian product of axes (lists of partial settings), merged; a key on two axes is an error."""
    out = []
    for combo in itertools.product(*axes):
        merged: Setting = {}
        for part in combo:
            clash = sorted(set(merged) & set(part))
            if clash:
                raise ConfigError(f"{where}: key(s) {clash} appear on more than one axis of the sweep "
                                  "(grid, zip, chain, seeds); give each key in one place only")
            merged.update(part)
        out.append(merged)
    return out


def grid_axes(table: Mapping[str, Any], where: str) -> list[list[Setting]]:
    """One axis per key of a ``[grid]``-like table."""
    return [[{k: v} for v in _values(k, val, where)] for k, val in table.items()]


def zip_axis(table: Mapping[str, Any], where: str) -> list[Setting]:
    """The settings of a ``[zip]`` table: position ``i`` of every list together."""
    lists = {k: _values(k, v, where) for k, v in table.items()}
    lengths = {k: len(v) for k, v in lists.items()}
    if len(set(lengths.values())) > 1:
        raise ConfigError(f"{where}: zipped lists must have equal lengths, got {lengths}")
    n = next(iter(lengths.values()), 0)
    return [{k: lists[k][i] for k in lists} for i in range(n)]


def chain_entry(entry: Mapping[str, Any], where: str) -> list[Setting]:
    """Settings of one alternative of a chain: a small grid, with an optional ``zip`` sub-table."""
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: each alternative must be a table, got {type(entry).__name__}")
    plain = {k: v for k, v in entry.items() if k != "zip"}
    axes = grid_axes(plain, where)
    if "zip" in entry:
        if not isinstance(entry["zip"], Mapping):
            raise ConfigError(f"{where}.zip: expected a table of equal-length lists")
        axes.append(zip_axis(entry["zip"], f"{where}.zip"))
    return product(axes, where)


def chain_axis(chain: Any, where: str = "chain") -> list[Setting]:
    """Concatenation of the alternatives of ``[[chain]]`` (a list) or ``[chain.NAME]`` (a table)."""
    if isinstance(chain, Mapping):
        entries = [(f"{where}.{name}", e) for name, e in chain.items()]
    elif isinstance(chain, list):
        entries = [(f"{where}[{i}]", e) for i, e in enumerate(chain)]
    else:
        raise ConfigError(f"{where}: expected [[chain]] tables or [chain.NAME] tables")
    out: list[Setting] = []
    for name, e in entries:
        out.extend(chain_entry(e, name))
    if not out:
        raise ConfigError(f"{where}: no alternatives")
    return out


def expand(grid: Mapping[str, Any] | None = None, zip: Mapping[str, Any] | None = None,
           chain: Any = None, extra_axes: Iterable[list[Setting]] = ()) -> list[Setting]:
    """All settings of a study: grid × zip × chain (× ``extra_axes``, e.g. seeds), in file order.

    >>> expand({"model": ["a", "b"]}, zip={"beta": [1, 4], "lr": [1e-3, 1e-4]})
    ... # doctest: +NORMALIZE_WHITESPACE
    [{'model': 'a', 'beta': 1, 'lr': 0.001}, {'model': 'a', 'beta': 4, 'lr': 0.0001},
     {'model': 'b', 'beta': 1, 'lr': 0.001}, {'model': 'b', 'beta': 4, 'lr': 0.0001}]
    """
    axes: list[list[Setting]] = []
    if grid:
        axes += grid_axes(grid, "grid")
    if zip:
        axes.append(zip_axis(zip, "zip"))
    if chain is not None:
        axes.append(chain_axis(chain))
    axes += list(extra_axes)
    return product(axes)


def swept_keys(settings: list[Setting]) -> list[str]:
    """Keys whose value differs between settings, in order of first appearance."""
    keys: list[str] = []
    for s in settings:
        keys += [k for k in s if k not in keys]
    return [k for k in keys if len({_hashable(s.get(k, _MISSING)) for s in settings}) > 1]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING = _Missing()


def _hashable(v: Any) -> Any:
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _hashable(x)) for k, x in v.items()))
    return v
