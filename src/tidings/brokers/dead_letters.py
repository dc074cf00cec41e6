"""What a broker's dead-letter place holds, and how to look into it.

Not part of :class:`~tidings.brokers.base.Broker` (yet): every adapter in
tidings implements :class:`DeadLetterInspector`, and the conformance suite
requires it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class DeadLetter:
    """A message a subscriber of ``queue`` rejected (or that exceeded its deliveries)."""

    queue: str
    message_id: str
    topic: str
    body: bytes
    reason: str
    attempts: int
    headers: Mapping[str, str] = field(default_factory=dict)


@runtime_checkable
class DeadLetterInspector(Protocol):
    async def dead_letters(self, queue: str, limit: int = 100) -> Sequence[DeadLetter]:
        """Up to ``limit`` dead letters of ``queue``, oldest first, without removing them."""
        ...
