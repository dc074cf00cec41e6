"""How a consumer retries a handler that failed for a reason that may pass.

Retries happen in-process, within one delivery: the consumer sleeps the backoff
and runs the handler again in a fresh transaction, while the broker keeps the
delivery unacknowledged. This behaves the same on every broker (RabbitMQ has no
delayed redelivery without a plugin) and for the broker-free entry point
:meth:`~tidings.inbox.Consumer.process`, and it counts attempts exactly. A
consumer that crashes mid-retry loses nothing: the broker redelivers and the
count starts again, so a message gets at least ``max_attempts`` attempts. A
message that kills its consumer's process every time never reaches the dead-letter
store this way; the broker's own ``max_deliveries`` bounds that loop
(``delivery.attempt`` counts the deliveries; the consumer only logs it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt ``n`` fails, wait ``initial_delay * multiplier**(n-1)``.

    The wait is capped at ``max_delay`` and spread by up to ``jitter`` (a fraction,
    0.1 = plus or minus 10 %), so that consumers that failed together do not
    retry together. After ``max_attempts`` failed attempts the message is
    dead-lettered.
    """

    max_attempts: int = 5
    initial_delay: float = 0.1
    multiplier: float = 2.0
    max_delay: float = 5.0
    jitter: float = 0.1

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.initial_delay < 0 or self.max_delay < 0:
            raise ValueError("delays cannot be negative")
        if self.multiplier < 1:
            raise ValueError("multiplier must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter is a fraction between 0 and 1")

    def delay(self, attempt: int, *, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_delay, self.initial_delay * self.multiplier ** (attempt - 1))
        if not self.jitter:
            return base
        spread = (rng or random).uniform(-self.jitter, self.jitter)
        return max(0.0, min(self.max_delay, base * (1 + spread)))

    def delays(self) -> list[float]:
        """The waits between the attempts, without jitter (for documentation and tests)."""
        plain = RetryPolicy(
            self.max_attempts, self.initial_delay, self.multiplier, self.max_delay, 0.0
        )
        return [plain.delay(attempt) for attempt in range(1, self.max_attempts)]


NO_RETRY = RetryPolicy(max_attempts=1, initial_delay=0.0, jitter=0.0)
"""Dead-letter on the first failure."""
