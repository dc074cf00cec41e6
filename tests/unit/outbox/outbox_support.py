"""Shared by the outbox unit tests (a uniquely named module, importable from them)."""

from __future__ import annotations

from tidings.messages import Event, MessageRegistry

registry = MessageRegistry()


@registry.register("test.Counted")
class Counted(Event):
    n: int
