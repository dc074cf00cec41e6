"""Capped exponential backoff with jitter, for retrying against a server that is down."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial: float = 0.05
    maximum: float = 5.0
    factor: float = 2.0
    jitter: float = 0.2
    """Each delay is scaled by a random factor in ``[1 - jitter, 1 + jitter]``, so
    relays that failed together do not retry in lockstep."""
    failures: int = field(default=0, init=False)

    def next_delay(self) -> float:
        """The delay before the next attempt; each failure doubles it, up to ``maximum``."""
        base = min(self.initial * self.factor**self.failures, self.maximum)
        self.failures += 1
        spread = random.uniform(1 - self.jitter, 1 + self.jitter)
        return min(base * spread, self.maximum)

    def reset(self) -> None:
        self.failures = 0
