"""Chained upcasters: old schema versions of an event (or snapshot) become the current one.

An upcaster turns version ``n`` of a type's data into version ``n + 1``; a stored
version 1 passes through every step up to the newest. Nothing is rewritten in the
store (it is append-only): upcasting happens on every read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Upcasters:
    """Upcasters by (type name, the schema version they read)."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def add(self, type_name: str, from_version: int, upcaster: Upcaster) -> None:
        """Register ``upcaster``: version ``from_version`` of ``type_name`` to the next."""
        key = (type_name, from_version)
        if key in self._steps:
            raise ValueError(f"{type_name} already has an upcaster from version {from_version}")
        self._steps[key] = upcaster

    def register(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator form of :meth:`add`."""

        def decorate(upcaster: Upcaster) -> Upcaster:
            self.add(type_name, from_version, upcaster)
            return upcaster

        return decorate

    def upcast(
        self, type_name: str, schema_version: int, data: Mapping[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        """Apply the chain from ``schema_version``; return the version reached and the data."""
        version, current = schema_version, dict(data)
        while (step := self._steps.get((type_name, version))) is not None:
            current = step(current)
            version += 1
        return version, current
