"""Lazy name -> object registries (one per kind: datasets, models, metrics, priors, networks).

A registry maps a name to ``"module.path:attribute"``; the module is imported only when the name is
first used, so importing dislab does not import every model. File name = registry key = class name
in snake/camel case: ``"beta_tcvae" -> "dislab.models.beta_tcvae:BetaTCVAE"``.
"""
from __future__ import annotations

import importlib
from typing import Any, Iterator

from dislab.errors import ConfigError


class Registry:
    """A lazy mapping from names to objects of one kind.

    >>> r = Registry("thing", {"path": "os.path:join"})
    >>> r.get("path")("a", "b")
    'a/b'
    """

    def __init__(self, kind: str, entries: dict[str, str] | None = None):
        self.kind = kind
        self._targets: dict[str, str | Any] = dict(entries or {})

    def register(self, name: str, target: str | Any) -> None:
        """Add ``name`` -> ``target`` (an object or a ``"module:attr"`` string)."""
        if name in self._targets:
            raise ConfigError(f"{self.kind} {name!r} is already registered")
        self._targets[name] = target

    def get(self, name: str) -> Any:
        """The object registered as ``name``; a ConfigError lists the known names otherwise."""
        if name not in self._targets:
            raise ConfigError(
                f"unknown {self.kind} {name!r}; expected one of: {', '.join(self.names())}"
            )
        target = self._targets[name]
        if isinstance(target, str):
            module_name, _, attr = target.partition(":")
            target = getattr(importlib.import_module(module_name), attr)
            self._targets[name] = target
        return target

    def names(self, *, ordered: bool = False) -> list[str]:
        """The registered names, sorted (or in the order they were registered)."""
        return list(self._targets) if ordered else sorted(self._targets)

    def __contains__(self, name: object) -> bool:
        return name in self._targets

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._targets)
